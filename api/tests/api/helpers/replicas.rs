//! Two API processes on one PostgreSQL database, as replicas behind a load
//! balancer run: for what must hold across processes (events, revoked
//! sessions, webhooks, rate limits).

use std::{
    net::SocketAddr,
    process::{Child, Stdio},
};

use migration::database::Backend;
use serde_json::{Value, json};

use super::{TEST_JWT_SECRET, TestDb, free_port, start_api};

/// Two running API processes, an account signed up through the first (its
/// token) and a post of theirs. The processes are killed when dropped.
pub struct Replicas {
    pub db: TestDb,
    pub addrs: [SocketAddr; 2],
    pub token: String,
    pub post: String,
    children: Vec<Child>,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts two replicas with `vars` added to their environment; `None` on
/// SQLite (one process per database).
pub async fn two(vars: &[(&str, &str)]) -> Option<Replicas> {
    let db = TestDb::new().await;
    if db.backend != Backend::Postgres {
        eprintln!("skipped: needs TEST_DATABASE_URL (PostgreSQL)");
        return None;
    }
    let mut env = vec![("JWT_SECRET", TEST_JWT_SECRET), ("RUST_LOG", "warn")];
    env.extend_from_slice(vars);
    let (port_a, port_b) = (free_port(), free_port());
    let a = start_api(&db, port_a, &env, Stdio::null()).await;
    let b = start_api(&db, port_b, &env, Stdio::null()).await;
    let addrs: [SocketAddr; 2] = [
        format!("127.0.0.1:{port_a}").parse().unwrap(),
        format!("127.0.0.1:{port_b}").parse().unwrap(),
    ];
    let signed_up = call(
        addrs[0],
        None,
        "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }",
        json!({"input": {"email": "ann@example.com", "username": "ann",
            "password": "correct horse battery",
            "device": {"name": "test", "secret": "device-secret-0123456789abcdef"}}}),
    )
    .await;
    let token = signed_up["signUp"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = call(
        addrs[0],
        Some(&token),
        "mutation { createPost(input: {body: \"over there\"}) { id } }",
        json!({}),
    )
    .await["createPost"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Some(Replicas {
        db,
        addrs,
        token,
        post,
        children: vec![a, b],
    })
}

/// A GraphQL call to a replica; fails the test on errors.
pub async fn call(addr: SocketAddr, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await.unwrap().json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}
