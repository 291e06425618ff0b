//! Enums stored as short strings, so the same column works on SQLite and
//! PostgreSQL and a new variant needs no database type migration.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What an account may do across the whole instance.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    #[sea_orm(string_value = "user")]
    User,
    #[sea_orm(string_value = "admin")]
    Admin,
}

/// Who can see a community's posts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum CommunityVisibility {
    /// Anyone can read; anyone signed in can join.
    #[sea_orm(string_value = "public")]
    Public,
    /// Only members read; joining needs an invitation.
    #[sea_orm(string_value = "private")]
    Private,
}

/// A member's powers inside one community.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum MembershipRole {
    #[sea_orm(string_value = "owner")]
    Owner,
    #[sea_orm(string_value = "moderator")]
    Moderator,
    #[sea_orm(string_value = "member")]
    Member,
}

/// The reactions a post can receive (one per user per post).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ReactionKind {
    #[sea_orm(string_value = "like")]
    Like,
    #[sea_orm(string_value = "love")]
    Love,
    #[sea_orm(string_value = "laugh")]
    Laugh,
    #[sea_orm(string_value = "wow")]
    Wow,
    #[sea_orm(string_value = "sad")]
    Sad,
    #[sea_orm(string_value = "angry")]
    Angry,
}

/// What a one-time token proves when it is redeemed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum TokenPurpose {
    #[sea_orm(string_value = "email_verification")]
    EmailVerification,
    #[sea_orm(string_value = "password_reset")]
    PasswordReset,
}

/// What a report is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ReportTarget {
    #[sea_orm(string_value = "post")]
    Post,
    #[sea_orm(string_value = "comment")]
    Comment,
    #[sea_orm(string_value = "message")]
    Message,
    #[sea_orm(string_value = "user")]
    User,
    #[sea_orm(string_value = "community")]
    Community,
}

/// Why something was reported.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ReportReason {
    #[sea_orm(string_value = "spam")]
    Spam,
    #[sea_orm(string_value = "harassment")]
    Harassment,
    #[sea_orm(string_value = "hate")]
    Hate,
    #[sea_orm(string_value = "violence")]
    Violence,
    #[sea_orm(string_value = "sexual")]
    Sexual,
    #[sea_orm(string_value = "self_harm")]
    SelfHarm,
    #[sea_orm(string_value = "illegal")]
    Illegal,
    #[sea_orm(string_value = "other")]
    Other,
}

/// What a moderator did about a report. `None` while it is open.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
pub enum ReportAction {
    /// Nothing was wrong.
    #[sea_orm(string_value = "dismissed")]
    Dismissed,
    /// The post or comment was removed (restorably), or the message deleted.
    #[sea_orm(string_value = "content_removed")]
    ContentRemoved,
    /// The author was removed from the community and may not come back.
    #[sea_orm(string_value = "community_ban")]
    CommunityBan,
    /// The account was disabled.
    #[sea_orm(string_value = "account_ban")]
    AccountBan,
}

/// What a notification is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum NotificationKind {
    /// A comment on your post, or a reply to your comment.
    #[sea_orm(string_value = "reply")]
    Reply,
    /// `@you` in a post or comment.
    #[sea_orm(string_value = "mention")]
    Mention,
    /// Reactions to your post, gathered while unread.
    #[sea_orm(string_value = "reaction")]
    Reaction,
    /// New followers, gathered while unread.
    #[sea_orm(string_value = "follow")]
    Follow,
    /// New messages in a conversation, gathered while unread.
    #[sea_orm(string_value = "message")]
    Message,
    /// What came of a report you filed.
    #[sea_orm(string_value = "moderation")]
    Moderation,
}

/// Which service delivers pushes to a device.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum PushProvider {
    /// Firebase Cloud Messaging (Android, and iOS through Firebase).
    #[sea_orm(string_value = "fcm")]
    Fcm,
    /// Apple Push Notification service, straight.
    #[sea_orm(string_value = "apns")]
    Apns,
}
