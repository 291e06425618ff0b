//! Test helpers for applications built on Hearth (feature `testing`):
//! the whole server on a fresh database and a random port, users with
//! tokens, requests, and what the request did, events included.
//!
//! ```no_run
//! use api::{extend::Hearth, testing::TestHearth};
//! use serde_json::json;
//!
//! # async fn example() {
//! let app = TestHearth::spawn(Hearth::new()).await;
//! let ann = app.create_user("ann").await;
//! app.graphql("mutation($b: String!) { createPost(input: { body: $b }) { id } }")
//!     .variables(json!({ "b": "hello" }))
//!     .as_user(&ann)
//!     .expect_status(200)
//!     .expect_events([("post.created", 1)])
//!     .await;
//! # }
//! ```
//!
//! The database is a new SQLite file, or, when `TEST_DATABASE_URL` names a
//! PostgreSQL server (`postgres://postgres@127.0.0.1:5432/postgres`), a
//! new database there, dropped afterwards.

use std::{
    collections::BTreeMap,
    future::{Future, IntoFuture},
    net::SocketAddr,
    pin::Pin,
    time::Duration,
};

use async_graphql::ID;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};
use uuid::Uuid;

use crate::{config::Config, db::Db, extend::Hearth, graphql::id::from_global_id};
use entity::event;

/// The JWT secret test servers sign with.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// Every test user's password.
pub const TEST_PASSWORD: &str = "correct horse battery";

/// A running application on a database of its own.
pub struct TestHearth {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    db: Db,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    // Dropped last: the server must be gone before its database.
    _database: TestDatabase,
}

/// A signed-in test user.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The account's id (the row's, not the GraphQL global id).
    pub id: Uuid,
    pub username: String,
    pub access_token: String,
}

impl TestHearth {
    /// Starts `hearth` on a fresh database, migrated, with a known JWT
    /// secret and rate limits out of the way.
    pub async fn spawn(hearth: Hearth) -> Self {
        Self::spawn_with(hearth, |_| {}).await
    }

    /// [`TestHearth::spawn`], changing the config first.
    pub async fn spawn_with(hearth: Hearth, customize: impl FnOnce(&mut Config)) -> Self {
        let database = TestDatabase::new().await;
        let url = database.url.clone();
        let data_dir = database.data_dir.path().display().to_string();
        let mut config = Config::from_lookup(move |name| match name {
            "DATABASE_URL" => Some(url.clone()),
            "DATA_DIR" => Some(data_dir.clone()),
            "PORT" => Some("0".to_owned()),
            "JWT_SECRET" => Some(TEST_JWT_SECRET.to_owned()),
            "AUTH_RATE_LIMIT_PER_IP" | "AUTH_RATE_LIMIT_PER_ACCOUNT" => Some("100000".to_owned()),
            _ => None,
        })
        .expect("test config is valid");
        customize(&mut config);
        let app = hearth
            .build(config)
            .await
            .unwrap_or_else(|e| panic!("the application does not start: {e:#}"));
        let addr = app.local_addr().expect("bound address");
        let db = app.database();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("HTTP client"),
            db,
            stop: Some(stop),
            server: Some(server),
            _database: database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The application's database, for arranging and checking rows.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Signs up `username` (email `<username>@example.com`, password
    /// [`TEST_PASSWORD`]) and returns them signed in.
    pub async fn create_user(&self, username: &str) -> TestUser {
        let outcome = self
            .graphql(
                "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken user { id } } }",
            )
            .variables(json!({ "input": {
                "email": format!("{username}@example.com"),
                "username": username,
                "password": TEST_PASSWORD,
                "device": { "name": "test", "secret": "test-device-secret-0123456789" },
            }}))
            .await;
        signed_in(&outcome, "signUp", username)
    }

    /// A new instance admin, signed in.
    pub async fn create_admin(&self, username: &str) -> TestUser {
        let email = format!("{username}@example.com");
        crate::auth::service::ensure_admin(&self.db, &email, Some(username), Some(TEST_PASSWORD))
            .await
            .unwrap_or_else(|e| panic!("creating admin {username} failed: {e:?}"));
        let outcome = self
            .graphql("mutation($input: SignInInput!) { signIn(input: $input) { accessToken user { id } } }")
            .variables(json!({ "input": {
                "login": email, "password": TEST_PASSWORD,
                "device": { "name": "test", "secret": "test-device-secret-0123456789" },
            }}))
            .await;
        signed_in(&outcome, "signIn", username)
    }

    /// A GraphQL request (POST /graphql) for `query`.
    pub fn graphql(&self, query: &str) -> Scenario<'_> {
        let mut scenario = self.request(reqwest::Method::POST, "/graphql");
        scenario.graphql = Some((query.to_owned(), json!({})));
        scenario
    }

