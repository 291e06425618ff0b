//! The authorization-code flow with PKCE, bound to the device.
//!
//! `start` keeps the flow server-side (the PKCE verifier and nonce never
//! reach the client) under the hash of a random `state`, with the hash of
//! the device secret. `complete` claims the flow once (a conditional
//! update, so a replayed or raced `state` fails), checks that the same
//! device finishes it, exchanges the code and signs that device in.

use std::net::IpAddr;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::{oauth_flow, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{accounts::existing_account, providers::Asserted};
use crate::{
    auth::{
        Auth,
        rate_limit::Action,
        service::{Device, Tokens, check_device, valid_device_secret},
        tokens::{random_token, token_hash},
    },
    error::{AppError, AppResult},
};

/// `extensions.code` for a `state` that names no flow this device may
/// complete: unknown, already completed, expired, or started by another
/// device (`extensions.reason` says which).
pub const OAUTH_STATE_INVALID: &str = "OAUTH_STATE_INVALID";

/// A started flow, for the client to open in a browser.
pub struct Started {
    pub authorization_url: String,
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

fn state_invalid(reason: &'static str, message: &str) -> AppError {
    AppError::Denied {
        code: OAUTH_STATE_INVALID,
        reason,
        message: format!("{message}; start the sign-in again"),
    }
}

impl Auth {
    /// Starts a flow at `provider` that returns to `redirect_uri`.
    pub async fn start_oauth(
        &self,
        provider: &str,
        redirect_uri: &str,
        device_secret: &str,
        ip: IpAddr,
    ) -> AppResult<Started> {
        self.limits.check_ip(Action::SignIn, ip).await?;
        let provider = self.social.get(provider)?;
        if !self.config.social.redirect_allowed(redirect_uri) {
            return Err(AppError::bad_input(
                "redirectUri",
                "is not one of this server's redirect URIs (AUTH_REDIRECT_URIS lists them, compared exactly)",
            ));
        }
        if !valid_device_secret(device_secret) {
            return Err(AppError::bad_input(
                "deviceSecret",
                "must be 16 to 256 characters: the same secret the app signs in with",
            ));
        }
        let (state, nonce, verifier) = (random_token(), random_token(), random_token());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let authorization_url = provider
            .authorization_url(redirect_uri, &state, &nonce, &challenge)
            .await?;
        let now = Utc::now();
        let expires_at = now + self.config.social.flow_ttl;
        let row = oauth_flow::ActiveModel {
            id: Set(Uuid::now_v7()),
            state_hash: Set(token_hash(&state)),
            provider: Set(provider.config.name.clone()),
            redirect_uri: Set(redirect_uri.to_owned()),
            device_secret_hash: Set(token_hash(device_secret)),
            nonce: Set(nonce),
            code_verifier: Set(verifier),
            display_name: Set(None),
            created_at: Set(now),
            expires_at: Set(expires_at),
            used_at: Set(None),
        };
        self.db
            .statement(move |tx| Box::pin(async move { Ok(row.insert(&tx).await?) }))
            .await?;
        Ok(Started {
            authorization_url,
            state,
            expires_at,
        })
    }

    /// Completes a flow with the code the provider sent back.
    pub async fn complete_oauth(
        &self,
        state: &str,
        code: &str,
        device: Device,
        display_name: Option<&str>,
        ip: IpAddr,
    ) -> AppResult<Tokens> {
        check_device(&device)?;
        let (asserted, flow_name) = self.finish_flow(state, code, &device.secret, ip).await?;
        let display_name = display_name.or(flow_name.as_deref());
        self.sign_in_asserted(asserted, &device, display_name).await
    }

    /// Completes a flow for someone who already has an account (the admin
    /// dashboard's sign-in): the account the identity is linked to, or the
    /// one it may join by verified email, as [`Auth::complete_oauth`] finds
    /// them. Never makes an account and starts no session.
    pub(crate) async fn complete_oauth_existing(
        &self,
        state: &str,
        code: &str,
        device_secret: &str,
        ip: IpAddr,
    ) -> AppResult<user::Model> {
        let (asserted, _) = self.finish_flow(state, code, device_secret, ip).await?;
        let user = self
            .db
            .transaction(move |tx| Box::pin(async move { existing_account(&tx, &asserted).await }))
            .await?
            .ok_or(AppError::Unauthenticated(
                "no account signs in with this identity",
            ))?;
        if user.disabled_at.is_some() {
            return Err(AppError::Unauthenticated("this account is disabled"));
        }
        Ok(user)
    }

    /// Claims the flow `state` names, checks that the device that started
    /// it finishes it, and exchanges the code: who the provider says signed
    /// in, and the name Apple sent with the flow.
    async fn finish_flow(
        &self,
        state: &str,
        code: &str,
        device_secret: &str,
        ip: IpAddr,
    ) -> AppResult<(Asserted, Option<String>)> {
        self.limits.check_ip(Action::SignIn, ip).await?;
        let flow = oauth_flow::Entity::find()
            .filter(oauth_flow::Column::StateHash.eq(token_hash(state.trim())))
            .one(&self.db)
            .await?
            .ok_or_else(|| state_invalid("unknown", "this sign-in was not started here"))?;
        let now = Utc::now();
        if flow.used_at.is_some() {
            return Err(state_invalid("used", "this sign-in was already completed"));
        }
        if flow.expires_at <= now {
            return Err(state_invalid("expired", "this sign-in took too long"));
        }
        // Claimed before anything else: whoever presents the state first
        // spends it, whether or not they are the device that started it
        // (a code and state seen by someone else are burnt, not reusable).
        let id = flow.id;
        let claimed = self
            .db
            .statement(move |tx| {
                Box::pin(async move {
                    Ok(oauth_flow::Entity::update_many()
                        .col_expr(oauth_flow::Column::UsedAt, Expr::value(now))
                        .filter(oauth_flow::Column::Id.eq(id))
                        .filter(oauth_flow::Column::UsedAt.is_null())
                        .exec(&tx)
                        .await?
                        .rows_affected)
                })
            })
            .await?;
        if claimed != 1 {
            return Err(state_invalid("used", "this sign-in was already completed"));
        }
        if token_hash(device_secret) != flow.device_secret_hash {
            tracing::warn!(provider = %flow.provider, "a sign-in flow was completed by another device: refused");
            return Err(state_invalid(
                "device",
                "this sign-in was started by another device",
            ));
        }
        let provider = self.social.get(&flow.provider)?;
        let asserted = provider
            .exchange(
                code.trim(),
                &flow.redirect_uri,
                &flow.code_verifier,
                &flow.nonce,
            )
            .await?;
        Ok((asserted, flow.display_name))
    }

    /// Apple's answer to a web sign-in, POSTed to Hearth: keeps the name it
    /// carries (sent only the first time) with the flow, and returns where
    /// to send the person on: the app's redirect URI with `code` (or
    /// `error`) and `state`, as other providers send them.
    pub async fn provider_callback(&self, answer: &ProviderAnswer) -> AppResult<String> {
        let now = Utc::now();
        let flow = oauth_flow::Entity::find()
            .filter(oauth_flow::Column::StateHash.eq(token_hash(answer.state.trim())))
            .filter(oauth_flow::Column::UsedAt.is_null())
            .filter(oauth_flow::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                state_invalid("unknown", "this sign-in is unknown, completed or expired")
            })?;
        if let Some(name) = answer.user.as_deref().and_then(apple_name) {
            let id = flow.id;
            self.db
                .statement(move |tx| {
                    Box::pin(async move {
                        oauth_flow::Entity::update_many()
                            .col_expr(oauth_flow::Column::DisplayName, Expr::value(name))
                            .filter(oauth_flow::Column::Id.eq(id))
                            .exec(&tx)
                            .await?;
                        Ok(())
                    })
                })
                .await?;
        }
        let mut url = url::Url::parse(&flow.redirect_uri)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("a stored redirect URI: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            match (&answer.code, &answer.error) {
                (Some(code), None) => query.append_pair("code", code),
                (_, error) => query.append_pair("error", error.as_deref().unwrap_or("no_code")),
            };
            query.append_pair("state", &answer.state);
        }
        Ok(url.into())
    }
}

/// What a provider POSTs back (`response_mode=form_post`).
#[derive(Debug, serde::Deserialize)]
pub struct ProviderAnswer {
    pub state: String,
    pub code: Option<String>,
    pub error: Option<String>,
    /// Apple's JSON with the person's name, on the first sign-in only.
    pub user: Option<String>,
}

/// "Ann Lee" from Apple's `{"name":{"firstName":"Ann","lastName":"Lee"}}`.
fn apple_name(user: &str) -> Option<String> {
    let user: serde_json::Value = serde_json::from_str(user).ok()?;
    let name = &user["name"];
    let parts: Vec<&str> = ["firstName", "lastName"]
        .iter()
        .filter_map(|part| name[part].as_str())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" ").chars().take(64).collect())
}
