//! `reports`: someone reported a post, comment, message, user or community.
//! At most one open report per reporter and target (a partial unique
//! index). `community_id` is the community the target belongs to, so that
//! community's moderators see it; null for messages, users, profile posts.

use sea_orm::entity::prelude::*;

use crate::enums::{ReportAction, ReportReason, ReportTarget};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub reporter_id: Uuid,
    pub target_type: ReportTarget,
    /// The reported row's id (no foreign key: it names one of five tables,
    /// and the report outlives a deleted target).
    pub target_id: Uuid,
    /// The author of the reported content (or the reported user), kept for
    /// the moderator's account and community bans.
    pub subject_id: Option<Uuid>,
    pub community_id: Option<Uuid>,
    pub reason: ReportReason,
    pub note: String,
    pub created_at: DateTimeUtc,
    /// Set once a moderator dealt with it, with who, when and why.
    pub action: Option<ReportAction>,
    pub resolved_by_id: Option<Uuid>,
    pub resolution_note: Option<String>,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
