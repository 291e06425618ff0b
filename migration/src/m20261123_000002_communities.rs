//! Communities and their memberships.

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
                    .table(Communities::Table)
                    .col(
                        ColumnDef::new(Communities::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Communities::Slug).string_len(64).not_null())
                    .col(ColumnDef::new(Communities::Name).string_len(100).not_null())
                    .col(
                        ColumnDef::new(Communities::Description)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .col(
                        ColumnDef::new(Communities::Visibility)
                            .string_len(16)
                            .not_null()
                            .default("public"),
                    )
                    .col(ColumnDef::new(Communities::CreatedById).uuid().null())
                    .col(
                        ColumnDef::new(Communities::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Communities::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // Slugs are stored lower-case, so plain uniqueness is
                    // case-insensitive.
                    .check(
                        Expr::col(Communities::Slug).eq(Func::lower(Expr::col(Communities::Slug))),
                    )
                    .check(Expr::col(Communities::Visibility).is_in(["public", "private"]))
                    // A community outlives the account that created it.
                    .foreign_key(&mut foreign_key(
                        "fk_communities_created_by_id",
                        (Communities::Table, Communities::CreatedById),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(
                        ColumnDef::new(Memberships::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Memberships::CommunityId).uuid().not_null())
                    .col(ColumnDef::new(Memberships::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(Memberships::Role)
                            .string_len(16)
                            .not_null()
                            .default("member"),
                    )
                    .col(
                        ColumnDef::new(Memberships::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .check(Expr::col(Memberships::Role).is_in(["owner", "moderator", "member"]))
                    .foreign_key(&mut foreign_key(
                        "fk_memberships_community_id",
                        (Memberships::Table, Memberships::CommunityId),
                        (Communities::Table, Communities::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_memberships_user_id",
                        (Memberships::Table, Memberships::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        // At most one owner per community. A partial index, the same SQL on
        // both backends.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_memberships_one_owner ON memberships (community_id) \
                 WHERE role = 'owner'",
            )
            .await?;

        create_indexes(
            manager,
            vec![
                index(
                    "ux_communities_slug",
                    Communities::Table,
                    &[Communities::Slug],
                    true,
                ),
                index(
                    "ix_communities_created_at_id",
                    Communities::Table,
                    &[Communities::CreatedAt, Communities::Id],
                    false,
                ),
                index(
                    "ix_communities_created_by_id",
                    Communities::Table,
                    &[Communities::CreatedById],
                    false,
                ),
                // One membership per pair; also serves lookups by community.
                index(
                    "ux_memberships_community_id_user_id",
                    Memberships::Table,
                    &[Memberships::CommunityId, Memberships::UserId],
                    true,
                ),
                // Members of a community, oldest first.
                index(
                    "ix_memberships_community_id_created_at_id",
                    Memberships::Table,
                    &[
                        Memberships::CommunityId,
                        Memberships::CreatedAt,
                        Memberships::Id,
                    ],
                    false,
                ),
                // A user's communities.
                index(
                    "ix_memberships_user_id_created_at_id",
                    Memberships::Table,
                    &[Memberships::UserId, Memberships::CreatedAt, Memberships::Id],
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
                Memberships::Table.into_iden(),
                Communities::Table.into_iden(),
            ],
        )
        .await
    }
}
