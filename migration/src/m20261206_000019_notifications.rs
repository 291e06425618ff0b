//! Notifications and their preferences.
//!
//! - `notifications`: each account's inbox. Rows go with the account and
//!   with the post, comment, conversation or report they are about; the
//!   actor's id is cleared when that account goes. `source` makes a cause
//!   count once however often it is processed.
//! - `notification_preferences`: per account and kind, whether it reaches
//!   the inbox and push; no row means both.

use sea_orm_migration::prelude::*;

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    ActorId,
    ActorCount,
    PostId,
    CommentId,
    ConversationId,
    ReportId,
    GroupKey,
    CreatedAt,
    UpdatedAt,
    ReadAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum NotificationPreferences {
    Table,
    UserId,
    Kind,
    Inbox,
    Push,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Reports {
    Table,
    Id,
}

fn key(
    column: Notifications,
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    let name = format!(
        "fk_notifications_{}",
        column.to_string().trim_end_matches("_id")
    );
    foreign_key(&name, (Notifications::Table, column), to, on_delete)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        let at = |column| ColumnDef::new(column).timestamp_with_time_zone().to_owned();
        let id = |column| ColumnDef::new(column).uuid().null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(
                        ColumnDef::new(Notifications::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Notifications::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(Notifications::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(id(Notifications::ActorId))
                    .col(
                        ColumnDef::new(Notifications::ActorCount)
                            .integer()
                            .not_null(),
                    )
                    .col(id(Notifications::PostId))
                    .col(id(Notifications::CommentId))
                    .col(id(Notifications::ConversationId))
                    .col(id(Notifications::ReportId))
                    .col(ColumnDef::new(Notifications::GroupKey).string().not_null())
                    .col(at(Notifications::CreatedAt).not_null())
                    .col(at(Notifications::UpdatedAt).not_null())
                    .col(at(Notifications::ReadAt).null())
                    .foreign_key(&mut key(
                        Notifications::UserId,
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut key(
                        Notifications::ActorId,
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .foreign_key(&mut key(
                        Notifications::PostId,
                        (Posts::Table, Posts::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut key(
                        Notifications::CommentId,
                        (Comments::Table, Comments::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut key(
                        Notifications::ConversationId,
                        (Conversations::Table, Conversations::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut key(
                        Notifications::ReportId,
                        (Reports::Table, Reports::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationPreferences::Table)
                    .col(
                        ColumnDef::new(NotificationPreferences::UserId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationPreferences::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationPreferences::Inbox)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationPreferences::Push)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationPreferences::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(NotificationPreferences::UserId)
                            .col(NotificationPreferences::Kind),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_notification_preferences_user",
                        (
                            NotificationPreferences::Table,
                            NotificationPreferences::UserId,
                        ),
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        let single =
            |name: &str, column: Notifications| index(name, Notifications::Table, &[column], false);
        create_indexes(
            manager,
            vec![
                // The inbox, newest activity first.
                index(
                    "ix_notifications_inbox",
                    Notifications::Table,
                    &[
                        Notifications::UserId,
                        Notifications::UpdatedAt,
                        Notifications::Id,
                    ],
                    false,
                ),
                // Each cause once; and the unread row a group gathers into.
                index(
                    "ix_notifications_group",
                    Notifications::Table,
                    &[Notifications::UserId, Notifications::GroupKey],
                    false,
                ),
                single("ix_notifications_actor_id", Notifications::ActorId),
                single("ix_notifications_post_id", Notifications::PostId),
                single("ix_notifications_comment_id", Notifications::CommentId),
                single(
                    "ix_notifications_conversation_id",
                    Notifications::ConversationId,
                ),
                single("ix_notifications_report_id", Notifications::ReportId),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                NotificationPreferences::Table.into_iden(),
                Notifications::Table.into_iden(),
            ],
        )
        .await
    }
}
