//! `audit_log`: one thing an admin did. Only ever inserted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The admin's account id; no foreign key, so the entry outlives them.
    pub actor_id: Option<Uuid>,
    /// The admin's username when they acted.
    pub actor_name: String,
    /// What was done, as `area.verb` (`user.ban`, `admin.sign_in`).
    pub action: String,
    /// The kind of row acted on (`user`, `session`, `post`, ...).
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// A sentence for people, with what the target was at the time.
    #[sea_orm(column_type = "Text")]
    pub detail: String,
    /// The client address the request came from.
    pub ip: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
