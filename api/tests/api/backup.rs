//! Backups: an online SQLite snapshot taken while writes
//! continue is consistent (`integrity_check` ok) and holds every write
//! acknowledged before it began; it restores into a fresh data directory
//! that the real binary serves. Only admins may take one; PostgreSQL gets
//! a clear, coded answer pointing at pg_dump and PITR.

use std::{
    path::{Path, PathBuf},
    process::{Command as StdCommand, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use entity::user;
use migration::database::Backend;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::Expr,
    sqlx::{self, ConnectOptions, sqlite::SqliteConnectOptions},
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::helpers::{
    TestApp, free_port, insert_user, spawn_app, spawn_app_with,
    user::{TestUser, code},
    wait_until_ready,
};

const CREATE_BACKUP: &str = "mutation { createBackup { name sizeBytes createdAt } }";
const LIST_BACKUPS: &str = "query { backups { name sizeBytes createdAt } }";
const PASSWORD: &str = "correct horse battery";
const DEVICE_SECRET: &str = "device-secret-0123456789abcdef";

/// Signs `name` up, makes them an admin in the database, and signs in again
/// so the access token carries the admin role.
async fn admin(app: &TestApp, name: &str) -> TestUser {
    let person = TestUser::sign_up(app, name).await;
    user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value("admin"))
        .filter(user::Column::Username.eq(name))
        .exec(&app.conn)
        .await
        .expect("promoted");
    TestUser {
        token: sign_in(&app.url(""), name).await.expect("admin signs in"),
        id: person.id,
    }
}

/// Signs in on the server at `base`; the access token, or the response.
async fn sign_in(base: &str, login: &str) -> Result<String, Value> {
    let body: Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({
            "query": "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
            "variables": { "input": {
                "login": login, "password": PASSWORD,
                "device": { "name": "test", "secret": DEVICE_SECRET },
            }},
        }))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON body");
    body["data"]["signIn"]["accessToken"]
        .as_str()
        .map(str::to_owned)
        .ok_or(body)
}

/// Inserts `writer<i>` users one at a time through a connection of its
/// own, recording each `i` once its commit returned.
struct Writer {
    acked: Arc<Mutex<Vec<usize>>>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Writer {
    fn start(app: &TestApp) -> Self {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let conn = app.conn.clone();
        let task = tokio::spawn({
            let (acked, stop) = (acked.clone(), stop.clone());
            async move {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    insert_user(&conn, &format!("writer{i}"), chrono::Utc::now()).await;
                    acked.lock().expect("lock").push(i);
                }
            }
        });
        Self { acked, stop, task }
    }

    fn acked(&self) -> Vec<usize> {
        self.acked.lock().expect("lock").clone()
    }

    /// Waits until at least `n` writes are acknowledged.
    async fn wait_for(&self, n: usize) {
        for _ in 0..600 {
            if self.acked().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the writer made only {} writes", self.acked().len());
    }

    async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("writer task");
        self.acked.lock().expect("lock").len()
    }
}

/// Opens a snapshot read-only (writing nothing next to it), checks
/// `integrity_check`, and returns the writer rows it holds.
async fn snapshot_writers(path: &Path) -> Vec<usize> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .expect("integrity_check");
    assert_eq!(check, ["ok"], "{}", path.display());
    let names: Vec<String> =
        sqlx::query_scalar("SELECT username FROM users WHERE username LIKE 'writer%'")
            .fetch_all(&mut conn)
            .await
            .expect("writer rows");
    names
        .iter()
        .map(|n| n["writer".len()..].parse().expect("writer number"))
        .collect()
}

/// The snapshot holds every write acknowledged before the backup began,
/// and none begun after it was answered (one insert may be in flight).
async fn check_snapshot(path: &Path, before: &[usize], after: usize) {
    let rows = snapshot_writers(path).await;
    let present: std::collections::HashSet<usize> = rows.iter().copied().collect();
    let missing: Vec<_> = before.iter().filter(|i| !present.contains(i)).collect();
    assert!(missing.is_empty(), "acknowledged rows missing: {missing:?}");
    assert!(
        rows.len() >= before.len() && rows.len() <= after + 1,
        "{} rows, acknowledged {} before and {after} after",
        rows.len(),
        before.len()
    );
}

