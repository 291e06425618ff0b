//! The server's configuration, read once from the environment at start-up.
//!
//! Each part of the program owns its settings and reads its own variables
//! ([`AuthConfig::from_env`], [`FilesConfig::from_env`], ...) through one
//! reader, `migration::settings::Env`, the same the `migration` and `seed`
//! binaries use; this module reads the server's own and puts the parts
//! together. Every setting has a safe development default, so `cargo run -p
//! api` works with nothing configured. A value that is present but invalid
//! stops the program with a message naming the variable.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

pub use migration::settings::{Environment, SettingsError as ConfigError};
use migration::{
    database::{DatabaseSettings, mask_password},
    settings::{Env, process_env},
};

use crate::{
    admin::settings::AdminConfig, auth::settings::AuthConfig, backup::settings::BackupConfig,
    events::settings::EventsConfig, files::settings::FilesConfig, mail::MailConfig,
    metrics::MetricsConfig, push::settings::PushConfig, realtime::settings::RealtimeConfig,
    schema::limits::GraphqlLimits, webhooks::settings::WebhookConfig,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub host: IpAddr,
    pub port: u16,
    /// Which database and the pool (`DATABASE_*`).
    pub database: DatabaseSettings,
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
    pub events: EventsConfig,
    pub webhooks: WebhookConfig,
    /// Pushes to phones through FCM and APNs (`PUSH_*`).
    pub push: PushConfig,
    pub files: FilesConfig,
    pub backup: BackupConfig,
    /// The admin dashboard at `/admin`.
    pub admin: AdminConfig,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        let environment = Environment::from_env(&env)?;
        let production = environment == Environment::Production;
        let data_dir = env.get("DATA_DIR").unwrap_or_else(|| "data".to_owned());
        let log_format = match env.get("LOG_FORMAT").as_deref() {
            None if production => LogFormat::Json,
            None | Some("pretty") => LogFormat::Pretty,
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
            database: DatabaseSettings::from_env(&env)?,
            auto_migrate: env.flag("AUTO_MIGRATE", true)?,
            log_format,
            shutdown_timeout: env.secs("SHUTDOWN_TIMEOUT_SECS", 10)?,
            request_timeout: env.secs("REQUEST_TIMEOUT_SECS", 30)?,
            body_limit_bytes: env.positive("BODY_LIMIT_BYTES", 1024 * 1024)?,
            cors_origins,
            graphql: GraphqlLimits::from_env(&env, production)?,
            auth: AuthConfig::from_env(&env, production)?,
            mail: MailConfig::from_env(&env)?,
            metrics: MetricsConfig::from_env(&env, production)?,
            realtime: RealtimeConfig::from_env(&env)?,
            events: EventsConfig::from_env(&env)?,
            webhooks: WebhookConfig::from_env(&env)?,
            push: PushConfig::from_env(&env)?,
            files: FilesConfig::from_env(&env)?,
            backup: BackupConfig::from_env(&env, &data_dir)?,
            admin: AdminConfig::from_env(&env, production)?,
            data_dir,
        })
    }

    /// The database URL with any password hidden, for logs.
    pub fn database_url_masked(&self) -> String {
        mask_password(&self.database.url)
    }
}
