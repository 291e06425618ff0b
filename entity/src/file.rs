//! `files`: uploaded blobs' metadata; the bytes live in file storage.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner_id: Uuid,
    /// Where the bytes are in file storage (unique).
    pub storage_key: String,
    /// Sniffed from the bytes, never trusted from the client.
    pub content_type: String,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256 of the bytes.
    pub checksum_sha256: String,
    pub original_name: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Owner,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
