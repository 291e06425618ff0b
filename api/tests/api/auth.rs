//! Accounts and sessions over real HTTP: sign-up, sign-in, rotating
//! refresh tokens bound to a device secret, revocation, email flows through
//! a real SMTP exchange, rate limits, and the attacks on each: forged
//! tokens, replayed refresh tokens, guessed passwords.

use std::{
    process::{Child, Stdio},
    time::Duration,
};

use api::{auth::tokens::LEEWAY_SECS, config::Config};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use migration::database::Backend;
use serde_json::{Value, json};

use crate::helpers::{
    TEST_JWT_SECRET, TestApp, TestDb, count_rows, free_port, query_strings,
    smtp::{SmtpServer, token_in},
    spawn_app, spawn_app_with, start_api,
    user::{code, field},
};

const PASSWORD: &str = "correct horse battery";
const SECRET_A: &str = "device-a-secret-0123456789abcdef";
const SECRET_B: &str = "device-b-secret-0123456789abcdef";

const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) {
    accessToken accessTokenExpiresAt refreshToken
    user { id email emailVerified role profile { username displayName } } } }";
const SIGN_IN: &str = "mutation($input: SignInInput!) { signIn(input: $input) {
    accessToken accessTokenExpiresAt refreshToken user { email } } }";
const REFRESH: &str = "mutation($token: String!, $secret: String!) {
    refreshSession(refreshToken: $token, deviceSecret: $secret) {
    accessToken refreshToken accessTokenExpiresAt user { email } } }";
const ME: &str = "{ me { id email role emailVerified } }";

/// The tokens a device holds.
#[derive(Debug, Clone)]
struct Session {
    access: String,
    refresh: String,
}

fn sign_up_input(name: &str, device_secret: &str) -> Value {
    json!({ "input": {
        "email": format!("{name}@example.com"),
        "username": name,
        "password": PASSWORD,
        "device": { "name": "Pixel 9", "secret": device_secret },
    }})
}

fn session_of(body: &Value, field: &str) -> Session {
    let payload = &body["data"][field];
    assert!(payload.is_object(), "{field} failed: {body}");
    Session {
        access: payload["accessToken"].as_str().expect("access").to_owned(),
        refresh: payload["refreshToken"]
            .as_str()
            .expect("refresh")
            .to_owned(),
    }
}

async fn sign_up(app: &TestApp, name: &str) -> Session {
    let (_, body) = app.graphql(SIGN_UP, sign_up_input(name, SECRET_A)).await;
    session_of(&body, "signUp")
}

async fn sign_in_with(app: &TestApp, login: &str, password: &str, secret: &str) -> Value {
    let vars = json!({ "input": {
        "login": login, "password": password,
        "device": { "name": "iPad", "secret": secret },
    }});
    app.graphql(SIGN_IN, vars).await.1
}

async fn sign_in(app: &TestApp, login: &str, secret: &str) -> Session {
    session_of(&sign_in_with(app, login, PASSWORD, secret).await, "signIn")
}

async fn refresh(app: &TestApp, token: &str, secret: &str) -> Value {
    app.graphql(REFRESH, json!({ "token": token, "secret": secret }))
        .await
        .1
}

fn no_internals(body: &Value) {
    let text = body.to_string();
    for leak in ["INTERNAL", "sqlx", "SQL", "panicked", ".rs:", "argon2"] {
        assert!(!text.contains(leak), "leaks {leak}: {text}");
    }
}

#[tokio::test]
async fn sign_up_then_sign_in_and_list_device_sessions() {
    let app = spawn_app().await;
    let (status, body) = app.graphql(SIGN_UP, sign_up_input("ann", SECRET_A)).await;
    assert_eq!(status, 200, "{body}");
    let user = &body["data"]["signUp"]["user"];
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["role"], "USER");
    assert_eq!(user["emailVerified"], false);
    assert_eq!(user["profile"]["displayName"], "ann");
    let phone = session_of(&body, "signUp");
    assert_eq!(phone.refresh.len(), 43, "256-bit base64url refresh token");

    // Sign in by username, any case, from a second device.
    let tablet = sign_in(&app, "ANN", SECRET_B).await;
    let (_, me) = app.graphql_as(&tablet.access, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["email"], "ann@example.com", "{me}");

    let (_, body) = app
        .graphql_as(
            &tablet.access,
            "{ mySessions { id deviceName current createdAt lastUsedAt expiresAt } }",
            json!({}),
        )
        .await;
    let sessions = body["data"]["mySessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{body}");
    assert_eq!(sessions[0]["deviceName"], "iPad");
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[1]["deviceName"], "Pixel 9");
    assert_eq!(sessions[1]["current"], false);

    // Anonymous callers are told to sign in.
    let (_, body) = app.graphql(ME, json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
}

/// Passwords as argon2id with OWASP parameters; no secret in any table.
#[tokio::test]
async fn only_hashes_are_stored() {
    let app = spawn_app().await;
    let session = sign_up(&app, "ann").await;
    let dump = [
        ("users", &["email", "password_hash"][..]),
        ("sessions", &["device_name", "device_secret_hash"][..]),
        ("refresh_tokens", &["token_hash"][..]),
        ("one_time_tokens", &["token_hash"][..]),
    ];
    let mut everything = String::new();
    for (table, columns) in dump {
        let rows = query_strings(
            &app.conn,
            &format!("SELECT {} FROM {table}", columns.join(", ")),
            columns,
        )
        .await;
        assert!(!rows.is_empty(), "{table} has rows");
        everything.push_str(&format!("{rows:?}"));
    }
    let hash = &query_strings(
        &app.conn,
        "SELECT password_hash FROM users",
        &["password_hash"],
    )
    .await[0][0];
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    for secret in [PASSWORD, SECRET_A, &session.refresh, &session.access] {
        assert!(!everything.contains(secret), "{secret} is stored in clear");
    }
}

