//! `push_deliveries`: the push outbox. One row per device token and
//! notification while a push is waiting to be sent (or retried); a sent
//! push leaves the table. Deleted with its token (so a session that ends
//! takes its waiting pushes with it) and with its notification.

use sea_orm_migration::prelude::*;

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum PushDeliveries {
    Table,
    Id,
    TokenId,
    NotificationId,
    Title,
    Body,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PushTokens {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let at = |column| ColumnDef::new(column).timestamp_with_time_zone().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(PushDeliveries::Table)
                    .col(
                        ColumnDef::new(PushDeliveries::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PushDeliveries::TokenId).uuid().not_null())
                    .col(
                        ColumnDef::new(PushDeliveries::NotificationId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PushDeliveries::Title)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(PushDeliveries::Body).text().not_null())
                    .col(
                        ColumnDef::new(PushDeliveries::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(at(PushDeliveries::NextAttemptAt).not_null())
                    .col(at(PushDeliveries::LockedUntil).null())
                    .col(ColumnDef::new(PushDeliveries::LastError).text().null())
                    .col(at(PushDeliveries::CreatedAt).not_null())
                    .foreign_key(&mut foreign_key(
                        "fk_push_deliveries_token_id",
                        (PushDeliveries::Table, PushDeliveries::TokenId),
                        (PushTokens::Table, PushTokens::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_push_deliveries_notification_id",
                        (PushDeliveries::Table, PushDeliveries::NotificationId),
                        (Notifications::Table, Notifications::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                // A burst about one notification (reactions gathering on a
                // post) updates its waiting push instead of adding more.
                index(
                    "ux_push_deliveries_token_notification",
                    PushDeliveries::Table,
                    &[PushDeliveries::TokenId, PushDeliveries::NotificationId],
                    true,
                ),
                index(
                    "ix_push_deliveries_notification_id",
                    PushDeliveries::Table,
                    &[PushDeliveries::NotificationId],
                    false,
                ),
                index(
                    "ix_push_deliveries_next_attempt_at",
                    PushDeliveries::Table,
                    &[PushDeliveries::NextAttemptAt],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![PushDeliveries::Table.into_iden()]).await
    }
}
