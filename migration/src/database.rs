//! Connecting to the database named by `DATABASE_URL`: the one connection
//! module. Every binary (api, migration, seed) reads its database settings
//! and connects through here, so they agree on the embedded default, the
//! pool, and SQLite's settings (set on every connection and checked).

use std::{fmt, path::Path, time::Duration};

use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::settings::{Env, SettingsError};

/// The embedded default: a SQLite file under `./data/`, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/hearth.db?mode=rwc";

/// The embedded default for a data directory other than `./data`.
pub fn default_database_url(data_dir: &str) -> String {
    format!(
        "sqlite://{}/hearth.db?mode=rwc",
        data_dir.trim_end_matches('/')
    )
}

/// Which database, and how to pool connections to it: `DATA_DIR`,
/// `DATABASE_URL` (default: the embedded SQLite file under `DATA_DIR`),
/// `DATABASE_MAX_CONNECTIONS`, `DATABASE_ACQUIRE_TIMEOUT_SECS` and
/// `DATABASE_LOG_STATEMENTS`.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Never printed whole: see [`mask_password`].
    pub url: String,
    pub pool: PoolSettings,
}

impl DatabaseSettings {
    pub fn from_env(env: &Env<'_>) -> Result<Self, SettingsError> {
        let data_dir = env.get("DATA_DIR").unwrap_or_else(|| "data".to_owned());
        let url = env
            .get("DATABASE_URL")
            .unwrap_or_else(|| default_database_url(&data_dir));
        backend_of(&url).map_err(|e| env.error("DATABASE_URL", e.to_string()))?;
        Ok(Self {
            url,
            pool: PoolSettings {
                max_connections: env.positive("DATABASE_MAX_CONNECTIONS", 10)?,
                acquire_timeout: env.secs("DATABASE_ACQUIRE_TIMEOUT_SECS", 3)?,
                log_statements: env.flag("DATABASE_LOG_STATEMENTS", false)?,
            },
        })
    }
}

/// How the connection pool behaves.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a connection before failing. sqlx's own
    /// default is 30 s, far too long for a dead database: requests and
    /// readiness must fail fast instead.
    pub acquire_timeout: Duration,
    /// Log every SQL statement at debug level.
    pub log_statements: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            log_statements: false,
        }
    }
}

