//! What the admin dashboard reads from the environment.

use std::time::Duration;

use migration::settings::{Env, SettingsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `ADMIN_DASHBOARD`: serve `/admin` (default on).
    pub enabled: bool,
    /// `ADMIN_SESSION_IDLE_SECS`: a dashboard session unused this long
    /// ends (default 30 minutes).
    pub idle_timeout: Duration,
    /// `ADMIN_SETUP_TTL_SECS`: how long the first-admin link logged at
    /// start-up works (default 1 hour).
    pub setup_ttl: Duration,
    /// Cookies only over HTTPS: on in production.
    pub secure_cookies: bool,
}

impl AdminConfig {
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, SettingsError> {
        Ok(Self {
            enabled: env.flag("ADMIN_DASHBOARD", true)?,
            idle_timeout: env.secs("ADMIN_SESSION_IDLE_SECS", 30 * 60)?,
            setup_ttl: env.secs("ADMIN_SETUP_TTL_SECS", 60 * 60)?,
            secure_cookies: production,
        })
    }
}
