//! Post attachments: uploaded files shown with a post, in order.
//!
//! A file belongs to at most one post (unique `file_id`), so deleting the
//! post can delete its files. Both foreign keys cascade: a deleted post or
//! file takes its attachment rows with it.

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
                    .table(PostAttachments::Table)
                    .col(ColumnDef::new(PostAttachments::PostId).uuid().not_null())
                    .col(ColumnDef::new(PostAttachments::FileId).uuid().not_null())
                    .col(
                        ColumnDef::new(PostAttachments::Position)
                            .integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_post_attachments")
                            .col(PostAttachments::PostId)
                            .col(PostAttachments::Position),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_post_attachments_post_id",
                        (PostAttachments::Table, PostAttachments::PostId),
                        (Posts::Table, Posts::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_post_attachments_file_id",
                        (PostAttachments::Table, PostAttachments::FileId),
                        (Files::Table, Files::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // One post per file; also serves the file foreign key.
        create_indexes(
            manager,
            vec![index(
                "ux_post_attachments_file_id",
                PostAttachments::Table,
                &[PostAttachments::FileId],
                true,
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![PostAttachments::Table.into_iden()]).await
    }
}
