//! Rate limits on the operations attackers repeat: per client address and
//! per account, per operation. Checked inside each resolver call, so 100
//! aliased `signIn` fields in one document count as 100 attempts.
//!
//! Every budget is a GCRA bucket: `n` attempts at once, then one more every
//! window/n; a full budget is back one window after it ran out. On SQLite
//! (one process) the buckets live in memory. On PostgreSQL they are rows of
//! `rate_limits`, so every API process on the database spends from the same
//! budgets and N replicas do not allow N times the limit.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::{
    auth::settings::RateLimitConfig,
    db::Db,
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
    /// Asking for an emailed sign-in code, and trying one.
    EmailCode,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignUp => "sign_up",
            Self::Refresh => "refresh",
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
            Self::EmailCode => "email_code",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(Action, IpAddr),
    Account(Action, String),
}

impl Key {
    /// The key's row in `rate_limits`. Accounts are hashed: what was typed
    /// as a login may be any length (a primary key's entries are not), and
    /// may be a password typed into the wrong field.
    fn row_key(&self) -> String {
        match self {
            Self::Ip(action, ip) => format!("ip:{}:{ip}", action.name()),
            Self::Account(action, account) => format!(
                "account:{}:{}",
                action.name(),
                hex::encode(Sha256::digest(account.as_bytes()))
            ),
        }
    }
}

#[derive(Clone)]
pub struct RateLimits {
    store: Store,
}

#[derive(Clone)]
enum Store {
    /// One process (SQLite): governor's keyed limiters.
    Memory {
        per_ip: Arc<DefaultKeyedRateLimiter<Key>>,
        per_account: Arc<DefaultKeyedRateLimiter<Key>>,
    },
    /// PostgreSQL: rows of `rate_limits`, shared by every process.
    Shared {
        db: Db,
        per_ip: Gcra,
        per_account: Gcra,
    },
}

impl RateLimits {
    /// Budgets shared through the database on PostgreSQL; in this process's
    /// memory on SQLite, which only one process serves.
    pub fn new(config: &RateLimitConfig, db: &Db) -> Self {
        if db.get_database_backend() != DbBackend::Postgres {
            return Self::in_memory(config);
        }
        Self {
            store: Store::Shared {
                db: db.clone(),
                per_ip: Gcra::new(config.per_ip, config.window),
                per_account: Gcra::new(config.per_account, config.window),
            },
        }
    }

    /// Budgets in this process's memory.
    fn in_memory(config: &RateLimitConfig) -> Self {
        // `n` attempts at once, then one more every window/n: a full budget
        // is back one window after it ran out.
        let quota = |n: u32| {
            let burst = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
            Quota::with_period(config.window / burst.get())
                .unwrap_or_else(|| Quota::per_second(burst))
                .allow_burst(burst)
        };
        Self {
            store: Store::Memory {
                per_ip: Arc::new(RateLimiter::keyed(quota(config.per_ip))),
                per_account: Arc::new(RateLimiter::keyed(quota(config.per_account))),
            },
        }
    }

    /// Spends one attempt from the address's budget.
    pub async fn check_ip(&self, action: Action, ip: IpAddr) -> AppResult<()> {
        self.check(Key::Ip(action, ip)).await
    }

    /// Spends one attempt from the account's budget; `account` is the
    /// account's id (or the email or login given, when it names no
    /// account), compared case-insensitively and trimmed. Unknown accounts
    /// have budgets too, so the limit does not reveal which accounts exist.
    pub async fn check_account(&self, action: Action, account: &str) -> AppResult<()> {
        self.check(Key::Account(action, account.trim().to_lowercase()))
            .await
    }

