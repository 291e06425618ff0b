//! One conversation per pair of people: `conversations.direct_key` holds the
//! two participants' ids in order (`<smaller>:<larger>`, each as 32 lowercase
//! hex digits) for one-to-one conversations and is null for groups. A unique
//! index on it makes two clients starting the same conversation at once end
//! in one row, whatever the backend: the second insert conflicts and reads
//! the first.
//!
//! Existing one-to-one conversations get their key; where a pair already
//! has several (the race this closes), the oldest keeps it and the others
//! stay as they are, reachable from the inbox.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::tables::Conversations;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const INDEX: &str = "ux_conversations_direct_key";

/// Sets the key of the oldest conversation of each pair. UUIDs are blobs in
/// SQLite and `uuid` in PostgreSQL (which has no `min(uuid)`), hence two
/// spellings of one statement.
fn backfill(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "WITH pairs AS (
                SELECT conversation_id::text AS id,
                       replace(min(user_id::text), '-', '') || ':' || replace(max(user_id::text), '-', '') AS pair
                FROM conversation_participants GROUP BY conversation_id HAVING count(*) = 2
            ), firsts AS (SELECT min(id) AS id, pair FROM pairs GROUP BY pair)
            UPDATE conversations SET direct_key = firsts.pair
            FROM firsts WHERE conversations.id::text = firsts.id"
        }
        _ => {
            "WITH pairs AS (
                SELECT conversation_id AS id,
                       lower(hex(min(user_id))) || ':' || lower(hex(max(user_id))) AS pair
                FROM conversation_participants GROUP BY conversation_id HAVING count(*) = 2
            ), firsts AS (SELECT min(id) AS id, pair FROM pairs GROUP BY pair)
            UPDATE conversations SET direct_key = (SELECT pair FROM firsts WHERE firsts.id = conversations.id)
            WHERE id IN (SELECT id FROM firsts)"
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .add_column(ColumnDef::new(Conversations::DirectKey).string().null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(backfill(db.get_database_backend()))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Conversations::Table)
                    .col(Conversations::DirectKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(Conversations::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .drop_column(Conversations::DirectKey)
                    .to_owned(),
            )
            .await
    }
}
