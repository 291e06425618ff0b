//! Rate limits on the operations attackers repeat: per client address and
//! per account, per operation. Checked inside each resolver call, so 100
//! aliased `signIn` fields in one document count as 100 attempts.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::{
    auth::settings::RateLimitConfig,
    error::{AppError, AppResult},
};

/// What is being attempted; each has its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    SignIn,
    SignUp,
    Refresh,
    PasswordReset,
    EmailVerification,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(Action, IpAddr),
    Account(Action, String),
}

#[derive(Clone)]
pub struct RateLimits {
    per_ip: Arc<DefaultKeyedRateLimiter<Key>>,
    per_account: Arc<DefaultKeyedRateLimiter<Key>>,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        // `n` attempts at once, then one more every window/n: a full budget
        // is back one window after it ran out.
        let quota = |n: u32| {
            let burst = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
            Quota::with_period(config.window / burst.get())
                .unwrap_or_else(|| Quota::per_second(burst))
                .allow_burst(burst)
        };
        Self {
            per_ip: Arc::new(RateLimiter::keyed(quota(config.per_ip))),
            per_account: Arc::new(RateLimiter::keyed(quota(config.per_account))),
        }
    }

    /// Spends one attempt from the address's budget.
    pub fn check_ip(&self, action: Action, ip: IpAddr) -> AppResult<()> {
        check(&self.per_ip, &Key::Ip(action, ip))
    }

    /// Spends one attempt from the account's budget; `account` is the
    /// account's id (or the email or login given, when it names no
    /// account), compared case-insensitively and trimmed. Unknown accounts
    /// have budgets too, so the limit does not reveal which accounts exist.
    pub fn check_account(&self, action: Action, account: &str) -> AppResult<()> {
        check(
            &self.per_account,
            &Key::Account(action, account.trim().to_lowercase()),
        )
    }

    /// Forgets keys whose budget is full again, so memory stays bounded.
    pub fn sweep(&self) {
        for limiter in [&self.per_ip, &self.per_account] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<Key>, key: &Key) -> AppResult<()> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        AppError::RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    })
}

/// Sweeps the limiters every minute for as long as the process runs.
pub fn spawn_sweeper(limits: RateLimits) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.sweep();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_per_action_address_and_account() {
        let limits = RateLimits::new(&RateLimitConfig {
            per_ip: 2,
            per_account: 1,
            window: Duration::from_secs(60),
            trust_forwarded_for: false,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limits.check_ip(Action::SignIn, ip).is_ok());
        assert!(limits.check_ip(Action::SignIn, ip).is_ok());
        match limits.check_ip(Action::SignIn, ip) {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        assert!(limits.check_ip(Action::SignUp, ip).is_ok());
        assert!(
            limits
                .check_ip(Action::SignIn, "10.0.0.2".parse().unwrap())
                .is_ok()
        );
        assert!(limits.check_account(Action::SignIn, "Ann@x.io").is_ok());
        assert!(limits.check_account(Action::SignIn, "ann@x.io ").is_err());
    }
}
