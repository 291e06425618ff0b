//! The guestbook server: Hearth's `api` command line (`serve`, `schema`,
//! `admin`, `backup`, `restore`) with the guestbook added.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    guestbook::app().run().await
}
