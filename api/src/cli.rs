//! The `api` command line: `api` (or `api serve`) runs the server,
//! `api schema` prints the GraphQL SDL, `api admin create` makes an admin,
//! `api backup` snapshots the SQLite database and `api restore` puts a
//! snapshot back.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{
    app::{Application, Extensions, shutdown_signal},
    auth,
    config::Config,
    db, telemetry,
};

#[derive(Parser, Debug)]
#[command(name = "api", version, about = "The Hearth GraphQL server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default). Settings come from the environment.
    Serve,
    /// Print the GraphQL schema as SDL.
    Schema,
    /// Manage admin accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Take an online snapshot of the SQLite database (safe while the API
    /// runs). Writes a new hearth-<UTC time>.db in BACKUP_DIR (default
    /// $DATA_DIR/backups, keeping the newest BACKUP_KEEP), or into --out.
    Backup {
        /// A directory for the new hearth-<UTC time>.db, or a file name
        /// that does not exist yet. Retention applies only without --out.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Replace the SQLite database with a snapshot. Stop the API first: the
    /// snapshot is verified (PRAGMA integrity_check, Hearth tables), the
    /// current database is kept as <file>.before-restore-<time>, and its
    /// -wal/-shm files are removed.
    Restore {
        /// The snapshot file (from `api backup` or `createBackup`).
        snapshot: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Make the account with this email an admin, or create an admin
    /// account (with --username; the password is read from the
    /// ADMIN_PASSWORD variable or, if unset, from the first line of stdin).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: Option<String>,
    },
}

/// The command line of an application built on Hearth (`extend::Hearth`
/// runs it; so does the `api` binary, with nothing added).
pub(crate) async fn run_with(hearth: Extensions) -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Schema => {
            print!("{}", hearth.roots.sdl());
            ExitCode::SUCCESS
        }
        Command::Serve => serve(hearth).await,
        Command::Admin(AdminCommand::Create { email, username }) => {
            admin_create(&email, username.as_deref(), &hearth.history).await
        }
        Command::Backup { out } => backup(out).await,
        Command::Restore { snapshot } => restore(&snapshot).await,
    }
}

/// `api backup`: prints `<path> (<size> bytes, <seconds> s)`.
async fn backup(out: Option<std::path::PathBuf>) -> ExitCode {
    use crate::backup::{Destination, service};
    use migration::database::{Backend, backend_of};
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("api: {err}");
            return ExitCode::FAILURE;
        }
    };
    if backend_of(&config.database.url).ok() == Some(Backend::Postgres) {
        eprintln!("api backup: {}", service::BackupError::Unsupported);
        return ExitCode::FAILURE;
    }
    // Never create an empty database just to back it up.
    match service::sqlite_file(&config.database.url) {
        Ok(file) if file.is_file() => {}
        Ok(file) => {
            eprintln!("api backup: no database at {}", file.display());
            return ExitCode::FAILURE;
        }
        Err(err) => {
            eprintln!("api backup: {err}");
            return ExitCode::FAILURE;
        }
    }
    let db = match migration::database::connect_with(&config.database.url, &config.database.pool)
        .await
    {
        Ok(db) => db,
        Err(err) => {
            eprintln!("api backup: {err}");
            return ExitCode::FAILURE;
        }
    };
    let storage = match crate::files::storage::from_config(&config.files, &config.data_dir) {
        Ok(storage) => storage,
        Err(err) => {
            eprintln!("api backup: file storage: {err}");
            return ExitCode::FAILURE;
        }
    };
    let started = std::time::Instant::now();
    let result = match out {
        None => service::create_in_backup_dir(&db, &config.backup, &storage).await,
        Some(out) if out.is_dir() => service::snapshot(&db, &Destination::Dir(out)).await,
        Some(out) => service::snapshot(&db, &Destination::File(out)).await,
    };
    let _ = db.close().await;
    match result {
        Ok(backup) => {
            println!(
                "{} ({} bytes, {:.2} s)",
                backup.path.display(),
                backup.size_bytes,
                started.elapsed().as_secs_f64()
            );
            if let Some(key) = backup.object_key {
                println!("copied to file storage as {key}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("api backup: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `api restore <snapshot>`.
async fn restore(snapshot: &std::path::Path) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("api: {err}");
            return ExitCode::FAILURE;
        }
    };
    match crate::backup::service::restore(&config.database.url, snapshot).await {
        Ok(restored) => {
            if let Some(previous) = &restored.previous {
                println!("kept the previous database as {}", previous.display());
            }
            println!(
                "restored {} into {} ({} users, {} migrations); start the API",
                snapshot.display(),
                restored.database.display(),
                restored.verified.users,
                restored.verified.migrations
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("api restore: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn admin_create(
    email: &str,
    username: Option<&str>,
    history: &migration::History,
) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("api: {err}");
            return ExitCode::FAILURE;
        }
    };
    let password = match (username, std::env::var("ADMIN_PASSWORD")) {
        (None, _) => None,
        (Some(_), Ok(password)) => Some(password),
        (Some(_), Err(_)) => {
            let mut line = String::new();
            if let Err(err) = std::io::stdin().read_line(&mut line) {
                eprintln!("api: cannot read the password from stdin: {err}");
                return ExitCode::FAILURE;
            }
            Some(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    };
    let db = match db::connect(&config, history).await {
        Ok((db, _)) => db,
        Err(err) => {
            eprintln!("api: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = auth::service::ensure_admin(&db, email, username, password.as_deref()).await;
    let _ = db.close().await;
    match result {
        Ok(true) => {
            println!("created admin account {email}");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("{email} is now an admin");
            ExitCode::SUCCESS
        }
        Err(err) => {
            let err = async_graphql::Error::from(err);
            let field = err
                .extensions
                .as_ref()
                .and_then(|e| e.get("field"))
                .map(|f| format!("{f}: ").replace('"', ""))
                .unwrap_or_default();
            eprintln!("api: {field}{}", err.message);
            ExitCode::FAILURE
        }
    }
}

/// Every WebSocket and every database connection is an open file, and the
/// usual soft limit (1024) stops a server near a thousand live sockets:
/// raise it to the hard limit the system allows (the kernel settings a
/// deployment needs for more are in the deployment guide).
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < 16_384 => tracing::warn!(
            limit,
            "this process may open only {limit} files (sockets included); raise the hard limit (ulimit -Hn, LimitNOFILE=) for more live connections"
        ),
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(err) => tracing::warn!(error = %err, "could not raise the open file limit"),
    }
}

async fn serve(hearth: Extensions) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("api: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(config.log_format);
    raise_open_file_limit();
    let database = config.database_url_masked();
    let app = match Application::assemble(config, hearth).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!("cannot start: {err:#}");
            eprintln!("api: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    match app.local_addr() {
        Ok(addr) => {
            tracing::info!(%database, "listening on http://{addr} (playground at http://{addr}/graphql)");
        }
        Err(err) => tracing::warn!(error = %err, "listening on an unknown address"),
    }
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::FAILURE
        }
    }
}
