//! The `seed` binary as an operator uses it.

use std::process::{Command, Output};

fn seed(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let url = format!("sqlite://{}/seed.db?mode=rwc", dir.display());
    Command::new(env!("CARGO_BIN_EXE_seed"))
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", &url)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("seed runs")
}

/// Demo accounts share a published password, so a production database is
/// refused (before anything is written) unless `--force` says otherwise.
#[test]
fn production_is_refused_without_force() {
    let dir = tempfile::tempdir().expect("dir");
    let production = [("HEARTH_ENV", "production")];
    let refused = seed(dir.path(), &production, &["--scale", "small"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("seed: refusing to seed: HEARTH_ENV is production")
            && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(!dir.path().join("seed.db").exists(), "nothing was written");

    let forced = seed(dir.path(), &production, &["--scale", "small", "--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let development = tempfile::tempdir().expect("dir");
    assert!(
        seed(development.path(), &[], &["--scale", "small"])
            .status
            .success()
    );
}
