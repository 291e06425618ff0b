//! `hook_failures`: events an after-commit hook still failed on after its
//! retries, kept so none is lost without a trace.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hook_failures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub hook: String,
    pub txid: i64,
    pub position: i64,
    pub kind: String,
    pub error: String,
    pub attempts: i32,
    pub failed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
