//! Blocks and mutes.
//!
//! - `blocks`: `blocker_id` blocked `blocked_id`. A block works both ways:
//!   neither sees the other's content. Looked up from either side, so
//!   both columns are indexed.
//! - `user_mutes`, `community_mutes`: hidden from the muter's feed and
//!   notifications only; nobody else is affected.
//!
//! One row per pair; rows go with either account (or the community).

use sea_orm_migration::prelude::*;

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Blocks {
    Table,
    Id,
    BlockerId,
    BlockedId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserMutes {
    Table,
    Id,
    UserId,
    MutedUserId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CommunityMutes {
    Table,
    Id,
    UserId,
    CommunityId,
    CreatedAt,
}

/// A table of `(id, owner, target, created_at)` pairs, one row per pair.
fn pair_table(
    table: impl IntoIden + Copy + 'static,
    (id, owner, target, created_at): (DynIden, DynIden, DynIden, DynIden),
    target_table: (DynIden, DynIden),
    name: &str,
) -> TableCreateStatement {
    let owner_col = owner.clone();
    let target_col = target.clone();
    Table::create()
        .table(table)
        .col(ColumnDef::new(id).uuid().not_null().primary_key())
        .col(ColumnDef::new(owner.clone()).uuid().not_null())
        .col(ColumnDef::new(target.clone()).uuid().not_null())
        .col(
            ColumnDef::new(created_at)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .foreign_key(&mut foreign_key(
            &format!("fk_{name}_owner"),
            (table, owner_col),
            (Users::Table, Users::Id),
            ForeignKeyAction::Cascade,
        ))
        .foreign_key(&mut foreign_key(
            &format!("fk_{name}_target"),
            (table, target_col),
            target_table,
            ForeignKeyAction::Cascade,
        ))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let users = || (Users::Table.into_iden(), Users::Id.into_iden());
        let mut blocks = pair_table(
            Blocks::Table,
            (
                Blocks::Id.into_iden(),
                Blocks::BlockerId.into_iden(),
                Blocks::BlockedId.into_iden(),
                Blocks::CreatedAt.into_iden(),
            ),
            users(),
            "blocks",
        );
        blocks.check(Expr::col(Blocks::BlockerId).ne(Expr::col(Blocks::BlockedId)));
        manager.create_table(blocks).await?;
        let mut user_mutes = pair_table(
            UserMutes::Table,
            (
                UserMutes::Id.into_iden(),
                UserMutes::UserId.into_iden(),
                UserMutes::MutedUserId.into_iden(),
                UserMutes::CreatedAt.into_iden(),
            ),
            users(),
            "user_mutes",
        );
        user_mutes.check(Expr::col(UserMutes::UserId).ne(Expr::col(UserMutes::MutedUserId)));
        manager.create_table(user_mutes).await?;
        manager
            .create_table(pair_table(
                CommunityMutes::Table,
                (
                    CommunityMutes::Id.into_iden(),
                    CommunityMutes::UserId.into_iden(),
                    CommunityMutes::CommunityId.into_iden(),
                    CommunityMutes::CreatedAt.into_iden(),
                ),
                (Communities::Table.into_iden(), Communities::Id.into_iden()),
                "community_mutes",
            ))
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    "ux_blocks_pair",
                    Blocks::Table,
                    &[Blocks::BlockerId, Blocks::BlockedId],
                    true,
                ),
                index(
                    "ix_blocks_blocked_id",
                    Blocks::Table,
                    &[Blocks::BlockedId, Blocks::BlockerId],
                    false,
                ),
                index(
                    "ux_user_mutes_pair",
                    UserMutes::Table,
                    &[UserMutes::UserId, UserMutes::MutedUserId],
                    true,
                ),
                // The other end of each foreign key, so deleting an
                // account or a community finds its rows by index.
                index(
                    "ix_user_mutes_muted_user_id",
                    UserMutes::Table,
                    &[UserMutes::MutedUserId],
                    false,
                ),
                index(
                    "ix_community_mutes_community_id",
                    CommunityMutes::Table,
                    &[CommunityMutes::CommunityId],
                    false,
                ),
                index(
                    "ux_community_mutes_pair",
                    CommunityMutes::Table,
                    &[CommunityMutes::UserId, CommunityMutes::CommunityId],
                    true,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                CommunityMutes::Table.into_iden(),
                UserMutes::Table.into_iden(),
                Blocks::Table.into_iden(),
            ],
        )
        .await
    }
}
