//! `notifications`: one entry in `user_id`'s inbox. Reactions, follows and
//! messages gather while unread: one row per `group_key` stays unread and
//! counts its actors (`actor_id` is the latest); the others are one row per
//! cause, `source` (the event's cursor) keeping them unique.

use sea_orm::entity::prelude::*;

use crate::enums::NotificationKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: NotificationKind,
    /// Who caused it (the latest, when gathered); null once they are gone,
    /// and for moderation outcomes.
    pub actor_id: Option<Uuid>,
    /// How many people it gathers, the latest included.
    pub actor_count: i32,
    pub post_id: Option<Uuid>,
    pub comment_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub report_id: Option<Uuid>,
    /// What gathers it (`reaction:<post>`, `follow`, `message:<conversation>`),
    /// or the cause's own key for kinds that do not gather.
    pub group_key: String,
    pub created_at: DateTimeUtc,
    /// When it last gathered someone: inboxes list newest first by this.
    pub updated_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
