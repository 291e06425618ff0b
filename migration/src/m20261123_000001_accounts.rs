//! Accounts: users, their uploaded files, device sessions with their refresh
//! tokens, and one-time email tokens.
//!
//! `users.avatar_file_id` -> `files` and `files.owner_id` -> `users` form a
//! cycle. SQLite accepts a foreign key to a table created later, but cannot
//! add one to an existing table; PostgreSQL is the other way round. So on
//! SQLite the avatar key is declared with `users`, on PostgreSQL it is added
//! once `files` exists. The resulting constraints are the same.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const FK_USERS_AVATAR: &str = "fk_users_avatar_file_id";

fn avatar_fk() -> ForeignKeyCreateStatement {
    // Deleting a file clears the avatar instead of blocking the delete.
    foreign_key(
        FK_USERS_AVATAR,
        (Users::Table, Users::AvatarFileId),
        (Files::Table, Files::Id),
        ForeignKeyAction::SetNull,
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        // sea-orm-migration wraps only PostgreSQL migrations by default; a
        // half-applied migration on SQLite would be worse.
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sqlite = manager.get_database_backend() == DbBackend::Sqlite;

        let mut users = Table::create();
        users
            .table(Users::Table)
            .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
            .col(ColumnDef::new(Users::Email).string_len(320).not_null())
            .col(ColumnDef::new(Users::Username).string_len(32).not_null())
            .col(ColumnDef::new(Users::DisplayName).string_len(64).not_null())
            .col(ColumnDef::new(Users::Bio).text().not_null().default(""))
            .col(ColumnDef::new(Users::AvatarFileId).uuid().null())
            .col(
                ColumnDef::new(Users::Role)
                    .string_len(16)
                    .not_null()
                    .default("user"),
            )
            .col(
                ColumnDef::new(Users::PasswordHash)
                    .string_len(255)
                    .not_null(),
            )
            .col(
                ColumnDef::new(Users::EmailVerifiedAt)
                    .timestamp_with_time_zone()
                    .null(),
            )
            .col(
                ColumnDef::new(Users::CreatedAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .col(
                ColumnDef::new(Users::UpdatedAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .check(Expr::col(Users::Role).is_in(["user", "admin"]));
        if sqlite {
            users.foreign_key(&mut avatar_fk());
        }
        manager.create_table(users.clone()).await?;

        manager
            .create_table(
                Table::create()
                    .table(Files::Table)
                    .col(ColumnDef::new(Files::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Files::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(Files::StorageKey).string_len(255).not_null())
                    .col(
                        ColumnDef::new(Files::ContentType)
                            .string_len(127)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Files::SizeBytes).big_integer().not_null())
                    .col(
                        ColumnDef::new(Files::ChecksumSha256)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Files::OriginalName).string_len(255).null())
                    .col(ColumnDef::new(Files::Width).integer().null())
                    .col(ColumnDef::new(Files::Height).integer().null())
                    .col(
                        ColumnDef::new(Files::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // An account's uploads go with the account.
                    .foreign_key(&mut foreign_key(
                        "fk_files_owner_id",
                        (Files::Table, Files::OwnerId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        if !sqlite {
            manager.create_foreign_key(avatar_fk()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(Sessions::DeviceName)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::DeviceSecretHash)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::LastUsedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::RevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_sessions_user_id",
                        (Sessions::Table, Sessions::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(
                        ColumnDef::new(RefreshTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RefreshTokens::SessionId).uuid().not_null())
                    .col(
                        ColumnDef::new(RefreshTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::RotatedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_refresh_tokens_session_id",
                        (RefreshTokens::Table, RefreshTokens::SessionId),
                        (Sessions::Table, Sessions::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OneTimeTokens::Table)
                    .col(
                        ColumnDef::new(OneTimeTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OneTimeTokens::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(OneTimeTokens::Purpose)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OneTimeTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OneTimeTokens::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OneTimeTokens::UsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OneTimeTokens::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .check(
                        Expr::col(OneTimeTokens::Purpose)
                            .is_in(["email_verification", "password_reset"]),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_one_time_tokens_user_id",
                        (OneTimeTokens::Table, OneTimeTokens::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        // Case-insensitive uniqueness needs an expression index; the SQL is
        // the same on both backends.
        let db = manager.get_connection();
        db.execute_unprepared("CREATE UNIQUE INDEX ux_users_email_lower ON users (lower(email))")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_users_username_lower ON users (lower(username))",
        )
        .await?;

        create_indexes(
            manager,
            vec![
                // Keyset order for the `users` connection.
                index(
                    "ix_users_created_at_id",
                    Users::Table,
                    &[Users::CreatedAt, Users::Id],
                    false,
                ),
                index(
                    "ix_users_avatar_file_id",
                    Users::Table,
                    &[Users::AvatarFileId],
                    false,
                ),
                index(
                    "ux_files_storage_key",
                    Files::Table,
                    &[Files::StorageKey],
                    true,
                ),
                index(
                    "ix_files_owner_id_created_at_id",
                    Files::Table,
                    &[Files::OwnerId, Files::CreatedAt, Files::Id],
                    false,
                ),
                index(
                    "ix_sessions_user_id_created_at_id",
                    Sessions::Table,
                    &[Sessions::UserId, Sessions::CreatedAt, Sessions::Id],
                    false,
                ),
                index(
                    "ux_refresh_tokens_token_hash",
                    RefreshTokens::Table,
                    &[RefreshTokens::TokenHash],
                    true,
                ),
                index(
                    "ix_refresh_tokens_session_id",
                    RefreshTokens::Table,
                    &[RefreshTokens::SessionId],
                    false,
                ),
                index(
                    "ux_one_time_tokens_token_hash",
                    OneTimeTokens::Table,
                    &[OneTimeTokens::TokenHash],
                    true,
                ),
                index(
                    "ix_one_time_tokens_user_id_purpose",
                    OneTimeTokens::Table,
                    &[OneTimeTokens::UserId, OneTimeTokens::Purpose],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                OneTimeTokens::Table.into_iden(),
                RefreshTokens::Table.into_iden(),
                Sessions::Table.into_iden(),
            ],
        )
        .await?;
        if manager.get_database_backend() != DbBackend::Sqlite {
            manager
                .drop_foreign_key(
                    ForeignKey::drop()
                        .name(FK_USERS_AVATAR)
                        .table(Users::Table)
                        .to_owned(),
                )
                .await?;
        }
        drop_tables(
            manager,
            vec![Files::Table.into_iden(), Users::Table.into_iden()],
        )
        .await
    }
}
