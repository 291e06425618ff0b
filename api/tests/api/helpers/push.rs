//! Local stand-ins for FCM and APNs, served by the test over real HTTP: the
//! OAuth token endpoint a service account exchanges its signed token at,
//! FCM's `messages:send`, and APNs' `/3/device/{token}` over HTTP/2 (h2c).
//! Each checks what the real one checks (the signed tokens against the
//! test keys' public halves, the headers) and records the pushes it
//! accepts. Tokens starting `dead-` are answered as unregistered, and the
//! providers can be made to fail for a while.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use api::push::settings::PushConfig;
use axum::{
    Form, Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, Version},
    response::{IntoResponse, Response},
    routing::post,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

pub const PROJECT: &str = "hearth-test";
pub const CLIENT_EMAIL: &str = "push@hearth-test.iam.gserviceaccount.com";
pub const TEAM_ID: &str = "TEAM123456";
pub const KEY_ID: &str = "APNSKEY001";
pub const TOPIC: &str = "app.hearth.test";

fn fixture(name: &str) -> String {
    format!("{}/tests/api/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// One push a stand-in accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub provider: &'static str,
    pub token: String,
    pub title: String,
    pub body: String,
    pub collapse_id: String,
    /// The data handed to the app.
    pub data: Value,
    /// The whole request body.
    pub request: Value,
    pub headers: HeaderMap,
    pub at: Instant,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Requests refused for their credentials or shape: must stay empty.
    refused: Mutex<Vec<String>>,
    /// Sends answered 503 before any more are accepted.
    failures_left: AtomicU32,
    /// Every send answered 503 while set.
    down: AtomicBool,
    /// Sends answered, accepted or not.
    attempts: AtomicU32,
    exchanges: AtomicU32,
    issued: Mutex<Vec<String>>,
}

struct Keys {
    fcm: DecodingKey,
    apns: DecodingKey,
    token_uri: String,
}

pub struct FakeProviders {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    _dir: tempfile::TempDir,
    credentials: String,
}

impl FakeProviders {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let read = |name: &str| std::fs::read(fixture(name)).expect("fixture key");
        let keys = Arc::new(Keys {
            fcm: DecodingKey::from_rsa_pem(&read("fcm-test-key.pub.pem")).expect("rsa key"),
            apns: DecodingKey::from_ec_pem(&read("apple-test-key.pub.pem")).expect("ec key"),
            token_uri: format!("http://{addr}/token"),
        });
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/token", post(exchange))
            .route("/v1/projects/{project}/messages:send", post(fcm_send))
            .route("/3/device/{token}", post(apns_send))
            .with_state((shared.clone(), keys.clone()));
        tokio::spawn(async move { axum::serve(listener, router).await });
        // A service-account key file as Firebase's console hands it out.
        let dir = tempfile::tempdir().expect("dir");
        let credentials = dir.path().join("service-account.json");
        let account = json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "fcm-key-1",
            "private_key": String::from_utf8(read("fcm-test-key.pem")).expect("pem"),
            "client_email": CLIENT_EMAIL,
            "token_uri": keys.token_uri,
        });
        std::fs::write(&credentials, account.to_string()).expect("write credentials");
        Self {
            addr,
            shared,
            _dir: dir,
            credentials: credentials.display().to_string(),
        }
    }

    /// Push settings pointing at these stand-ins, read as the server reads
    /// its environment, retrying after each pause of `schedule`.
    pub fn config(&self, schedule: &str) -> PushConfig {
        let base = format!("http://{}", self.addr);
        let vars: HashMap<&str, String> = HashMap::from([
            ("PUSH_FCM_CREDENTIALS_FILE", self.credentials.clone()),
            ("PUSH_FCM_ENDPOINT", base.clone()),
            ("PUSH_APNS_KEY_FILE", fixture("apple-test-key.p8")),
            ("PUSH_APNS_KEY_ID", KEY_ID.to_owned()),
            ("PUSH_APNS_TEAM_ID", TEAM_ID.to_owned()),
            ("PUSH_APNS_TOPIC", TOPIC.to_owned()),
            ("PUSH_APNS_ENDPOINT", base),
            ("PUSH_TIMEOUT_SECS", "5".to_owned()),
            ("PUSH_RETRY_SCHEDULE", schedule.to_owned()),
        ]);
        let lookup = |name: &str| vars.get(name).cloned();
        PushConfig::from_env(&migration::settings::Env::new(&lookup)).expect("push settings")
    }

    /// The pushes accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Send requests answered so far, accepted or not.
    pub fn attempts(&self) -> u32 {
        self.shared.attempts.load(Ordering::SeqCst)
    }

    /// How many times the service account's token was exchanged.
    pub fn exchanges(&self) -> u32 {
        self.shared.exchanges.load(Ordering::SeqCst)
    }

    /// Requests refused for bad credentials or shape.
    pub fn refused(&self) -> Vec<String> {
        self.shared.refused.lock().unwrap().clone()
    }

    /// Answers the next `n` sends with 503.
    pub fn fail_next(&self, n: u32) {
        self.shared.failures_left.store(n, Ordering::SeqCst);
    }

    /// Answers every send with 503 until set back.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Waits until no send has come for half a second: a send already on
    /// its way when its push was cancelled has arrived (and been answered).
    pub async fn quiet(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = self.attempts();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = self.attempts();
            if now == seen {
                return;
            }
            assert!(Instant::now() < deadline, "sends never stopped");
            seen = now;
        }
    }

    /// Waits until `n` pushes were accepted in all; those pushes.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{} pushes, not {n}, within 15 s (refused: {:?}): {received:#?}",
                received.len(),
                self.refused()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

