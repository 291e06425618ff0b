//! Webhooks against a real local HTTP receiver: signatures checked with an
//! independent implementation of the Standard Webhooks spec, retries with
//! backoff, the failed (dead-letter) state and redelivery, the delivery
//! log, refused private addresses, and admin-only access.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use sea_orm::{EntityTrait, Set};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::{
    TestApp, exec,
    replicas::{self, call},
    spawn_app_with,
    user::{TestUser, code, ok, post as create_post},
};

const CREATE: &str = "mutation($input: CreateWebhookInput!) {
    createWebhook(input: $input) { secret webhook { id url events enabled } } }";

const DELIVERIES: &str =
    "query($id: ID!) { webhook(id: $id) { deliveries(first: 10) { edges { node {
    id event status attempts lastStatusCode lastLatencyMs lastError payload
    attemptLog { attempt statusCode latencyMs error } } } } } }";

/// What the receiver saw: each request's headers and body.
#[derive(Default)]
struct Seen {
    requests: Vec<(HeaderMap, Bytes)>,
    /// Answer 500 to this many requests first.
    failures_left: usize,
}

/// A local HTTP receiver on 127.0.0.1.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    async fn start(failures: usize) -> Self {
        let seen = Arc::new(Mutex::new(Seen {
            requests: Vec::new(),
            failures_left: failures,
        }));
        let app = Router::new()
            .route(
                "/hook",
                post(
                    |State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap, body: Bytes| async move {
                        let mut seen = seen.lock().unwrap();
                        seen.requests.push((headers, body));
                        if seen.failures_left > 0 {
                            seen.failures_left -= 1;
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            axum::http::StatusCode::NO_CONTENT
                        }
                    },
                ),
            )
            .with_state(seen.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/hook"),
            seen,
        }
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().requests.len()
    }

    async fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.count() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} requests after 10 s",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every request, checked against `secret` by the reference library.
    fn verified(&self, secret: &str) -> Vec<Value> {
        let verifier = standardwebhooks::Webhook::new(secret).expect("a whsec_ secret");
        self.seen
            .lock()
            .unwrap()
            .requests
            .iter()
            .map(|(headers, body)| {
                verifier
                    .verify(body, headers)
                    .unwrap_or_else(|e| panic!("signature does not verify: {e:?}"));
                assert_eq!(headers["content-type"], "application/json");
                let mut body: Value = serde_json::from_slice(body).unwrap();
                body["webhook-id"] = headers["webhook-id"].to_str().unwrap().into();
                body
            })
            .collect()
    }
}

async fn app_with_webhooks(allow_private: bool) -> TestApp {
    spawn_app_with(|c| {
        c.webhooks.allow_private_addresses = allow_private;
        c.webhooks.retry_schedule = vec![Duration::from_millis(150); 4];
        c.webhooks.timeout = Duration::from_secs(2);
    })
    .await
}

