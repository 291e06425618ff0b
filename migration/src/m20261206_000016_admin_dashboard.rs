//! The admin dashboard's tables and columns.
//!
//! - `audit_log`: what admins did (who, what, to which row, from where,
//!   when). Rows are only ever added: nothing in Hearth updates or deletes
//!   them. The actor's id is kept without a foreign key, with their
//!   username as it was, so an entry outlives the account that made it.
//! - `posts.removed_at`, `comments.removed_at`: removed by a moderator.
//!   The row stays (it can be restored) and every read path hides it.

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
        // SQLite alters one column per statement.
        for (table, column) in removed_at() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(ColumnDef::new(column).timestamp_with_time_zone().null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(ColumnDef::new(AuditLog::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(AuditLog::ActorId).uuid().null())
                    .col(ColumnDef::new(AuditLog::ActorName).string().not_null())
                    .col(ColumnDef::new(AuditLog::Action).string().not_null())
                    .col(ColumnDef::new(AuditLog::TargetType).string().null())
                    .col(ColumnDef::new(AuditLog::TargetId).string().null())
                    .col(ColumnDef::new(AuditLog::Detail).text().not_null())
                    .col(ColumnDef::new(AuditLog::Ip).string().null())
                    .col(
                        ColumnDef::new(AuditLog::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    "audit_log_actor",
                    AuditLog::Table,
                    &[AuditLog::ActorId, AuditLog::Id],
                    false,
                ),
                index(
                    "audit_log_action",
                    AuditLog::Table,
                    &[AuditLog::Action, AuditLog::Id],
                    false,
                ),
                index(
                    "audit_log_target",
                    AuditLog::Table,
                    &[AuditLog::TargetId, AuditLog::Id],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![AuditLog::Table.into_iden()]).await?;
        for (table, column) in removed_at() {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The tables moderators remove rows from, and their `removed_at`.
fn removed_at() -> [(DynIden, DynIden); 2] {
    [
        (Posts::Table.into_iden(), Posts::RemovedAt.into_iden()),
        (Comments::Table.into_iden(), Comments::RemovedAt.into_iden()),
    ]
}
