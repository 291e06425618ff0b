//! `communities`: groups that hold posts, public or private.

use sea_orm::entity::prelude::*;

use crate::enums::CommunityVisibility;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "communities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// URL handle, lower-case, unique.
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub visibility: CommunityVisibility,
    /// Who created it; kept as history, null once that account is gone.
    /// Ownership itself is a membership role.
    pub created_by_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
    #[sea_orm(has_many = "super::membership::Entity")]
    Memberships,
    #[sea_orm(has_many = "super::post::Entity")]
    Posts,
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

/// Members, through `memberships`.
impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        super::membership::Relation::User.def()
    }
    fn via() -> Option<RelationDef> {
        Some(super::membership::Relation::Community.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
