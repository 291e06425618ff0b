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