type Ctx = State<(Arc<Shared>, Arc<Keys>)>;

fn refuse(shared: &Shared, status: StatusCode, why: String) -> Response {
    let answer = (status, Json(json!({ "error": { "message": why } }))).into_response();
    shared.refused.lock().unwrap().push(why);
    answer
}

/// A stand-in's answer to a send it does not accept as is: down, or a dead
/// token. `None` when the send goes through.
fn trouble(shared: &Shared, token: &str, dead: (StatusCode, Value)) -> Option<Response> {
    shared.attempts.fetch_add(1, Ordering::SeqCst);
    let failing = shared
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing || shared.down.load(Ordering::SeqCst) {
        let unavailable =
            json!({ "reason": "ServiceUnavailable", "error": { "status": "UNAVAILABLE" } });
        return Some((StatusCode::SERVICE_UNAVAILABLE, Json(unavailable)).into_response());
    }
    token
        .starts_with("dead-")
        .then(|| (dead.0, Json(dead.1)).into_response())
}

/// Google's token endpoint: the JWT bearer grant.
async fn exchange(
    State((shared, keys)): Ctx,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            format!("grant_type: {form:?}"),
        );
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&keys.token_uri]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let assertion = form.get("assertion").cloned().unwrap_or_default();
    let claims = match jsonwebtoken::decode::<Value>(&assertion, &keys.fcm, &validation) {
        Ok(data) if data.header.kid.as_deref() == Some("fcm-key-1") => data.claims,
        Ok(data) => {
            return refuse(
                &shared,
                StatusCode::BAD_REQUEST,
                format!("kid {:?}", data.header.kid),
            );
        }
        Err(e) => return refuse(&shared, StatusCode::BAD_REQUEST, format!("assertion: {e}")),
    };
    if claims["scope"] != "https://www.googleapis.com/auth/firebase.messaging" {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            format!("scope {}", claims["scope"]),
        );
    }
    let n = shared.exchanges.fetch_add(1, Ordering::SeqCst);
    let token = format!("ya29.fake-access-{n}");
    shared.issued.lock().unwrap().push(token.clone());
    Json(json!({ "access_token": token, "expires_in": 3599, "token_type": "Bearer" }))
        .into_response()
}

async fn fcm_send(
    State((shared, _)): Ctx,
    Path(project): Path<String>,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    if !shared.issued.lock().unwrap().contains(&bearer) {
        return refuse(
            &shared,
            StatusCode::UNAUTHORIZED,
            format!("FCM bearer {bearer:?}"),
        );
    }
    if project != PROJECT {
        return refuse(&shared, StatusCode::NOT_FOUND, format!("project {project}"));
    }
    let message = &request["message"];
    let token = message["token"].as_str().unwrap_or_default().to_owned();
    let unregistered = json!({ "error": { "code": 404, "status": "NOT_FOUND", "details": [
        { "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED" }
    ]}});
    if let Some(answer) = trouble(&shared, &token, (StatusCode::NOT_FOUND, unregistered)) {
        return answer;
    }
    shared.received.lock().unwrap().push(Received {
        provider: "fcm",
        token,
        title: message["notification"]["title"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body: message["notification"]["body"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        collapse_id: message["android"]["notification"]["tag"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        data: message["data"].clone(),
        request: request.clone(),
        headers,
        at: Instant::now(),
    });
    Json(json!({ "name": format!("projects/{PROJECT}/messages/1") })).into_response()
}

async fn apns_send(
    State((shared, keys)): Ctx,
    Path(token): Path<String>,
    version: Version,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    if version != Version::HTTP_2 {
        return refuse(
            &shared,
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            format!("APNs over {version:?}"),
        );
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let bearer = header("authorization");
    let jwt = bearer.strip_prefix("bearer ").unwrap_or_default();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[TEAM_ID]);
    validation.set_required_spec_claims(&["iat", "iss"]);
    validation.validate_exp = false;
    match jsonwebtoken::decode::<Value>(jwt, &keys.apns, &validation) {
        Ok(data) if data.header.kid.as_deref() == Some(KEY_ID) => {}
        Ok(data) => {
            return refuse(
                &shared,
                StatusCode::FORBIDDEN,
                format!("kid {:?}", data.header.kid),
            );
        }
        Err(e) => return refuse(&shared, StatusCode::FORBIDDEN, format!("APNs token: {e}")),
    }
    if header("apns-topic") != TOPIC || header("apns-push-type") != "alert" {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            format!("headers {headers:?}"),
        );
    }
    if let Some(answer) = trouble(
        &shared,
        &token,
        (StatusCode::GONE, json!({ "reason": "Unregistered" })),
    ) {
        return answer;
    }
    let alert = &request["aps"]["alert"];
    let mut data = request.clone();
    data.as_object_mut().map(|o| o.remove("aps"));
    shared.received.lock().unwrap().push(Received {
        provider: "apns",
        token,
        title: alert["title"].as_str().unwrap_or_default().to_owned(),
        body: alert["body"].as_str().unwrap_or_default().to_owned(),
        collapse_id: header("apns-collapse-id"),
        data,
        request: request.clone(),
        headers,
        at: Instant::now(),
    });
    StatusCode::OK.into_response()
}
