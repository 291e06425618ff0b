//! Lists hide the posts and comments of disabled (banned) accounts with
//! `author_id NOT IN (SELECT id FROM users WHERE disabled_at IS NOT NULL)`.
//! A partial index makes that subquery as small as the number of bans
//! instead of a scan of every account. The same SQL works on both backends.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_users_disabled ON users (id) WHERE disabled_at IS NOT NULL",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ix_users_disabled")
            .await
            .map(|_| ())
    }
}
