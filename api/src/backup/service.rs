//! Online SQLite snapshots, their retention, and restoring one.
//!
//! A snapshot is `VACUUM INTO` a temporary name in the destination
//! directory (`.hearth-<time>.db.<random>.partial`), flushed to disk, then
//! published under its final name with a hard link, which never replaces an
//! existing file. A crash mid-way leaves only a `.partial` file, which no
//! listing, retention or restore mistakes for a backup.
//!
//! Everything here returns a local file ([`Backup::path`]); copying it
//! off-site is a separate step on top (see [`Backups::create`]).

use std::{
    fmt, io,
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
};

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement,
    sqlx::{
        self, ConnectOptions,
        sqlite::{SqliteConnectOptions, SqliteConnection},
    },
};

use super::settings::BackupConfig;
use crate::files::storage::Storage;

/// Backup files are `hearth-<UTC time>.db`, or `hearth-<UTC time>-<n>.db`
/// when several are taken within one second.
const PREFIX: &str = "hearth-";
const SUFFIX: &str = ".db";
const TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// One finished snapshot on local disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backup {
    /// The file name, e.g. `hearth-20261123T161000Z.db`.
    pub name: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    /// When the snapshot's transaction began (to the second, from the name
    /// for listed backups).
    pub created_at: DateTime<Utc>,
    /// Where the off-site copy is in file storage (`BACKUP_UPLOAD`).
    pub object_key: Option<String>,
}

/// Why a backup or restore did not happen. Each message is meant for an
/// operator and names no SQL.
#[derive(Debug)]
pub(crate) enum BackupError {
    /// The database is PostgreSQL: it has its own tools.
    Unsupported,
    /// The destination or source path cannot be used.
    BadPath(String),
    /// A restore source that is not an intact Hearth database.
    NotASnapshot(String),
    /// The database to replace is open in another process.
    InUse(String),
    Io {
        action: String,
        source: io::Error,
    },
    Database(DbErr),
    Sqlite(sqlx::Error),
    /// The snapshot is on disk but its copy into file storage failed.
    Upload {
        path: PathBuf,
        message: String,
    },
}

/// Where `BACKUP_UPLOAD` puts copies in file storage (the upload sweep
/// never looks there).
pub(crate) const BACKUP_PREFIX: &str = "backups/";

/// What the PostgreSQL answer says, everywhere.
pub(crate) const POSTGRES_ADVICE: &str = "backups here are SQLite snapshots; this server runs on \
    PostgreSQL: use `pg_dump -Fc` (restore with `pg_restore`) or point-in-time recovery \
    (WAL archiving with pg_basebackup, pgBackRest or WAL-G); see docs/backups.md";

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported => f.write_str(POSTGRES_ADVICE),
            Self::BadPath(message) | Self::NotASnapshot(message) | Self::InUse(message) => {
                f.write_str(message)
            }
            Self::Io { action, source } => write!(f, "cannot {action}: {source}"),
            Self::Database(err) => write!(f, "database error: {err}"),
            Self::Sqlite(err) => write!(f, "SQLite error: {err}"),
            Self::Upload { path, message } => write!(
                f,
                "the snapshot is at {} but copying it to file storage failed: {message}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for BackupError {}

impl From<DbErr> for BackupError {
    fn from(err: DbErr) -> Self {
        Self::Database(err)
    }
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> BackupError {
    let action = action.into();
    move |source| BackupError::Io { action, source }
}

/// Where a snapshot goes.
#[derive(Debug, Clone)]
pub(crate) enum Destination {
    /// A new `hearth-<UTC time>.db` in this directory (created if missing).
    Dir(PathBuf),
    /// Exactly this file, which must not exist yet.
    File(PathBuf),
}

/// The server's backups: one at a time, into `BACKUP_DIR`, pruned to
/// `BACKUP_KEEP`.
pub(crate) struct Backups {
    db: DatabaseConnection,
    config: BackupConfig,
    /// Where `BACKUP_UPLOAD` copies go.
    storage: Arc<dyn Storage>,
    /// Serializes snapshots taken through this process: a second request
    /// waits for the first instead of doubling the disk and I/O load.
    running: tokio::sync::Mutex<()>,
}

impl Backups {
    pub(crate) fn new(
        db: DatabaseConnection,
        config: BackupConfig,
        storage: Arc<dyn Storage>,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            config,
            storage,
            running: tokio::sync::Mutex::new(()),
        })
    }

    /// Takes a snapshot into the backup directory and applies retention.
    pub(crate) async fn create(&self) -> Result<Backup, BackupError> {
        ensure_sqlite(&self.db)?;
        let _one_at_a_time = self.running.lock().await;
        create_in_backup_dir(&self.db, &self.config, self.storage.as_ref()).await
    }

    /// The finished backups in the backup directory, newest first.
    pub(crate) async fn list(&self) -> Result<Vec<Backup>, BackupError> {
        ensure_sqlite(&self.db)?;
        list(&self.config.dir).await
    }
}

