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

    // --- Operations (issue #5): metrics. Kept in one block for merging. ---
    pub metrics: MetricsConfig,
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
            data_dir,
            log_format,
            shutdown_timeout: Duration::from_secs(env.positive("SHUTDOWN_TIMEOUT_SECS", 10)?),
            request_timeout: Duration::from_secs(env.positive("REQUEST_TIMEOUT_SECS", 30)?),
            body_limit_bytes: env.positive("BODY_LIMIT_BYTES", 1024 * 1024)?,
            cors_origins,
            graphql: GraphqlLimits {
                max_depth: env.positive("GRAPHQL_MAX_DEPTH", 16)?,
                max_complexity: env.positive("GRAPHQL_MAX_COMPLEXITY", 2000)?,
                max_batch: env.positive("GRAPHQL_MAX_BATCH", 10)?,
                introspection: env.flag("GRAPHQL_INTROSPECTION", !production)?,
            },
            metrics: metrics_config(&env, production)?,
        })
    }

    /// The database URL with any password hidden, for logs.
    pub fn database_url_masked(&self) -> String {
        mask_password(&self.database_url)
    }
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
