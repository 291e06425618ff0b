//! The guestbook's table (a sea-orm entity) and its GraphQL field.

use api::extend::{AppError, context};
use async_graphql::{Context, Object, SimpleObject};
use sea_orm::{QueryOrder, QuerySelect, entity::prelude::*};

/// One signature.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject, serde::Serialize)]
#[sea_orm(table_name = "guestbook_entries")]
#[graphql(name = "GuestbookEntry")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub author_id: Uuid,
    pub message: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The guestbook's fields on Hearth's `Query`.
#[derive(Default)]
pub struct GuestbookQuery;

#[Object]
impl GuestbookQuery {
    /// The newest guestbook entries, newest first (at most 100).
    async fn guestbook(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] last: u64,
    ) -> async_graphql::Result<Vec<Model>> {
        if last > 100 {
            return Err(AppError::bad_input("last", "at most 100").into());
        }
        let db = context::db(ctx)?;
        let entries = Entity::find()
            .order_by_desc(Column::CreatedAt)
            .limit(last)
            .all(db)
            .await
            .map_err(AppError::from)?;
        Ok(entries)
    }
}
