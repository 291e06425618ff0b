//! Keyset (cursor) pagination, for services: no GraphQL types here (the
//! Relay connection is built from a [`Page`] in `graphql::relay`).
//!
//! Lists are ordered by `(created_at, id)`, which every listed table indexes.
//! A cursor is that pair for one row, opaque to clients; a page is "the next
//! N rows after (or before) this pair", which costs the same on page 1 and
//! page 10,000, unlike OFFSET.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::Order,
};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Page size when the client gives neither `first` nor `last`.
pub(crate) const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest page a client may ask for.
pub(crate) const MAX_PAGE_SIZE: u64 = 100;

/// The position of one row in a `(created_at, id)` ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeysetCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl KeysetCursor {
    pub fn encode(&self) -> String {
        // Nanoseconds: exact for any stored precision (PostgreSQL keeps
        // microseconds; SQLite keeps what was written).
        let nanos = self.created_at.timestamp_nanos_opt().unwrap_or_default();
        URL_SAFE_NO_PAD.encode(format!("{nanos}:{}", self.id))
    }

    /// Decodes a cursor from a client; `field` names the argument in errors.
    pub fn decode(raw: &str, field: &str) -> AppResult<Self> {
        let invalid = || AppError::bad_input(field, format!("`{field}` is not a valid cursor"));
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (nanos, id) = text.split_once(':').ok_or_else(invalid)?;
        let nanos: i64 = nanos.parse().map_err(|_| invalid())?;
        Ok(Self {
            created_at: DateTime::from_timestamp_nanos(nanos),
            id: id.parse().map_err(|_| invalid())?,
        })
    }
}

/// The order a list is presented in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListOrder {
    OldestFirst,
    NewestFirst,
}

/// Which slice of a list the client asked for, validated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRequest {
    /// `true` for `last`/`before` (read the list backwards from the cursor).
    backward: bool,
    limit: u64,
    cursor: Option<KeysetCursor>,
}

/// Relay's four paging arguments as a client sent them, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageRequest {
    /// Validates Relay's `first`/`after`/`last`/`before` arguments.
    pub(crate) fn new(args: PageArgs) -> AppResult<Self> {
        let PageArgs {
            first,
            after,
            last,
            before,
        } = args;
        let size = |value: i32, field: &str| -> AppResult<u64> {
            match u64::try_from(value) {
                Ok(n) if n <= MAX_PAGE_SIZE => Ok(n),
                _ => Err(AppError::bad_input(
                    field,
                    format!("`{field}` must be between 0 and {MAX_PAGE_SIZE}"),
                )),
            }
        };
        match (first, last) {
            (Some(_), Some(_)) => Err(AppError::bad_input(
                "last",
                "pass `first` or `last`, not both",
            )),
            (_, Some(last)) => {
                if after.is_some() {
                    return Err(AppError::bad_input(
                        "after",
                        "`after` goes with `first`, not `last`",
                    ));
                }
                Ok(Self {
                    backward: true,
                    limit: size(last, "last")?,
                    cursor: before
                        .map(|c| KeysetCursor::decode(&c, "before"))
                        .transpose()?,
                })
            }
            (first, None) => {
                if before.is_some() && first.is_some() {
                    return Err(AppError::bad_input(
                        "before",
                        "`before` goes with `last`, not `first`",
                    ));
                }
                if before.is_some() {
                    return Err(AppError::bad_input("last", "`before` needs `last`"));
                }
                Ok(Self {
                    backward: false,
                    limit: first
                        .map(|f| size(f, "first"))
                        .transpose()?
                        .unwrap_or(DEFAULT_PAGE_SIZE),
                    cursor: after
                        .map(|c| KeysetCursor::decode(&c, "after"))
                        .transpose()?,
                })
            }
        }
    }

    /// The row limit when this is the first page read forward (no cursor,
    /// not `last`): the only page worth batching across parents.
    pub(crate) fn first_page_limit(&self) -> Option<u64> {
        (!self.backward && self.cursor.is_none()).then_some(self.limit)
    }

    /// Restricts and orders `select` for this page. Fetches one row more than
    /// asked so [`PageRequest::finish`] can tell whether more exist.
    pub(crate) fn apply<E, C>(
        &self,
        select: Select<E>,
        created_at: C,
        id: C,
        order: ListOrder,
    ) -> Select<E>
    where
        E: EntityTrait,
        C: ColumnTrait + Copy,
    {
        // Reading "forward" in the presented order means ascending for
        // OldestFirst; `last`/`before` reads the other way and is reversed
        // again in `finish`.
        let ascending = (order == ListOrder::OldestFirst) != self.backward;
        let mut select = select;
        if let Some(c) = self.cursor {
            let beyond = if ascending {
                Condition::any().add(created_at.gt(c.created_at)).add(
                    Condition::all()
                        .add(created_at.eq(c.created_at))
                        .add(id.gt(c.id)),
                )
            } else {
                Condition::any().add(created_at.lt(c.created_at)).add(
                    Condition::all()
                        .add(created_at.eq(c.created_at))
                        .add(id.lt(c.id)),
                )
            };
            select = select.filter(beyond);
        }
        let direction = if ascending { Order::Asc } else { Order::Desc };
        select
            .order_by(created_at, direction.clone())
            .order_by(id, direction)
            .limit(self.limit + 1)
    }

    /// Turns the rows fetched by [`PageRequest::apply`] into a page in the
    /// presented order.
    pub(crate) fn finish<T>(&self, mut rows: Vec<T>) -> Page<T> {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.backward {
            rows.reverse();
            Page {
                items: rows,
                has_previous_page: more,
                has_next_page: self.cursor.is_some(),
            }
        } else {
            Page {
                items: rows,
                has_previous_page: self.cursor.is_some(),
                has_next_page: more,
            }
        }
    }
}

/// One page of a list, in presented order.
#[derive(Debug)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// The same page with each row mapped, leaving out rows that map to
    /// `None`; the page's bounds stay as they were.
    pub(crate) fn filter_map<U>(self, f: impl FnMut(T) -> Option<U>) -> Page<U> {
        Page {
            items: self.items.into_iter().filter_map(f).collect(),
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
        }
    }
}
