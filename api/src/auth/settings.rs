//! What accounts and sessions read from the environment: the token key,
//! lifetimes, rate limits and sign-up's email confirmation.

use std::{fmt, time::Duration};

use migration::settings::{Env, SettingsError};

/// The value `.env.example` ships for `JWT_SECRET`; production refuses it.
pub const EXAMPLE_JWT_SECRET: &str = "replace-me-with-at-least-32-random-bytes-0123456789";

/// Where the access-token signing key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum JwtKey {
    /// HS256 with this secret (`JWT_SECRET`, at least 32 bytes).
    Secret(Vec<u8>),
    /// EdDSA (Ed25519) with PEM files (`JWT_PRIVATE_KEY_FILE`, `JWT_PUBLIC_KEY_FILE`).
    KeyPair {
        private_pem: Vec<u8>,
        public_pem: Vec<u8>,
    },
    /// Development only: a random secret kept in `$DATA_DIR/jwt-secret`,
    /// created on first start, so tokens survive restarts.
    Generated,
}

impl fmt::Debug for JwtKey {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Secret(_) => "Secret(..)",
            Self::KeyPair { .. } => "KeyPair(..)",
            Self::Generated => "Generated",
        })
    }
}

/// Accounts and sessions.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_key: JwtKey,
    pub issuer: String,
    pub audience: String,
    /// Lifetime of an access token; also how long a revoked session's
    /// access token may still be accepted by non-sensitive operations.
    pub access_token_ttl: Duration,
    /// A session unused for this long can no longer refresh.
    pub refresh_idle_ttl: Duration,
    /// A session ends this long after sign-in, however often it refreshed.
    pub session_max_age: Duration,
    /// A rotated refresh token presented again within this window (two
    /// requests racing on a flaky network) is refused without revoking the
    /// session; after it, reuse revokes the whole session.
    pub refresh_reuse_grace: Duration,
    pub email_verification_ttl: Duration,
    pub password_reset_ttl: Duration,
    pub rate_limit: RateLimitConfig,
    /// Sign-up does not reveal whether an email is registered: it answers
    /// the same (no tokens) for new and registered addresses, mails a
    /// confirmation link to a new one and a notice to a registered one, and
    /// accounts sign in once their email is confirmed. Off, sign-up signs
    /// the device in at once and a registered email is `CONFLICT`.
    pub confirm_email: bool,
    /// Sign-in providers and email codes.
    pub social: super::social::SocialConfig,
}

/// Limits on sign-in, sign-up, refresh and password reset.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Attempts per client address per window, per operation.
    pub per_ip: u32,
    /// Attempts per account (email, username or session) per window.
    pub per_account: u32,
    pub window: Duration,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy
    /// that sets it; otherwise clients could pick their own address).
    pub trust_forwarded_for: bool,
}

impl AuthConfig {
    /// `JWT_*`, token lifetimes, `AUTH_*` and `TRUST_FORWARDED_FOR`.
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, SettingsError> {
        let secret = env.get("JWT_SECRET");
        let private_file = env.get("JWT_PRIVATE_KEY_FILE");
        let public_file = env.get("JWT_PUBLIC_KEY_FILE");
        let read = |name: &'static str, path: &str| {
            std::fs::read(path).map_err(|e| env.error(name, format!("cannot read {path}: {e}")))
        };
        let jwt_key = match (secret, private_file, public_file) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(env.error(
                    "JWT_SECRET",
                    "set either JWT_SECRET or the JWT_*_KEY_FILE pair, not both".to_owned(),
                ));
            }
            (Some(secret), None, None) => {
                if secret.len() < 32 {
                    return Err(env.error(
                        "JWT_SECRET",
                        format!("must be at least 32 bytes, got {}", secret.len()),
                    ));
                }
                if production && secret == EXAMPLE_JWT_SECRET {
                    return Err(env.error(
                        "JWT_SECRET",
                        "is still the .env.example placeholder; generate one with `openssl rand -base64 48`"
                            .to_owned(),
                    ));
                }
                JwtKey::Secret(secret.into_bytes())
            }
            (None, Some(private), Some(public)) => JwtKey::KeyPair {
                private_pem: read("JWT_PRIVATE_KEY_FILE", &private)?,
                public_pem: read("JWT_PUBLIC_KEY_FILE", &public)?,
            },
            (None, Some(_), None) => {
                return Err(env.error(
                    "JWT_PUBLIC_KEY_FILE",
                    "is required with JWT_PRIVATE_KEY_FILE".to_owned(),
                ));
            }
            (None, None, Some(_)) => {
                return Err(env.error(
                    "JWT_PRIVATE_KEY_FILE",
                    "is required with JWT_PUBLIC_KEY_FILE".to_owned(),
                ));
            }
            (None, None, None) if production => {
                return Err(env.error(
                    "JWT_SECRET",
                    "is required in production (at least 32 random bytes, e.g. `openssl rand -base64 48`)"
                        .to_owned(),
                ));
            }
            (None, None, None) => JwtKey::Generated,
        };
        const DAY: u64 = 24 * 60 * 60;
        Ok(AuthConfig {
            jwt_key,
            issuer: env.get("JWT_ISSUER").unwrap_or_else(|| "hearth".to_owned()),
            audience: env
                .get("JWT_AUDIENCE")
                .unwrap_or_else(|| "hearth".to_owned()),
            access_token_ttl: env.secs("ACCESS_TOKEN_TTL_SECS", 15 * 60)?,
            refresh_idle_ttl: env.secs("REFRESH_IDLE_TTL_SECS", 30 * DAY)?,
            session_max_age: env.secs("SESSION_MAX_AGE_SECS", 90 * DAY)?,
            refresh_reuse_grace: Duration::from_secs(env.parse("REFRESH_REUSE_GRACE_SECS", 10)?),
            email_verification_ttl: env.secs("EMAIL_VERIFICATION_TTL_SECS", DAY)?,
            password_reset_ttl: env.secs("PASSWORD_RESET_TTL_SECS", 60 * 60)?,
            confirm_email: env.flag("AUTH_CONFIRM_EMAIL", production)?,
            social: super::social::SocialConfig::from_env(env, production)?,
            rate_limit: RateLimitConfig {
                per_ip: env.positive("AUTH_RATE_LIMIT_PER_IP", 20)?,
                per_account: env.positive("AUTH_RATE_LIMIT_PER_ACCOUNT", 5)?,
                window: env.secs("AUTH_RATE_LIMIT_WINDOW_SECS", 60)?,
                trust_forwarded_for: env.flag("TRUST_FORWARDED_FOR", false)?,
            },
        })
    }
}
