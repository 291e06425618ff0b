//! GraphQL types and queries for users.

use async_graphql::{
    Context, ID, Object,
    connection::{Connection, Edge, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::user;

use super::service;
use crate::graphql::{
    context,
    node::{NodeType, expect_global_id, to_global_id},
    pagination::{KeysetCursor, PageRequest},
};

/// A public profile. Private columns (email, password hash, role) are
/// deliberately not mapped.
#[derive(Clone)]
pub struct User(pub user::Model);

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        to_global_id(NodeType::User, self.0.id)
    }

    /// Unique handle, case-insensitively.
    async fn username(&self) -> &str {
        &self.0.username
    }

    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    async fn bio(&self) -> &str {
        &self.0.bio
    }

    /// When the account was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Extra fields on the users connection, computed only when asked for.
pub struct UserConnectionFields;

#[Object]
impl UserConnectionFields {
    /// How many users exist in all.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(service::count(context::db(ctx)?).await?)
    }
}

pub type UserConnection = Connection<String, User, UserConnectionFields, EmptyFields>;

#[derive(Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    /// A user by global id; null if there is none.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        let id = expect_global_id(&id, NodeType::User, "id")?;
        Ok(service::find_by_id(context::db(ctx)?, id).await?.map(User))
    }

    /// A user by username (case-insensitive); null if there is none.
    async fn user_by_username(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<Option<User>> {
        Ok(service::find_by_username(context::db(ctx)?, &username)
            .await?
            .map(User))
    }

    /// Every user, oldest account first. Page with `first`/`after` or
    /// `last`/`before` (at most 100 per page).
    async fn users(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<UserConnection> {
        let request = PageRequest::from_relay(after, before, first, last)?;
        let page = service::list(context::db(ctx)?, &request).await?;
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            UserConnectionFields,
        );
        connection.edges.extend(page.items.into_iter().map(|user| {
            let cursor = KeysetCursor {
                created_at: user.created_at,
                id: user.id,
            };
            Edge::new(cursor.encode(), User(user))
        }));
        Ok(connection)
    }
}