    pub fn get(&self, path: &str) -> Scenario<'_> {
        self.request(reqwest::Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Scenario<'_> {
        self.request(reqwest::Method::POST, path)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> Scenario<'_> {
        Scenario {
            app: self,
            method,
            path: path.to_owned(),
            body: None,
            graphql: None,
            token: None,
            status: None,
            events: None,
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

    async fn last_position(&self) -> i64 {
        event::Entity::find()
            .select_only()
            .column(event::Column::Position)
            .order_by_desc(event::Column::Position)
            .limit(1)
            .into_tuple::<i64>()
            .one(&self.db)
            .await
            .expect("reading the event log")
            .unwrap_or(0)
    }

    async fn events_after(&self, position: i64) -> Vec<(String, Value)> {
        event::Entity::find()
            .filter(event::Column::Position.gt(position))
            .order_by_asc(event::Column::Position)
            .all(&self.db)
            .await
            .expect("reading the event log")
            .into_iter()
            .map(|row| (row.kind, row.data))
            .collect()
    }
}

/// The user an `AuthPayload` (of the mutation `field`) signed in.
fn signed_in(outcome: &Outcome, field: &str, username: &str) -> TestUser {
    let payload = &outcome.body["data"][field];
    let id = payload["user"]["id"]
        .as_str()
        .and_then(|id| from_global_id(&ID::from(id)));
    match (payload["accessToken"].as_str(), id) {
        (Some(token), Some((_, id))) => TestUser {
            id,
            username: username.to_owned(),
            access_token: token.to_owned(),
        },
        _ => panic!("{field} for {username} failed: {}", outcome.body),
    }
}

impl Drop for TestHearth {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// One request and what it must do; `.await` sends it, checks the
/// expectations (panicking with what differs) and returns the [`Outcome`].
#[must_use = "a scenario does nothing until awaited"]
pub struct Scenario<'a> {
    app: &'a TestHearth,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    graphql: Option<(String, Value)>,
    token: Option<String>,
    status: Option<u16>,
    events: Option<BTreeMap<String, usize>>,
}

impl Scenario<'_> {
    /// Sends `Authorization: Bearer <their token>`.
    pub fn as_user(mut self, user: &TestUser) -> Self {
        self.token = Some(user.access_token.clone());
        self
    }

    /// A JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The GraphQL request's variables.
    pub fn variables(mut self, variables: Value) -> Self {
        if let Some((_, vars)) = &mut self.graphql {
            *vars = variables;
        }
        self
    }

    /// The response status must be `status`.
    pub fn expect_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Exactly these events (kind, how many) must be committed while the
    /// request runs, and no others.
    pub fn expect_events<'k>(mut self, events: impl IntoIterator<Item = (&'k str, usize)>) -> Self {
        self.events = Some(
            events
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (k.to_owned(), n))
                .collect(),
        );
        self
    }

    async fn send(self) -> Outcome {
        let before = self.app.last_position().await;
        let mut request = self
            .app
            .client
            .request(self.method.clone(), self.app.url(&self.path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some((query, variables)) = &self.graphql {
            request = request.json(&json!({ "query": query, "variables": variables }));
        } else if let Some(body) = &self.body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let events = self.app.events_after(before).await;
        let what = format!("{} {}", self.method, self.path);
        if let Some(expected) = self.status {
            assert_eq!(status, expected, "{what}: status {status}, body {body}");
        }
        if let Some(expected) = &self.events {
            let mut fired = BTreeMap::<String, usize>::new();
            for (kind, _) in &events {
                *fired.entry(kind.clone()).or_default() += 1;
            }
            assert_eq!(
                &fired, expected,
                "{what}: events fired (left) differ from those expected (right); body {body}"
            );
        }
        Outcome {
            status,
            body,
            events,
        }
    }
}

impl<'a> IntoFuture for Scenario<'a> {
    type Output = Outcome;
    type IntoFuture = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// What a request got back and what it caused.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: u16,
    /// The body as JSON (a string if it was not JSON).
    pub body: Value,
    /// The events committed while it ran: kind and data, in log order.
    pub events: Vec<(String, Value)>,
}

/// A database of its own, removed when dropped.
struct TestDatabase {
    url: String,
    data_dir: tempfile::TempDir,
    _sqlite_dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server's admin URL and the database to drop.
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    async fn new() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let Some(admin_url) = admin_url else {
            let dir = tempfile::tempdir().expect("temp dir");
            return Self {
                url: format!("sqlite://{}/test.db?mode=rwc", dir.path().display()),
                data_dir,
                _sqlite_dir: Some(dir),
                postgres: None,
            };
        };
        let (url, name) = create_postgres_database(&admin_url).await;
        Self {
            url,
            data_dir,
            _sqlite_dir: None,
            postgres: Some((admin_url, name)),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            drop_postgres_database(admin_url, name);
        }
    }
}

/// Creates a new, empty database on the PostgreSQL server at `admin_url`;
/// its URL and name.
pub async fn create_postgres_database(admin_url: &str) -> (String, String) {
    let name = format!("hearth_test_{}", Uuid::new_v4().simple());
    let admin = Database::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach TEST_DATABASE_URL: {e}"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let _ = admin.close().await;
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    (url.to_string(), name)
}

/// Drops database `name` (from [`create_postgres_database`]), sessions and
/// all. Callable from `Drop`: it runs on a thread and runtime of its own.
pub fn drop_postgres_database(admin_url: String, name: String) {
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if let Ok(admin) = Database::connect(&admin_url).await {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                let _ = admin.close().await;
            }
        });
    })
    .join();
}
