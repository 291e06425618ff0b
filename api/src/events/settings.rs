//! What the event log reads from the environment.

use std::time::Duration;

use migration::settings::{Env, SettingsError};

/// How long events are kept, which bounds how far back a client can resume.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Events older than this are pruned.
    pub retention: Duration,
    /// At most this many events are kept; the oldest go first.
    pub max_events: u64,
}

impl EventsConfig {
    /// `EVENTS_RETENTION_HOURS` and `EVENTS_MAX`.
    pub fn from_env(env: &Env<'_>) -> Result<Self, SettingsError> {
        let hours: u64 = env.positive("EVENTS_RETENTION_HOURS", 7 * 24)?;
        Ok(Self {
            retention: Duration::from_secs(hours * 3600),
            max_events: env.positive("EVENTS_MAX", 1_000_000)?,
        })
    }
}