/// A snapshot into `config.dir`, then retention: what both `createBackup`
/// and `api backup` (without `--out`) do.
pub(crate) async fn create_in_backup_dir(
    db: &DatabaseConnection,
    config: &BackupConfig,
    storage: &dyn Storage,
) -> Result<Backup, BackupError> {
    let mut backup = snapshot(db, &Destination::Dir(config.dir.clone())).await?;
    tracing::info!(path = %backup.path.display(), size_bytes = backup.size_bytes, "backup created");
    if config.upload {
        // Streamed, so a large database is never held in memory; before
        // retention, which only touches the local directory.
        let key = format!("{BACKUP_PREFIX}{}", backup.name);
        storage
            .put_file(&key, &backup.path)
            .await
            .map_err(|err| BackupError::Upload {
                path: backup.path.clone(),
                message: err.to_string(),
            })?;
        tracing::info!(key, storage = %storage.describe(), "backup copied to file storage");
        backup.object_key = Some(key);
    }
    if let Some(keep) = config.keep {
        match prune(&config.dir, keep).await {
            Ok(removed) => {
                for old in removed {
                    tracing::info!(name = %old.name, "removed old backup (BACKUP_KEEP={keep})");
                }
            }
            // The new backup is good; a failed cleanup must not hide it.
            Err(err) => tracing::warn!(error = %err, "cannot apply BACKUP_KEEP"),
        }
    }
    Ok(backup)
}

fn ensure_sqlite(db: &DatabaseConnection) -> Result<(), BackupError> {
    match db.get_database_backend() {
        DbBackend::Sqlite => Ok(()),
        _ => Err(BackupError::Unsupported),
    }
}

/// Takes an online snapshot of `db` (SQLite) into `destination` while
/// other connections keep writing, and returns the finished file.
pub(crate) async fn snapshot(
    db: &DatabaseConnection,
    destination: &Destination,
) -> Result<Backup, BackupError> {
    ensure_sqlite(db)?;
    // To the second, as the name (and so the listing) has it.
    let created_at = Utc::now().trunc_subsecs(0);
    let stamp = created_at.format(TIME_FORMAT).to_string();
    let (dir, wanted) = match destination {
        Destination::Dir(dir) => {
            let dir = absolute(dir)?;
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(io_error(format!("create {}", dir.display())))?;
            (dir, None)
        }
        Destination::File(file) => {
            let file = absolute(file)?;
            let dir = file
                .parent()
                .map(Path::to_path_buf)
                .ok_or_else(|| BackupError::BadPath(format!("{} is not a file", file.display())))?;
            if tokio::fs::try_exists(&file).await.unwrap_or(true) {
                return Err(BackupError::BadPath(format!(
                    "{} already exists; backups never overwrite a file",
                    file.display()
                )));
            }
            (dir, Some(file))
        }
    };
    if !tokio::fs::metadata(&dir).await.is_ok_and(|m| m.is_dir()) {
        return Err(BackupError::BadPath(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let temp = dir.join(format!(
        ".{PREFIX}{stamp}{SUFFIX}.{}.partial",
        uuid::Uuid::new_v4().simple()
    ));
    let temp_sql = sql_path(&temp)?;

    let written = async {
        // A bound parameter, so no quoting of the path is needed at all.
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [temp_sql.into()],
        ))
        .await?;
        let file = tokio::fs::File::open(&temp)
            .await
            .map_err(io_error("open the new snapshot"))?;
        // It holds password hashes and sessions: owner only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .await
                .map_err(io_error("restrict the new snapshot's permissions"))?;
        }
        file.sync_all()
            .await
            .map_err(io_error("flush the new snapshot"))?;
        let path = match &wanted {
            Some(file) => publish(&temp, file).await?.then(|| file.clone()),
            None => publish_unique(&temp, &dir, &stamp).await?,
        };
        let path = path.ok_or_else(|| match &wanted {
            Some(file) => BackupError::BadPath(format!(
                "{} appeared while the snapshot was written; not overwritten",
                file.display()
            )),
            None => BackupError::BadPath(format!(
                "too many backups named {PREFIX}{stamp}*{SUFFIX} in {}",
                dir.display()
            )),
        })?;
        sync_dir(&dir).await;
        let size_bytes = tokio::fs::metadata(&path)
            .await
            .map_err(io_error("read the snapshot's size"))?
            .len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Backup {
            name,
            path,
            size_bytes,
            created_at,
            object_key: None,
        })
    }
    .await;
    // Published (hard link) or failed: the temporary name goes either way.
    let _ = tokio::fs::remove_file(&temp).await;
    written
}

