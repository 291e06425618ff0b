//! `push_tokens`: a signed-in device's push token, bound to its session.
//! Unique per session and per token; deleted with the session's account,
//! and by the API when the session ends.

use sea_orm_migration::prelude::*;

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum PushTokens {
    Table,
    Id,
    SessionId,
    UserId,
    Provider,
    Token,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let at = |column| {
            ColumnDef::new(column)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(PushTokens::Table)
                    .col(
                        ColumnDef::new(PushTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PushTokens::SessionId).uuid().not_null())
                    .col(ColumnDef::new(PushTokens::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(PushTokens::Provider)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(PushTokens::Token).string_len(512).not_null())
                    .col(at(PushTokens::CreatedAt))
                    .col(at(PushTokens::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_push_tokens_session_id",
                        (PushTokens::Table, PushTokens::SessionId),
                        (Sessions::Table, Sessions::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_push_tokens_user_id",
                        (PushTokens::Table, PushTokens::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    "ux_push_tokens_session_id",
                    PushTokens::Table,
                    &[PushTokens::SessionId],
                    true,
                ),
                index(
                    "ux_push_tokens_token",
                    PushTokens::Table,
                    &[PushTokens::Token],
                    true,
                ),
                index(
                    "ix_push_tokens_user_id",
                    PushTokens::Table,
                    &[PushTokens::UserId],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![PushTokens::Table.into_iden()]).await
    }
}
