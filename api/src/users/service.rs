//! Reading users. Rules and SQL live here; resolvers stay thin.

use entity::user;
use sea_orm::{
    DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use crate::{
    error::AppResult,
    graphql::pagination::{ListOrder, Page, PageRequest},
};

pub async fn find_by_id(db: &DatabaseConnection, id: Uuid) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// Usernames are unique case-insensitively, so lookups are too.
pub async fn find_by_username(
    db: &DatabaseConnection,
    username: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(user::Column::Username))).eq(username.to_lowercase()),
        )
        .one(db)
        .await?)
}

/// The user directory, oldest account first.
pub async fn list(db: &DatabaseConnection, page: &PageRequest) -> AppResult<Page<user::Model>> {
    let rows = page
        .apply(
            user::Entity::find(),
            user::Column::CreatedAt,
            user::Column::Id,
            ListOrder::OldestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

pub async fn count(db: &DatabaseConnection) -> AppResult<u64> {
    Ok(user::Entity::find().count(db).await?)
}
