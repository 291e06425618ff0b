//! GraphQL for push: registering this device's token.

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::push_token;

use super::service;
use crate::{
    auth::{SignedIn, viewer::signed_in},
    graphql::context,
};

/// Which service delivers pushes to a device.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::PushProvider")]
pub enum PushProvider {
    /// Firebase Cloud Messaging: Android, and iOS apps that use Firebase
    /// (react-native-firebase, firebase_messaging).
    Fcm,
    /// Apple Push Notification service, with the device token iOS gives
    /// the app.
    Apns,
}

/// This device's push registration.
#[derive(SimpleObject)]
pub(crate) struct PushDevice {
    provider: PushProvider,
    registered_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<push_token::Model> for PushDevice {
    fn from(row: push_token::Model) -> Self {
        Self {
            provider: row.provider.into(),
            registered_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Default)]
pub(crate) struct PushQuery;

#[Object]
impl PushQuery {
    /// This session's push registration; null when it has none.
    #[graphql(guard = "SignedIn")]
    async fn push_device(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PushDevice>> {
        let viewer = signed_in(ctx)?;
        Ok(service::current(context::db(ctx)?, &viewer)
            .await?
            .map(Into::into))
    }
}

#[derive(Default)]
pub(crate) struct PushMutation;

#[Object]
impl PushMutation {
    /// Registers this device's push token, bound to this session (call it
    /// again whenever the provider hands out a new token). Signing out, a
    /// revoked session, a password change or a ban remove it, so a device
    /// that is signed out gets no pushes.
    #[graphql(guard = "SignedIn")]
    async fn register_push_token(
        &self,
        ctx: &Context<'_>,
        provider: PushProvider,
        token: String,
    ) -> async_graphql::Result<PushDevice> {
        let viewer = signed_in(ctx)?;
        let row = service::register(context::db(ctx)?, &viewer, provider.into(), &token).await?;
        Ok(row.into())
    }

    /// Stops pushes to this device (its session stays signed in). Returns
    /// whether it had a token.
    #[graphql(guard = "SignedIn")]
    async fn unregister_push_token(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let viewer = signed_in(ctx)?;
        Ok(service::unregister(context::db(ctx)?, &viewer).await?)
    }
}