    async fn check(&self, key: Key) -> AppResult<()> {
        match &self.store {
            Store::Memory {
                per_ip,
                per_account,
            } => {
                let limiter = match key {
                    Key::Ip(..) => per_ip,
                    Key::Account(..) => per_account,
                };
                check_in_memory(limiter, &key)
            }
            Store::Shared {
                db,
                per_ip,
                per_account,
            } => {
                let gcra = match key {
                    Key::Ip(..) => per_ip,
                    Key::Account(..) => per_account,
                };
                check_shared(db, *gcra, key.row_key()).await
            }
        }
    }

    /// Forgets keys whose budget is full again, so memory (or the table)
    /// stays the size of the keys in use.
    pub async fn sweep(&self) -> AppResult<()> {
        match &self.store {
            Store::Memory {
                per_ip,
                per_account,
            } => {
                for limiter in [per_ip, per_account] {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            }
            // A row whose time has passed is as good as none.
            Store::Shared { db, .. } => {
                db.statement(|tx| {
                    Box::pin(async move {
                        tx.execute_unprepared("DELETE FROM rate_limits WHERE tat <= now()")
                            .await?;
                        Ok(())
                    })
                })
                .await?;
            }
        }
        Ok(())
    }
}

fn check_in_memory(limiter: &DefaultKeyedRateLimiter<Key>, key: &Key) -> AppResult<()> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        AppError::RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    })
}

/// One budget's GCRA, as governor runs it: an attempt passes when the key's
/// theoretical arrival time (`tat`; now, for a key without one) is at most
/// `tolerance` ahead of now, and moves it to `max(tat, now) + interval`. So
/// `n` pass at once, then one every `interval`. In microseconds, what
/// PostgreSQL's timestamps hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gcra {
    interval_us: i64,
    tolerance_us: i64,
}

impl Gcra {
    fn new(per_window: u32, window: Duration) -> Self {
        let n = i64::from(per_window.max(1));
        let window_us = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
        let interval_us = (window_us / n).max(1);
        Self {
            interval_us,
            tolerance_us: interval_us.saturating_mul(n - 1),
        }
    }

    /// Whole seconds (at least one) until a key refused with `tat` at `now`
    /// lets an attempt through.
    fn retry_after_secs(self, tat: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
        let ahead = (tat - now).num_microseconds().unwrap_or(i64::MAX);
        let wait = u64::try_from(ahead.saturating_sub(self.tolerance_us)).unwrap_or(0);
        wait.div_ceil(1_000_000).max(1)
    }
}

/// Spends one attempt: a new key's row is inserted; an existing one moves
/// on only if the attempt passes, so a refusal leaves it as it was. Processes
/// spending from one key queue on its row lock, and only the database's
/// clock is read, so replicas agree whatever their own clocks say.
const SPEND: &str = "INSERT INTO rate_limits AS r (key, tat) \
     VALUES ($1, now() + $2 * interval '1 microsecond') \
     ON CONFLICT (key) DO UPDATE SET tat = greatest(r.tat, now()) + $2 * interval '1 microsecond' \
     WHERE greatest(r.tat, now()) <= now() + $3 * interval '1 microsecond' \
     RETURNING 1 AS spent";

async fn check_shared(db: &Db, gcra: Gcra, key: String) -> AppResult<()> {
    let spend = Statement::from_sql_and_values(
        DbBackend::Postgres,
        SPEND,
        [
            key.clone().into(),
            gcra.interval_us.into(),
            gcra.tolerance_us.into(),
        ],
    );
    let spent = db
        .statement(move |tx| Box::pin(async move { Ok(tx.query_one_raw(spend).await?.is_some()) }))
        .await?;
    if spent {
        return Ok(());
    }
    // Refused: the upsert returns nothing of the row it left alone, so a
    // read tells when its time lets the next attempt through.
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT tat, now() AS now FROM rate_limits WHERE key = $1",
            [key.into()],
        ))
        .await?;
    let retry_after_secs = match row {
        Some(row) => gcra.retry_after_secs(row.try_get("", "tat")?, row.try_get("", "now")?),
        // Swept meanwhile: the budget is full again.
        None => 1,
    };
    Err(AppError::RateLimited { retry_after_secs })
}

