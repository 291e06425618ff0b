//! Posts, threaded comments, reactions and follows.

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
                    .table(Posts::Table)
                    .col(ColumnDef::new(Posts::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Posts::AuthorId).uuid().not_null())
                    .col(ColumnDef::new(Posts::CommunityId).uuid().null())
                    .col(ColumnDef::new(Posts::Body).text().not_null())
                    .col(
                        ColumnDef::new(Posts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Posts::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // Deleting an account deletes what it wrote.
                    .foreign_key(&mut foreign_key(
                        "fk_posts_author_id",
                        (Posts::Table, Posts::AuthorId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_posts_community_id",
                        (Posts::Table, Posts::CommunityId),
                        (Communities::Table, Communities::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .col(ColumnDef::new(Comments::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Comments::PostId).uuid().not_null())
                    .col(ColumnDef::new(Comments::AuthorId).uuid().not_null())
                    .col(ColumnDef::new(Comments::ParentId).uuid().null())
                    .col(ColumnDef::new(Comments::Body).text().not_null())
                    .col(
                        ColumnDef::new(Comments::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Comments::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_comments_post_id",
                        (Comments::Table, Comments::PostId),
                        (Posts::Table, Posts::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_comments_author_id",
                        (Comments::Table, Comments::AuthorId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    // A reply's parent is a comment on the same post: the
                    // key is (post_id, parent_id) -> (post_id, id). Deleting
                    // a comment deletes its replies, so a thread never points
                    // at a missing parent.
                    .index(
                        Index::create()
                            .name("ux_comments_post_id_id")
                            .col(Comments::PostId)
                            .col(Comments::Id)
                            .unique(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_comments_parent_id")
                            .from_tbl(Comments::Table)
                            .from_col(Comments::PostId)
                            .from_col(Comments::ParentId)
                            .to_tbl(Comments::Table)
                            .to_col(Comments::PostId)
                            .to_col(Comments::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reactions::Table)
                    .col(
                        ColumnDef::new(Reactions::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Reactions::PostId).uuid().not_null())
                    .col(ColumnDef::new(Reactions::UserId).uuid().not_null())
                    .col(ColumnDef::new(Reactions::Kind).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Reactions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .check(
                        Expr::col(Reactions::Kind)
                            .is_in(["like", "love", "laugh", "wow", "sad", "angry"]),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_reactions_post_id",
                        (Reactions::Table, Reactions::PostId),
                        (Posts::Table, Posts::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_reactions_user_id",
                        (Reactions::Table, Reactions::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Follows::Table)
                    .col(ColumnDef::new(Follows::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Follows::FollowerId).uuid().not_null())
                    .col(ColumnDef::new(Follows::FolloweeId).uuid().not_null())
                    .col(
                        ColumnDef::new(Follows::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .check(Expr::col(Follows::FollowerId).ne(Expr::col(Follows::FolloweeId)))
                    .foreign_key(&mut foreign_key(
                        "fk_follows_follower_id",
                        (Follows::Table, Follows::FollowerId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_follows_followee_id",
                        (Follows::Table, Follows::FolloweeId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            vec![
                // Newest-first lists: everything, by community, by author.
                index(
                    "ix_posts_created_at_id",
                    Posts::Table,
                    &[Posts::CreatedAt, Posts::Id],
                    false,
                ),
                index(
                    "ix_posts_community_id_created_at_id",
                    Posts::Table,
                    &[Posts::CommunityId, Posts::CreatedAt, Posts::Id],
                    false,
                ),
                index(
                    "ix_posts_author_id_created_at_id",
                    Posts::Table,
                    &[Posts::AuthorId, Posts::CreatedAt, Posts::Id],
                    false,
                ),
                index(
                    "ix_comments_post_id_created_at_id",
                    Comments::Table,
                    &[Comments::PostId, Comments::CreatedAt, Comments::Id],
                    false,
                ),
                index(
                    "ix_comments_author_id_created_at_id",
                    Comments::Table,
                    &[Comments::AuthorId, Comments::CreatedAt, Comments::Id],
                    false,
                ),
                index(
                    "ix_comments_parent_id_created_at_id",
                    Comments::Table,
                    &[Comments::ParentId, Comments::CreatedAt, Comments::Id],
                    false,
                ),
                // One reaction per user per post; also serves the post FK.
                index(
                    "ux_reactions_post_id_user_id",
                    Reactions::Table,
                    &[Reactions::PostId, Reactions::UserId],
                    true,
                ),
                // Counts per kind.
                index(
                    "ix_reactions_post_id_kind",
                    Reactions::Table,
                    &[Reactions::PostId, Reactions::Kind],
                    false,
                ),
                index(
                    "ix_reactions_post_id_created_at_id",
                    Reactions::Table,
                    &[Reactions::PostId, Reactions::CreatedAt, Reactions::Id],
                    false,
                ),
                index(
                    "ix_reactions_user_id_created_at_id",
                    Reactions::Table,
                    &[Reactions::UserId, Reactions::CreatedAt, Reactions::Id],
                    false,
                ),
                // One follow per pair; also "whom does X follow" by follower.
                index(
                    "ux_follows_follower_id_followee_id",
                    Follows::Table,
                    &[Follows::FollowerId, Follows::FolloweeId],
                    true,
                ),
                index(
                    "ix_follows_follower_id_created_at_id",
                    Follows::Table,
                    &[Follows::FollowerId, Follows::CreatedAt, Follows::Id],
                    false,
                ),
                index(
                    "ix_follows_followee_id_created_at_id",
                    Follows::Table,
                    &[Follows::FolloweeId, Follows::CreatedAt, Follows::Id],
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
                Follows::Table.into_iden(),
                Reactions::Table.into_iden(),
                Comments::Table.into_iden(),
                Posts::Table.into_iden(),
            ],
        )
        .await
    }
}
