//! Test harness: a fresh database per test and the real router on a random
//! port, the real binary started as a process, and raw SQL for arranging
//! and checking rows. Shared by every area's tests; no test file is used by
//! another, everything they share lives here:
//!
//! - `user`: a `TestUser` signed up over the API and the requests made as
//!   one (`ask`, `refusal`, reading error codes and fields, posts and
//!   communities), and the seeded demo account's token;
//! - `ws`: a WebSocket client speaking the subscription protocols;
//! - `smtp`: a small real SMTP server that hands over what it receives;
//! - `oidc`: a real OpenID provider (and a GitHub stand-in) under Node, for
//!   social sign-in;
//! - `walk`: a walker of the live schema, a document for every root field;
//! - `browser`: a cookie-keeping client for the admin dashboard's pages.

pub mod browser;
pub mod oidc;
pub mod push;
pub mod replicas;
pub mod smtp;
pub mod user;
pub mod walk;
pub mod ws;

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use api::{app::Application, config::Config};
use migration::database::{Backend, backend_of};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};
use uuid::Uuid;

/// A database of its own for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// The server's `DATA_DIR` (outbox, development JWT secret).
    pub data_dir: tempfile::TempDir,
    /// Holds the SQLite file's directory alive.
    _dir: Option<tempfile::TempDir>,
    /// For PostgreSQL: the server's admin URL and the database to drop.
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn new() -> Self {
        let url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let wants_postgres = std::env::var("TEST_DATABASE").is_ok_and(|v| v == "postgres");
        match url {
            Some(admin_url) => Self::postgres(admin_url).await,
            None if wants_postgres => Self::postgres(container_url().await).await,
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
                Self {
                    url,
                    backend: Backend::Sqlite,
                    data_dir: tempfile::tempdir().expect("temp dir"),
                    _dir: Some(dir),
                    postgres: None,
                }
            }
        }
    }

    async fn postgres(admin_url: String) -> Self {
        assert_eq!(
            backend_of(&admin_url).ok(),
            Some(Backend::Postgres),
            "TEST_DATABASE_URL must be a postgres:// URL"
        );
        let (url, name) = api::testing::create_postgres_database(&admin_url).await;
        Self {
            url,
            backend: Backend::Postgres,
            data_dir: tempfile::tempdir().expect("temp dir"),
            _dir: None,
            postgres: Some((admin_url, name)),
        }
    }

    /// A plain connection for arranging and inspecting rows.
    pub async fn connect(&self) -> DatabaseConnection {
        migration::database::connect(&self.url)
            .await
            .expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            api::testing::drop_postgres_database(admin_url, name);
        }
    }
}

/// `TEST_DATABASE=postgres` without a URL: PostgreSQL in Docker through
/// testcontainers, started once per test run.
#[cfg(feature = "testcontainers")]
async fn container_url() -> String {
    use testcontainers_modules::{postgres::Postgres, testcontainers::runners::AsyncRunner};
    use tokio::sync::OnceCell;
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_init(|| async {
        let container = Postgres::default()
            .start()
            .await
            .unwrap_or_else(|e| panic!("TEST_DATABASE=postgres: Docker is not available to start PostgreSQL ({e}). Set TEST_DATABASE_URL=postgres://... to use a running server instead."));
        let port = container.get_host_port_ipv4(5432).await.expect("mapped port");
        // Keep the container for the whole run.
        std::mem::forget(container);
        format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres")
    })
    .await
    .clone()
}

#[cfg(not(feature = "testcontainers"))]
async fn container_url() -> String {
    panic!(
        "TEST_DATABASE=postgres needs Docker through testcontainers: run the tests with \
         `--features api/testcontainers` where a Docker engine runs, or set \
         TEST_DATABASE_URL=postgres://... to use a running PostgreSQL server"
    )
}

/// The JWT secret test servers sign with, so tests can forge tokens.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Config for a test server: its own database and data directory, a random
/// port, a known JWT secret, and rate limits high enough to stay out of the
/// way (the rate-limit tests lower them).
pub fn test_config(db: &TestDb) -> Config {
    let url = db.url.clone();
    let data_dir = db.data_dir.path().display().to_string();
    Config::from_lookup(move |name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "DATA_DIR" => Some(data_dir.clone()),
        "PORT" => Some("0".to_owned()),
        "DATABASE_ACQUIRE_TIMEOUT_SECS" => Some("1".to_owned()),
        "JWT_SECRET" => Some(TEST_JWT_SECRET.to_owned()),
        "AUTH_RATE_LIMIT_PER_IP" | "AUTH_RATE_LIMIT_PER_ACCOUNT" => Some("100000".to_owned()),
        _ => None,
    })
    .expect("test config is valid")
}