/// Every forged, expired or misdirected token is refused.
#[tokio::test]
async fn forged_and_expired_access_tokens_are_refused() {
    let app = spawn_app().await;
    let session = sign_up(&app, "ann").await;
    let (_, me) = app.graphql_as(&session.access, ME, json!({})).await;
    assert_eq!(
        me["data"]["me"]["role"], "USER",
        "the real token works: {me}"
    );

    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(session.access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let sign = |alg: Algorithm, claims: &Value, key: &[u8]| {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
    };
    let with = |changes: Value| {
        let mut claims = payload.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        sign(Algorithm::HS256, &claims, TEST_JWT_SECRET.as_bytes())
    };
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let tampered = {
        let parts: Vec<&str> = session.access.split('.').collect();
        let mut claims = payload.clone();
        claims["role"] = json!("admin");
        format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        )
    };
    let expired = (LEEWAY_SECS + 1) as i64;
    let cases = [
        ("alg none", unsigned),
        (
            "HS512 with the right secret",
            sign(Algorithm::HS512, &payload, TEST_JWT_SECRET.as_bytes()),
        ),
        (
            "wrong key",
            sign(
                Algorithm::HS256,
                &payload,
                b"another-secret-another-secret-0123",
            ),
        ),
        ("tampered payload", tampered),
        ("expired", with(json!({ "exp": now - expired }))),
        ("missing exp", with(json!({ "exp": null }))),
        ("not yet valid", with(json!({ "nbf": now + 120 }))),
        ("wrong iss", with(json!({ "iss": "someone-else" }))),
        ("missing iss", with(json!({ "iss": null }))),
        ("wrong aud", with(json!({ "aud": "another-app" }))),
        ("missing aud", with(json!({ "aud": null }))),
        ("missing sid", with(json!({ "sid": null }))),
        ("refresh token as access token", session.refresh.clone()),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (name, token) in cases {
        let (status, body) = app.graphql_as(&token, ME, json!({})).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(code(&body), "UNAUTHENTICATED", "{name}: {body}");
        assert!(body["data"].is_null(), "{name}: {body}");
    }
    // A stale token does not block public operations such as sign-in.
    let body = sign_in_with(&app, "ann", PASSWORD, SECRET_B).await;
    assert!(body["errors"].is_null(), "{body}");
}

/// An unknown account and a wrong password look the same.
#[tokio::test]
async fn unknown_account_and_wrong_password_give_identical_answers() {
    let app = spawn_app().await;
    sign_up(&app, "ann").await;
    let wrong = sign_in_with(&app, "ann@example.com", "wrong password 1", SECRET_B).await;
    let unknown = sign_in_with(&app, "nobody@example.com", "wrong password 1", SECRET_B).await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED", "{wrong}");
    assert_eq!(wrong, unknown);

    // Password reset answers the same for every address.
    let q = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let (s1, known) = app.graphql(q, json!({ "e": "ann@example.com" })).await;
    let (s2, unknown) = app.graphql(q, json!({ "e": "nobody@example.com" })).await;
    assert_eq!((s1, &known), (s2, &unknown));
    assert_eq!(known["data"]["requestPasswordReset"], true);
}

/// A rotated token replayed after the grace window ends the session,
/// the newest token included; other devices keep working.
#[tokio::test]
async fn refresh_rotates_and_replay_revokes_the_device_session() {
    let app = spawn_app_with(|c| c.auth.refresh_reuse_grace = Duration::ZERO).await;
    let phone = sign_up(&app, "ann").await;
    let tablet = sign_in(&app, "ann", SECRET_B).await;

    let body = refresh(&app, &phone.refresh, SECRET_A).await;
    let rotated = session_of(&body, "refreshSession");
    assert_ne!(rotated.refresh, phone.refresh);
    let (_, me) = app.graphql_as(&rotated.access, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["email"], "ann@example.com");

    tokio::time::sleep(Duration::from_millis(20)).await;
    let replay = refresh(&app, &phone.refresh, SECRET_A).await;
    assert_eq!(code(&replay), "UNAUTHENTICATED", "{replay}");
    let newest = refresh(&app, &rotated.refresh, SECRET_A).await;
    assert_eq!(
        code(&newest),
        "UNAUTHENTICATED",
        "the family is revoked: {newest}"
    );

    let other = refresh(&app, &tablet.refresh, SECRET_B).await;
    assert!(
        other["errors"].is_null(),
        "other device unaffected: {other}"
    );
}

/// Within the grace window a replay is refused but ends nothing.
#[tokio::test]
async fn a_replay_within_the_grace_window_keeps_the_session() {
    let app = spawn_app().await;
    let phone = sign_up(&app, "ann").await;
    let next = session_of(
        &refresh(&app, &phone.refresh, SECRET_A).await,
        "refreshSession",
    );
    let replay = refresh(&app, &phone.refresh, SECRET_A).await;
    assert_eq!(code(&replay), "UNAUTHENTICATED", "{replay}");
    let body = refresh(&app, &next.refresh, SECRET_A).await;
    assert!(body["errors"].is_null(), "newest still works: {body}");
}

/// Two refreshes racing, 50 times: exactly one wins each time and the
/// session is never revoked by the race.
#[tokio::test]
async fn parallel_refreshes_leave_one_live_child() {
    let app = spawn_app().await;
    let mut token = sign_up(&app, "ann").await.refresh;
    for round in 0..50 {
        let (a, b) = tokio::join!(
            refresh(&app, &token, SECRET_A),
            refresh(&app, &token, SECRET_A)
        );
        let winners: Vec<&Value> = [&a, &b]
            .into_iter()
            .filter(|body| body["errors"].is_null())
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {a} / {b}");
        let loser = if a["errors"].is_null() { &b } else { &a };
        assert_eq!(code(loser), "UNAUTHENTICATED", "round {round}: {loser}");
        no_internals(loser);
        token = session_of(winners[0], "refreshSession").refresh;
    }
    let live = count_rows(&app.conn, "refresh_tokens WHERE rotated_at IS NULL").await;
    assert_eq!(live, 1, "one live token in the family");
    assert_eq!(
        count_rows(&app.conn, "sessions WHERE revoked_at IS NULL").await,
        1
    );
}

/// The device secret is required; a wrong one ends nothing.
#[tokio::test]
async fn refresh_needs_the_device_secret() {
    let app = spawn_app().await;
    let phone = sign_up(&app, "ann").await;
    for secret in [SECRET_B, "", "device-a-secret-0123456789abcdeF"] {
        let body = refresh(&app, &phone.refresh, secret).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{secret:?}: {body}");
    }
    let body = refresh(&app, &phone.refresh, SECRET_A).await;
    assert!(body["errors"].is_null(), "{body}");
}

/// A password change ends every other session; the absolute lifetime
/// ends even a busy session.
#[tokio::test]
async fn password_change_ends_other_sessions() {
    let app = spawn_app().await;
    let phone = sign_up(&app, "ann").await;
    let tablet = sign_in(&app, "ann", SECRET_B).await;
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

    let (_, body) = app
        .graphql_as(
            &phone.access,
            change,
            json!({ "c": "not it at all", "n": "a new passphrase" }),
        )
        .await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "currentPassword")
    );

    let (_, body) = app
        .graphql_as(
            &phone.access,
            change,
            json!({ "c": PASSWORD, "n": "a new passphrase" }),
        )
        .await;
    assert_eq!(body["data"]["changePassword"], true, "{body}");
    let body = refresh(&app, &tablet.refresh, SECRET_B).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "other device ended: {body}");
    let body = refresh(&app, &phone.refresh, SECRET_A).await;
    assert!(body["errors"].is_null(), "this device continues: {body}");

    let old = sign_in_with(&app, "ann", PASSWORD, SECRET_B).await;
    assert_eq!(code(&old), "UNAUTHENTICATED");
    let new = sign_in_with(&app, "ann", "a new passphrase", SECRET_B).await;
    assert!(new["errors"].is_null(), "{new}");
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime() {
    let app = spawn_app_with(|c| c.auth.session_max_age = Duration::from_secs(3)).await;
    let phone = sign_up(&app, "ann").await;
    // The session began before sign-up answered, so it has surely ended
    // 3.1 s after this, however long the sign-up took on a busy machine.
    let started = std::time::Instant::now();
    let next = session_of(
        &refresh(&app, &phone.refresh, SECRET_A).await,
        "refreshSession",
    );
    tokio::time::sleep(Duration::from_millis(3100).saturating_sub(started.elapsed())).await;
    let body = refresh(&app, &next.refresh, SECRET_A).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn idle_sessions_end() {
    let app = spawn_app_with(|c| c.auth.refresh_idle_ttl = Duration::from_secs(1)).await;
    let phone = sign_up(&app, "ann").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let body = refresh(&app, &phone.refresh, SECRET_A).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
}

/// The sweep deletes ended sessions and spent tokens, and nothing live.
#[tokio::test]
async fn the_sweep_removes_only_dead_rows() {
    let app = spawn_app().await;
    let phone = sign_up(&app, "ann").await;
    let (_, body) = app
        .graphql_as(&phone.access, "mutation { signOut }", json!({}))
        .await;
    assert_eq!(body["data"]["signOut"], true);
    let tablet = sign_in(&app, "ann", SECRET_B).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The tablet stays in use; the phone's session ended over 2 s ago.
    let live = session_of(
        &refresh(&app, &tablet.refresh, SECRET_B).await,
        "refreshSession",
    );
    let mut config = crate::helpers::test_config(&app.db);
    config.auth.refresh_idle_ttl = Duration::from_secs(2);
    let auth = api::auth::Auth::new(app.app_db.clone(), &config).expect("auth");
    assert!(auth.sweep().await.expect("sweep") >= 1);
    assert_eq!(
        count_rows(&app.conn, "sessions").await,
        1,
        "the signed-out phone is gone"
    );
    let body = refresh(&app, &live.refresh, SECRET_B).await;
    assert!(
        body["errors"].is_null(),
        "the live session survives: {body}"
    );
}

/// A revoked session's access token still parses, but sensitive operations
/// check the session and refuse it at once.
#[tokio::test]
async fn a_revoked_sessions_token_fails_at_sensitive_mutations() {
    let app = spawn_app().await;
    let phone = sign_up(&app, "ann").await;
    let tablet = sign_in(&app, "ann", SECRET_B).await;

    // The tablet revokes the phone by id.
    let (_, body) = app
        .graphql_as(&tablet.access, "{ mySessions { id current } }", json!({}))
        .await;
    let phone_id = body["data"]["mySessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .expect("the phone's session")["id"]
        .clone();
    let (_, body) = app
        .graphql_as(
            &tablet.access,
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": phone_id }),
        )
        .await;
    assert_eq!(body["data"]["revokeSession"], true, "{body}");

    for sensitive in [
        "mutation { changePassword(currentPassword: \"correct horse battery\", newPassword: \"another passphrase\") }",
        "mutation { deleteAccount(password: \"correct horse battery\") }",
        "mutation { signOutEverywhere }",
    ] {
        let (_, body) = app.graphql_as(&phone.access, sensitive, json!({})).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{sensitive}: {body}");
    }
    assert_eq!(count_rows(&app.conn, "users").await, 1);
    let body = refresh(&app, &phone.refresh, SECRET_A).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");

    // Signing out ends this device; the tablet then fails the same way.
    let (_, body) = app
        .graphql_as(&tablet.access, "mutation { signOut }", json!({}))
        .await;
    assert_eq!(body["data"]["signOut"], true);
    let (_, body) = app
        .graphql_as(&tablet.access, "mutation { signOutEverywhere }", json!({}))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session() {
    let app = spawn_app().await;
    let phone = sign_up(&app, "ann").await;
    let tablet = sign_in(&app, "ann", SECRET_B).await;
    let (_, body) = app
        .graphql_as(&phone.access, "mutation { signOutEverywhere }", json!({}))
        .await;
    assert_eq!(body["data"]["signOutEverywhere"], 2, "{body}");
    for (token, secret) in [(&phone.refresh, SECRET_A), (&tablet.refresh, SECRET_B)] {
        assert_eq!(code(&refresh(&app, token, secret).await), "UNAUTHENTICATED");
    }
}

/// Weak passwords and bad input: each answer names the field; nothing leaks.
#[tokio::test]
async fn bad_sign_up_input_names_the_field() {
    let app = spawn_app().await;
    sign_up(&app, "ann").await;
    let cases = [
        (
            json!({ "email": "not-an-email" }),
            "BAD_USER_INPUT",
            "email",
        ),
        (
            json!({ "email": "ann@localhost" }),
            "BAD_USER_INPUT",
            "email",
        ),
        (json!({ "username": "a b" }), "BAD_USER_INPUT", "username"),
        (
            json!({ "password": "seven77" }),
            "BAD_USER_INPUT",
            "password",
        ),
        (
            json!({ "password": "baseball" }),
            "BAD_USER_INPUT",
            "password",
        ),
        (
            json!({ "password": "x".repeat(257) }),
            "BAD_USER_INPUT",
            "password",
        ),
        (
            json!({ "password": "x".repeat(100_000) }),
            "BAD_USER_INPUT",
            "password",
        ),
        (
            json!({ "password": "bob@example.com" }),
            "BAD_USER_INPUT",
            "password",
        ),
        (
            json!({ "device": { "name": "x", "secret": "short" } }),
            "BAD_USER_INPUT",
            "device.secret",
        ),
        (
            json!({ "device": { "name": " ", "secret": SECRET_A } }),
            "BAD_USER_INPUT",
            "device.name",
        ),
        (json!({ "email": "ANN@example.com" }), "CONFLICT", "email"),
        (json!({ "username": "Ann" }), "CONFLICT", "username"),
    ];
    for (change, expected_code, expected_field) in cases {
        let mut vars = sign_up_input("bob", SECRET_A);
        for (k, v) in change.as_object().unwrap() {
            vars["input"][k] = v.clone();
        }
        let (status, body) = app.graphql(SIGN_UP, vars).await;
        assert_eq!(status, 200, "{change}: {body}");
        assert_eq!(code(&body), expected_code, "{change}: {body}");
        assert_eq!(field(&body), expected_field, "{change}: {body}");
        no_internals(&body);
    }
    for (i, password) in ["eight888".to_owned(), "y".repeat(64)]
        .into_iter()
        .enumerate()
    {
        let mut vars = sign_up_input(&format!("ok{i}"), SECRET_A);
        vars["input"]["password"] = json!(password);
        let (_, body) = app.graphql(SIGN_UP, vars).await;
        assert!(
            body["errors"].is_null(),
            "{} chars accepted: {body}",
            password.len()
        );
    }
    let body = sign_in_with(&app, "ann", &"x".repeat(100_000), SECRET_B).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
}

/// Sign-in is limited per address and per account, with a retry-after.
#[tokio::test]
async fn sign_in_is_rate_limited_per_address_and_per_account() {
    let app = spawn_app_with(|c| {
        c.auth.rate_limit.per_ip = 6;
        c.auth.rate_limit.per_account = 3;
    })
    .await;
    sign_up(&app, "ann").await;
    for _ in 0..3 {
        let body = sign_in_with(&app, "ann", "wrong password 1", SECRET_B).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    }
    let body = sign_in_with(&app, "ann", PASSWORD, SECRET_B).await;
    assert_eq!(code(&body), "RATE_LIMITED", "per account: {body}");
    let retry = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter");
    assert!(
        (1..=20).contains(&retry),
        "one attempt back within window/3: {body}"
    );

    // Another account from the same address still has budget, until the
    // address runs out: 4 attempts spent (the refused one counts), 2 left.
    for _ in 0..2 {
        let body = sign_in_with(&app, "bob", "wrong password 1", SECRET_B).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    }
    let body = sign_in_with(&app, "carol", "wrong password 1", SECRET_B).await;
    assert_eq!(code(&body), "RATE_LIMITED", "per address: {body}");
}

/// A tripped limit resets once the window has passed.
#[tokio::test]
async fn a_rate_limit_resets_after_its_window() {
    let app = spawn_app_with(|c| {
        // Two at once, then one back every 1.5 s.
        c.auth.rate_limit.per_ip = 2;
        c.auth.rate_limit.window = Duration::from_secs(3);
    })
    .await;
    let q = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let vars = || json!({ "e": "ann@example.com" });
    for _ in 0..2 {
        let (_, body) = app.graphql(q, vars()).await;
        assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
    }
    let (_, body) = app.graphql(q, vars()).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (_, body) = app.graphql(q, vars()).await;
    assert_eq!(body["data"]["requestPasswordReset"], true, "reset: {body}");
}

#[tokio::test]
async fn aliased_sign_ins_in_one_document_count_one_by_one() {
    let app = spawn_app_with(|c| c.auth.rate_limit.per_ip = 5).await;
    let fields: Vec<String> = (0..20)
        .map(|i| {
            format!(
                "a{i}: signIn(input: {{ login: \"user{i}\", password: \"wrong password\", device: {{ name: \"x\", secret: \"{SECRET_A}\" }} }}) {{ accessToken }}"
            )
        })
        .collect();
    let (_, body) = app
        .graphql(&format!("mutation {{ {} }}", fields.join(" ")), json!({}))
        .await;
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "UNAUTHENTICATED").count(),
        5,
        "{body}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == "RATE_LIMITED").count(),
        15,
        "{body}"
    );
}

#[tokio::test]
async fn sign_up_and_password_reset_are_rate_limited() {
    let app = spawn_app_with(|c| c.auth.rate_limit.per_ip = 2).await;
    for name in ["ann", "bob"] {
        sign_up(&app, name).await;
    }
    let (_, body) = app.graphql(SIGN_UP, sign_up_input("carol", SECRET_A)).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");

    let q = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    for _ in 0..2 {
        let (_, body) = app.graphql(q, json!({ "e": "ann@example.com" })).await;
        assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
    }
    let (_, body) = app.graphql(q, json!({ "e": "ann@example.com" })).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
}

fn with_smtp(config: &mut Config, smtp: &SmtpServer) {
    config.mail.smtp_url = Some(smtp.url());
    config.mail.link_base_url = Some("myapp://auth".to_owned());
}

/// Email verification through a real SMTP exchange; the token is single-use.
#[tokio::test]
async fn email_verification_over_smtp() {
    let mut smtp = SmtpServer::start().await;
    let app = spawn_app_with(|c| with_smtp(c, &smtp)).await;
    let session = sign_up(&app, "ann").await;
    let mail = smtp.next().await;
    assert_eq!(mail.recipients, ["ann@example.com"]);
    assert!(
        mail.data.contains("Subject: Confirm your email address"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("myapp://auth/verify-email?token"),
        "{}",
        mail.data
    );
    let token = token_in(&mail.data);

    let verify = "mutation($t: String!) { verifyEmail(token: $t) }";
    let (_, body) = app.graphql(verify, json!({ "t": token })).await;
    assert_eq!(body["data"]["verifyEmail"], true, "{body}");
    let (_, me) = app.graphql_as(&session.access, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["emailVerified"], true, "{me}");

    let (_, body) = app.graphql(verify, json!({ "t": token })).await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "token"));
    let (_, body) = app
        .graphql_as(
            &session.access,
            "mutation { requestEmailVerification }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "already verified: {body}");
}

/// Password reset through SMTP: only real accounts get mail, the token
/// works once, and every session ends.
#[tokio::test]
async fn password_reset_over_smtp_ends_every_session() {
    let mut smtp = SmtpServer::start().await;
    let app = spawn_app_with(|c| with_smtp(c, &smtp)).await;
    let phone = sign_up(&app, "ann").await;
    smtp.next().await; // the verification email

    let request = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    app.graphql(request, json!({ "e": "nobody@example.com" }))
        .await;
    assert!(
        smtp.nothing_within(Duration::from_millis(500)).await,
        "no mail for unknown addresses"
    );
    app.graphql(request, json!({ "e": "Ann@Example.com" }))
        .await;
    let mail = smtp.next().await;
    assert_eq!(mail.recipients, ["ann@example.com"]);
    let token = token_in(&mail.data);

    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let (_, body) = app
        .graphql(reset, json!({ "t": token, "p": "short" }))
        .await;
    assert_eq!(field(&body), "newPassword", "{body}");
    let (_, body) = app
        .graphql(reset, json!({ "t": token, "p": "brand new passphrase" }))
        .await;
    assert_eq!(body["data"]["resetPassword"], true, "{body}");
    let (_, body) = app
        .graphql(reset, json!({ "t": token, "p": "another passphrase" }))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "single use: {body}");

    assert_eq!(
        code(&refresh(&app, &phone.refresh, SECRET_A).await),
        "UNAUTHENTICATED"
    );
    let body = sign_in_with(&app, "ann", "brand new passphrase", SECRET_B).await;
    assert!(body["errors"].is_null(), "{body}");
}