/// Links `temp` as `file` unless `file` exists. `Ok(false)` when it does.
async fn publish(temp: &Path, file: &Path) -> Result<bool, BackupError> {
    match tokio::fs::hard_link(temp, file).await {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // A file system without hard links: rename, after checking.
        Err(_) => {
            if tokio::fs::try_exists(file).await.unwrap_or(true) {
                return Ok(false);
            }
            tokio::fs::rename(temp, file)
                .await
                .map_err(io_error(format!("move the snapshot to {}", file.display())))?;
            Ok(true)
        }
    }
}

/// Publishes under `hearth-<stamp>.db`, or `-2`, `-3`... after the highest
/// taken within the same second, so names keep sorting in creation order
/// even after retention removed some of them.
async fn publish_unique(
    temp: &Path,
    dir: &Path,
    stamp: &str,
) -> Result<Option<PathBuf>, BackupError> {
    let taken = list(dir)
        .await?
        .iter()
        .filter_map(|b| parse_name(&b.name))
        .filter(|(time, _)| time.format(TIME_FORMAT).to_string() == stamp)
        .map(|(_, n)| n)
        .max()
        .unwrap_or(0);
    for n in taken + 1..=taken + 100 {
        let name = match n {
            1 => format!("{PREFIX}{stamp}{SUFFIX}"),
            n => format!("{PREFIX}{stamp}-{n}{SUFFIX}"),
        };
        let file = dir.join(name);
        if publish(temp, &file).await? {
            return Ok(Some(file));
        }
    }
    Ok(None)
}

/// Makes a rename or link durable (best effort: not every platform can
/// open a directory).
async fn sync_dir(dir: &Path) {
    if let Ok(handle) = tokio::fs::File::open(dir).await {
        let _ = handle.sync_all().await;
    }
}

fn absolute(path: &Path) -> Result<PathBuf, BackupError> {
    if path.as_os_str().is_empty() {
        return Err(BackupError::BadPath("the backup path is empty".to_owned()));
    }
    std::path::absolute(path).map_err(|e| BackupError::BadPath(format!("{}: {e}", path.display())))
}

/// The path as SQLite gets it: absolute (so never read as a `file:` URI),
/// UTF-8, and free of control characters.
fn sql_path(path: &Path) -> Result<String, BackupError> {
    let text = path
        .to_str()
        .ok_or_else(|| BackupError::BadPath(format!("{} is not valid UTF-8", path.display())))?;
    if !path.is_absolute() || text.chars().any(char::is_control) {
        return Err(BackupError::BadPath(format!(
            "refusing the backup path {text:?}: use an absolute path without control characters"
        )));
    }
    Ok(text.to_owned())
}

/// `hearth-20261123T161000Z.db` -> (time, 1); `...-3.db` -> (time, 3).
fn parse_name(name: &str) -> Option<(DateTime<Utc>, u32)> {
    let middle = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (stamp, n) = match middle.split_once('-') {
        Some((stamp, n)) => (stamp, n.parse().ok().filter(|n| *n >= 2)?),
        None => (middle, 1),
    };
    let time = NaiveDateTime::parse_from_str(stamp, TIME_FORMAT).ok()?;
    Some((time.and_utc(), n))
}

