//! `events`: the event log, one row per change others react to, written in
//! the change's own transaction. Read in `(txid, position)` order; `txid`
//! is the writing transaction's id on PostgreSQL and 0 on SQLite.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub position: i64,
    pub txid: i64,
    /// `post.created`, `message.sent`, ...
    pub kind: String,
    pub actor_id: Option<Uuid>,
    pub community_id: Option<Uuid>,
    pub post_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// The event's own fields, as JSON.
    pub data: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
