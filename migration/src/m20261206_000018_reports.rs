//! Reports and community bans.
//!
//! - `reports`: who reported what (a post, comment, message, user or
//!   community), why, and, once a moderator dealt with it, what they did,
//!   who they were and why. One open report per reporter and target: a
//!   partial unique index (the same SQL on both backends).
//! - `community_bans`: people a community's moderators banned; they may not
//!   join again or comment there.

use sea_orm_migration::prelude::*;

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Reports {
    Table,
    Id,
    ReporterId,
    TargetType,
    TargetId,
    SubjectId,
    CommunityId,
    Reason,
    Note,
    CreatedAt,
    Action,
    ResolvedById,
    ResolutionNote,
    ResolvedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CommunityBans {
    Table,
    Id,
    CommunityId,
    UserId,
    BannedById,
    CreatedAt,
}

fn user_key(name: &str, column: Reports, on_delete: ForeignKeyAction) -> ForeignKeyCreateStatement {
    foreign_key(
        name,
        (Reports::Table, column),
        (Users::Table, Users::Id),
        on_delete,
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let at = |column| ColumnDef::new(column).timestamp_with_time_zone().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .col(ColumnDef::new(Reports::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Reports::ReporterId).uuid().not_null())
                    .col(
                        ColumnDef::new(Reports::TargetType)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Reports::TargetId).uuid().not_null())
                    .col(ColumnDef::new(Reports::SubjectId).uuid().null())
                    .col(ColumnDef::new(Reports::CommunityId).uuid().null())
                    .col(ColumnDef::new(Reports::Reason).string_len(16).not_null())
                    .col(ColumnDef::new(Reports::Note).text().not_null())
                    .col(at(Reports::CreatedAt).not_null())
                    .col(ColumnDef::new(Reports::Action).string_len(24).null())
                    .col(ColumnDef::new(Reports::ResolvedById).uuid().null())
                    .col(ColumnDef::new(Reports::ResolutionNote).text().null())
                    .col(at(Reports::ResolvedAt).null())
                    .foreign_key(&mut user_key(
                        "fk_reports_reporter_id",
                        Reports::ReporterId,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut user_key(
                        "fk_reports_subject_id",
                        Reports::SubjectId,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut user_key(
                        "fk_reports_resolved_by_id",
                        Reports::ResolvedById,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_reports_community_id",
                        (Reports::Table, Reports::CommunityId),
                        (Communities::Table, Communities::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CommunityBans::Table)
                    .col(
                        ColumnDef::new(CommunityBans::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CommunityBans::CommunityId).uuid().not_null())
                    .col(ColumnDef::new(CommunityBans::UserId).uuid().not_null())
                    .col(ColumnDef::new(CommunityBans::BannedById).uuid().null())
                    .col(
                        ColumnDef::new(CommunityBans::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_community_bans_community_id",
                        (CommunityBans::Table, CommunityBans::CommunityId),
                        (Communities::Table, Communities::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_community_bans_user_id",
                        (CommunityBans::Table, CommunityBans::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_community_bans_banned_by_id",
                        (CommunityBans::Table, CommunityBans::BannedById),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                // A reporter's own reports, newest first.
                index(
                    "ix_reports_reporter_id",
                    Reports::Table,
                    &[Reports::ReporterId, Reports::CreatedAt, Reports::Id],
                    false,
                ),
                // A community's queue, oldest first.
                index(
                    "ix_reports_community_id",
                    Reports::Table,
                    &[Reports::CommunityId, Reports::CreatedAt, Reports::Id],
                    false,
                ),
                // The whole queue, for admins.
                index(
                    "ix_reports_created_at",
                    Reports::Table,
                    &[Reports::CreatedAt, Reports::Id],
                    false,
                ),
                index(
                    "ix_reports_subject_id",
                    Reports::Table,
                    &[Reports::SubjectId],
                    false,
                ),
                index(
                    "ix_reports_resolved_by_id",
                    Reports::Table,
                    &[Reports::ResolvedById],
                    false,
                ),
                index(
                    "ux_community_bans_pair",
                    CommunityBans::Table,
                    &[CommunityBans::CommunityId, CommunityBans::UserId],
                    true,
                ),
                index(
                    "ix_community_bans_user_id",
                    CommunityBans::Table,
                    &[CommunityBans::UserId],
                    false,
                ),
                index(
                    "ix_community_bans_banned_by_id",
                    CommunityBans::Table,
                    &[CommunityBans::BannedById],
                    false,
                ),
            ],
        )
        .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_reports_open ON reports \
                 (reporter_id, target_type, target_id) WHERE action IS NULL",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![CommunityBans::Table.into_iden(), Reports::Table.into_iden()],
        )
        .await
    }
}
