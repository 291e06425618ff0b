//! What webhooks read from the environment.

use std::time::Duration;

use migration::settings::{Env, SettingsError};

/// Delivery of webhooks.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Deliver to loopback, private and link-local addresses too (local
    /// development and tests); off, such endpoints are refused.
    pub allow_private_addresses: bool,
    /// How long one attempt may take, connecting included.
    pub timeout: Duration,
    /// The pause before each retry; after the last, a delivery has failed.
    pub retry_schedule: Vec<Duration>,
}

impl WebhookConfig {
    /// `WEBHOOK_ALLOW_PRIVATE_ADDRESSES`, `WEBHOOK_TIMEOUT_SECS` and
    /// `WEBHOOK_RETRY_SCHEDULE`.
    pub fn from_env(env: &Env<'_>) -> Result<Self, SettingsError> {
        Ok(Self {
            allow_private_addresses: env.flag("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", false)?,
            timeout: env.secs("WEBHOOK_TIMEOUT_SECS", 10)?,
            retry_schedule: env.durations("WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration::settings::parse_duration;

    #[test]
    fn the_default_schedule_retries_for_more_than_a_day() {
        let env = Env::new(&|_| None);
        let config = WebhookConfig::from_env(&env).unwrap();
        let total: Duration = config.retry_schedule.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "5", "s", "5 s", "-1s", "5w"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let env =
            Env::new(&|name| (name == "WEBHOOK_RETRY_SCHEDULE").then(|| "5s,soon".to_owned()));
        assert!(WebhookConfig::from_env(&env).is_err());
    }
}
