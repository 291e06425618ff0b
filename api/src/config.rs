//! Typed configuration, read once from the environment at start-up.
//!
//! Every setting has a safe development default, so `cargo run -p api` works
//! with nothing configured. A value that is present but invalid stops the
//! program with a message naming the variable: a typo must not silently fall
//! back to a default.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
    time::Duration,
};

use migration::database::{PoolSettings, backend_of, default_database_url, mask_password};

/// Development or production. Production tightens defaults (JSON logs, no
/// introspection) and demands explicit secrets as they appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// GraphQL limits that reject hostile documents before execution.
#[derive(Debug, Clone)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Most operations in one batched POST.
    pub max_batch: usize,
    /// Most aliased fields in one document.
    pub max_aliases: usize,
    pub introspection: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub host: IpAddr,
    pub port: u16,
    /// Never printed whole: see [`Config::database_url_masked`].
    pub database_url: String,
    pub pool: PoolSettings,
    /// Apply pending migrations at start (turn off when a separate
    /// `migration` job owns the schema).
    pub auto_migrate: bool,
    /// Where the embedded database and other local state live.
    pub data_dir: String,
    pub log_format: LogFormat,
    /// How long SIGTERM waits for in-flight requests before exiting anyway.
    pub shutdown_timeout: Duration,
    /// Longest a single request may run.
    pub request_timeout: Duration,
    /// Largest request body accepted (uploads aside).
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS; empty means any origin (no credentials).
    pub cors_origins: Vec<String>,
    pub graphql: GraphqlLimits,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub metrics: MetricsConfig,
    pub realtime: RealtimeConfig,
    pub files: FilesConfig,
    pub backup: BackupConfig,
}

/// WebSocket subscriptions.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    /// How often the server pings an idle connection.
    pub keepalive: Duration,
    /// How long a new connection may take to send `connection_init`.
    pub init_timeout: Duration,
    /// Open connections one account may hold at once.
    pub max_connections_per_user: usize,
    /// Active subscriptions on one connection.
    pub max_subscriptions: usize,
    /// Events a subscriber may fall behind before it is told it lagged.
    pub event_buffer: usize,
}

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

/// Outgoing email.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://user:pass@host:587` (STARTTLS with `?tls=required`) or
    /// `smtps://...`; unset means the development outbox.
    pub smtp_url: Option<String>,
    pub from: String,
    /// Links in emails: `{base}/verify-email?token=...`. Mobile apps use a
    /// deep link or universal link here; unset sends the bare token.
    pub link_base_url: Option<String>,
}

