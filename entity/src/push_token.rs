//! `push_tokens`: where to push a signed-in device's notifications. One per
//! session, and one session per token: it goes with the session (signing
//! out, a revoked session, a password change or a ban delete it), so a
//! push never reaches a device that is signed out.

use sea_orm::entity::prelude::*;

use crate::enums::PushProvider;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub provider: PushProvider,
    /// The provider's registration token (FCM) or device token (APNs).
    #[sea_orm(unique)]
    pub token: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
