//! The `migration` command: sea-orm-migration's operations over the database
//! in `DATABASE_URL` (default: the API's embedded SQLite file).
//!
//! Written here rather than taken from sea-orm-migration's `cli` feature,
//! which panics on a bad URL and pulls in the whole code generator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sea_orm_migration::{MigratorTrait, sea_orm::DatabaseConnection};

use crate::{
    Migrator,
    database::{self, DatabaseSettings},
    settings::{Env, SettingsError, process_env},
};

#[derive(Parser, Debug)]
#[command(
    name = "migration",
    version,
    about = "Apply or roll back Hearth's schema migrations"
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which database a command-line tool works on; shared by `migration` and
/// `seed`. Read like the API reads it ([`DatabaseSettings::from_env`]), so
/// all three pick the same database; a flag overrides its variable.
#[derive(clap::Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Database: sqlite://path?mode=rwc or postgres://user:pass@host/db
    /// (overrides DATABASE_URL; default: the API's embedded SQLite file
    /// under DATA_DIR).
    #[arg(long)]
    pub database_url: Option<String>,

    /// Directory of the embedded SQLite default (overrides DATA_DIR).
    #[arg(long)]
    pub data_dir: Option<String>,
}

impl DatabaseArgs {
    /// The database settings: these flags, else the environment.
    pub fn settings(&self) -> Result<DatabaseSettings, SettingsError> {
        let lookup = |name: &str| match name {
            "DATABASE_URL" => self.database_url.clone().or_else(|| process_env(name)),
            "DATA_DIR" => self.data_dir.clone().or_else(|| process_env(name)),
            _ => process_env(name),
        };
        DatabaseSettings::from_env(&Env::new(&lookup))
    }
}

#[derive(Subcommand, Debug, Clone, Copy)]
pub enum Command {
    /// Apply pending migrations (all, or the next N). The default command.
    Up {
        #[arg(short = 'n', long = "num")]
        num: Option<u32>,
    },
    /// Roll back the last N applied migrations (default 1).
    Down {
        #[arg(short = 'n', long = "num", default_value_t = 1)]
        num: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table, then apply all migrations. Destroys data.
    Fresh,
    /// Roll back all migrations, then apply them again. Destroys data.
    Refresh,
    /// Roll back all migrations. Destroys data.
    Reset,
}

/// Runs the command line; the binary's whole `main`.
pub async fn run() -> ExitCode {
    run_with::<Migrator>().await
}

/// The same command line over another migrator: an application's, which
/// lists Hearth's migrations and its own ([`crate::with_hearth`]).
pub async fn run_with<M: MigratorTrait + 'static>() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    init_logging();
    if let Err(err) = crate::History::of::<M>().check() {
        eprintln!("migration: {err}");
        return ExitCode::FAILURE;
    }
    let settings = match cli.database.settings() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("migration: {err}");
            return ExitCode::FAILURE;
        }
    };
    // One connection: `fresh` on SQLite turns foreign keys off with a PRAGMA,
    // which only holds if every following statement uses that connection.
    let pool = database::PoolSettings {
        max_connections: 1,
        ..settings.pool
    };
    let db = match database::connect_with(&settings.url, &pool).await {
        Ok(db) => db,
        Err(err) => {
            eprintln!("migration: {err}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Up { num: None });
    let result = execute_with::<M>(&db, command).await;
    let _ = db.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("migration: {command:?} failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Carries out one command on an open connection.
pub async fn execute(
    db: &DatabaseConnection,
    command: Command,
) -> Result<(), sea_orm_migration::DbErr> {
    execute_with::<Migrator>(db, command).await
}

/// [`execute`] with another migrator.
pub async fn execute_with<M: MigratorTrait>(
    db: &DatabaseConnection,
    command: Command,
) -> Result<(), sea_orm_migration::DbErr> {
    match command {
        Command::Up { num } => M::up(db, num).await?,
        Command::Down { num } => M::down(db, Some(num)).await?,
        Command::Fresh => M::fresh(db).await?,
        Command::Refresh => M::refresh(db).await?,
        Command::Reset => M::reset(db).await?,
        Command::Status => {
            for migration in M::get_migration_with_status(db).await? {
                println!("{:<8} {}", migration.status(), migration.name());
            }
        }
    }
    Ok(())
}

/// sea-orm-migration reports each step through `tracing`; show those lines
/// plainly, as a CLI should.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("sea_orm_migration=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_level(false)
        .without_time()
        .with_writer(std::io::stderr)
        .try_init();
}
