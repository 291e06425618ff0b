//! `identities`: an account's sign-in at an OpenID Connect or OAuth2
//! provider, found by the provider's subject.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// The provider's configured name (`google`, `apple`, `github`, ...).
    pub provider: String,
    /// The provider's stable id for the person (`sub`; GitHub's user id).
    pub subject: String,
    /// The email as the provider last asserted it.
    pub email: Option<String>,
    pub email_verified: bool,
    #[sea_orm(column_type = "Text")]
    pub picture_url: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
