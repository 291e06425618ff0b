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
    /// argon2id PHC string. Never leaves the server. Empty for an account
    /// that signs in only through providers or email codes.
    pub password_hash: String,
    pub email_verified_at: Option<DateTimeUtc>,
    /// Set by an admin: no sign-in, no refresh, every session ended.
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// The public columns of a user: what a profile shows, and `disabled_at`
/// to hide a disabled author. Edges (a post's author, a comment's) load
/// this rather than [`Model`]: it skips the email and the password hash,
/// and decoding fewer columns is most of the cost of those batches.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Profile {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub avatar_file_id: Option<Uuid>,
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

impl From<Model> for Profile {
    fn from(model: Model) -> Self {
        Self {
            id: model.id,
            username: model.username,
            display_name: model.display_name,
            bio: model.bio,
            avatar_file_id: model.avatar_file_id,
            disabled_at: model.disabled_at,
            created_at: model.created_at,
        }
    }
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

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    use super::*;

    /// A profile query reads the public columns and never the private ones.
    #[test]
    fn profiles_select_no_private_columns() {
        let sql = Entity::find()
            .into_partial_model::<Profile>()
            .into_statement(DbBackend::Postgres)
            .to_string();
        for public in ["\"username\"", "\"display_name\"", "\"disabled_at\""] {
            assert!(sql.contains(public), "{sql}");
        }
        for private in ["email", "password_hash", "role"] {
            assert!(!sql.contains(private), "{private} in {sql}");
        }
    }
}