/// The finished backups in `dir`, newest first. A missing directory has
/// none.
pub(crate) async fn list(dir: &Path) -> Result<Vec<Backup>, BackupError> {
    let mut found: Vec<((DateTime<Utc>, u32), Backup)> = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_error(format!("list {}", dir.display()))(err)),
    };
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(io_error(format!("list {}", dir.display())))?
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((created_at, n)) = parse_name(&name) else {
            continue;
        };
        let Ok(metadata) = entry.metadata().await else {
            continue;
        };
        if !metadata.is_file() {
            continue;
        }
        found.push((
            (created_at, n),
            Backup {
                name,
                path: entry.path(),
                size_bytes: metadata.len(),
                created_at,
                object_key: None,
            },
        ));
    }
    found.sort_by_key(|(key, _)| std::cmp::Reverse(*key));
    Ok(found.into_iter().map(|(_, backup)| backup).collect())
}

/// Deletes all but the newest `keep` backups in `dir`; returns them.
pub(crate) async fn prune(dir: &Path, keep: usize) -> Result<Vec<Backup>, BackupError> {
    let old: Vec<Backup> = list(dir).await?.into_iter().skip(keep).collect();
    for backup in &old {
        tokio::fs::remove_file(&backup.path)
            .await
            .map_err(io_error(format!("remove {}", backup.path.display())))?;
    }
    Ok(old)
}

/// The SQLite file a `sqlite://` URL opens, as sqlx reads it.
pub(crate) fn sqlite_file(database_url: &str) -> Result<PathBuf, BackupError> {
    let options = SqliteConnectOptions::from_str(database_url)
        .map_err(|e| BackupError::BadPath(format!("DATABASE_URL is not usable: {e}")))?;
    let file = options.get_filename();
    let text = file.to_string_lossy();
    // sqlx names in-memory databases `file:sqlx-in-memory-<n>`.
    if text.is_empty() || text.starts_with("file:") || text.contains(":memory:") {
        return Err(BackupError::BadPath(
            "DATABASE_URL is an in-memory database; there is no file to back up or restore"
                .to_owned(),
        ));
    }
    Ok(file.to_path_buf())
}

/// What [`verify`] found in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// Migrations recorded in the snapshot.
    pub migrations: i64,
    pub users: i64,
}

/// Checks that `file` is an intact Hearth database: SQLite's
/// `PRAGMA integrity_check` says `ok`, and it has Hearth's tables. Opens it
/// read-only and immutable, so nothing (no `-wal`/`-shm`) is written.
pub(crate) async fn verify(file: &Path) -> Result<Verified, BackupError> {
    let not_snapshot =
        |why: String| BackupError::NotASnapshot(format!("{}: {why}", file.display()));
    let metadata = tokio::fs::metadata(file)
        .await
        .map_err(|e| not_snapshot(e.to_string()))?;
    if !metadata.is_file() {
        return Err(not_snapshot("not a file".to_owned()));
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .immutable(true)
        .create_if_missing(false)
        .connect()
        .await
        .map_err(|e| not_snapshot(format!("cannot open as SQLite: {e}")))?;
    let result = async {
        let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| not_snapshot(format!("not a SQLite database ({e})")))?;
        if problems != ["ok"] {
            let first: Vec<_> = problems.iter().take(3).cloned().collect();
            return Err(not_snapshot(format!(
                "integrity_check failed: {}",
                first.join("; ")
            )));
        }
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
             AND name IN ('seaql_migrations', 'users', 'sessions')",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(BackupError::Sqlite)?;
        if tables != 3 {
            return Err(not_snapshot(
                "not a Hearth database (no Hearth tables)".to_owned(),
            ));
        }
        let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM seaql_migrations")
            .fetch_one(&mut conn)
            .await
            .map_err(BackupError::Sqlite)?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut conn)
            .await
            .map_err(BackupError::Sqlite)?;
        Ok(Verified { migrations, users })
    }
    .await;
    let _ = sqlx::Connection::close(conn).await;
    result
}

/// What [`restore`] did.
#[derive(Debug, Clone)]
pub(crate) struct Restored {
    pub database: PathBuf,
    /// The database that was replaced, kept under a new name.
    pub previous: Option<PathBuf>,
    pub verified: Verified,
}