/// An admin's token: signed up, made admin in the database, signed in
/// again (the role is in the token).
async fn admin(app: &TestApp) -> String {
    TestUser::sign_up(app, "root").await;
    exec(
        &app.conn,
        "UPDATE users SET role = 'admin' WHERE username = 'root'",
    )
    .await;
    let (_, body) = app
        .graphql(
            "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
            json!({ "input": {
                "login": "root", "password": "correct horse battery",
                "device": { "name": "test", "secret": "device-secret-0123456789abcdef" },
            }}),
        )
        .await;
    body["data"]["signIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn register(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> Value {
    let (_, body) = app
        .graphql_as(
            admin,
            CREATE,
            json!({"input": {"url": url, "events": events}}),
        )
        .await;
    body
}

/// Deliveries arrive signed (the reference library verifies them), once
/// each, for the kinds asked for only; the body names the event with
/// global ids; a receiver failing three times gets the event once more
/// after backoff, and the log shows every attempt.
#[tokio::test]
async fn deliveries_are_signed_retried_and_logged() {
    let app = app_with_webhooks(true).await;
    let root = admin(&app).await;
    let flaky = Receiver::start(3).await;
    let body = register(
        &app,
        &root,
        &flaky.url,
        &["post.created", "comment.created"],
    )
    .await;
    let created = ok(&body, "createWebhook").clone();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    let hook = created["webhook"]["id"].as_str().unwrap().to_owned();

    let ann = TestUser::sign_up(&app, "ann").await;
    let post = create_post(&app, &ann, "hello hooks", None).await;
    // A kind it did not ask for: no delivery.
    app.graphql_as(
        &ann.token,
        "mutation($p: ID!) { react(postId: $p, kind: LIKE) { id } }",
        json!({"p": post}),
    )
    .await;
    // Three 500s, then a 204.
    flaky.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(flaky.count(), 4, "no attempt after the one that succeeded");
    let received = flaky.verified(&secret);
    for attempt in &received {
        assert_eq!(
            attempt, &received[0],
            "every attempt sends the same message"
        );
    }
    let event = &received[0];
    assert_eq!(event["type"], "post.created");
    assert_eq!(event["data"]["post"], post.as_str());
    assert_eq!(event["data"]["author"], ann.id.as_str());
    assert!(event["data"]["cursor"].is_string(), "{event}");

    let (_, log) = app.graphql_as(&root, DELIVERIES, json!({"id": hook})).await;
    let edges = log["data"]["webhook"]["deliveries"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.len(), 1, "{log}");
    let delivery = &edges[0]["node"];
    assert_eq!(delivery["status"], "DELIVERED", "{delivery}");
    assert_eq!(delivery["attempts"], 4);
    assert_eq!(delivery["lastStatusCode"], 204);
    let codes: Vec<&Value> = delivery["attemptLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["statusCode"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(500), &json!(204)]);
    assert_eq!(
        received[0]["webhook-id"].as_str().unwrap(),
        format!(
            "msg_{}",
            api::graphql::id::from_global_id(&delivery["id"].as_str().unwrap().into())
                .unwrap()
                .1
                .simple()
        )
    );
}

/// A receiver that never succeeds ends in the failed (dead-letter) state
/// after the last retry; a redelivery once it is fixed gets through.
#[tokio::test]
async fn a_dead_endpoint_reaches_the_dead_letter_state_until_redelivered() {
    let app = app_with_webhooks(true).await;
    let root = admin(&app).await;
    // Five attempts (the first and four retries) all fail.
    let dead = Receiver::start(5).await;
    let body = register(&app, &root, &dead.url, &["post.created"]).await;
    let hook = ok(&body, "createWebhook")["webhook"]["id"].clone();
    let ann = TestUser::sign_up(&app, "ann").await;
    create_post(&app, &ann, "into the void", None).await;
    dead.wait_for(5).await;
    let delivery = loop {
        let (_, log) = app.graphql_as(&root, DELIVERIES, json!({"id": hook})).await;
        let node = log["data"]["webhook"]["deliveries"]["edges"][0]["node"].clone();
        if node["status"] == "FAILED" {
            break node;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(delivery["attempts"], 5);
    assert_eq!(delivery["attemptLog"].as_array().unwrap().len(), 5);
    assert!(
        delivery["lastError"].as_str().unwrap().contains("500"),
        "{delivery}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dead.count(), 5, "nothing after the last retry");

    let (_, body) = app
        .graphql_as(
            &root,
            "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { status attempts } }",
            json!({"id": delivery["id"]}),
        )
        .await;
    assert_eq!(
        body["data"]["redeliverWebhook"]["status"], "PENDING",
        "{body}"
    );
    dead.wait_for(6).await;
}

/// Without `WEBHOOK_ALLOW_PRIVATE_ADDRESSES`, a loopback receiver is
/// refused when registered by address, and a name resolving to it
/// (`localhost`) is refused at delivery: the receiver never hears of it.
#[tokio::test]
async fn private_addresses_are_refused() {
    let app = app_with_webhooks(false).await;
    let root = admin(&app).await;
    let receiver = Receiver::start(0).await;
    for url in [
        receiver.url.clone(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[::1]:9/hook".to_owned(),
        "http://10.0.0.1/hook".to_owned(),
    ] {
        let body = register(&app, &root, &url, &["post.created"]).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{url}: {body}");
    }
    // Registered directly, as if the name resolved elsewhere back then.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let at = chrono::Utc::now() - chrono::Duration::minutes(1);
    app.app_db
        .transaction(move |tx| {
            Box::pin(async move {
                entity::webhook_endpoint::Entity::insert(entity::webhook_endpoint::ActiveModel {
                    id: Set(uuid::Uuid::now_v7()),
                    url: Set(by_name),
                    kinds: Set(json!(["post.created"])),
                    secret: Set("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
                    description: Set(String::new()),
                    enabled: Set(true),
                    created_by_id: Set(None),
                    created_at: Set(at),
                    updated_at: Set(at),
                })
                .exec_without_returning(&tx)
                .await
                .expect("endpoint written");
                Ok(())
            })
        })
        .await
        .expect("committed");
    let ann = TestUser::sign_up(&app, "ann").await;
    create_post(&app, &ann, "not for you", None).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        let rows = crate::helpers::query_strings(
            &app.conn,
            "SELECT COALESCE(error, '') AS error FROM webhook_attempts",
            &["error"],
        )
        .await;
        if let Some(row) = rows.first() {
            break row[0].clone();
        }
        assert!(Instant::now() < deadline, "no attempt within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(error.contains("loopback"), "{error}");
    assert_eq!(receiver.count(), 0, "the receiver never heard of it");
}

/// Only admins manage webhooks; bad input names its field.
#[tokio::test]
async fn only_admins_manage_webhooks_and_bad_input_is_named() {
    let app = app_with_webhooks(true).await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let body = register(
        &app,
        &ann.token,
        "https://example.com/hook",
        &["post.created"],
    )
    .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let (_, body) = app
        .graphql_as(&ann.token, "{ webhooks { id } }", json!({}))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");

    let root = admin(&app).await;
    for (url, events, field) in [
        ("ftp://example.com/x", vec!["post.created"], "input.url"),
        ("not a url", vec!["post.created"], "input.url"),
        (
            "https://user:pw@example.com/x",
            vec!["post.created"],
            "input.url",
        ),
        ("https://example.com/x", vec![], "input.events"),
        (
            "https://example.com/x",
            vec!["post.exploded"],
            "input.events",
        ),
    ] {
        let body = register(&app, &root, url, &events).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{url}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    let body = register(&app, &root, "https://example.com/x", &["post.created"]).await;
    let id = ok(&body, "createWebhook")["webhook"]["id"].clone();
    let (_, body) = app
        .graphql_as(
            &root,
            "mutation($id: ID!) { updateWebhook(id: $id, input: {enabled: false}) { enabled } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(body["data"]["updateWebhook"]["enabled"], false, "{body}");
    let (_, body) = app
        .graphql_as(&root, "{ webhooks { id url } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["webhooks"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    let (_, body) = app
        .graphql_as(
            &root,
            "mutation($id: ID!) { deleteWebhook(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(body["data"]["deleteWebhook"], id);
}

/// Two API processes on one PostgreSQL database: comments made through
/// one reach a subscriber connected to the other and a webhook, each once,
/// whichever process fans out and sends.
#[tokio::test]
async fn events_through_one_replica_reach_a_subscriber_on_the_other_and_a_webhook_once() {
    let vars = [
        ("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true"),
        ("WEBHOOK_RETRY_SCHEDULE", "100ms"),
    ];
    let Some(replicas) = replicas::two(&vars).await else {
        return;
    };
    let [a, b] = replicas.addrs;
    let conn = replicas.db.connect().await;
    let device = json!({"name": "test", "secret": "device-secret-0123456789abcdef"});
    call(
        a,
        None,
        "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }",
        json!({"input": {"email": "root@example.com", "username": "root",
            "password": "correct horse battery", "device": device}}),
    )
    .await;
    exec(
        &conn,
        "UPDATE users SET role = 'admin' WHERE username = 'root'",
    )
    .await;
    let root = call(
        a,
        None,
        "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
        json!({"input": {"login": "root", "password": "correct horse battery", "device": device}}),
    )
    .await["signIn"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let receiver = Receiver::start(0).await;
    let created = call(
        a,
        Some(&root),
        CREATE,
        json!({"input": {"url": receiver.url, "events": ["comment.created"]}}),
    )
    .await;
    let secret = created["createWebhook"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut ws = crate::helpers::ws::open(b).await;
    ws.init(Some(&replicas.token)).await;
    ws.subscribe(
        "c",
        "subscription($p: ID!) { commentAdded(postId: $p) { comment { body } } }",
        json!({"p": replicas.post}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 0..20 {
        call(
            a,
            Some(&replicas.token),
            "mutation($p: ID!, $b: String!) { createComment(input: {postId: $p, body: $b}) { id } }",
            json!({"p": replicas.post, "b": format!("comment {n}")}),
        )
        .await;
    }
    let mut bodies = std::collections::HashSet::new();
    while bodies.len() < 20 {
        let event = ws.event("c").await;
        let body = event["data"]["commentAdded"]["comment"]["body"].clone();
        assert!(bodies.insert(body.to_string()), "{body} twice");
    }
    receiver.wait_for(20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.verified(&secret);
    assert_eq!(received.len(), 20, "each comment posted once");
    let comments: std::collections::HashSet<_> = received
        .iter()
        .map(|r| r["data"]["comment"].to_string())
        .collect();
    assert_eq!(comments.len(), 20);
}
