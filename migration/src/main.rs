use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    migration::cli::run().await
}
