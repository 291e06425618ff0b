//! The real binary's life cycle: start on the embedded default, serve, and
//! stop cleanly on SIGTERM and SIGINT.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::helpers::TestDb;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

async fn wait_until_ready(port: u16, child: &mut Child) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/health/ready"))
            .send()
            .await
            && response.status() == 200
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("api exited early: {status}");
        }
        assert!(Instant::now() < deadline, "api not ready within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

async fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("api did not exit within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn stops_cleanly_on_sigterm_and_sigint() {
    for signal_name in ["TERM", "INT"] {
        let db = TestDb::new().await;
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_api"))
            .env("DATABASE_URL", &db.url)
            .env("PORT", port.to_string())
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("api starts");
        wait_until_ready(port, &mut child).await;
        signal(&child, signal_name);
        let status = wait_for_exit(&mut child, Duration::from_secs(10)).await;
        assert!(status.success(), "SIG{signal_name}: exit {status}");
    }
}

#[tokio::test]
async fn first_start_creates_the_embedded_sqlite_database() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_api"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("DATA_DIR")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("api starts");
    wait_until_ready(port, &mut child).await;
    signal(&child, "TERM");
    assert!(
        wait_for_exit(&mut child, Duration::from_secs(10))
            .await
            .success()
    );

    let file = dir.path().join("data/hearth.db");
    assert!(file.exists(), "the database file is created under ./data/");
    let db = migration::database::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("open it");
    let row = sea_orm::ConnectionTrait::query_one_raw(
        &db,
        sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, "PRAGMA journal_mode"),
    )
    .await
    .expect("pragma")
    .expect("row");
    assert_eq!(
        row.try_get::<String>("", "journal_mode").expect("mode"),
        "wal"
    );
}

#[tokio::test]
async fn stopping_the_application_closes_its_listener() {
    let app = crate::helpers::spawn_app().await;
    let url = app.url("/health/live");
    let response = app.client.get(&url).send().await.expect("served");
    assert_eq!(response.status(), 200);
    app.stop().await;
    let fresh = reqwest::Client::new();
    assert!(
        fresh.get(&url).send().await.is_err(),
        "nothing listens after stop"
    );
}