/// Replaces the SQLite database of `database_url` with `snapshot`, for
/// `api restore`. The API must be stopped: this refuses when the current
/// database is open elsewhere. The snapshot is verified first; the current
/// database is kept as `<file>.before-restore-<time>`, and its `-wal`/`-shm`
/// files are removed so they cannot be replayed into the restored one.
pub(crate) async fn restore(database_url: &str, snapshot: &Path) -> Result<Restored, BackupError> {
    if migration::database::backend_of(database_url)
        .map_err(|e| BackupError::BadPath(e.to_string()))?
        != migration::database::Backend::Sqlite
    {
        return Err(BackupError::Unsupported);
    }
    let target = absolute(&sqlite_file(database_url)?)?;
    let snapshot = absolute(snapshot)?;
    let verified = verify(&snapshot).await?;
    if same_file(&snapshot, &target).await {
        return Err(BackupError::BadPath(
            "the snapshot is the database itself".to_owned(),
        ));
    }
    let dir = target
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| BackupError::BadPath(format!("{} is not a file", target.display())))?;
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(io_error(format!("create {}", dir.display())))?;

    let previous = if tokio::fs::try_exists(&target).await.unwrap_or(false) {
        close_out(&target).await?;
        let aside = PathBuf::from(format!(
            "{}.before-restore-{}",
            target.display(),
            Utc::now().format(TIME_FORMAT)
        ));
        tokio::fs::rename(&target, &aside)
            .await
            .map_err(io_error(format!("move {} aside", target.display())))?;
        Some(aside)
    } else {
        None
    };
    for side in ["-wal", "-shm", "-journal"] {
        let file = PathBuf::from(format!("{}{side}", target.display()));
        match tokio::fs::remove_file(&file).await {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(io_error(format!("remove {}", file.display()))(err)),
        }
    }

    let temp = dir.join(format!(
        ".{}.{}.restoring",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        uuid::Uuid::new_v4().simple()
    ));
    let copied = async {
        tokio::fs::copy(&snapshot, &temp)
            .await
            .map_err(io_error(format!("copy {}", snapshot.display())))?;
        tokio::fs::File::open(&temp)
            .await
            .map_err(io_error("open the copy"))?
            .sync_all()
            .await
            .map_err(io_error("flush the copy"))?;
        tokio::fs::rename(&temp, &target)
            .await
            .map_err(io_error(format!("move the copy to {}", target.display())))
    }
    .await;
    if copied.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
    }
    copied?;
    sync_dir(&dir).await;
    Ok(Restored {
        database: target,
        previous,
        verified,
    })
}

async fn same_file(a: &Path, b: &Path) -> bool {
    match (
        tokio::fs::canonicalize(a).await,
        tokio::fs::canonicalize(b).await,
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Refuses when another connection has `file` open, and otherwise folds
/// its WAL back in. Leaving WAL mode needs the only connection, so
/// `journal_mode=DELETE` failing means the API (or anything else) is
/// still using the database.
async fn close_out(file: &Path) -> Result<(), BackupError> {
    let in_use = || {
        BackupError::InUse(format!(
            "{} is in use: stop the API (and anything else using the database) before restoring",
            file.display()
        ))
    };
    let mut conn: SqliteConnection = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(false)
        .busy_timeout(std::time::Duration::ZERO)
        .connect()
        .await
        .map_err(|_| in_use())?;
    let mode: Result<String, _> = sqlx::query_scalar("PRAGMA journal_mode = DELETE")
        .fetch_one(&mut conn)
        .await;
    let _ = sqlx::Connection::close(conn).await;
    match mode {
        Ok(mode) if mode.eq_ignore_ascii_case("delete") => Ok(()),
        _ => Err(in_use()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_sort() {
        let (t, n) = parse_name("hearth-20261123T161000Z.db").expect("parses");
        assert_eq!(t.to_rfc3339(), "2026-11-23T16:10:00+00:00");
        assert_eq!(n, 1);
        assert_eq!(
            parse_name("hearth-20261123T161000Z-3.db").map(|p| p.1),
            Some(3)
        );
        for other in [
            "hearth-20261123T161000Z-1.db",
            "hearth-20261123T161000Z-x.db",
            ".hearth-20261123T161000Z.db.abc.partial",
            "hearth-2026.db",
            "hearth.db",
            "hearth-20261123T161000Z.db-wal",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[test]
    fn odd_paths_are_refused() {
        assert!(sql_path(Path::new("relative/x.db")).is_err());
        assert!(sql_path(Path::new("/tmp/a\nb.db")).is_err());
        assert_eq!(
            sql_path(Path::new("/tmp/it's here.db")).ok().as_deref(),
            Some("/tmp/it's here.db")
        );
    }

    #[test]
    fn the_database_file_comes_from_the_url() {
        assert_eq!(
            sqlite_file("sqlite://data/hearth.db?mode=rwc").ok(),
            Some(PathBuf::from("data/hearth.db"))
        );
        assert!(sqlite_file("sqlite::memory:").is_err());
    }
}
