//! The real binary's life cycle: start on the embedded default, serve, and
//! stop cleanly on SIGTERM and SIGINT.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::helpers::{TestDb, free_port, start_api, wait_until_ready};

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
        let mut child = start_api(&db, port, &[("LOG_FORMAT", "json")], Stdio::null()).await;
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

/// A POST whose body is only half sent: the request stays in flight until
/// the rest follows.
async fn start_slow_request(port: u16) -> (tokio::net::TcpStream, &'static [u8]) {
    use tokio::io::AsyncWriteExt;
    const BODY: &[u8] = br#"{"query":"{ users(first: 1) { totalCount } }"}"#;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        BODY.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&BODY[..10]).await.expect("first bytes");
    stream.flush().await.expect("flush");
    (stream, &BODY[10..])
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new().await;
    let port = free_port();
    let mut child = start_api(&db, port, &[], Stdio::null()).await;
    // An open subscription: it must be closed cleanly, not cut.
    let signed_up: serde_json::Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&serde_json::json!({
            "query": "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }",
            "variables": {"input": {"email": "ann@example.com", "username": "ann",
                "password": "correct horse battery",
                "device": {"name": "test", "secret": "device-secret-0123456789abcdef"}}},
        }))
        .send()
        .await
        .expect("sign-up")
        .json()
        .await
        .expect("JSON");
    let token = signed_up["data"]["signUp"]["accessToken"]
        .as_str()
        .expect("token");
    let mut socket = crate::helpers::ws::open(([127, 0, 0, 1], port).into()).await;
    socket.init(Some(token)).await;
    let subscription = "subscription { messageReceived { message { id } } }";
    socket
        .subscribe("1", subscription, serde_json::json!({}))
        .await;
    let (mut stream, rest) = start_slow_request(port).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, "TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().expect("wait").is_none(),
        "exited with a request in flight"
    );
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "no new connections once draining"
    );
    stream.write_all(rest).await.expect("rest of the body");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read response");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("totalCount"), "{response}");
    let status = wait_for_exit(&mut child, Duration::from_secs(10)).await;
    assert!(status.success(), "exit {status}");
    let (code, reason) = socket.closed().await;
    assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
}

#[tokio::test]
async fn a_stuck_request_does_not_hold_shutdown_past_the_timeout() {
    let db = TestDb::new().await;
    let port = free_port();
    let mut child = start_api(&db, port, &[("SHUTDOWN_TIMEOUT_SECS", "1")], Stdio::null()).await;
    // Never completed.
    let (_stream, _rest) = start_slow_request(port).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    signal(&child, "TERM");
    let status = wait_for_exit(&mut child, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(status.success(), "exit {status}");
    assert!(
        took >= Duration::from_millis(900),
        "waited for the request: {took:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "bounded by the timeout: {took:?}"
    );
}

#[tokio::test]
async fn the_shutdown_token_is_cancelled_when_stopping_starts() {
    let db = TestDb::new().await;
    let app = api::app::Application::build(crate::helpers::test_config(&db))
        .await
        .expect("builds");
    let token = app.shutdown_token();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!token.is_cancelled());
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(2), token.cancelled())
        .await
        .expect("cancelled on shutdown");
    server.await.expect("joined").expect("served");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let db = TestDb::new().await;
    let port = free_port();
    let vars = [("LOG_FORMAT", "json"), ("RUST_LOG", "info")];
    let child = start_api(&db, port, &vars, Stdio::piped()).await;
    signal(&child, "TERM");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("output");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "INFO"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("listening"))),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["request_id"].is_string() || l["span"]["request_id"].is_string()),
        "request lines carry the request id: {text}"
    );
}