/// The real application, serving HTTP on 127.0.0.1 over a fresh database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// A separate connection for arranging and checking rows.
    pub conn: DatabaseConnection,
    pub db: TestDb,
    /// SQL statements the app's own pool has run.
    pub statements: api::db::StatementCounter,
    /// The app's own database handle (its writes go through the app's
    /// writer), for services built beside the running app.
    pub app_db: api::db::Db,
    /// The first admin's one-time setup link (path and query).
    pub admin_setup: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::new().await;
    let mut config = test_config(&db);
    customize(&mut config);
    let app = Application::build(config)
        .await
        .expect("application builds");
    let addr = app.local_addr().expect("bound address");
    let statements = app.statement_counter();
    let app_db = app.database();
    let admin_setup = app.admin_setup_path().map(str::to_owned);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let conn = db.connect().await;
    TestApp {
        addr,
        // Like Apollo Client and urql: the GraphQL-over-HTTP media type, in
        // which request errors are 400.
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .default_headers(reqwest::header::HeaderMap::from_iter([(
                reqwest::header::ACCEPT,
                reqwest::header::HeaderValue::from_static(
                    "application/graphql-response+json, application/json;q=0.9",
                ),
            )]))
            .build()
            .expect("client"),
        conn,
        db,
        statements,
        app_db,
        admin_setup,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs any JSON body to `/graphql` (a request, a batch, junk).
    pub async fn post_graphql(&self, body: &impl serde::Serialize) -> reqwest::Response {
        self.client
            .post(self.url("/graphql"))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs a GraphQL request; returns the status and the JSON body.
    pub async fn graphql(&self, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .post_graphql(&json!({ "query": query, "variables": variables }))
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Runs one named operation of a document as the holder of `token`.
    pub async fn graphql_as_named(
        &self,
        token: &str,
        document: &str,
        operation: &str,
        variables: Value,
    ) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": document, "operationName": operation, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// POSTs a GraphQL request with `Authorization: Bearer <token>`.
    pub async fn graphql_as(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// The statement count once start-up work (the first sweeps) is done:
    /// waits until the count holds still for 200 ms.
    pub async fn quiet_statements(&self) -> u64 {
        let mut last = self.statements.get();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = self.statements.get();
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Runs raw SQL that returns nothing.
pub async fn exec(conn: &DatabaseConnection, sql: &str) {
    conn.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Runs raw SQL and returns each row's columns as strings, for comparisons.
pub async fn query_strings(
    conn: &DatabaseConnection,
    sql: &str,
    columns: &[&str],
) -> Vec<Vec<String>> {
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    row.try_get::<Option<String>>("", c)
                        .unwrap_or_else(|e| panic!("column {c}: {e}"))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

/// The number of rows in a table.
pub async fn count_rows(conn: &DatabaseConnection, table: &str) -> i64 {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count query")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("count")
}

/// Inserts a user directly, for tests that need rows before sign-up exists.
pub async fn insert_user(
    conn: &DatabaseConnection,
    username: &str,
    created_at: chrono::DateTime<chrono::Utc>,
) -> entity::user::Model {
    use sea_orm::{ActiveModelTrait, Set};
    let model = entity::user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(format!("{username}@example.com")),
        username: Set(username.to_owned()),
        display_name: Set(format!("{username} display")),
        bio: Set(String::new()),
        avatar_file_id: Set(None),
        role: Set(entity::enums::UserRole::User),
        password_hash: Set("x".to_owned()),
        email_verified_at: Set(None),
        disabled_at: Set(None),
        created_at: Set(created_at),
        updated_at: Set(created_at),
    };
    model.insert(conn).await.expect("insert user")
}

/// A free local port, for a server started as a separate process.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Waits until the `api` process answers ready on `port`; panics if it
/// exits first or takes over 20 s.
pub async fn wait_until_ready(port: u16, child: &mut Child) {
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

/// Starts the real `api` binary on `db` (and its own `DATA_DIR`) with extra
/// variables, its log going to `stdout`, and waits until it is ready.
pub async fn start_api(db: &TestDb, port: u16, vars: &[(&str, &str)], stdout: Stdio) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
    command
        .env("DATABASE_URL", &db.url)
        .env("DATA_DIR", db.data_dir.path())
        .env("PORT", port.to_string())
        .stdout(stdout)
        .stderr(Stdio::null());
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("api starts");
    wait_until_ready(port, &mut child).await;
    child
}

/// A new bucket on the S3-compatible server at `TEST_S3_ENDPOINT` (moto in
/// CI, from `scripts/moto.sh`), as `(endpoint, bucket)`; `None` when the
/// variable is unset, so the caller can skip and say so.
pub async fn test_s3_bucket() -> Option<(String, String)> {
    let endpoint = std::env::var("TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let bucket = format!("hearth-test-{}", Uuid::new_v4().simple());
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("S3 server reachable");
    assert!(
        created.status().is_success(),
        "create bucket: {}",
        created.status()
    );
    Some((endpoint, bucket))
}

/// A PNG header that sniffers and `imagesize` read as `width` x `height`.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    bytes.extend((0..200u32).map(|i| (i * 7 % 251) as u8));
    bytes
}
