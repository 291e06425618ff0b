//! PostgreSQL: no `NOTIFY` from a trigger on `events` any more. A
//! transaction that notifies takes one lock, server-wide, as it commits, so
//! a `NOTIFY` in every write's transaction made writes queue behind each
//! other. Instead each API process's log reader sends one `NOTIFY` after
//! it reads events its own process wrote, outside any request; the other
//! processes wake on it as before, and still poll.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261206_000009_event_log::{NOTIFY_FUNCTION, NOTIFY_TRIGGER};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared("DROP TRIGGER IF EXISTS events_notify ON events")
                .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS hearth_events_notify()")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(NOTIFY_FUNCTION).await?;
            db.execute_unprepared(NOTIFY_TRIGGER).await?;
        }
        Ok(())
    }
}
