//! Social sign-in and email codes.
//!
//! - `identities`: an account's sign-ins at OpenID Connect and OAuth2
//!   providers, one per provider and account, found by the provider's
//!   subject. An account may have identities and no password: its
//!   `password_hash` is then empty.
//! - `oauth_flows`: authorization-code flows between their start and their
//!   completion, bound to the hash of the device secret that started them
//!   and known by the hash of their `state`; single-use, short-lived.
//!   `display_name` keeps the name Apple posts once, on the first sign-in.
//! - `email_codes`: one-time sign-in codes mailed to an address (which may
//!   have no account yet), kept as password hashes, with the wrong tries
//!   counted.

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
        let timestamp = |col: DynIden| {
            ColumnDef::new(col)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Identities::Table)
                    .col(
                        ColumnDef::new(Identities::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Identities::UserId).uuid().not_null())
                    .col(ColumnDef::new(Identities::Provider).string().not_null())
                    .col(ColumnDef::new(Identities::Subject).string().not_null())
                    .col(ColumnDef::new(Identities::Email).string().null())
                    .col(
                        ColumnDef::new(Identities::EmailVerified)
                            .boolean()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Identities::PictureUrl).text().null())
                    .col(timestamp(Identities::CreatedAt.into_iden()))
                    .col(timestamp(Identities::LastUsedAt.into_iden()))
                    .foreign_key(&mut foreign_key(
                        "identities_user",
                        (Identities::Table, Identities::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthFlows::Table)
                    .col(
                        ColumnDef::new(OauthFlows::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OauthFlows::StateHash).string().not_null())
                    .col(ColumnDef::new(OauthFlows::Provider).string().not_null())
                    .col(ColumnDef::new(OauthFlows::RedirectUri).text().not_null())
                    .col(
                        ColumnDef::new(OauthFlows::DeviceSecretHash)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OauthFlows::Nonce).string().not_null())
                    .col(ColumnDef::new(OauthFlows::CodeVerifier).string().not_null())
                    .col(ColumnDef::new(OauthFlows::DisplayName).string().null())
                    .col(timestamp(OauthFlows::CreatedAt.into_iden()))
                    .col(timestamp(OauthFlows::ExpiresAt.into_iden()))
                    .col(
                        ColumnDef::new(OauthFlows::UsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailCodes::Table)
                    .col(
                        ColumnDef::new(EmailCodes::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(EmailCodes::Email).string().not_null())
                    .col(ColumnDef::new(EmailCodes::CodeHash).string().not_null())
                    .col(
                        ColumnDef::new(EmailCodes::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(timestamp(EmailCodes::CreatedAt.into_iden()))
                    .col(timestamp(EmailCodes::ExpiresAt.into_iden()))
                    .col(
                        ColumnDef::new(EmailCodes::UsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    "identities_provider_subject",
                    Identities::Table,
                    &[Identities::Provider, Identities::Subject],
                    true,
                ),
                index(
                    "identities_user_provider",
                    Identities::Table,
                    &[Identities::UserId, Identities::Provider],
                    true,
                ),
                index(
                    "oauth_flows_state_hash",
                    OauthFlows::Table,
                    &[OauthFlows::StateHash],
                    true,
                ),
                index(
                    "oauth_flows_expires_at",
                    OauthFlows::Table,
                    &[OauthFlows::ExpiresAt],
                    false,
                ),
                index(
                    "email_codes_email_created_at",
                    EmailCodes::Table,
                    &[EmailCodes::Email, EmailCodes::CreatedAt],
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
                EmailCodes::Table.into_iden(),
                OauthFlows::Table.into_iden(),
                Identities::Table.into_iden(),
            ],
        )
        .await
    }
}
