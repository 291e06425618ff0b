//! The `api` command line: `api` (or `api serve`) runs the server,
//! `api schema` prints the GraphQL SDL.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{
    app::{Application, shutdown_signal},
    config::Config,
    graphql, telemetry,
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
}

pub async fn run() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Schema => {
            print!("{}", graphql::sdl());
            ExitCode::SUCCESS
        }
        Command::Serve => serve().await,
    }
}

async fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("api: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(config.log_format);
    let database = config.database_url_masked();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!("cannot start: {err:#}");
            eprintln!("api: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    match app.local_addr() {
        Ok(addr) => {
            tracing::info!(%database, "listening on http://{addr} (playground at http://{addr}/graphql)")
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