/// Runs the `api` binary with the app's database and data directory.
async fn run_api(app: &TestApp, args: &[&str], vars: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_api"));
    command
        .args(args)
        .env("DATABASE_URL", &app.db.url)
        .env("DATA_DIR", app.db.data_dir.path())
        .env_remove("BACKUP_DIR")
        .env_remove("BACKUP_KEEP");
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().await.expect("api runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The path `api backup` printed: `<path> (<size> bytes, <secs> s)`.
fn printed_path(stdout: &str) -> PathBuf {
    let line = stdout.lines().next().unwrap_or_default();
    PathBuf::from(line.rsplit_once(" (").map_or(line, |(path, _)| path))
}

fn backup_dir(app: &TestApp) -> PathBuf {
    app.db.data_dir.path().join("backups")
}

#[tokio::test]
async fn a_backup_taken_during_writes_is_consistent() {
    let app = spawn_app().await;
    if app.db.backend != Backend::Sqlite {
        return;
    }
    let boss = admin(&app, "boss").await;
    let writer = Writer::start(&app);
    writer.wait_for(50).await;

    // Through the mutation.
    let before = writer.acked();
    let (status, body) = app.graphql_as(&boss.token, CREATE_BACKUP, json!({})).await;
    let after = writer.acked().len();
    assert_eq!(status, 200, "{body}");
    let backup = &body["data"]["createBackup"];
    let name = backup["name"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(
        name.starts_with("hearth-") && name.ends_with("Z.db") && name.len() == 26,
        "{name}"
    );
    let path = backup_dir(&app).join(name);
    let size = std::fs::metadata(&path).expect("backup file").len();
    assert_eq!(backup["sizeBytes"].as_u64(), Some(size));
    assert!(backup["createdAt"].as_str().is_some(), "{body}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "backups are readable by their owner only"
        );
    }
    check_snapshot(&path, &before, after).await;

    // Through the CLI, as a separate process, while the writes go on.
    writer.wait_for(after + 50).await;
    let before = writer.acked();
    let out = tempfile::tempdir().expect("dir");
    let file = out.path().join("it's a snapshot.db");
    let file_arg = file.display().to_string();
    let (ok, stdout, stderr) = run_api(&app, &["backup", "--out", &file_arg], &[]).await;
    let after = writer.acked().len();
    assert!(ok, "{stdout}{stderr}");
    assert_eq!(printed_path(&stdout), file, "{stdout}");
    assert!(stdout.contains(&format!(
        "{} bytes",
        std::fs::metadata(&file).expect("file").len()
    )));
    check_snapshot(&file, &before, after).await;

    // The same file is never overwritten.
    let (ok, _, stderr) = run_api(&app, &["backup", "--out", &file_arg], &[]).await;
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let total = writer.stop().await;
    assert!(total > after, "writes kept going");

    // Only finished backups are listed; no temporary file is left.
    let (_, body) = app.graphql_as(&boss.token, LIST_BACKUPS, json!({})).await;
    assert_eq!(body["data"]["backups"][0]["name"], name, "{body}");
    assert_eq!(body["data"]["backups"].as_array().map(Vec::len), Some(1));
    for dir in [backup_dir(&app), out.path().to_path_buf()] {
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let entry = entry.expect("entry").file_name();
            assert!(!entry.to_string_lossy().ends_with(".partial"), "{entry:?}");
        }
    }
}

#[tokio::test]
async fn concurrent_backups_do_not_collide_and_old_ones_are_pruned() {
    let app = spawn_app_with(|config| config.backup.keep = Some(2)).await;
    if app.db.backend != Backend::Sqlite {
        return;
    }
    let boss = admin(&app, "boss").await;
    let (a, b, c) = tokio::join!(
        app.graphql_as(&boss.token, CREATE_BACKUP, json!({})),
        app.graphql_as(&boss.token, CREATE_BACKUP, json!({})),
        app.graphql_as(&boss.token, CREATE_BACKUP, json!({})),
    );
    let mut names: Vec<String> = [a, b, c]
        .iter()
        .map(|(_, body)| {
            body["data"]["createBackup"]["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned()
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "{names:?}");

    // BACKUP_KEEP=2: the newest two remain.
    let (_, body) = app.graphql_as(&boss.token, LIST_BACKUPS, json!({})).await;
    let listed = body["data"]["backups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed.len(), 2, "{body}");
    let files = std::fs::read_dir(backup_dir(&app)).expect("dir").count();
    assert_eq!(files, 2);

    // The CLI applies the same retention to the same directory.
    let (ok, stdout, stderr) = run_api(&app, &["backup"], &[("BACKUP_KEEP", "1")]).await;
    assert!(ok, "{stdout}{stderr}");
    let path = printed_path(&stdout);
    assert_eq!(path.parent(), Some(backup_dir(&app).as_path()), "{stdout}");
    let left: Vec<_> = std::fs::read_dir(backup_dir(&app))
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(left, [path]);
}

#[tokio::test]
async fn only_admins_may_back_up() {
    let app = spawn_app().await;
    let member = TestUser::sign_up(&app, "member").await;
    for document in [CREATE_BACKUP, LIST_BACKUPS] {
        let (_, body) = app.graphql(document, json!({})).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
        let (_, body) = app.graphql_as(&member.token, document, json!({})).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
    }
    // A demoted admin's token still says admin; the database decides.
    let boss = admin(&app, "boss").await;
    user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value("user"))
        .filter(user::Column::Username.eq("boss"))
        .exec(&app.conn)
        .await
        .expect("demoted");
    let (_, body) = app.graphql_as(&boss.token, CREATE_BACKUP, json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(!backup_dir(&app).exists());
}

#[tokio::test]
async fn postgres_answers_with_pg_dump_advice() {
    let app = spawn_app().await;
    // The CLI refuses a PostgreSQL URL before connecting anywhere.
    let (ok, stdout, stderr) = run_api(
        &app,
        &["backup"],
        &[("DATABASE_URL", "postgres://hearth@127.0.0.1:1/hearth")],
    )
    .await;
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("pg_dump") && stderr.contains("PostgreSQL"),
        "{stderr}"
    );
    let (ok, _, stderr) = run_api(
        &app,
        &["restore", "/nonexistent.db"],
        &[("DATABASE_URL", "postgres://hearth@127.0.0.1:1/hearth")],
    )
    .await;
    assert!(!ok && stderr.contains("pg_dump"), "{stderr}");

    if app.db.backend != Backend::Postgres {
        return;
    }
    let boss = admin(&app, "boss").await;
    for (document, field) in [(CREATE_BACKUP, "createBackup"), (LIST_BACKUPS, "backups")] {
        let (status, body) = app.graphql_as(&boss.token, document, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(code(&body), "BAD_REQUEST", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("pg_dump"), "{body}");
        assert!(
            body["data"].is_null() || body["data"][field].is_null(),
            "{body}"
        );
    }
    // The CLI on the real PostgreSQL database.
    let (ok, _, stderr) = run_api(&app, &["backup"], &[]).await;
    assert!(!ok && stderr.contains("pg_dump"), "{stderr}");
}

/// The documented restore: stop the API, `api restore <snapshot>` (which
/// verifies it), start the API; the accounts are back.
#[tokio::test]
async fn a_snapshot_restores_into_a_fresh_data_dir() {
    let app = spawn_app().await;
    if app.db.backend != Backend::Sqlite {
        return;
    }
    TestUser::sign_up(&app, "survivor").await;
    let writer = Writer::start(&app);
    writer.wait_for(20).await;
    let (ok, stdout, stderr) = run_api(&app, &["backup"], &[]).await;
    assert!(ok, "{stdout}{stderr}");
    let snapshot = printed_path(&stdout);
    let written = writer.stop().await;

    // Junk and non-Hearth databases are refused before anything changes.
    let fresh = tempfile::tempdir().expect("dir");
    let restore = |file: &Path| {
        StdCommand::new(env!("CARGO_BIN_EXE_api"))
            .arg("restore")
            .arg(file)
            .env("DATA_DIR", fresh.path())
            .env_remove("DATABASE_URL")
            .output()
            .expect("api runs")
    };
    let junk = fresh.path().join("junk.db");
    std::fs::write(
        &junk,
        b"not a database at all, just some bytes ".repeat(200),
    )
    .expect("write");
    let output = restore(&junk);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("junk.db"),
        "{stderr}"
    );
    let other = fresh.path().join("other.db");
    let conn = migration::database::connect(&format!("sqlite://{}?mode=rwc", other.display()))
        .await
        .expect("other db");
    crate::helpers::exec(&conn, "CREATE TABLE notes (id INTEGER PRIMARY KEY)").await;
    conn.close().await.expect("close");
    let output = restore(&other);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("not a Hearth database"),
        "{stderr}"
    );
    assert!(!fresh.path().join("hearth.db").exists());

    // The real restore, into the default database of a fresh DATA_DIR.
    let output = restore(&snapshot);
    assert!(output.status.success(), "{output:?}");
    let port = free_port();
    let start = || {
        StdCommand::new(env!("CARGO_BIN_EXE_api"))
            .env("DATA_DIR", fresh.path())
            .env_remove("DATABASE_URL")
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("api starts")
    };
    let mut server = start();
    wait_until_ready(port, &mut server).await;
    let base = format!("http://127.0.0.1:{port}");
    let token = sign_in(&base, "survivor").await;
    assert!(token.is_ok(), "{token:?}");

    // While the API has the database open, restore refuses.
    let output = restore(&snapshot);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("in use"),
        "{stderr}"
    );
    server.kill().expect("stop the API");
    let _ = server.wait();

    // Stopped (even by SIGKILL, leaving a -wal file): restore works again,
    // keeping the replaced database aside.
    let output = restore(&snapshot);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("before-restore"), "{stdout}");
    assert!(!fresh.path().join("hearth.db-wal").exists());
    let rows = snapshot_writers(&fresh.path().join("hearth.db")).await;
    assert!(rows.len() >= 20 && rows.len() <= written, "{}", rows.len());
    let mut server = start();
    wait_until_ready(port, &mut server).await;
    let token = sign_in(&base, "survivor").await;
    let _ = server.kill();
    let _ = server.wait();
    assert!(token.is_ok(), "{token:?}");
}

