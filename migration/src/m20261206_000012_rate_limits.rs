//! Rate limits shared by every API process on PostgreSQL: one row per
//! budget (an action with a client address or an account), holding its
//! GCRA theoretical arrival time `tat`. An attempt is one upsert of its row,
//! so replicas spending from one budget queue on the row's lock instead of
//! each allowing the full limit. A row whose `tat` has passed is a full
//! budget and is swept.
//!
//! No index on `tat`: every attempt updates it, while the sweep that scans
//! for passed ones runs once a minute over the budgets used within the last
//! window. SQLite, served by one process, keeps its budgets in memory; the
//! table exists there too, unused, so both backends have one schema.

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
                    .table(RateLimits::Table)
                    .col(
                        ColumnDef::new(RateLimits::Key)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RateLimits::Tat)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![RateLimits::Table.into_iden()]).await
    }
}
