//! What realtime reads from the environment.

use std::time::Duration;

use migration::settings::{Env, SettingsError};

/// WebSocket subscriptions.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    /// How often the server pings an idle connection.
    pub keepalive: Duration,
    /// How long a new connection may take to send `connection_init`.
    pub init_timeout: Duration,
    /// Open connections one account may hold at once.
    pub max_connections_per_user: usize,
    /// Open connections without a token from one address.
    pub max_anonymous_per_address: usize,
    /// Active subscriptions on one connection.
    pub max_subscriptions: usize,
    /// Events a subscriber may fall behind before it is told it lagged.
    pub event_buffer: usize,
}

impl RealtimeConfig {
    /// `WS_*` and `REALTIME_EVENT_BUFFER`.
    pub fn from_env(env: &Env<'_>) -> Result<Self, SettingsError> {
        Ok(Self {
            keepalive: env.secs("WS_KEEPALIVE_SECS", 15)?,
            init_timeout: env.secs("WS_INIT_TIMEOUT_SECS", 10)?,
            max_connections_per_user: env.positive("WS_MAX_CONNECTIONS_PER_USER", 10)?,
            max_anonymous_per_address: env.positive("WS_MAX_ANONYMOUS_PER_ADDRESS", 50)?,
            max_subscriptions: env.positive("WS_MAX_SUBSCRIPTIONS", 100)?,
            event_buffer: env.positive("REALTIME_EVENT_BUFFER", 1024)?,
        })
    }
}
