//! Relay connections over keyset pages: the GraphQL side of [`crate::paging`].
//!
//! A resolver takes Relay's four arguments (the schema spells them out),
//! gathers them into one [`PageArgs`] for the service, and turns the
//! [`Page`] it gets back into a connection.

use async_graphql::{
    ObjectType, OutputType,
    connection::{Connection, Edge},
};

pub use crate::paging::PageArgs;
use crate::paging::{DEFAULT_PAGE_SIZE, KeysetCursor, MAX_PAGE_SIZE, Page};

/// A [`Page`] as a Relay connection.
pub trait IntoConnection<T> {
    /// The connection for this page: each row's cursor comes from
    /// `cursor`, its node from `node`; `fields` are the connection's own
    /// (`totalCount`).
    fn into_connection<N, F>(
        self,
        fields: F,
        cursor: impl Fn(&T) -> KeysetCursor,
        node: impl Fn(T) -> N,
    ) -> Connection<String, N, F>
    where
        N: OutputType,
        F: ObjectType;
}

impl<T> IntoConnection<T> for Page<T> {
    fn into_connection<N, F>(
        self,
        fields: F,
        cursor: impl Fn(&T) -> KeysetCursor,
        node: impl Fn(T) -> N,
    ) -> Connection<String, N, F>
    where
        N: OutputType,
        F: ObjectType,
    {
        let mut connection =
            Connection::with_additional_fields(self.has_previous_page, self.has_next_page, fields);
        connection.edges.extend(
            self.items
                .into_iter()
                .map(|row| Edge::new(cursor(&row).encode(), node(row))),
        );
        connection
    }
}

/// Complexity of a connection field: its selection counted once per row it
/// may return, so `first: 100` of something deep costs what it will.
pub fn page_complexity(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let rows = first
        .or(last)
        .map_or(DEFAULT_PAGE_SIZE, |n| u64::try_from(n).unwrap_or(0))
        .clamp(1, MAX_PAGE_SIZE);
    usize::try_from(rows)
        .unwrap_or(1)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}
