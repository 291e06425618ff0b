//! The index on a comment's parent now holds replies only.
//!
//! A post's top-level comments are read with `post_id IN (…) AND
//! parent_id IS NULL`. SQLite keeps no statistics on NULLs, so it took
//! `parent_id IS NULL` for a selective lookup in the parent index and read
//! every top-level comment of every post (a second and a half per feed page
//! with a million comments) instead of the post's own. With the index
//! partial (`WHERE parent_id IS NOT NULL`) it cannot serve `IS NULL`, so the
//! post index is used; `parent_id = ?` (a comment's replies, the cascade
//! from a deleted parent) still uses it on both backends, and it is smaller.
//! The same SQL works on both backends.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const INDEX: &str = "ix_comments_parent_id_created_at_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate(manager, " WHERE parent_id IS NOT NULL").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate(manager, "").await
    }
}

async fn recreate(manager: &SchemaManager<'_>, partial: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!("DROP INDEX {INDEX}"))
        .await?;
    db.execute_unprepared(&format!(
        "CREATE INDEX {INDEX} ON comments (parent_id, created_at, id){partial}"
    ))
    .await?;
    Ok(())
}