/// Why a connection could not be made. Displays as one line, with any
/// password in the URL masked.
#[derive(Debug)]
pub enum ConnectError {
    /// The URL is not a `sqlite:` or `postgres:` URL we can use.
    BadUrl { url: String, reason: String },
    /// The server or file could not be reached or opened.
    Unreachable { url: String, source: DbErr },
    /// Nothing accepts connections at the server's address.
    NoServer { url: String, source: std::io::Error },
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl { url, reason } => write!(f, "DATABASE_URL {url} is not usable: {reason}"),
            Self::Unreachable { url, source } => {
                write!(
                    f,
                    "cannot connect to {url}: {}",
                    one_line(&source.to_string())
                )
            }
            Self::NoServer { url, source } => write!(f, "cannot connect to {url}: {source}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Which database family a URL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Checks the scheme and shape of a database URL.
pub fn backend_of(url: &str) -> Result<Backend, ConnectError> {
    let bad = |reason: &str| ConnectError::BadUrl {
        url: mask_password(url),
        reason: reason.to_owned(),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => {
            if parsed.host_str().unwrap_or_default().is_empty() && !url.contains("host=") {
                return Err(bad("no host"));
            }
            Ok(Backend::Postgres)
        }
        other => Err(bad(&format!(
            "unsupported scheme `{other}` (use sqlite:// or postgres://)"
        ))),
    }
}

/// Connects with default pool settings.
pub async fn connect(url: &str) -> Result<DatabaseConnection, ConnectError> {
    connect_with(url, &PoolSettings::default()).await
}

/// Connects, creating the SQLite file's directory if needed, and applies the
/// SQLite pragmas Hearth depends on:
/// - `journal_mode=WAL`: readers do not block the writer;
/// - `foreign_keys=ON`: the ON DELETE rules in the schema are enforced;
/// - `busy_timeout=5000`: a writer waits for the lock instead of failing;
/// - `synchronous=FULL`: an acknowledged commit survives power loss
///   (`NORMAL` may lose the last commits).
pub async fn connect_with(
    url: &str,
    pool: &PoolSettings,
) -> Result<DatabaseConnection, ConnectError> {
    connect_as(url, pool, Role::ReadWrite).await
}

/// A server's connections: on PostgreSQL one pool that reads and writes;
/// on SQLite a pool that may only read (`query_only`) and one connection
/// that writes, so writers never race each other for SQLite's write lock
/// (the losers would sleep in its busy handler).
pub struct ServerConnections {
    pub reads: DatabaseConnection,
    /// SQLite's one writer; `None` on PostgreSQL, which writes through
    /// `reads`.
    pub writer: Option<DatabaseConnection>,
}

/// Connects a server: see [`ServerConnections`].
pub async fn connect_server(
    url: &str,
    pool: &PoolSettings,
) -> Result<ServerConnections, ConnectError> {
    if backend_of(url)? == Backend::Postgres {
        return Ok(ServerConnections {
            reads: connect_as(url, pool, Role::ReadWrite).await?,
            writer: None,
        });
    }
    let writer = PoolSettings {
        max_connections: 1,
        ..pool.clone()
    };
    // The writer first: it creates the file (and turns on WAL) before
    // read-only connections open it.
    let writer = connect_as(url, &writer, Role::ReadWrite).await?;
    let reads = connect_as(url, pool, Role::ReadOnly).await?;
    Ok(ServerConnections {
        reads,
        writer: Some(writer),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    ReadWrite,
    /// SQLite's `query_only`: any write fails instead of taking the lock.
    ReadOnly,
}

async fn connect_as(
    url: &str,
    pool: &PoolSettings,
    role: Role,
) -> Result<DatabaseConnection, ConnectError> {
    let backend = backend_of(url)?;
    match backend {
        Backend::Sqlite => ensure_sqlite_dir(url),
        Backend::Postgres => probe_server(url, pool.acquire_timeout).await?,
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(pool.max_connections)
        .min_connections(0)
        .acquire_timeout(pool.acquire_timeout)
        .connect_timeout(pool.acquire_timeout)
        // sqlx pings a pooled connection before every checkout by default,
        // which doubles the round trips of each statement. Only a connection
        // idle long enough to have been dropped (server restart, proxy,
        // firewall) is checked; a busy one that broke fails its statement.
        .test_before_acquire_if_idle_for(Duration::from_secs(1))
        .sqlx_logging(pool.log_statements);
    if backend == Backend::Sqlite {
        options.map_sqlx_sqlite_opts(move |o| {
            let o = o
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .synchronous(SqliteSynchronous::Full);
            match role {
                Role::ReadOnly => o.pragma("query_only", "ON"),
                Role::ReadWrite => o,
            }
        });
    }
    let unreachable = |source| ConnectError::Unreachable {
        url: mask_password(url),
        source,
    };
    let db = Database::connect(options).await.map_err(unreachable)?;
    if backend == Backend::Sqlite {
        check_sqlite_pragmas(&db).await.map_err(unreachable)?;
    }
    Ok(db)
}

/// Refuses a SQLite connection without the settings the data relies on:
/// WAL (readers never block the writer), enforced foreign keys (the ON
/// DELETE rules), and FULL sync (acknowledged commits survive power loss).
async fn check_sqlite_pragmas(db: &DatabaseConnection) -> Result<(), DbErr> {
    for (pragma, expected) in [
        ("journal_mode", "wal"),
        ("foreign_keys", "1"),
        ("synchronous", "2"),
    ] {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                format!("PRAGMA {pragma}"),
            ))
            .await?
            .ok_or_else(|| DbErr::Custom(format!("PRAGMA {pragma} returned nothing")))?;
        let value = row
            .try_get_by_index::<String>(0)
            .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))?;
        if !value.eq_ignore_ascii_case(expected) {
            return Err(DbErr::Custom(format!(
                "SQLite PRAGMA {pragma} is {value}, expected {expected}"
            )));
        }
    }
    Ok(())
}

/// Fails fast, with the operating system's reason ("connection refused"),
/// when no server listens; sqlx would only report a pool timeout.
async fn probe_server(url: &str, timeout: Duration) -> Result<(), ConnectError> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(());
    };
    // Unix sockets (`host=/run/postgresql`) and the like: let sqlx handle them.
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let port = parsed.port().unwrap_or(5432);
    let attempt = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port));
    let error = match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(err)) => err,
        Err(_) => std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
    };
    Err(ConnectError::NoServer {
        url: mask_password(url),
        source: error,
    })
}

/// Creates the directory of a `sqlite://path/file.db` URL so first start works.
fn ensure_sqlite_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        // A failure here surfaces as a clear "cannot open" error on connect.
        let _ = std::fs::create_dir_all(dir);
    }
}

/// Replaces the password in a URL with `***`, for messages and logs.
pub fn mask_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Unparseable: do not echo anything that could be a secret.
        Err(_) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…"),
            None => "(unparseable URL)".to_owned(),
        },
    }
}

/// sqlx errors can span lines; a CLI wants one.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
