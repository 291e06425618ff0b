//! `users`: one row per account.

use sea_orm::entity::prelude::*;

use crate::enums::UserRole;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Stored as typed; uniqueness is case-insensitive (index on `lower(email)`).
    pub email: String,
    /// Public handle; unique case-insensitively.
    pub username: String,
    pub display_name: String,
    #[sea_orm(column_type = "Text")]
    pub bio: String,
    pub avatar_file_id: Option<Uuid>,
    pub role: UserRole,
    /// argon2id PHC string. Never leaves the server.
    pub password_hash: String,
    pub email_verified_at: Option<DateTimeUtc>,
    /// Set by an admin: no sign-in, no refresh, every session ended.
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::file::Entity",
        from = "Column::AvatarFileId",
        to = "super::file::Column::Id",
        on_delete = "SetNull"
    )]
    Avatar,
    #[sea_orm(has_many = "super::session::Entity")]
    Sessions,
    #[sea_orm(has_many = "super::one_time_token::Entity")]
    OneTimeTokens,
    #[sea_orm(has_many = "super::membership::Entity")]
    Memberships,
    #[sea_orm(has_many = "super::post::Entity")]
    Posts,
    #[sea_orm(has_many = "super::comment::Entity")]
    Comments,
    #[sea_orm(has_many = "super::reaction::Entity")]
    Reactions,
    #[sea_orm(has_many = "super::conversation_participant::Entity")]
    ConversationParticipants,
    #[sea_orm(has_many = "super::message::Entity")]
    Messages,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sessions.def()
    }
}

impl Related<super::one_time_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OneTimeTokens.def()
    }
}

impl Related<super::membership::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Memberships.def()
    }
}

impl Related<super::post::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Posts.def()
    }
}

impl Related<super::comment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Comments.def()
    }
}

impl Related<super::reaction::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Reactions.def()
    }
}

impl Related<super::message::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Messages.def()
    }
}

/// The communities a user belongs to, through `memberships`.
impl Related<super::community::Entity> for Entity {
    fn to() -> RelationDef {
        super::membership::Relation::Community.def()
    }
    fn via() -> Option<RelationDef> {
        Some(super::membership::Relation::User.def().rev())
    }
}

/// The conversations a user takes part in, through `conversation_participants`.
impl Related<super::conversation::Entity> for Entity {
    fn to() -> RelationDef {
        super::conversation_participant::Relation::Conversation.def()
    }
    fn via() -> Option<RelationDef> {
        Some(super::conversation_participant::Relation::User.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
