//! `migration` for the guestbook: Hearth's migrations and its own, in one
//! history (`up`, `down`, `status`, ...).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    migration::cli::run_with::<guestbook::Migrator>().await
}
