//! `conversations`: a direct-message thread between two or more users.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Who started it; null once that account is gone.
    pub created_by_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    /// Time of the newest message (or creation), for "newest activity first".
    pub last_message_at: DateTimeUtc,
    /// For a one-to-one conversation, its two people (see [`direct_key`]);
    /// unique, so a pair has one conversation. Null for groups.
    pub direct_key: Option<String>,
}

/// The key of the one-to-one conversation between `a` and `b`, the same
/// whichever of them starts it: both ids as 32 lowercase hex digits,
/// smaller first.
pub fn direct_key(a: Uuid, b: Uuid) -> String {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    format!("{}:{}", low.simple(), high.simple())
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    CreatedBy,
    #[sea_orm(has_many = "super::conversation_participant::Entity")]
    Participants,
    #[sea_orm(has_many = "super::message::Entity")]
    Messages,
}

impl Related<super::conversation_participant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Participants.def()
    }
}

impl Related<super::message::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Messages.def()
    }
}

/// Participants, through `conversation_participants`.
impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        super::conversation_participant::Relation::User.def()
    }
    fn via() -> Option<RelationDef> {
        Some(
            super::conversation_participant::Relation::Conversation
                .def()
                .rev(),
        )
    }
}

impl ActiveModelBehavior for ActiveModel {}
