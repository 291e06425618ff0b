//! `event_cursors`: named positions in the event log (how far it was
//! pruned, how far webhooks were fanned out, how far each after-commit hook
//! got).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_cursors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub txid: i64,
    pub position: i64,
    pub updated_at: DateTimeUtc,
    /// The process running this consumer now (after-commit hooks), while
    /// `leased_until` lies ahead.
    pub holder: Option<Uuid>,
    pub leased_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