/// Sweeps the limiters every minute until `shutdown`.
pub fn spawn_sweeper(limits: RateLimits, shutdown: CancellationToken) {
    tokio::spawn(crate::db::in_background(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(err) = limits.sweep().await {
                tracing::warn!(error = ?err, "cannot sweep rate limits");
            }
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn budgets_are_per_action_address_and_account() {
        let limits = RateLimits::in_memory(&RateLimitConfig {
            per_ip: 2,
            per_account: 1,
            window: Duration::from_secs(60),
            trust_forwarded_for: false,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limits.check_ip(Action::SignIn, ip).await.is_ok());
        assert!(limits.check_ip(Action::SignIn, ip).await.is_ok());
        match limits.check_ip(Action::SignIn, ip).await {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        assert!(limits.check_ip(Action::SignUp, ip).await.is_ok());
        assert!(
            limits
                .check_ip(Action::SignIn, "10.0.0.2".parse().unwrap())
                .await
                .is_ok()
        );
        assert!(
            limits
                .check_account(Action::SignIn, "Ann@x.io")
                .await
                .is_ok()
        );
        assert!(
            limits
                .check_account(Action::SignIn, "ann@x.io ")
                .await
                .is_err()
        );
    }

    #[test]
    fn the_shared_buckets_match_governors_quota() {
        // 3 a minute: one every 20 s, 2 more at once beyond the first.
        let gcra = Gcra::new(3, Duration::from_secs(60));
        assert_eq!(gcra.interval_us, 20_000_000);
        assert_eq!(gcra.tolerance_us, 40_000_000);
        // Uneven windows round the interval down, as governor does (to
        // whole microseconds here).
        let gcra = Gcra::new(7, Duration::from_secs(60));
        assert_eq!(gcra.interval_us, 8_571_428);
        assert_eq!(gcra.tolerance_us, 6 * 8_571_428);
        // One at a time: no tolerance.
        let gcra = Gcra::new(1, Duration::from_secs(60));
        assert_eq!((gcra.interval_us, gcra.tolerance_us), (60_000_000, 0));
        // Zero is treated as one, and the interval never reaches zero.
        assert_eq!(Gcra::new(0, Duration::from_secs(60)), gcra);
        assert_eq!(Gcra::new(u32::MAX, Duration::from_secs(1)).interval_us, 1);
    }

    #[test]
    fn retry_after_is_when_the_next_attempt_passes_in_whole_seconds() {
        let gcra = Gcra::new(3, Duration::from_secs(60));
        let now = Utc::now();
        let ms = chrono::TimeDelta::milliseconds;
        // Three spent at once: the next passes one interval later.
        assert_eq!(gcra.retry_after_secs(now + ms(60_000), now), 20);
        assert_eq!(gcra.retry_after_secs(now + ms(59_900), now), 20);
        assert_eq!(gcra.retry_after_secs(now + ms(40_001), now), 1);
        assert_eq!(gcra.retry_after_secs(now + ms(41_001), now), 2);
        // Never "retry in 0 s", even if the row moved on meanwhile.
        assert_eq!(gcra.retry_after_secs(now + ms(40_000), now), 1);
        assert_eq!(gcra.retry_after_secs(now - ms(5_000), now), 1);
    }

    #[test]
    fn row_keys_name_the_action_and_hide_the_account() {
        let ip = Key::Ip(Action::SignIn, "2001:db8::1".parse().unwrap());
        assert_eq!(ip.row_key(), "ip:sign_in:2001:db8::1");
        let long = "x".repeat(100_000);
        let account = Key::Account(Action::PasswordReset, long.clone()).row_key();
        assert!(account.starts_with("account:password_reset:"), "{account}");
        assert_eq!(account.len(), "account:password_reset:".len() + 64);
        assert!(!account.contains("xxx"));
        assert_ne!(
            account,
            Key::Account(Action::SignIn, long).row_key(),
            "each action has its own budget"
        );
    }
}