/// Without SMTP the development outbox gets the message as a file.
#[tokio::test]
async fn without_smtp_mail_goes_to_the_outbox() {
    let app = spawn_app().await;
    sign_up(&app, "ann").await;
    let outbox = app.db.data_dir.path().join("outbox");
    let mut found = None;
    for _ in 0..50 {
        if let Some(entry) = std::fs::read_dir(&outbox).ok().and_then(|mut d| d.next()) {
            found = Some(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = found.expect("an .eml file in the outbox");
    assert!(mail.contains("To: ann@example.com"), "{mail}");
    let token = token_in(&mail);
    let (_, body) = app
        .graphql(
            "mutation($t: String!) { verifyEmail(token: $t) }",
            json!({ "t": token }),
        )
        .await;
    assert_eq!(body["data"]["verifyEmail"], true, "{body}");
}

#[tokio::test]
async fn deleting_an_account_needs_the_password_and_removes_its_rows() {
    let app = spawn_app().await;
    let phone = sign_up(&app, "ann").await;
    sign_up(&app, "bob").await;
    let delete = "mutation($p: String!) { deleteAccount(password: $p) }";
    let (_, body) = app
        .graphql_as(&phone.access, delete, json!({ "p": "wrong password 1" }))
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "password"));
    let (_, body) = app
        .graphql_as(&phone.access, delete, json!({ "p": PASSWORD }))
        .await;
    assert_eq!(body["data"]["deleteAccount"], true, "{body}");
    assert_eq!(count_rows(&app.conn, "users").await, 1);
    let sessions = query_strings(
        &app.conn,
        "SELECT u.username FROM sessions s JOIN users u ON u.id = s.user_id",
        &["username"],
    )
    .await;
    assert_eq!(sessions, [["bob".to_owned()]]);
    let (_, me) = app.graphql_as(&phone.access, ME, json!({})).await;
    assert_eq!(code(&me), "UNAUTHENTICATED", "{me}");
}

/// Admins (made with `api admin create`) disable accounts; the guards keep
/// everyone else out.
#[tokio::test]
async fn admins_disable_accounts_and_others_cannot() {
    let app = spawn_app().await;
    let ann = sign_up(&app, "ann").await;
    let bob = sign_up(&app, "bob").await;
    let (_, body) = app
        .graphql_as(&bob.access, "{ me { profile { id } } }", json!({}))
        .await;
    let bob_id = body["data"]["me"]["profile"]["id"].clone();
    let disable =
        "mutation($id: ID!, $d: Boolean!) { setUserDisabled(id: $id, disabled: $d) { username } }";

    let (_, body) = app
        .graphql_as(&ann.access, disable, json!({ "id": bob_id, "d": true }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_api"))
        .args(["admin", "create", "--email", "ann@example.com"])
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .env("DATA_DIR", app.db.data_dir.path())
        .output()
        .await
        .expect("api admin runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The old token still says "user": the role is in the token until it
    // is refreshed.
    let (_, body) = app
        .graphql_as(&ann.access, disable, json!({ "id": bob_id, "d": true }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let admin = session_of(
        &refresh(&app, &ann.refresh, SECRET_A).await,
        "refreshSession",
    );
    let (_, body) = app
        .graphql_as(&admin.access, disable, json!({ "id": bob_id, "d": true }))
        .await;
    assert_eq!(body["data"]["setUserDisabled"]["username"], "bob", "{body}");

    assert_eq!(
        code(&refresh(&app, &bob.refresh, SECRET_A).await),
        "UNAUTHENTICATED"
    );
    let body = sign_in_with(&app, "bob", PASSWORD, SECRET_B).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // Disabling ended the account's sessions: its unexpired token is
    // refused outright.
    let (_, body) = app
        .graphql_as(&bob.access, "mutation { signOutEverywhere }", json!({}))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");

    app.graphql_as(&admin.access, disable, json!({ "id": bob_id, "d": false }))
        .await;
    let body = sign_in_with(&app, "bob", PASSWORD, SECRET_B).await;
    assert!(body["errors"].is_null(), "enabled again: {body}");
}

#[tokio::test]
async fn admin_create_makes_a_new_admin_and_explains_mistakes() {
    let app = spawn_app().await;
    let run = async |args: &[&str], password: Option<&str>| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_api"));
        command
            .arg("admin")
            .arg("create")
            .args(args)
            .env_clear()
            .env("DATABASE_URL", &app.db.url)
            .env("DATA_DIR", app.db.data_dir.path());
        if let Some(password) = password {
            command.env("ADMIN_PASSWORD", password);
        }
        command.output().await.expect("api admin runs")
    };
    let output = run(&["--email", "root@example.com"], None).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--username"));
    let args = ["--email", "root@example.com", "--username", "root"];
    let output = run(&args, Some("password")).await;
    assert!(!output.status.success(), "common password refused");
    assert!(String::from_utf8_lossy(&output.stderr).contains("password"));
    let output = run(&args, Some(PASSWORD)).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let body = sign_in_with(&app, "root", PASSWORD, SECRET_A).await;
    let session = session_of(&body, "signIn");
    let (_, me) = app.graphql_as(&session.access, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "ADMIN", "{me}");
}

/// With no JWT settings, development keeps a generated key under DATA_DIR,
/// so tokens survive a restart.
#[tokio::test]
async fn the_development_key_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_owned();
    let configure = move |c: &mut Config| {
        c.auth.jwt_key = api::auth::settings::JwtKey::Generated;
        c.data_dir = dir.display().to_string();
    };
    let first = spawn_app_with(configure.clone()).await;
    let session = sign_up(&first, "ann").await;
    assert!(data.path().join("jwt-secret").exists());
    // A second server on the same database and data directory.
    let url = first.db.url.clone();
    let second = spawn_app_with(move |c| {
        configure(c);
        c.database.url = url;
    })
    .await;
    let (_, me) = second.graphql_as(&session.access, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["email"], "ann@example.com", "{me}");
}

/// EdDSA key pairs from PEM files work in place of a shared secret.
#[tokio::test]
async fn ed25519_key_pairs_sign_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    let ok = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    let generated = ok(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        private.to_str().unwrap(),
    ]) && ok(&[
        "pkey",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    assert!(generated, "openssl generates an Ed25519 key pair");
    let (private_pem, public_pem) = (
        std::fs::read(&private).unwrap(),
        std::fs::read(&public).unwrap(),
    );
    let app = spawn_app_with(move |c| {
        c.auth.jwt_key = api::auth::settings::JwtKey::KeyPair {
            private_pem,
            public_pem,
        };
    })
    .await;
    let session = sign_up(&app, "ann").await;
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(session.access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let (_, me) = app.graphql_as(&session.access, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["email"], "ann@example.com", "{me}");
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "sub": "x" }),
        &EncodingKey::from_secret(&std::fs::read(&public).unwrap()),
    )
    .unwrap();
    let (_, body) = app.graphql_as(&forged, ME, json!({})).await;
    assert_eq!(
        code(&body),
        "UNAUTHENTICATED",
        "HS256 keyed with the public key: {body}"
    );
}

/// Behind a trusted proxy the limit is per forwarded address; otherwise the
/// header is ignored (a client could pick any address).
#[tokio::test]
async fn forwarded_addresses_count_only_when_trusted() {
    for trusted in [false, true] {
        let app = spawn_app_with(|c| {
            c.auth.rate_limit.per_ip = 1;
            c.auth.rate_limit.trust_forwarded_for = trusted;
        })
        .await;
        let mut codes = Vec::new();
        for client in ["203.0.113.1", "203.0.113.2"] {
            let response = app
                .client
                .post(app.url("/graphql"))
                .header("X-Forwarded-For", format!("10.9.9.9, {client}"))
                .json(&json!({
                    "query": "mutation { requestPasswordReset(email: \"ann@example.com\") }"
                }))
                .send()
                .await
                .unwrap();
            codes.push(code(&response.json::<Value>().await.unwrap()).to_owned());
        }
        let expected = if trusted {
            ["", ""]
        } else {
            ["", "RATE_LIMITED"]
        };
        assert_eq!(codes, expected, "trusted: {trusted}");
    }
}

/// The password and the tokens never reach the logs, even at debug
/// level with every SQL statement logged.
#[tokio::test]
async fn secrets_stay_out_of_the_logs() {
    let db = crate::helpers::TestDb::new().await;
    let port = crate::helpers::free_port();
    // A file, not a pipe: nothing reads the log while the server runs.
    let log_path = db.data_dir.path().join("api.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let vars = [
        ("RUST_LOG", "debug"),
        ("DATABASE_LOG_STATEMENTS", "true"),
        ("LOG_FORMAT", "json"),
    ];
    let mut server = crate::helpers::start_api(&db, port, &vars, log_file.into()).await;
    let client = reqwest::Client::new();
    let post = |vars: Value, query: &'static str| {
        let request = client
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .json(&json!({ "query": query, "variables": vars }));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let body = post(sign_up_input("ann", SECRET_A), SIGN_UP).await;
    let session = session_of(&body, "signUp");
    post(
        json!({ "token": session.refresh, "secret": SECRET_A }),
        REFRESH,
    )
    .await;
    post(
        json!({ "input": { "login": "ann", "password": PASSWORD, "device": { "name": "x", "secret": SECRET_B } } }),
        SIGN_IN,
    )
    .await;
    server.kill().expect("stop the server");
    let _ = server.wait();
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(log.contains("INSERT"), "statements were logged");
    for secret in [
        PASSWORD,
        SECRET_A,
        SECRET_B,
        &session.refresh,
        &session.access,
    ] {
        assert!(!log.contains(secret), "{secret} appears in the logs");
    }
}

/// A hash made with weaker parameters is replaced at the next sign-in.
#[tokio::test]
async fn old_hashes_are_upgraded_at_sign_in() {
    use argon2::{Algorithm as Argon, Argon2, Params, Version, password_hash::PasswordHasher};
    let app = spawn_app().await;
    sign_up(&app, "ann").await;
    let weak = Argon2::new(
        Argon::Argon2id,
        Version::V0x13,
        Params::new(4096, 3, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes())
    .unwrap()
    .to_string();
    crate::helpers::exec(
        &app.conn,
        &format!("UPDATE users SET password_hash = '{weak}'"),
    )
    .await;
    let body = sign_in_with(&app, "ann", PASSWORD, SECRET_B).await;
    assert!(body["errors"].is_null(), "{body}");
    let hash = &query_strings(
        &app.conn,
        "SELECT password_hash FROM users",
        &["password_hash"],
    )
    .await[0][0];
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(sign_in_with(&app, "ann", PASSWORD, SECRET_A).await["errors"].is_null());
}

/// The seeded demo account signs in with the documented password.
#[tokio::test]
async fn the_seeded_demo_account_signs_in() {
    let app = spawn_app().await;
    let options = seed::SeedOptions {
        scale: seed::Scale::Small,
        seed: 1,
        reset: false,
    };
    seed::run(&app.conn, &options).await.expect("seeded");
    let body = sign_in_with(&app, seed::DEMO_EMAIL, seed::DEMO_PASSWORD, SECRET_A).await;
    let session = session_of(&body, "signIn");
    let (_, me) = app.graphql_as(&session.access, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["email"], seed::DEMO_EMAIL, "{me}");
}

/// A disabled (banned) or deleted account's still-valid token is refused
/// on every mutation field, with a code, over HTTP and over the WebSocket,
/// and changes nothing.
#[tokio::test]
async fn every_mutation_refuses_a_disabled_or_deleted_account() {
    let app = spawn_app().await;
    let owner = sign_up(&app, "owner").await;
    let banned = sign_up(&app, "banned").await;
    let gone = sign_up(&app, "gone").await;
    // Something the banned account could still undo: its membership.
    let (_, body) = app
        .graphql_as(
            &owner.access,
            "mutation { createCommunity(input: { slug: \"club\", name: \"Club\" }) { id } }",
            json!({}),
        )
        .await;
    let club = body["data"]["createCommunity"]["id"].clone();
    let (_, body) = app
        .graphql_as(
            &banned.access,
            "mutation($id: ID!) { joinCommunity(id: $id) { memberCount } }",
            json!({ "id": club }),
        )
        .await;
    assert_eq!(body["data"]["joinCommunity"]["memberCount"], 2, "{body}");
    crate::helpers::exec(
        &app.conn,
        "UPDATE users SET disabled_at = created_at WHERE username = 'banned'",
    )
    .await;
    crate::helpers::exec(&app.conn, "DELETE FROM users WHERE username = 'gone'").await;

    let schema = crate::helpers::walk::Schema::of(&app).await;
    let mutations = schema.mutations();
    assert!(mutations.len() >= 30, "{} mutations", mutations.len());
    for (who, token, expected) in [
        ("disabled", &banned.access, "FORBIDDEN"),
        ("deleted", &gone.access, "UNAUTHENTICATED"),
    ] {
        for call in &mutations {
            let (_, body) = app
                .graphql_as(token, &call.document, call.variables.clone())
                .await;
            assert_eq!(
                code(&body),
                expected,
                "{who} account, {}: {body}",
                call.name
            );
            assert!(body["data"].is_null(), "{who}, {}: {body}", call.name);
        }
    }
    let (_, body) = app
        .graphql_as(
            &owner.access,
            "query($id: ID!) { community(id: $id) { memberCount } }",
            json!({ "id": club }),
        )
        .await;
    assert_eq!(body["data"]["community"]["memberCount"], 2, "{body}");

    // The same over the WebSocket, where mutations may be sent too.
    let mut socket = crate::helpers::ws::open(app.addr).await;
    socket.init(Some(&banned.access)).await;
    socket
        .send(json!({ "type": "subscribe", "id": "1", "payload": {
            "query": "mutation($id: ID!) { leaveCommunity(id: $id) { memberCount } }",
            "variables": { "id": club } } }))
        .await;
    let message = socket.json().await;
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(
        message["payload"][0]["extensions"]["code"], "FORBIDDEN",
        "{message}"
    );
}

/// A token that does not verify is refused on every operation, public
/// queries included (never served as anonymous), over POST and GET, in
/// both response types, and in `connection_init`.
#[tokio::test]
async fn a_token_that_does_not_verify_is_refused_on_every_operation() {
    let app = spawn_app().await;
    let session = sign_up(&app, "ann").await;
    let expired = {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "sub": uuid::Uuid::now_v7(), "sid": uuid::Uuid::now_v7(), "role": "user",
            "iss": "hearth", "aud": "hearth", "iat": now - 3600, "nbf": now - 3600,
            "exp": now - (LEEWAY_SECS as i64) - 1,
        });
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let tampered = format!("{}x", session.access);
    let schema = crate::helpers::walk::Schema::of(&app).await;
    let calls: Vec<_> = schema
        .queries()
        .into_iter()
        .chain(schema.mutations())
        .collect();
    assert!(calls.len() >= 50, "{} fields", calls.len());
    for token in [&expired, &tampered] {
        for call in &calls {
            let (status, body) = app
                .graphql_as(token, &call.document, call.variables.clone())
                .await;
            assert_eq!(status, 401, "{}: {body}", call.name);
            assert_eq!(code(&body), "UNAUTHENTICATED", "{}: {body}", call.name);
            assert!(body.get("data").is_none(), "{}: {body}", call.name);
        }
    }
    // GET, and the classic `application/json` (always 200).
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ users(first: 1) { totalCount } }")])
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/json")
        .bearer_auth(&expired)
        .json(&json!({ "query": "{ userByUsername(username: \"ann\") { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // Without the header the same queries answer.
    let (status, body) = app
        .graphql("{ userByUsername(username: \"ann\") { id } }", json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(body["data"]["userByUsername"]["id"].is_string(), "{body}");
    // A WebSocket whose connection_init carries it closes with 4403.
    let mut socket = crate::helpers::ws::open(app.addr).await;
    socket
        .send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {expired}") } }))
        .await;
    assert_eq!(socket.closed().await.0, 4403);
}

/// One account has one sign-in budget, whichever of its names is used:
/// its email and its username, in any case and spacing, alternated.
#[tokio::test]
async fn the_per_account_sign_in_limit_is_keyed_on_the_account() {
    let app = spawn_app_with(|c| {
        c.auth.rate_limit.per_ip = 1000;
        c.auth.rate_limit.per_account = 3;
    })
    .await;
    sign_up(&app, "ann").await;
    for login in ["ann@example.com", "ann", " ANN@Example.com "] {
        let body = sign_in_with(&app, login, "wrong password 1", SECRET_B).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{login}: {body}");
    }
    for login in ["Ann", "ann@example.com", "  ann  "] {
        let body = sign_in_with(&app, login, PASSWORD, SECRET_B).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{login}: {body}");
    }
    // Another account is not affected.
    sign_up(&app, "bob").await;
    let body = sign_in_with(&app, "bob", PASSWORD, SECRET_B).await;
    assert!(body["errors"].is_null(), "{body}");
}

/// Refreshes with a valid refresh token but the wrong device secret
/// change nothing and spend nothing of the session's budget: they count
/// against their own address, and the owner's device refreshes as before.
#[tokio::test]
async fn a_leaked_refresh_token_cannot_lock_its_owner_out() {
    let app = spawn_app_with(|c| {
        c.auth.rate_limit.per_ip = 4;
        c.auth.rate_limit.per_account = 2;
        c.auth.rate_limit.trust_forwarded_for = true;
    })
    .await;
    let ann = sign_up(&app, "ann").await;
    let sessions = "SELECT device_name, CAST(last_used_at AS TEXT) AS last_used_at, \
        CAST(revoked_at AS TEXT) AS revoked_at FROM sessions";
    let columns = ["device_name", "last_used_at", "revoked_at"];
    let before = query_strings(&app.conn, sessions, &columns).await;
    let refresh_from = async |address: &str, secret: &str| {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("X-Forwarded-For", address)
            .json(&json!({ "query": REFRESH, "variables": { "token": ann.refresh, "secret": secret } }))
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    };
    for _ in 0..4 {
        let body = refresh_from("203.0.113.9", SECRET_B).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    }
    let body = refresh_from("203.0.113.9", SECRET_B).await;
    assert_eq!(code(&body), "RATE_LIMITED", "the address runs out: {body}");
    assert_eq!(query_strings(&app.conn, sessions, &columns).await, before);
    // The owner's device, elsewhere, still has its whole budget.
    let body = refresh_from("198.51.100.7", SECRET_A).await;
    assert!(body["errors"].is_null(), "{body}");
}

/// The mails in the development outbox, oldest first, once there are at
/// least `count` (waiting up to 5 s).
async fn outbox_mails(app: &TestApp, count: usize) -> Vec<String> {
    let outbox = app.db.data_dir.path().join("outbox");
    for _ in 0..50 {
        let mails: Vec<String> = std::fs::read_dir(&outbox)
            .map(|dir| {
                let mut paths: Vec<_> = dir
                    .filter_map(std::result::Result::ok)
                    .map(|e| e.path())
                    .collect();
                paths.sort();
                paths
                    .into_iter()
                    .filter_map(|p| std::fs::read_to_string(p).ok())
                    .collect()
            })
            .unwrap_or_default();
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {count} mails in {}", outbox.display());
}

/// Without email confirmation, a registered email is `CONFLICT`, and
/// that answer spends a sign-in attempt of the address, so probing who has
/// an account through sign-up costs what probing through sign-in does.
#[tokio::test]
async fn sign_up_conflicts_spend_the_addresss_sign_in_budget() {
    let app = spawn_app_with(|c| c.auth.rate_limit.per_ip = 3).await;
    sign_up(&app, "ann").await;
    for _ in 0..2 {
        let body = sign_in_with(&app, "ann", "wrong password 1", SECRET_B).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    }
    let probe = |name: &str| {
        let mut input = sign_up_input(name, SECRET_A);
        input["input"]["email"] = json!("ann@example.com");
        input
    };
    let (_, body) = app.graphql(SIGN_UP, probe("probe1")).await;
    assert_eq!((code(&body), field(&body)), ("CONFLICT", "email"), "{body}");
    let (_, body) = app.graphql(SIGN_UP, probe("probe2")).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
}

/// With `AUTH_CONFIRM_EMAIL` (production's default) sign-up answers new and
/// registered emails alike: no tokens, no error; the new address gets a
/// confirmation link, the registered one a notice; an account signs in once
/// its email is confirmed.
#[tokio::test]
async fn confirmed_sign_up_does_not_reveal_registered_emails() {
    let app = spawn_app_with(|c| c.auth.confirm_email = true).await;
    let (status, new) = app.graphql(SIGN_UP, sign_up_input("ann", SECRET_A)).await;
    assert_eq!(status, 200);
    assert_eq!(new, json!({ "data": { "signUp": null } }));
    assert_eq!(count_rows(&app.conn, "sessions").await, 0);
    let mails = outbox_mails(&app, 1).await;
    assert!(mails[0].contains("To: ann@example.com") && mails[0].contains("Confirm"));

    // Signing in before confirming is refused, saying why.
    let body = sign_in_with(&app, "ann", PASSWORD, SECRET_A).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("confirm")
    );
    let (_, body) = app
        .graphql(
            "mutation($t: String!) { verifyEmail(token: $t) }",
            json!({ "t": token_in(&mails[0]) }),
        )
        .await;
    assert_eq!(body["data"]["verifyEmail"], true, "{body}");
    session_of(
        &sign_in_with(&app, "ann", PASSWORD, SECRET_A).await,
        "signIn",
    );

    // The same email again, under another name: the same answer, and the
    // owner is told.
    let mut again = sign_up_input("someone", SECRET_B);
    again["input"]["email"] = json!("ann@example.com");
    let (status, registered) = app.graphql(SIGN_UP, again).await;
    assert_eq!((status, &registered), (200, &new));
    let mails = outbox_mails(&app, 2).await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("To: ann@example.com") && m.contains("already have an account")),
        "{mails:?}"
    );
    assert_eq!(count_rows(&app.conn, "users").await, 1);
    // Usernames are public: a taken one is still said.
    let mut taken = sign_up_input("ann", SECRET_B);
    taken["input"]["email"] = json!("other@example.com");
    let (_, body) = app.graphql(SIGN_UP, taken).await;
    assert_eq!((code(&body), field(&body)), ("CONFLICT", "username"));
}

/// Two `api` processes on one PostgreSQL database, stopped when dropped.
struct Replicas {
    _db: TestDb,
    children: Vec<Child>,
    urls: [String; 2],
}

impl Replicas {
    /// Started with these rate limits; `None` (skipped) on SQLite, whose one
    /// process keeps its budgets in memory.
    async fn start(per_ip: &str, per_account: &str) -> Option<Self> {
        let db = TestDb::new().await;
        if db.backend != Backend::Postgres {
            eprintln!("skipped: needs TEST_DATABASE_URL (PostgreSQL)");
            return None;
        }
        let vars = [
            ("JWT_SECRET", TEST_JWT_SECRET),
            ("RUST_LOG", "warn"),
            ("AUTH_RATE_LIMIT_PER_IP", per_ip),
            ("AUTH_RATE_LIMIT_PER_ACCOUNT", per_account),
        ];
        let mut children = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..2 {
            let port = free_port();
            children.push(start_api(&db, port, &vars, Stdio::null()).await);
            urls.push(format!("http://127.0.0.1:{port}/graphql"));
        }
        let urls = urls.try_into().expect("two");
        Some(Self {
            _db: db,
            children,
            urls,
        })
    }

    /// A GraphQL request to replica `n` (0 or 1); the JSON body.
    async fn graphql(&self, n: usize, query: &str, variables: Value) -> Value {
        reqwest::Client::new()
            .post(&self.urls[n])
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON body")
    }

    async fn sign_in(&self, n: usize, login: &str, password: &str) -> Value {
        let vars = json!({ "input": {
            "login": login, "password": password,
            "device": { "name": "iPad", "secret": SECRET_B },
        }});
        self.graphql(n, SIGN_IN, vars).await
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// On PostgreSQL the budgets are shared by every process: sign-in attempts
/// alternating between two replicas are refused after the limit in all,
/// not the limit on each, per account and per address.
#[tokio::test]
async fn replicas_on_postgres_share_the_sign_in_limits() {
    let Some(replicas) = Replicas::start("6", "3").await else {
        return;
    };
    let body = replicas
        .graphql(0, SIGN_UP, sign_up_input("ann", SECRET_A))
        .await;
    session_of(&body, "signUp");
    for attempt in 0..3 {
        let body = replicas
            .sign_in(attempt % 2, "ann", "wrong password 1")
            .await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "attempt {attempt}: {body}");
    }
    // Each replica has seen at most 2 attempts, yet both refuse: the
    // account's budget of 3 is spent, even with the right password.
    for n in [1, 0] {
        let body = replicas.sign_in(n, "ann", PASSWORD).await;
        assert_eq!(code(&body), "RATE_LIMITED", "replica {n}: {body}");
        let retry = body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .expect("retryAfter");
        assert!((1..=20).contains(&retry), "within window/3: {body}");
    }
    // The address has spent 5 of its 6 (refused attempts count): one more
    // attempt for a fresh login passes, on either replica, then none.
    let body = replicas.sign_in(1, "nobody", "wrong password 1").await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    for n in [0, 1] {
        let body = replicas.sign_in(n, &format!("ghost{n}"), "x").await;
        assert_eq!(
            code(&body),
            "RATE_LIMITED",
            "per address, replica {n}: {body}"
        );
    }
}

/// Attempts racing on two replicas spend one budget exactly: of 20
/// password reset requests for one email sent at once, half to each
/// replica, 3 pass.
#[tokio::test]
async fn racing_attempts_on_two_replicas_spend_one_budget_exactly() {
    let Some(replicas) = Replicas::start("1000", "3").await else {
        return;
    };
    let replicas = std::sync::Arc::new(replicas);
    let q = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let requests: Vec<_> = (0..20)
        .map(|i| {
            let replicas = replicas.clone();
            tokio::spawn(async move {
                replicas
                    .graphql(i % 2, q, json!({ "e": "Ann@Example.com" }))
                    .await
            })
        })
        .collect();
    let mut passed = 0;
    for request in requests {
        let body = request.await.expect("request task");
        if body["data"]["requestPasswordReset"] == true {
            passed += 1;
        } else {
            assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        }
    }
    assert_eq!(passed, 3);
}

/// Budgets that are full again (their time has passed) are swept at start
/// and every minute after; the others stay.
#[tokio::test]
async fn full_budgets_are_swept_from_postgres() {
    use migration::{Migrator, MigratorTrait};
    let db = TestDb::new().await;
    if db.backend != Backend::Postgres {
        eprintln!("skipped: needs TEST_DATABASE_URL (PostgreSQL)");
        return;
    }
    let conn = db.connect().await;
    Migrator::up(&conn, None).await.expect("migrate");
    crate::helpers::exec(
        &conn,
        "INSERT INTO rate_limits (key, tat) VALUES \
         ('ip:sign_in:192.0.2.1', now() - interval '1 second'), \
         ('ip:sign_in:192.0.2.2', now() + interval '1 hour')",
    )
    .await;
    let vars = [("JWT_SECRET", TEST_JWT_SECRET), ("RUST_LOG", "warn")];
    let mut api = start_api(&db, free_port(), &vars, Stdio::null()).await;
    let keys = "SELECT key FROM rate_limits ORDER BY key";
    let mut left = Vec::new();
    for _ in 0..50 {
        left = query_strings(&conn, keys, &["key"]).await;
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = api.kill();
    let _ = api.wait();
    assert_eq!(left, [["ip:sign_in:192.0.2.2"]]);
}
