//! Liveness and readiness, and the healthcheck probe against a live server.

use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait, database::Backend};
use serde_json::Value;

use crate::helpers::{exec, spawn_app};

async fn ready(app: &crate::helpers::TestApp) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The healthcheck's probe is blocking; keep it off the runtime serving the app.
async fn probe(app: &crate::helpers::TestApp) -> Result<u16, String> {
    let url = app.url("/health/ready");
    tokio::task::spawn_blocking(move || {
        healthcheck::probe(&url, Duration::from_secs(3)).map_err(|e| e.to_string())
    })
    .await
    .expect("probe thread")
}

#[tokio::test]
async fn live_and_ready_on_a_migrated_database() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");

    let (status, body) = ready(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["pendingMigrations"], 0);
}

#[tokio::test]
async fn ready_and_healthcheck_fail_while_migrations_are_pending() {
    let app = spawn_app().await;
    assert_eq!(probe(&app).await, Ok(200));

    Migrator::down(&app.conn, Some(1))
        .await
        .expect("roll back one");
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["pendingMigrations"], 1);
    assert_eq!(
        probe(&app).await,
        Ok(503),
        "the probe sees 503 (and the binary exits 1)"
    );

    Migrator::up(&app.conn, None).await.expect("migrate");
    assert_eq!(ready(&app).await.0, 200);
}

#[tokio::test]
async fn ready_fails_fast_while_the_database_is_unreachable_and_recovers() {
    let app = spawn_app().await;
    if app.db.backend != Backend::Postgres {
        eprintln!("skipped: cutting off the database is done on PostgreSQL");
        return;
    }
    let name = app.db.url.rsplit('/').next().expect("db name").to_owned();
    let admin =
        migration::database::connect(&std::env::var("TEST_DATABASE_URL").expect("admin url"))
            .await
            .expect("admin connection");
    exec(
        &admin,
        &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"),
    )
    .await;
    exec(
        &admin,
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"),
    )
    .await;

    let started = Instant::now();
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "unreachable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered in {:?}",
        started.elapsed()
    );
    let text = body.to_string();
    assert!(
        !text.contains("pg_") && !text.contains("postgres"),
        "no internals: {text}"
    );

    exec(
        &admin,
        &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if ready(&app).await.0 == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ready did not recover within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn healthcheck_fails_on_a_closed_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let started = Instant::now();
    assert!(
        healthcheck::probe(
            &format!("http://{addr}/health/ready"),
            Duration::from_secs(3)
        )
        .is_err()
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}
