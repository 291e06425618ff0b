//! The event log: `events` holds every change subscribers, webhooks and
//! other API processes react to, written in the same transaction as the
//! change (so a rolled-back change leaves no event and a committed one is
//! never skipped); `event_cursors` holds named positions in it (how far it
//! was pruned, how far webhooks were fanned out).
//!
//! Events are read in `(txid, position)` order. On SQLite there is one
//! writer, so positions commit in order and `txid` stays 0. On PostgreSQL
//! positions come from a sequence and can commit out of order; `txid` is
//! the writing transaction's id, and a reader only takes rows whose
//! transaction is older than every transaction still running
//! (`pg_snapshot_xmin`), so no row can later appear before one it read. An
//! insert there also `NOTIFY`s `hearth_events` (delivered at commit), which
//! wakes the readers of every API process.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

pub(crate) const NOTIFY_FUNCTION: &str = "CREATE FUNCTION hearth_events_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('hearth_events', ''); RETURN NULL; END $$";
pub(crate) const NOTIFY_TRIGGER: &str = "CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_events_notify()";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        let mut txid = ColumnDef::new(Events::Txid);
        txid.big_integer().not_null();
        if postgres {
            txid.default(Expr::cust("(pg_current_xact_id()::text::bigint)"));
        } else {
            txid.default(0);
        }
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    // AUTOINCREMENT on SQLite: positions are never reused,
                    // even once the newest rows were pruned.
                    .col(
                        ColumnDef::new(Events::Position)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(&mut txid)
                    .col(ColumnDef::new(Events::Kind).string().not_null())
                    .col(ColumnDef::new(Events::ActorId).uuid().null())
                    .col(ColumnDef::new(Events::CommunityId).uuid().null())
                    .col(ColumnDef::new(Events::PostId).uuid().null())
                    .col(ColumnDef::new(Events::ConversationId).uuid().null())
                    .col(ColumnDef::new(Events::UserId).uuid().null())
                    .col(ColumnDef::new(Events::Data).json().not_null())
                    .col(
                        ColumnDef::new(Events::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // No foreign keys: an event outlives the rows it names (a deleted
        // post's `post.deleted` event still names it).
        create_indexes(
            manager,
            vec![
                index(
                    "ux_events_order",
                    Events::Table,
                    &[Events::Txid, Events::Position],
                    true,
                ),
                index("ix_events_post_id", Events::Table, &[Events::PostId], false),
                index(
                    "ix_events_community_id",
                    Events::Table,
                    &[Events::CommunityId],
                    false,
                ),
                index(
                    "ix_events_conversation_id",
                    Events::Table,
                    &[Events::ConversationId],
                    false,
                ),
            ],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventCursors::Table)
                    .col(
                        ColumnDef::new(EventCursors::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(EventCursors::Txid).big_integer().not_null())
                    .col(
                        ColumnDef::new(EventCursors::Position)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EventCursors::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        if postgres {
            let db = manager.get_connection();
            db.execute_unprepared(NOTIFY_FUNCTION).await?;
            db.execute_unprepared(NOTIFY_TRIGGER).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS hearth_events_notify() CASCADE")
                .await?;
        }
        drop_tables(
            manager,
            vec![EventCursors::Table.into_iden(), Events::Table.into_iden()],
        )
        .await
    }
}
