//! The `migration` binary as an operator uses it.

use std::process::{Command, Output};

use migration::{Migrator, MigratorTrait};

fn migration(dir: &std::path::Path, url: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_migration"));
    command.current_dir(dir).env_clear().args(args);
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    command.output().expect("migration runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn status_up_down_on_the_embedded_default() {
    let total = Migrator::migrations().len();
    let dir = tempfile::tempdir().expect("dir");
    let status = migration(dir.path(), None, &["status"]);
    assert!(status.status.success());
    assert_eq!(
        stdout(&status).matches("Pending").count(),
        total,
        "{}",
        stdout(&status)
    );
    assert!(
        dir.path().join("data/hearth.db").exists(),
        "same default file as the API"
    );

    assert!(migration(dir.path(), None, &["up"]).status.success());
    let status = stdout(&migration(dir.path(), None, &["status"]));
    assert_eq!(status.matches("Applied").count(), total, "{status}");

    assert!(
        migration(dir.path(), None, &["down", "-n", "2"])
            .status
            .success()
    );
    let status = stdout(&migration(dir.path(), None, &["status"]));
    assert_eq!(status.matches("Applied").count(), total - 2, "{status}");
    assert!(
        status.lines().last().is_some_and(|l| l.contains("Pending")),
        "{status}"
    );

    for command in [&["up"][..], &["refresh"], &["fresh"], &["reset"]] {
        let output = migration(dir.path(), None, command);
        assert!(
            output.status.success(),
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn bad_urls_give_one_masked_line_and_exit_1() {
    let dir = tempfile::tempdir().expect("dir");
    for url in [
        "postgres://hearth:hunter2@127.0.0.1:1/hearth",
        "mysql://root:hunter2@localhost/db",
        "not a url at all hunter2",
    ] {
        let output = migration(dir.path(), Some(url), &["status"]);
        assert_eq!(output.status.code(), Some(1), "{url}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{url}: {stderr}");
        assert!(stderr.starts_with("migration: "), "{stderr}");
        assert!(!stderr.contains("hunter2"), "password masked: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