/// `BACKUP_UPLOAD=true` copies each backup into file storage under
/// `backups/`: local disk by default, and a real S3-compatible server
/// (moto) when `TEST_S3_ENDPOINT` is set.
#[tokio::test]
async fn backups_are_copied_to_file_storage_when_asked() {
    let app = spawn_app_with(|config| config.backup.upload = true).await;
    if app.db.backend != Backend::Sqlite {
        return;
    }
    let boss = admin(&app, "boss").await;
    let (_, body) = app
        .graphql_as(
            &boss.token,
            "mutation { createBackup { name objectKey } }",
            json!({}),
        )
        .await;
    let name = body["data"]["createBackup"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(
        body["data"]["createBackup"]["objectKey"],
        format!("backups/{name}")
    );
    let local = std::fs::read(backup_dir(&app).join(name)).expect("local snapshot");
    let copy = std::fs::read(app.db.data_dir.path().join("files/backups").join(name))
        .expect("copy in file storage");
    assert_eq!(copy, local);

    // The CLI does the same, here into a bucket on an S3-compatible server.
    let Some((endpoint, bucket)) = crate::helpers::test_s3_bucket().await else {
        eprintln!("S3 backup copy skipped: TEST_S3_ENDPOINT is not set");
        return;
    };
    let vars = [
        ("BACKUP_UPLOAD", "true"),
        ("S3_BUCKET", bucket.as_str()),
        ("S3_ENDPOINT", endpoint.as_str()),
        ("S3_ACCESS_KEY_ID", "testing"),
        ("S3_SECRET_ACCESS_KEY", "testing"),
    ];
    let (ok, stdout, stderr) = run_api(&app, &["backup"], &vars).await;
    assert!(ok, "{stdout}{stderr}");
    let path = printed_path(&stdout);
    let key = stdout
        .lines()
        .find_map(|line| line.strip_prefix("copied to file storage as "))
        .unwrap_or_else(|| panic!("no copy reported: {stdout}"));
    // moto serves path-style GETs without signatures.
    let object = reqwest::get(format!("{endpoint}/{bucket}/{key}"))
        .await
        .expect("GET object");
    assert!(object.status().is_success(), "{}", object.status());
    let bytes = object.bytes().await.expect("body");
    assert_eq!(
        bytes.as_ref(),
        std::fs::read(&path).expect("snapshot").as_slice()
    );
}