/// A variable that is set but unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let environment = match env.get("HEARTH_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(env.error(
                    "HEARTH_ENV",
                    format!("`{other}` is not `development` or `production`"),
                ));
            }
        };
        let production = environment == Environment::Production;

        let data_dir = env.get("DATA_DIR").unwrap_or_else(|| "data".to_owned());
        let database_url = env
            .get("DATABASE_URL")
            .unwrap_or_else(|| default_database_url(&data_dir));
        backend_of(&database_url).map_err(|e| env.error("DATABASE_URL", e.to_string()))?;

        let log_format = match env.get("LOG_FORMAT").as_deref() {
            None => {
                if production {
                    LogFormat::Json
                } else {
                    LogFormat::Pretty
                }
            }
            Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(env.error("LOG_FORMAT", format!("`{other}` is not `pretty` or `json`")));
            }
        };

        let cors_origins = env
            .get("CORS_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty() && *o != "*")
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();

        let auth = auth_config(&env, production)?;
        let mail = MailConfig {
            smtp_url: env.get("SMTP_URL"),
            from: env
                .get("MAIL_FROM")
                .unwrap_or_else(|| "Hearth <no-reply@localhost>".to_owned()),
            link_base_url: env
                .get("EMAIL_LINK_BASE_URL")
                .map(|u| u.trim_end_matches('/').to_owned()),
        };
        if let Some(smtp) = &mail.smtp_url {
            url::Url::parse(smtp)
                .ok()
                .filter(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some())
                .ok_or_else(|| {
                    env.error(
                        "SMTP_URL",
                        "must look like smtp://user:password@host:587 or smtps://host".to_owned(),
                    )
                })?;
        }
        mail.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| env.error("MAIL_FROM", format!("not an email address: {e}")))?;

        Ok(Self {
            environment,
            host: env.parse("HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?,
            port: env.parse("PORT", 8080)?,
            database_url,
            pool: PoolSettings {
                max_connections: env.positive("DATABASE_MAX_CONNECTIONS", 10)?,
                acquire_timeout: Duration::from_secs(
                    env.positive("DATABASE_ACQUIRE_TIMEOUT_SECS", 3)?,
                ),
                log_statements: env.flag("DATABASE_LOG_STATEMENTS", false)?,
            },
            auto_migrate: env.flag("AUTO_MIGRATE", true)?,
            data_dir: data_dir.clone(),
            log_format,
            shutdown_timeout: Duration::from_secs(env.positive("SHUTDOWN_TIMEOUT_SECS", 10)?),
            request_timeout: Duration::from_secs(env.positive("REQUEST_TIMEOUT_SECS", 30)?),
            body_limit_bytes: env.positive("BODY_LIMIT_BYTES", 1024 * 1024)?,
            cors_origins,
            graphql: GraphqlLimits {
                max_depth: env.positive("GRAPHQL_MAX_DEPTH", 16)?,
                max_complexity: env.positive("GRAPHQL_MAX_COMPLEXITY", 5000)?,
                max_batch: env.positive("GRAPHQL_MAX_BATCH", 10)?,
                max_aliases: env.positive("GRAPHQL_MAX_ALIASES", 100)?,
                introspection: env.flag("GRAPHQL_INTROSPECTION", !production)?,
            },
            auth,
            mail,
            metrics: metrics_config(&env, production)?,
            realtime: RealtimeConfig {
                keepalive: Duration::from_secs(env.positive("WS_KEEPALIVE_SECS", 15)?),
                init_timeout: Duration::from_secs(env.positive("WS_INIT_TIMEOUT_SECS", 10)?),
                max_connections_per_user: env.positive("WS_MAX_CONNECTIONS_PER_USER", 10)?,
                max_subscriptions: env.positive("WS_MAX_SUBSCRIPTIONS", 100)?,
                event_buffer: env.positive("REALTIME_EVENT_BUFFER", 1024)?,
            },
            files: files_config(&env)?,
            backup: backup_config(&env, &data_dir)?,
        })
    }

    /// The database URL with any password hidden, for logs.
    pub fn database_url_masked(&self) -> String {
        mask_password(&self.database_url)
    }
}

fn auth_config<F: Fn(&str) -> Option<String>>(
    env: &Env<'_, F>,
    production: bool,
) -> Result<AuthConfig, ConfigError> {
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
    let secs = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(env.positive(name, default)?))
    };
    const DAY: u64 = 24 * 60 * 60;
    Ok(AuthConfig {
        jwt_key,
        issuer: env.get("JWT_ISSUER").unwrap_or_else(|| "hearth".to_owned()),
        audience: env
            .get("JWT_AUDIENCE")
            .unwrap_or_else(|| "hearth".to_owned()),
        access_token_ttl: secs("ACCESS_TOKEN_TTL_SECS", 15 * 60)?,
        refresh_idle_ttl: secs("REFRESH_IDLE_TTL_SECS", 30 * DAY)?,
        session_max_age: secs("SESSION_MAX_AGE_SECS", 90 * DAY)?,
        refresh_reuse_grace: Duration::from_secs(env.parse("REFRESH_REUSE_GRACE_SECS", 10)?),
        email_verification_ttl: secs("EMAIL_VERIFICATION_TTL_SECS", DAY)?,
        password_reset_ttl: secs("PASSWORD_RESET_TTL_SECS", 60 * 60)?,
        confirm_email: env.flag("AUTH_CONFIRM_EMAIL", production)?,
        rate_limit: RateLimitConfig {
            per_ip: env.positive("AUTH_RATE_LIMIT_PER_IP", 20)?,
            per_account: env.positive("AUTH_RATE_LIMIT_PER_ACCOUNT", 5)?,
            window: secs("AUTH_RATE_LIMIT_WINDOW_SECS", 60)?,
            trust_forwarded_for: env.flag("TRUST_FORWARDED_FOR", false)?,
        },
    })
}

