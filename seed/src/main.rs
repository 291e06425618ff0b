//! The `seed` command: fills a Hearth database with deterministic demo or
//! benchmark data. All the work is in the library; this parses arguments,
//! connects, and reports.

use std::{io::Write, process::ExitCode};

use clap::Parser;
use migration::{
    cli::DatabaseArgs,
    database,
    settings::{Env, Environment, process_env},
};
use seed::{DEMO_EMAIL, DEMO_PASSWORD, DEMO_USERNAME, Scale, SeedOptions};

#[derive(Parser, Debug)]
#[command(
    name = "seed",
    version,
    about = "Fill a Hearth database with deterministic demo or benchmark data"
)]
struct Cli {
    /// How much data: `small` (a demo) or `bench` (~1M comments).
    #[arg(long, value_enum, default_value_t = Scale::Small)]
    scale: Scale,

    /// Same seed, same rows.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// Wipe the database (roll every migration back, apply them again) before seeding.
    #[arg(long)]
    reset: bool,

    /// Seed even though `HEARTH_ENV` says production.
    #[arg(long)]
    force: bool,

    #[command(flatten)]
    database: DatabaseArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    // Every seeded account shares a published password: in production that
    // is a way in for anyone who reads the README.
    let environment = match Environment::from_env(&Env::new(&process_env)) {
        Ok(environment) => environment,
        Err(err) => return fail(&err),
    };
    if environment == Environment::Production && !cli.force {
        return fail(&format!(
            "refusing to seed: HEARTH_ENV is production, and every seeded account (demo included) signs in with the published password `{DEMO_PASSWORD}`; pass --force to seed anyway"
        ));
    }
    let settings = match cli.database.settings() {
        Ok(settings) => settings,
        Err(err) => return fail(&err),
    };
    let url = settings.url;
    let db = match database::connect_with(&url, &settings.pool).await {
        Ok(db) => db,
        Err(err) => return fail(&err),
    };
    let opts = SeedOptions {
        scale: cli.scale,
        seed: cli.seed,
        reset: cli.reset,
    };
    let mut out = std::io::stdout();
    // Output is informational: a closed pipe (`seed | head`) must not panic
    // the way `println!` would, nor stop the seed.
    let _ = writeln!(
        out,
        "seeding {} (scale {}, seed {}{})",
        database::mask_password(&url),
        opts.scale,
        opts.seed,
        if opts.reset { ", reset" } else { "" }
    );
    let result = seed::run(&db, &opts).await;
    let _ = db.close().await;
    match result {
        Ok(report) => {
            let _ = writeln!(
                out,
                "{report}\n\
                 demo account: {DEMO_EMAIL} (username {DEMO_USERNAME}), password {DEMO_PASSWORD}\n\
                 every seeded account has the same password"
            );
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

/// Prints `seed: <error>` on one line (database errors can span several).
fn fail(err: &dyn std::fmt::Display) -> ExitCode {
    let message = err.to_string();
    let _ = writeln!(std::io::stderr(), "seed: {}", database::one_line(&message));
    ExitCode::FAILURE
}
