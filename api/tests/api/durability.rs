//! SQLite durability: a process killed with SIGKILL in the
//! middle of writing leaves a database that passes `integrity_check` and
//! holds every write it acknowledged. The writer is this test binary run
//! again as a child, connecting the way every Hearth binary does.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::{count_rows, insert_user};

const DB_VAR: &str = "HEARTH_DURABILITY_WRITER_DB";

/// The child: inserts users one by one, printing each id once committed.
#[tokio::test]
#[ignore = "run by sigkill_mid_write_keeps_sqlite_consistent as its child"]
async fn durability_writer_child() {
    let url = std::env::var(DB_VAR).expect("run by the durability test");
    let conn = migration::database::connect(&url).await.expect("connect");
    for i in 0.. {
        let user = insert_user(&conn, &format!("writer{i}"), chrono::Utc::now()).await;
        println!("acked {}", user.id);
    }
}

#[tokio::test]
async fn sigkill_mid_write_keeps_sqlite_consistent() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/durability.db?mode=rwc", dir.path().display());
    let conn = migration::database::connect(&url).await.expect("connect");
    Migrator::up(&conn, None).await.expect("migrate");
    conn.close().await.expect("close");

    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "durability::durability_writer_child",
            "--ignored",
            "--nocapture",
        ])
        .env(DB_VAR, &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("writer starts");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut killed = false;
        let deadline = Instant::now() + Duration::from_secs(60);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = line.strip_prefix("acked ") {
                acked.push(id.to_owned());
            }
            if !killed && (acked.len() >= 300 || Instant::now() > deadline) {
                // SIGKILL while it is writing; lines already in the pipe
                // were acknowledged too and are still read.
                child.kill().expect("SIGKILL");
                killed = true;
            }
        }
        let _ = child.wait();
        acked
    });
    let acked = tokio::task::spawn_blocking(move || reader.join().expect("reader"))
        .await
        .expect("join");
    assert!(
        acked.len() >= 300,
        "only {} writes acknowledged",
        acked.len()
    );

    let conn = migration::database::connect(&url).await.expect("reopen");
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .expect("integrity_check")
        .expect("a row");
    assert_eq!(row.try_get_by_index::<String>(0).expect("text"), "ok");
    let stored = count_rows(&conn, "users").await;
    assert!(
        stored >= acked.len() as i64,
        "{stored} rows, {} acked",
        acked.len()
    );
    for id in &acked {
        let found = conn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT 1 FROM users WHERE id = ?",
                [uuid::Uuid::parse_str(id).expect("uuid").into()],
            ))
            .await
            .expect("lookup");
        assert!(found.is_some(), "acknowledged write {id} lost");
    }
}