/// Lookup helpers that name the variable in every error.
struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    /// The value, with empty treated as unset (as `.env` files often leave them).
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn error(&self, variable: &'static str, message: String) -> ConfigError {
        ConfigError { variable, message }
    }

    fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e| self.error(name, format!("`{raw}` cannot be parsed: {e}"))),
        }
    }

    /// A whole number greater than zero.
    fn positive<T: FromStr + PartialOrd + Default + Copy>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let value = self.parse(name, default)?;
        if value <= T::default() {
            return Err(self.error(name, "must be greater than zero".to_owned()));
        }
        Ok(value)
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(self.error(name, format!("`{other}` is not true or false"))),
        }
    }
}

// --- Operations (issue #5) ---

/// The Prometheus endpoint at `/metrics`.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    pub token: Option<String>,
}

impl fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Shortest `METRICS_TOKEN` accepted: it guards the endpoint on the public port.
pub const METRICS_TOKEN_MIN_LEN: usize = 16;

/// `METRICS_ENABLED` (default false) and `METRICS_TOKEN`. Production refuses
/// enabled metrics without a token rather than expose them to everyone.
fn metrics_config<F: Fn(&str) -> Option<String>>(
    env: &Env<'_, F>,
    production: bool,
) -> Result<MetricsConfig, ConfigError> {
    let enabled = env.flag("METRICS_ENABLED", false)?;
    let token = env.get("METRICS_TOKEN");
    if let Some(token) = &token
        && token.len() < METRICS_TOKEN_MIN_LEN
    {
        return Err(env.error(
            "METRICS_TOKEN",
            format!("must be at least {METRICS_TOKEN_MIN_LEN} characters"),
        ));
    }
    if enabled && production && token.is_none() {
        return Err(env.error(
            "METRICS_TOKEN",
            "is required in production when METRICS_ENABLED=true".to_owned(),
        ));
    }
    Ok(MetricsConfig { enabled, token })
}

/// Uploads, their storage and download links.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// Largest single upload (`UPLOAD_MAX_BYTES`, default 10 MiB).
    pub max_bytes: usize,
    /// Most files in one multipart request (`UPLOAD_MAX_FILES`, default 10).
    pub max_files: usize,
    /// Content types accepted, as sniffed from the bytes
    /// (`UPLOAD_ALLOWED_TYPES`, comma-separated).
    pub allowed_types: Vec<String>,
    /// An upload never attached to a post or profile is deleted after this
    /// long (`UPLOAD_ORPHAN_GRACE_SECS`, default 24 h).
    pub orphan_grace: Duration,
    /// How long a signed download link works (`FILE_TOKEN_TTL_SECS`,
    /// default 1 h).
    pub token_ttl: Duration,
    /// `PUBLIC_URL`: the API's address as clients reach it
    /// (`https://api.example.com`), so `File.url` is absolute; unset gives
    /// paths (`/files/...`).
    pub public_url: Option<String>,
    /// S3-compatible object storage; `None` keeps files under
    /// `$DATA_DIR/files`.
    pub s3: Option<S3Config>,
}

/// The content types accepted by default: common images (HEIC from
/// iPhones included), PDF, MP4/QuickTime video and plain text.
pub const DEFAULT_UPLOAD_TYPES: &str = "image/png,image/jpeg,image/gif,image/webp,image/heif,image/avif,application/pdf,video/mp4,video/quicktime,text/plain";

/// `S3_*`: a bucket on AWS S3 or any S3-compatible server (MinIO, R2,
/// Garage...).
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// `S3_ENDPOINT`, e.g. `http://127.0.0.1:9000`; unset means AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// `S3_PATH_STYLE` (default true with a custom endpoint):
    /// `endpoint/bucket/key` instead of `bucket.endpoint/key`.
    pub path_style: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("path_style", &self.path_style)
            .finish()
    }
}

