//! Direct messages: conversations, their participants, and messages.

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
                    .table(Conversations::Table)
                    .col(
                        ColumnDef::new(Conversations::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Conversations::CreatedById).uuid().null())
                    .col(
                        ColumnDef::new(Conversations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::LastMessageAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // The other participants keep the conversation.
                    .foreign_key(&mut foreign_key(
                        "fk_conversations_created_by_id",
                        (Conversations::Table, Conversations::CreatedById),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ConversationParticipants::Table)
                    .col(
                        ColumnDef::new(ConversationParticipants::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ConversationParticipants::ConversationId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConversationParticipants::UserId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConversationParticipants::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConversationParticipants::LastReadAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_conversation_participants_conversation_id",
                        (
                            ConversationParticipants::Table,
                            ConversationParticipants::ConversationId,
                        ),
                        (Conversations::Table, Conversations::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_conversation_participants_user_id",
                        (
                            ConversationParticipants::Table,
                            ConversationParticipants::UserId,
                        ),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(ColumnDef::new(Messages::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Messages::ConversationId).uuid().not_null())
                    .col(ColumnDef::new(Messages::SenderId).uuid().not_null())
                    .col(ColumnDef::new(Messages::Body).text().not_null())
                    .col(
                        ColumnDef::new(Messages::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_messages_conversation_id",
                        (Messages::Table, Messages::ConversationId),
                        (Conversations::Table, Conversations::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    // A deleted account's messages go with it.
                    .foreign_key(&mut foreign_key(
                        "fk_messages_sender_id",
                        (Messages::Table, Messages::SenderId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            vec![
                // Conversations by newest activity.
                index(
                    "ix_conversations_last_message_at_id",
                    Conversations::Table,
                    &[Conversations::LastMessageAt, Conversations::Id],
                    false,
                ),
                index(
                    "ix_conversations_created_by_id",
                    Conversations::Table,
                    &[Conversations::CreatedById],
                    false,
                ),
                // One participation per pair; also serves the conversation FK.
                index(
                    "ux_conversation_participants_conversation_id_user_id",
                    ConversationParticipants::Table,
                    &[
                        ConversationParticipants::ConversationId,
                        ConversationParticipants::UserId,
                    ],
                    true,
                ),
                // A user's conversations.
                index(
                    "ix_conversation_participants_user_id_conversation_id",
                    ConversationParticipants::Table,
                    &[
                        ConversationParticipants::UserId,
                        ConversationParticipants::ConversationId,
                    ],
                    false,
                ),
                index(
                    "ix_messages_conversation_id_created_at_id",
                    Messages::Table,
                    &[Messages::ConversationId, Messages::CreatedAt, Messages::Id],
                    false,
                ),
                index(
                    "ix_messages_sender_id_created_at_id",
                    Messages::Table,
                    &[Messages::SenderId, Messages::CreatedAt, Messages::Id],
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
                Messages::Table.into_iden(),
                ConversationParticipants::Table.into_iden(),
                Conversations::Table.into_iden(),
            ],
        )
        .await
    }
}
