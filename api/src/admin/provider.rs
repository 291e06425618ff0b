//! Signing in to the dashboard with a configured provider: the API's
//! authorization-code flow (`Auth::start_oauth`), returning to
//! `/admin/oauth/callback` and bound to the browser that started it. Only
//! an existing admin account gets in; no account is ever made here.

use std::net::IpAddr;

use super::{Dashboard, service::same};
use crate::{
    auth::tokens::random_token,
    error::{AppError, AppResult},
};

/// The path providers send the browser back to.
pub(crate) const OAUTH_CALLBACK_PATH: &str = "/admin/oauth/callback";

const PROVIDER_ELSEWHERE: &str =
    "this sign-in was started in another browser, or too long ago: sign in again";

impl Dashboard {
    /// Where sign-in providers send admins back to: the entry of
    /// `AUTH_REDIRECT_URIS` whose path is [`OAUTH_CALLBACK_PATH`]. Without
    /// one the dashboard offers no provider (the provider must know the
    /// exact URI, so Hearth cannot make one up from a request).
    pub(crate) fn oauth_callback(&self) -> Option<&str> {
        self.auth
            .config
            .social
            .redirect_uris
            .iter()
            .map(String::as_str)
            .find(|uri| url::Url::parse(uri).is_ok_and(|u| u.path() == OAUTH_CALLBACK_PATH))
    }

    /// The providers the sign-in page offers.
    pub(crate) fn providers(&self) -> Vec<String> {
        if self.oauth_callback().is_none() {
            return Vec::new();
        }
        self.auth
            .social
            .all()
            .iter()
            .map(|p| p.config.name.clone())
            .collect()
    }

    /// Starts a sign-in at `provider`: where to send the browser, and the
    /// value of the cookie that ties the flow to this browser
    /// (`<state>.<device secret>`), so a code and state from another
    /// browser's sign-in sign nobody in here.
    pub(crate) async fn start_provider_sign_in(
        &self,
        provider: &str,
        ip: IpAddr,
    ) -> AppResult<(String, String)> {
        let callback = self
            .oauth_callback()
            .ok_or(AppError::Refused(
                "no redirect URI for the dashboard: add https://<host>/admin/oauth/callback to AUTH_REDIRECT_URIS",
            ))?
            .to_owned();
        let secret = random_token();
        let started = self
            .auth
            .start_oauth(provider, &callback, &secret, ip)
            .await?;
        Ok((
            started.authorization_url,
            format!("{}.{secret}", started.state),
        ))
    }

    /// Finishes a provider sign-in that this browser started (`binding` is
    /// its cookie): the account must already exist and be an admin; no
    /// account is ever made here. Returns the dashboard cookie.
    pub(crate) async fn finish_provider_sign_in(
        &self,
        binding: &str,
        state: &str,
        code: &str,
        ip: IpAddr,
    ) -> AppResult<String> {
        let (bound_state, secret) = binding
            .split_once('.')
            .ok_or(AppError::Unauthenticated(PROVIDER_ELSEWHERE))?;
        if !same(bound_state, state.trim()) {
            return Err(AppError::Unauthenticated(PROVIDER_ELSEWHERE));
        }
        let user = self
            .auth
            .complete_oauth_existing(state, code, secret, ip)
            .await?;
        let detail = "signed in to the dashboard with a provider".to_owned();
        self.open_session(user, None, ip, detail).await
    }
}