fn files_config<F: Fn(&str) -> Option<String>>(
    env: &Env<'_, F>,
) -> Result<FilesConfig, ConfigError> {
    let allowed_types: Vec<String> = env
        .get("UPLOAD_ALLOWED_TYPES")
        .unwrap_or_else(|| DEFAULT_UPLOAD_TYPES.to_owned())
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(bad) = allowed_types.iter().find(|t| {
        t.split_once('/')
            .is_none_or(|(a, b)| a.is_empty() || b.is_empty())
    }) {
        return Err(env.error(
            "UPLOAD_ALLOWED_TYPES",
            format!("`{bad}` is not a media type such as image/png"),
        ));
    }
    let public_url = env
        .get("PUBLIC_URL")
        .map(|u| u.trim_end_matches('/').to_owned());
    if let Some(url) = &public_url {
        url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                env.error(
                    "PUBLIC_URL",
                    "must be an http(s) URL such as https://api.example.com".to_owned(),
                )
            })?;
    }
    let s3 = match env.get("S3_BUCKET") {
        None => None,
        Some(bucket) => {
            let endpoint = env
                .get("S3_ENDPOINT")
                .map(|u| u.trim_end_matches('/').to_owned());
            if let Some(endpoint) = &endpoint {
                url::Url::parse(endpoint)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        env.error(
                            "S3_ENDPOINT",
                            "must be an http(s) URL such as http://127.0.0.1:9000".to_owned(),
                        )
                    })?;
            }
            let access_key_id = env.get("S3_ACCESS_KEY_ID");
            let secret_access_key = env.get("S3_SECRET_ACCESS_KEY");
            if access_key_id.is_some() != secret_access_key.is_some() {
                return Err(env.error(
                    "S3_SECRET_ACCESS_KEY",
                    "set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither".to_owned(),
                ));
            }
            Some(S3Config {
                bucket,
                path_style: env.flag("S3_PATH_STYLE", endpoint.is_some())?,
                endpoint,
                region: env
                    .get("S3_REGION")
                    .unwrap_or_else(|| "us-east-1".to_owned()),
                access_key_id,
                secret_access_key,
            })
        }
    };
    Ok(FilesConfig {
        max_bytes: env.positive("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)?,
        max_files: env.positive("UPLOAD_MAX_FILES", 10)?,
        allowed_types,
        orphan_grace: Duration::from_secs(env.positive("UPLOAD_ORPHAN_GRACE_SECS", 24 * 60 * 60)?),
        token_ttl: Duration::from_secs(env.positive("FILE_TOKEN_TTL_SECS", 60 * 60)?),
        public_url,
        s3,
    })
}

/// SQLite snapshots (`createBackup`, `api backup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// `BACKUP_DIR`, default `$DATA_DIR/backups`.
    pub dir: std::path::PathBuf,
    /// `BACKUP_KEEP`: keep only the newest N backups there; unset keeps all.
    pub keep: Option<usize>,
    /// `BACKUP_UPLOAD`: also copy each backup into file storage (the S3
    /// bucket when configured) under `backups/`.
    pub upload: bool,
}

fn backup_config<F: Fn(&str) -> Option<String>>(
    env: &Env<'_, F>,
    data_dir: &str,
) -> Result<BackupConfig, ConfigError> {
    let dir = match env.get("BACKUP_DIR") {
        Some(dir) if dir.chars().any(char::is_control) => {
            return Err(env.error(
                "BACKUP_DIR",
                "must not contain control characters".to_owned(),
            ));
        }
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::Path::new(data_dir).join("backups"),
    };
    let keep = match env.get("BACKUP_KEEP") {
        None => None,
        Some(_) => Some(env.positive("BACKUP_KEEP", 1usize)?),
    };
    Ok(BackupConfig {
        dir,
        keep,
        upload: env.flag("BACKUP_UPLOAD", false)?,
    })
}
