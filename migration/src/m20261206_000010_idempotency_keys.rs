//! Idempotency keys: a client names a write with a key of its choosing, so
//! a retry (a lost response on a flaky network) gets the first result back
//! instead of writing twice. One row per account and key: the operation,
//! a fingerprint of its input (the same key with other input is refused),
//! and the id of what the first request created. The primary key makes two
//! racing requests with one key end in one row: the second insert waits for
//! the first and then finds it. Rows older than a day are swept.

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
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(ColumnDef::new(IdempotencyKeys::AccountId).uuid().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::Key).string().not_null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::Operation)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::Fingerprint)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(IdempotencyKeys::ResultId).uuid().not_null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_idempotency_keys")
                            .col(IdempotencyKeys::AccountId)
                            .col(IdempotencyKeys::Key),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_idempotency_keys_account_id",
                        (IdempotencyKeys::Table, IdempotencyKeys::AccountId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![index(
                "ix_idempotency_keys_created_at",
                IdempotencyKeys::Table,
                &[IdempotencyKeys::CreatedAt],
                false,
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![IdempotencyKeys::Table.into_iden()]).await
    }
}
