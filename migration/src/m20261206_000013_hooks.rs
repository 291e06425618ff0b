//! After-commit hooks follow the event log like webhooks do, each from a
//! named row of `event_cursors`. With several API processes, one of them
//! runs a hook at a time: it holds the row's lease (`holder`,
//! `leased_until`) and renews it as it goes; when a process dies, another
//! takes over once the lease runs out, from the last position saved. An
//! event a hook still fails on after its retries is kept in
//! `hook_failures` (never dropped silently), and the hook moves on.

use sea_orm_migration::prelude::*;

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(EventCursors::Table)
                    .add_column(ColumnDef::new(EventCursors::Holder).uuid().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(EventCursors::Table)
                    .add_column(
                        ColumnDef::new(EventCursors::LeasedUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HookFailures::Table)
                    .col(
                        ColumnDef::new(HookFailures::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(HookFailures::Hook).string().not_null())
                    .col(ColumnDef::new(HookFailures::Txid).big_integer().not_null())
                    .col(
                        ColumnDef::new(HookFailures::Position)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(HookFailures::Kind).string().not_null())
                    .col(ColumnDef::new(HookFailures::Error).text().not_null())
                    .col(ColumnDef::new(HookFailures::Attempts).integer().not_null())
                    .col(
                        ColumnDef::new(HookFailures::FailedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("hook_failures_hook_failed_at")
                    .table(HookFailures::Table)
                    .col(HookFailures::Hook)
                    .col(HookFailures::FailedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![HookFailures::Table.into_iden()]).await?;
        for column in [EventCursors::LeasedUntil, EventCursors::Holder] {
            manager
                .alter_table(
                    Table::alter()
                        .table(EventCursors::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
