//! Social sign-in and email codes, against a real OpenID provider
//! (oidc-provider, run by Node), its JWKS for native ID tokens, a GitHub
//! stand-in and a real SMTP exchange: the flows that work, and every
//! refusal, each a coded error that signs nobody in.

use std::time::{Duration, Instant};

use api::{
    auth::social::settings::{ProviderConfig, ProviderKind, SocialConfig},
    config::Config,
};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp,
    browser::Browser,
    count_rows, exec,
    oidc::{Client, OidcProvider, ProviderUser},
    smtp::SmtpServer,
    spawn_app_with,
    user::{TestUser, code},
};

const REDIRECT: &str = "https://app.example.com/oauth/callback";
const SECRET: &str = "device-secret-0123456789abcdef";
const OTHER_SECRET: &str = "another-device-secret-0123456789";
const CLIENT_ID: &str = "hearth-test";
const CLIENT_SECRET: &str = "hearth-test-secret";
/// What the iOS app's bundle id would be: an extra native audience.
const BUNDLE_ID: &str = "com.example.app";

const START: &str = "mutation($input: StartOAuthInput!) { startOAuth(input: $input) { authorizationUrl state expiresAt } }";
const COMPLETE: &str = "mutation($input: CompleteOAuthInput!) { completeOAuth(input: $input) { accessToken refreshToken user { id email emailVerified hasPassword identities { provider email emailVerified } } } }";
const ID_TOKEN: &str = "mutation($input: SignInWithIdTokenInput!) { signInWithIdToken(input: $input) { accessToken user { id email hasPassword profile { displayName username } } } }";

fn provider(name: &str, kind: ProviderKind, secret: Option<&str>) -> ProviderConfig {
    ProviderConfig {
        name: name.to_owned(),
        kind,
        client_id: CLIENT_ID.to_owned(),
        client_secret: secret.map(str::to_owned),
        audiences: vec![CLIENT_ID.to_owned(), BUNDLE_ID.to_owned()],
        scopes: "openid email profile".to_owned(),
        allow_missing_nonce: false,
    }
}

/// The local provider as `acme` (code flow), its second issuer as
/// `native` (ID tokens, keys the test rotates) and its GitHub stand-in as
/// `github`.
fn social(
    op: &OidcProvider,
    customize: impl FnOnce(&mut SocialConfig),
) -> impl FnOnce(&mut Config) {
    let mut social = SocialConfig {
        providers: vec![
            provider(
                "acme",
                ProviderKind::Oidc {
                    issuer: op.issuer.clone(),
                },
                Some(CLIENT_SECRET),
            ),
            provider(
                "native",
                ProviderKind::Oidc {
                    issuer: op.native_issuer(),
                },
                None,
            ),
            provider(
                "github",
                ProviderKind::GitHub {
                    web_url: op.github_base(),
                    api_url: format!("{}/api", op.github_base()),
                },
                Some(CLIENT_SECRET),
            ),
        ],
        redirect_uris: vec![REDIRECT.to_owned(), "com.example.app:/oauth".to_owned()],
        expo_dev_redirects: false,
        provider_timeout: Duration::from_secs(2),
        flow_ttl: Duration::from_secs(600),
        email_code_ttl: Duration::from_secs(600),
    };
    customize(&mut social);
    move |config: &mut Config| config.auth.social = social
}

async fn start_provider() -> OidcProvider {
    OidcProvider::start(&[Client {
        id: CLIENT_ID.to_owned(),
        secret: CLIENT_SECRET.to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
    }])
    .await
}

fn device(secret: &str) -> Value {
    json!({ "name": "phone", "secret": secret })
}

/// Starts a flow at `provider` for the device with `secret`.
async fn start(app: &TestApp, provider: &str, secret: &str) -> (String, String) {
    let (_, body) = app
        .graphql(
            START,
            json!({ "input": { "provider": provider, "redirectUri": REDIRECT, "deviceSecret": secret } }),
        )
        .await;
    let started = &body["data"]["startOAuth"];
    assert!(started.is_object(), "{body}");
    (
        started["authorizationUrl"]
            .as_str()
            .expect("url")
            .to_owned(),
        started["state"].as_str().expect("state").to_owned(),
    )
}

/// The `code` and `state` the provider sent back to the redirect URI.
fn callback(redirect: &str) -> (String, String) {
    assert!(redirect.starts_with(REDIRECT), "{redirect}");
    let url = reqwest::Url::parse(redirect).expect("redirect URL");
    let get = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {key} in {redirect}"))
    };
    (get("code"), get("state"))
}

/// A flow started on the device with `SECRET` and authorized at the
/// provider by `user`: its `state` and the `code` the provider sent back.
async fn authorized(
    app: &TestApp,
    op: &OidcProvider,
    provider: &str,
    user: &ProviderUser,
) -> (String, String) {
    let (url, state) = start(app, provider, SECRET).await;
    let (code, returned) = callback(&op.authorize(&url, user).await.expect("provider redirect"));
    assert_eq!(returned, state);
    (state, code)
}

async fn complete(app: &TestApp, state: &str, code: &str, secret: &str) -> Value {
    app.graphql(
        COMPLETE,
        json!({ "input": { "state": state, "code": code, "device": device(secret) } }),
    )
    .await
    .1
}

/// The refusal's `extensions.reason`.
fn reason(body: &Value) -> &str {
    body["errors"][0]["extensions"]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("no reason in {body}"))
}

async fn sessions(app: &TestApp) -> i64 {
    count_rows(&app.conn, "sessions").await
}

#[tokio::test]
async fn the_code_flow_signs_the_device_in_and_the_same_identity_comes_back() {
    let op = start_provider().await;
    let app = spawn_app_with(social(&op, |_| {})).await;
    let (_, body) = app
        .graphql("{ authProviders { name kind nativeSignIn } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["authProviders"],
        json!([
            { "name": "acme", "kind": "OIDC", "nativeSignIn": true },
            { "name": "native", "kind": "OIDC", "nativeSignIn": true },
            { "name": "github", "kind": "GITHUB", "nativeSignIn": false },
        ])
    );

    let began = Instant::now();
    let (url, state) = start(&app, "acme", SECRET).await;
    let authorize = reqwest::Url::parse(&url).expect("authorization URL");
    let param = |key: &str| {
        authorize
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("state").as_deref(), Some(state.as_str()));
    assert!(param("nonce").is_some() && param("code_challenge").is_some());
    assert!(
        param("code_verifier").is_none(),
        "the verifier stays on the server"
    );

    let ann = ProviderUser::new("ann@example.com");
    let redirect = op.authorize(&url, &ann).await.expect("provider redirect");
    let (code_, returned_state) = callback(&redirect);
    assert_eq!(returned_state, state);
    let body = complete(&app, &state, &code_, SECRET).await;
    let payload = &body["data"]["completeOAuth"];
    assert!(payload.is_object(), "{body}");
    eprintln!(
        "full code flow against the local provider: {:?}",
        began.elapsed()
    );
    assert_eq!(payload["user"]["email"], "ann@example.com");
    assert_eq!(payload["user"]["emailVerified"], true);
    assert_eq!(payload["user"]["hasPassword"], false);
    assert_eq!(
        payload["user"]["identities"],
        json!([{ "provider": "acme", "email": "ann@example.com", "emailVerified": true }])
    );

    // The session is an ordinary device session: refresh needs the secret.
    let refresh = "mutation($t: String!, $s: String!) { refreshSession(refreshToken: $t, deviceSecret: $s) { accessToken } }";
    let token = payload["refreshToken"].as_str().expect("refresh token");
    let (_, wrong) = app
        .graphql(refresh, json!({ "t": token, "s": OTHER_SECRET }))
        .await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED", "{wrong}");
    let (_, refreshed) = app
        .graphql(refresh, json!({ "t": token, "s": SECRET }))
        .await;
    assert!(
        refreshed["data"]["refreshSession"]["accessToken"].is_string(),
        "{refreshed}"
    );

    // Signing in again finds the same account.
    let (state, code_) = authorized(&app, &op, "acme", &ann).await;
    let again = complete(&app, &state, &code_, SECRET).await;
    assert_eq!(
        again["data"]["completeOAuth"]["user"]["id"], payload["user"]["id"],
        "{again}"
    );
    assert_eq!(count_rows(&app.conn, "users").await, 1);
    assert_eq!(count_rows(&app.conn, "identities").await, 1);
}

/// Replayed state, another device, an expired flow, a code used twice and a
/// PKCE verifier that does not match: coded errors, no session.
#[tokio::test]
async fn flows_are_single_use_bound_to_the_device_and_short_lived() {
    let op = start_provider().await;
    let app = spawn_app_with(social(&op, |s| s.flow_ttl = Duration::from_secs(2))).await;
    let ann = ProviderUser::new("ann@example.com");

    // Another device secret: refused, and the flow is spent.
    let (state, code_) = authorized(&app, &op, "acme", &ann).await;
    let body = complete(&app, &state, &code_, OTHER_SECRET).await;
    assert_eq!(
        (code(&body), reason(&body)),
        ("OAUTH_STATE_INVALID", "device"),
        "{body}"
    );
    let body = complete(&app, &state, &code_, SECRET).await;
    assert_eq!(
        (code(&body), reason(&body)),
        ("OAUTH_STATE_INVALID", "used")
    );
    assert_eq!(sessions(&app).await, 0);

    // A state nobody started.
    let body = complete(&app, "made-up-state", &code_, SECRET).await;
    assert_eq!(
        (code(&body), reason(&body)),
        ("OAUTH_STATE_INVALID", "unknown")
    );

    // PKCE: flow A's code presented with flow B's state (B's verifier).
    let (url_a, _state_a) = start(&app, "acme", SECRET).await;
    let (_url_b, state_b) = start(&app, "acme", SECRET).await;
    let (code_a, _) = callback(&op.authorize(&url_a, &ann).await.expect("redirect"));
    let body = complete(&app, &state_b, &code_a, SECRET).await;
    assert_eq!(
        (code(&body), reason(&body)),
        ("OAUTH_CODE_REJECTED", "provider_refused"),
        "{body}"
    );
    assert_eq!(sessions(&app).await, 0);

    // A code used twice: the second time through a new flow.
    let (state, code_) = authorized(&app, &op, "acme", &ann).await;
    let body = complete(&app, &state, &code_, SECRET).await;
    assert!(body["data"]["completeOAuth"].is_object(), "{body}");
    let (_, state_c) = start(&app, "acme", SECRET).await;
    let body = complete(&app, &state_c, &code_, SECRET).await;
    assert_eq!(code(&body), "OAUTH_CODE_REJECTED", "{body}");
    assert_eq!(sessions(&app).await, 1);

    // A flow left too long.
    let (state, code_) = authorized(&app, &op, "acme", &ann).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let body = complete(&app, &state, &code_, SECRET).await;
    assert_eq!(
        (code(&body), reason(&body)),
        ("OAUTH_STATE_INVALID", "expired")
    );
    assert_eq!(sessions(&app).await, 1);
}

/// Redirect URIs are compared exactly: prefixes, suffixes, userinfo and
/// look-alike hosts are refused before any flow is stored.
#[tokio::test]
async fn redirect_uris_off_the_list_are_refused() {
    let op = start_provider().await;
    let app = spawn_app_with(social(&op, |_| {})).await;
    for uri in [
        "https://app.example.com/oauth/callback/extra",
        "https://app.example.com/oauth",
        "https://app.example.com/oauth/callback?x=1",
        "https://app.example.com@evil.example/oauth/callback",
        "https://evil.example/oauth/callback",
        "https://app.example.com.evil.example/oauth/callback",
        "com.example.app:/oauth/../evil",
        "exp://192.168.1.2:8081/--/oauth",
    ] {
        let (_, body) = app
            .graphql(
                START,
                json!({ "input": { "provider": "acme", "redirectUri": uri, "deviceSecret": SECRET } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{uri}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "redirectUri");
    }
    let (_, body) = app
        .graphql(
            START,
            json!({ "input": { "provider": "nope", "redirectUri": REDIRECT, "deviceSecret": SECRET } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "provider",
        "{body}"
    );
    assert_eq!(count_rows(&app.conn, "oauth_flows").await, 0);

    // The custom scheme listed is accepted as written.
    let (_, body) = app
        .graphql(
            START,
            json!({ "input": { "provider": "acme", "redirectUri": "com.example.app:/oauth", "deviceSecret": SECRET } }),
        )
        .await;
    assert!(body["data"]["startOAuth"].is_object(), "{body}");
}

/// An email the provider has not verified never joins an existing account;
/// a verified one joins a verified account.
#[tokio::test]
async fn emails_join_existing_accounts_only_when_both_sides_verified_them() {
    let op = start_provider().await;
    let app = spawn_app_with(social(&op, |_| {})).await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let sessions_before = sessions(&app).await;

    let mut claimant = ProviderUser::new("ann@example.com");
    claimant.sub = "someone-else".to_owned();
    claimant.email_verified = false;
    let (state, code_) = authorized(&app, &op, "acme", &claimant).await;
    let body = complete(&app, &state, &code_, SECRET).await;
    assert_eq!(
        (code(&body), reason(&body)),
        ("ACCOUNT_EXISTS", "provider_email_unverified"),
        "{body}"
    );

    // Verified by the provider, but the account never confirmed its email.
    let verified = ProviderUser::new("ann@example.com");
    let (state, code_) = authorized(&app, &op, "acme", &verified).await;
    let body = complete(&app, &state, &code_, SECRET).await;
    assert_eq!(
        (code(&body), reason(&body)),
        ("ACCOUNT_EXISTS", "account_email_unverified"),
        "{body}"
    );
    assert_eq!(sessions(&app).await, sessions_before);
    assert_eq!(count_rows(&app.conn, "identities").await, 0);

    exec(
        &app.conn,
        "UPDATE users SET email_verified_at = created_at WHERE username = 'ann'",
    )
    .await;
    let (state, code_) = authorized(&app, &op, "acme", &verified).await;
    let body = complete(&app, &state, &code_, SECRET).await;
    let user = &body["data"]["completeOAuth"]["user"];
    assert_eq!(user["hasPassword"], true, "{body}");
    let me = crate::helpers::user::ask(&app, Some(&ann), "{ me { id } }", json!({})).await;
    assert_eq!(user["id"], me["data"]["me"]["id"]);
    assert_eq!(count_rows(&app.conn, "users").await, 1);
}

/// Native ID tokens: raw and hashed nonces, extra audiences, then every
/// forgery and mismatch, each refused with the check it failed.
#[tokio::test]
async fn native_id_tokens_are_checked_claim_by_claim() {
    let op = start_provider().await;
    let app = spawn_app_with(social(&op, |_| {})).await;
    let now = chrono::Utc::now().timestamp();
    let issuer = op.native_issuer();
    let claims = |sub: &str, nonce: Option<&str>| {
        let mut claims = json!({
            "iss": issuer, "aud": BUNDLE_ID, "sub": sub, "iat": now, "exp": now + 600,
            "email": format!("{sub}@example.com"), "email_verified": "true", "name": "Bo Native",
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        claims
    };
    let sign_in = |token: String, nonce: Option<&'static str>| {
        let app = &app;
        async move {
            app.graphql(
                ID_TOKEN,
                json!({ "input": {
                    "provider": "native", "idToken": token, "nonce": nonce,
                    "device": device(SECRET), "displayName": "Bo From Apple",
                } }),
            )
            .await
            .1
        }
    };

    // Apple's SDK puts the nonce's SHA-256 in the token.
    let hashed = "e0ad8ed1a2e0b5d12b1d1bc1fb0d0b9c3e6d6c7a0a70e56ae31c5d3e2f1ec3b2";
    let raw = "raw-nonce";
    let hashed_of_raw = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(raw.as_bytes()))
    };
    assert_ne!(hashed, hashed_of_raw);
    let token = op
        .sign("native", "RS256", claims("bo", Some(&hashed_of_raw)))
        .await;
    let body = sign_in(token, Some(raw)).await;
    let user = &body["data"]["signInWithIdToken"]["user"];
    assert_eq!(user["email"], "bo@example.com", "{body}");
    assert_eq!(user["profile"]["displayName"], "Bo From Apple");
    // "bo" is too short for a username on its own.
    assert_eq!(user["profile"]["username"], "user_bo");
    // Google's may carry it as given.
    let token = op.sign("native", "RS256", claims("bo", Some(raw))).await;
    let again = sign_in(token, Some(raw)).await;
    assert_eq!(
        again["data"]["signInWithIdToken"]["user"]["id"], user["id"],
        "{again}"
    );
    let signed_in = sessions(&app).await;
    let users = count_rows(&app.conn, "users").await;

    let mut wrong_aud = claims("cy", Some(raw));
    wrong_aud["aud"] = json!("com.other.app");
    let mut wrong_iss = claims("cy", Some(raw));
    wrong_iss["iss"] = json!(op.issuer.clone());
    let mut expired = claims("cy", Some(raw));
    expired["exp"] = json!(now - 3600);
    expired["iat"] = json!(now - 7200);
    let cases: Vec<(&str, String, Option<&'static str>)> = vec![
        (
            "algorithm",
            op.sign("native", "none", claims("cy", Some(raw))).await,
            Some(raw),
        ),
        (
            "algorithm",
            op.sign("native", "HS256-public", claims("cy", Some(raw)))
                .await,
            Some(raw),
        ),
        (
            "audience",
            op.sign("native", "RS256", wrong_aud).await,
            Some(raw),
        ),
        (
            "issuer",
            op.sign("native", "RS256", wrong_iss).await,
            Some(raw),
        ),
        (
            "expired",
            op.sign("native", "RS256", expired).await,
            Some(raw),
        ),
        (
            "nonce_missing",
            op.sign("native", "RS256", claims("cy", None)).await,
            Some(raw),
        ),
        (
            "nonce_missing",
            op.sign("native", "RS256", claims("cy", Some(raw))).await,
            None,
        ),
        (
            "nonce_mismatch",
            op.sign("native", "RS256", claims("cy", Some("other")))
                .await,
            Some(raw),
        ),
        // Signed by the other issuer's key: not a key this one publishes.
        (
            "unknown_key",
            op.sign("provider", "RS256", claims("cy", Some(raw))).await,
            Some(raw),
        ),
        ("malformed", "not-a-jwt".to_owned(), Some(raw)),
    ];
    for (check, token, nonce) in cases {
        let body = sign_in(token, nonce).await;
        assert_eq!(
            (code(&body), reason(&body)),
            ("ID_TOKEN_INVALID", check),
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && !message.contains("internal"),
            "{message}"
        );
    }
    assert_eq!(sessions(&app).await, signed_in);
    assert_eq!(count_rows(&app.conn, "users").await, users);

    // GitHub has no ID tokens.
    let token = op.sign("native", "RS256", claims("cy", Some(raw))).await;
    let (_, body) = app
        .graphql(
            ID_TOKEN,
            json!({ "input": { "provider": "github", "idToken": token, "nonce": raw, "device": device(SECRET) } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "provider",
        "{body}"
    );
}

/// Keys are fetched once and reused; a token naming a new key makes Hearth
/// fetch them again (rotation needs no restart).
#[tokio::test]
async fn provider_keys_are_cached_and_rotation_is_picked_up() {
    let op = start_provider().await;
    let app = spawn_app_with(social(&op, |s| {
        s.providers[1].allow_missing_nonce = true;
    }))
    .await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": op.native_issuer(), "aud": CLIENT_ID, "sub": "dee", "iat": now, "exp": now + 600,
        "email": "dee@example.com", "email_verified": true,
    });
    let sign_in = |token: String| {
        let app = &app;
        async move {
            app.graphql(
                ID_TOKEN,
                json!({ "input": { "provider": "native", "idToken": token, "device": device(SECRET) } }),
            )
            .await
            .1
        }
    };
    // Without a nonce: this provider is configured to allow it.
    for _ in 0..3 {
        let body = sign_in(op.sign("native", "RS256", claims.clone()).await).await;
        assert!(body["data"]["signInWithIdToken"].is_object(), "{body}");
    }
    assert_eq!(op.native_jwks_fetches().await, 1);

    op.rotate_native_keys().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let body = sign_in(op.sign("native", "RS256", claims.clone()).await).await;
    assert!(body["data"]["signInWithIdToken"].is_object(), "{body}");
    assert_eq!(op.native_jwks_fetches().await, 2);
    // A made-up key id right after does not make Hearth fetch again.
    let forged = op.sign_with_kid("native", "RS256", "made-up", claims).await;
    let body = sign_in(forged).await;
    assert_eq!(reason(&body), "unknown_key", "{body}");
    assert_eq!(op.native_jwks_fetches().await, 2);
}

/// A provider that does not answer in time, or at all: a coded error after
/// the timeout, not a hang.
#[tokio::test]
async fn a_slow_or_dead_provider_is_a_coded_error() {
    let op = start_provider().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let app = spawn_app_with(social(&op, |s| {
        s.provider_timeout = Duration::from_secs(1);
        s.providers.push(provider(
            "dead",
            ProviderKind::Oidc {
                issuer: format!("http://127.0.0.1:{closed}"),
            },
            None,
        ));
    }))
    .await;
    op.slow_native(5000).await;
    for name in ["native", "dead"] {
        let began = Instant::now();
        let (_, body) = app
            .graphql(
                START,
                json!({ "input": { "provider": name, "redirectUri": REDIRECT, "deviceSecret": SECRET } }),
            )
            .await;
        assert_eq!(code(&body), "PROVIDER_UNAVAILABLE", "{name}: {body}");
        assert!(
            began.elapsed() < Duration::from_secs(4),
            "{name}: {:?}",
            began.elapsed()
        );
    }
    assert_eq!(count_rows(&app.conn, "oauth_flows").await, 0);
}

/// GitHub: OAuth2 without OpenID; the verified primary email comes from its
/// API.
#[tokio::test]
async fn github_signs_in_with_its_verified_primary_email() {
    let op = start_provider().await;
    let app = spawn_app_with(social(&op, |_| {})).await;
    op.set_github_user(json!({
        "id": 4242, "login": "octo", "name": "Octo Cat",
        "avatar_url": "https://avatars.example/4242",
        "emails": [
            { "email": "old@example.com", "primary": false, "verified": true },
            { "email": "octo@example.com", "primary": true, "verified": true },
        ],
    }))
    .await;
    let (url, state) = start(&app, "github", SECRET).await;
    let redirect = op
        .authorize(&url, &ProviderUser::new("unused@example.com"))
        .await
        .expect("redirect");
    let (code_, _) = callback(&redirect);
    let body = complete(&app, &state, &code_, SECRET).await;
    let user = &body["data"]["completeOAuth"]["user"];
    assert_eq!(user["email"], "octo@example.com", "{body}");
    assert_eq!(
        user["identities"],
        json!([{ "provider": "github", "email": "octo@example.com", "emailVerified": true }])
    );
    // GitHub's codes work once too.
    let (_, state_b) = start(&app, "github", SECRET).await;
    let body = complete(&app, &state_b, &code_, SECRET).await;
    assert_eq!(code(&body), "OAUTH_CODE_REJECTED", "{body}");
}

/// Linking and unlinking: never the last way in; never someone else's
/// identity; a first password for an account without one.
#[tokio::test]
async fn identities_link_unlink_and_passwordless_accounts_set_a_password() {
    let op = start_provider().await;
    let app = spawn_app_with(social(&op, |_| {})).await;
    let now = chrono::Utc::now().timestamp();
    let token = |sub: &str, email: &str| {
        op.sign(
            "native",
            "RS256",
            json!({
                "iss": op.native_issuer(), "aud": CLIENT_ID, "sub": sub, "iat": now,
                "exp": now + 600, "email": email, "email_verified": true, "nonce": "n",
            }),
        )
    };
    let link = "mutation($input: LinkIdentityInput!) { linkIdentity(input: $input) { identities { provider } } }";
    let ann = TestUser::sign_up(&app, "ann").await;
    let ask = crate::helpers::user::ask;
    let body = ask(
        &app,
        Some(&ann),
        link,
        json!({ "input": { "provider": "native", "idToken": token("ann-sub", "ann.other@example.com").await, "nonce": "n" } }),
    )
    .await;
    assert_eq!(
        body["data"]["linkIdentity"]["identities"],
        json!([{ "provider": "native" }]),
        "{body}"
    );
    // The linked identity now signs in to ann.
    let (_, body) = app
        .graphql(
            ID_TOKEN,
            json!({ "input": { "provider": "native", "idToken": token("ann-sub", "x@example.com").await, "nonce": "n", "device": device(SECRET) } }),
        )
        .await;
    let me = ask(&app, Some(&ann), "{ me { id } }", json!({})).await;
    assert_eq!(
        body["data"]["signInWithIdToken"]["user"]["id"], me["data"]["me"]["id"],
        "{body}"
    );

    // A passwordless account made by the provider.
    let (_, body) = app
        .graphql(
            ID_TOKEN,
            json!({ "input": { "provider": "native", "idToken": token("eve-sub", "eve@example.com").await, "nonce": "n", "device": device(SECRET) } }),
        )
        .await;
    let eve = TestUser {
        token: body["data"]["signInWithIdToken"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned(),
        id: String::new(),
    };
    // Eve cannot take ann's identity.
    let body = ask(
        &app,
        Some(&eve),
        link,
        json!({ "input": { "provider": "acme", "idToken": "x", "nonce": "n" } }),
    )
    .await;
    assert_eq!(code(&body), "ID_TOKEN_INVALID", "{body}");
    let body = ask(
        &app,
        Some(&eve),
        link,
        json!({ "input": { "provider": "native", "idToken": token("eve-second", "e2@example.com").await, "nonce": "n" } }),
    )
    .await;
    assert_eq!(
        code(&body),
        "CONFLICT",
        "eve already has a native identity: {body}"
    );

    let unlink =
        "mutation { unlinkIdentity(provider: \"native\") { identities { provider } hasPassword } }";
    let body = ask(&app, Some(&eve), unlink, json!({})).await;
    assert_eq!(
        (code(&body), reason(&body)),
        ("LAST_SIGN_IN_METHOD", "no_other_method"),
        "{body}"
    );
    // No password yet: none signs her in, and none can be "current".
    let (_, body) = app
        .graphql(
            "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
            json!({ "input": { "login": "eve@example.com", "password": "", "device": device(SECRET) } }),
        )
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    let body = ask(
        &app,
        Some(&eve),
        "mutation { changePassword(currentPassword: \"\", newPassword: \"a new passphrase here\") }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "currentPassword",
        "{body}"
    );
    let set = "mutation($p: String!) { setPassword(password: $p) { hasPassword } }";
    let body = ask(
        &app,
        Some(&eve),
        set,
        json!({ "p": "a much better passphrase" }),
    )
    .await;
    assert_eq!(body["data"]["setPassword"]["hasPassword"], true, "{body}");
    let body = ask(
        &app,
        Some(&eve),
        set,
        json!({ "p": "another passphrase here" }),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let body = ask(&app, Some(&eve), unlink, json!({})).await;
    assert_eq!(
        body["data"]["unlinkIdentity"],
        json!({ "identities": [], "hasPassword": true }),
        "{body}"
    );
    // The password she set signs her in.
    let (_, body) = app
        .graphql(
            "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
            json!({ "input": { "login": "eve@example.com", "password": "a much better passphrase", "device": device(SECRET) } }),
        )
        .await;
    assert!(body["data"]["signIn"]["accessToken"].is_string(), "{body}");

    // Ann's identity is taken for anyone else.
    let (_, body) = app
        .graphql(
            "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
            json!({ "input": { "login": "eve@example.com", "password": "a much better passphrase", "device": device(SECRET) } }),
        )
        .await;
    let eve = TestUser {
        token: body["data"]["signIn"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned(),
        id: String::new(),
    };
    let body = ask(
        &app,
        Some(&eve),
        link,
        json!({ "input": { "provider": "native", "idToken": token("ann-sub", "a@example.com").await, "nonce": "n" } }),
    )
    .await;
    assert_eq!(code(&body), "IDENTITY_TAKEN", "{body}");
}

/// Apple's client secret: an ES256 JWT from the team key, checked with the
/// key's public half.
#[test]
fn apple_client_secrets_are_signed_with_the_team_key() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures");
    let private = std::fs::read(format!("{dir}/apple-test-key.p8")).expect("key");
    let public = std::fs::read(format!("{dir}/apple-test-key.pub.pem")).expect("public key");
    let secret = api::auth::social::providers::apple_client_secret(
        "TEAM123456",
        "KEY1234567",
        "com.example.app.web",
        &private,
    )
    .expect("signed");
    let header = jsonwebtoken::decode_header(&secret).expect("header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some("KEY1234567"));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["https://appleid.apple.com"]);
    validation.set_issuer(&["TEAM123456"]);
    let claims = jsonwebtoken::decode::<Value>(
        &secret,
        &jsonwebtoken::DecodingKey::from_ec_pem(&public).expect("public key"),
        &validation,
    )
    .expect("verifies")
    .claims;
    assert_eq!(claims["sub"], "com.example.app.web");
}

fn code_in(mail: &str) -> String {
    mail.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in:\n{mail}"))
        .to_owned()
}

const EMAIL_CODE: &str = "mutation($input: SignInWithEmailCodeInput!) { signInWithEmailCode(input: $input) { accessToken user { email emailVerified hasPassword } } }";

async fn with_code(app: &TestApp, email: &str, code_: &str) -> Value {
    app.graphql(
        EMAIL_CODE,
        json!({ "input": { "email": email, "code": code_, "device": device(SECRET) } }),
    )
    .await
    .1
}

/// Email codes over SMTP: a new address gets an account, a known one signs
/// in; codes work once, only the newest works, and wrong tries use it up.
#[tokio::test]
async fn email_codes_sign_in_once_and_make_accounts() {
    let mut smtp = SmtpServer::start().await;
    let app = spawn_app_with(|c| {
        c.mail.smtp_url = Some(smtp.url());
        c.mail.link_base_url = Some("myapp://auth".to_owned());
    })
    .await;
    let request = "mutation($e: String!) { requestEmailCode(email: $e) }";
    let (_, body) = app
        .graphql(request, json!({ "e": "New@Example.com" }))
        .await;
    assert_eq!(body["data"]["requestEmailCode"], true, "{body}");
    let mail = smtp.next().await;
    assert_eq!(mail.recipients, ["new@example.com"]);
    let sent = code_in(&mail.data);
    let text = mail
        .data
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(
        text.contains(&format!(
            "myapp://auth/sign-in?email=new%40example.com&code={sent}"
        )),
        "{text}"
    );
    let wrong = if sent == "000000" { "000001" } else { "000000" };
    let body = with_code(&app, "new@example.com", wrong).await;
    assert_eq!(code(&body), "EMAIL_CODE_INVALID", "{body}");
    let body = with_code(&app, "new@example.com", &sent).await;
    assert_eq!(
        body["data"]["signInWithEmailCode"]["user"],
        json!({ "email": "new@example.com", "emailVerified": true, "hasPassword": false }),
        "{body}"
    );
    let body = with_code(&app, "new@example.com", &sent).await;
    assert_eq!(code(&body), "EMAIL_CODE_INVALID", "used: {body}");
    assert_eq!(sessions(&app).await, 1);

    // A new code ends the one before; five wrong tries end a code.
    app.graphql(request, json!({ "e": "new@example.com" }))
        .await;
    let first = code_in(&smtp.next().await.data);
    app.graphql(request, json!({ "e": "new@example.com" }))
        .await;
    let second = code_in(&smtp.next().await.data);
    if first != second {
        let body = with_code(&app, "new@example.com", &first).await;
        assert_eq!(code(&body), "EMAIL_CODE_INVALID", "{body}");
    }
    let wrong = if second == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..5 {
        let body = with_code(&app, "new@example.com", wrong).await;
        assert_eq!(code(&body), "EMAIL_CODE_INVALID", "{body}");
    }
    let body = with_code(&app, "new@example.com", &second).await;
    assert_eq!(code(&body), "EMAIL_CODE_INVALID", "tried out: {body}");

    // Malformed codes are input errors; unknown addresses answer the same.
    let body = with_code(&app, "new@example.com", "12ab56").await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "code", "{body}");
    let body = with_code(&app, "nobody@example.com", "123456").await;
    assert_eq!(code(&body), "EMAIL_CODE_INVALID", "{body}");
    assert_eq!(sessions(&app).await, 1);
    assert_eq!(count_rows(&app.conn, "users").await, 1);
}

/// An existing account signs in by code (and its email becomes verified);
/// a code expires.
#[tokio::test]
async fn email_codes_sign_in_existing_accounts_and_expire() {
    let mut smtp = SmtpServer::start().await;
    let app = spawn_app_with(|c| {
        c.mail.smtp_url = Some(smtp.url());
        c.auth.social.email_code_ttl = Duration::from_secs(1);
    })
    .await;
    let ann = TestUser::sign_up(&app, "ann").await;
    smtp.next().await; // the verification email
    let request = "mutation($e: String!) { requestEmailCode(email: $e) }";
    app.graphql(request, json!({ "e": "ann@example.com" }))
        .await;
    let sent = code_in(&smtp.next().await.data);
    let body = with_code(&app, "ANN@example.com", &sent).await;
    assert_eq!(
        body["data"]["signInWithEmailCode"]["user"],
        json!({ "email": "ann@example.com", "emailVerified": true, "hasPassword": true }),
        "{body}"
    );
    let me =
        crate::helpers::user::ask(&app, Some(&ann), "{ me { emailVerified } }", json!({})).await;
    assert_eq!(me["data"]["me"]["emailVerified"], true);

    app.graphql(request, json!({ "e": "ann@example.com" }))
        .await;
    let sent = code_in(&smtp.next().await.data);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let body = with_code(&app, "ann@example.com", &sent).await;
    assert_eq!(code(&body), "EMAIL_CODE_INVALID", "expired: {body}");
}

/// An application's before-hooks see the accounts providers and email codes
/// would make, as they see sign-ups, and can refuse them.
#[tokio::test]
async fn before_hooks_can_refuse_accounts_made_by_providers_and_codes() {
    use api::{
        extend::Hearth,
        hooks::{Change, Refusal},
        testing::TestHearth,
    };
    let op = start_provider().await;
    let mut smtp = SmtpServer::start().await;
    let hearth = Hearth::new().before(|change: &Change<'_>| match change {
        Change::Account { email, .. } if email.ends_with("@blocked.example") => Err(Refusal::new(
            "DOMAIN_CLOSED",
            "sign-ups from this domain are closed",
        )),
        _ => Ok(()),
    });
    let with_social = social(&op, |_| {});
    let smtp_url = smtp.url();
    let app = TestHearth::spawn_with(hearth, move |c| {
        with_social(c);
        c.mail.smtp_url = Some(smtp_url);
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let token = |email: &str| {
        op.sign(
            "native",
            "RS256",
            json!({
                "iss": op.native_issuer(), "aud": CLIENT_ID, "sub": email, "iat": now,
                "exp": now + 600, "email": email, "email_verified": true, "nonce": "n",
            }),
        )
    };
    for (email, expected) in [
        ("zed@blocked.example", Some("DOMAIN_CLOSED")),
        ("zed@open.example", None),
    ] {
        let outcome = app
            .graphql(ID_TOKEN)
            .variables(json!({ "input": {
                "provider": "native", "idToken": token(email).await, "nonce": "n", "device": device(SECRET),
            } }))
            .await;
        assert_eq!(
            outcome.body["errors"][0]["extensions"]["code"].as_str(),
            expected,
            "{}",
            outcome.body
        );
    }

    app.graphql("mutation($e: String!) { requestEmailCode(email: $e) }")
        .variables(json!({ "e": "amy@blocked.example" }))
        .await;
    let sent = code_in(&smtp.next().await.data);
    let outcome = app
        .graphql(EMAIL_CODE)
        .variables(json!({ "input": { "email": "amy@blocked.example", "code": sent, "device": device(SECRET) } }))
        .await;
    assert_eq!(
        outcome.body["errors"][0]["extensions"]["code"], "DOMAIN_CLOSED",
        "{}",
        outcome.body
    );
}

/// Apple answers the web flow by POSTing to Hearth (the only way it sends
/// the name); Hearth keeps the name and sends the browser on to the app.
#[tokio::test]
async fn apples_form_post_is_forwarded_to_the_app_with_the_name_kept() {
    let op = start_provider().await;
    let key = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/fixtures/apple-test-key.p8"
    ))
    .expect("key");
    let apple = |callback_url: Option<&str>| ProviderKind::Apple {
        // Discovery from the local provider; Apple's own in production.
        issuer: op.issuer.clone(),
        callback_url: callback_url.map(str::to_owned),
        team_id: "TEAM123456".to_owned(),
        key_id: "KEY1234567".to_owned(),
        private_key_pem: key.clone(),
    };
    let callback = "https://api.example.com/auth/apple/callback";
    let app = spawn_app_with(social(&op, |s| {
        s.providers
            .push(provider("apple", apple(Some(callback)), None));
        s.providers.push(provider("apple2", apple(None), None));
    }))
    .await;
    let app_uri = "com.example.app:/oauth";
    let (_, body) = app
        .graphql(
            START,
            json!({ "input": { "provider": "apple", "redirectUri": app_uri, "deviceSecret": SECRET } }),
        )
        .await;
    let url = reqwest::Url::parse(
        body["data"]["startOAuth"]["authorizationUrl"]
            .as_str()
            .expect("url"),
    )
    .expect("URL");
    let state = body["data"]["startOAuth"]["state"].as_str().expect("state");
    let param = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("response_mode").as_deref(), Some("form_post"));
    assert_eq!(param("redirect_uri").as_deref(), Some(callback));

    let post = |form: Vec<(&'static str, String)>| {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let url = app.url("/auth/apple/callback");
        async move { client.post(url).form(&form).send().await.expect("callback") }
    };
    let user =
        r#"{"name":{"firstName":"Ann","lastName":"Lee"},"email":"ann@privaterelay.appleid.com"}"#;
    let answer = post(vec![
        ("state", state.to_owned()),
        ("code", "the-code".to_owned()),
        ("user", user.to_owned()),
    ])
    .await;
    assert_eq!(answer.status(), 303);
    let location = answer.headers()["location"].to_str().expect("location");
    let forwarded = reqwest::Url::parse(location).expect("location URL");
    assert_eq!(forwarded.scheme(), "com.example.app");
    let pairs: Vec<(String, String)> = forwarded.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        [
            ("code".to_owned(), "the-code".to_owned()),
            ("state".to_owned(), state.to_owned())
        ]
    );
    let names = crate::helpers::query_strings(
        &app.conn,
        "SELECT display_name FROM oauth_flows",
        &["display_name"],
    )
    .await;
    assert_eq!(names, [vec!["Ann Lee".to_owned()]]);

    // A cancelled sign-in reaches the app as an error; an unknown state is
    // refused here.
    let cancelled = post(vec![
        ("state", state.to_owned()),
        ("error", "user_cancelled_authorize".to_owned()),
    ])
    .await;
    assert!(
        cancelled.headers()["location"]
            .to_str()
            .expect("location")
            .contains("error=user_cancelled_authorize"),
        "{cancelled:?}"
    );
    let unknown = post(vec![
        ("state", "made-up".to_owned()),
        ("code", "c".to_owned()),
    ])
    .await;
    assert_eq!(unknown.status(), 401);
    let body: Value = unknown.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "OAUTH_STATE_INVALID"
    );

    // Without a callback URL, Apple's web flow is not offered.
    let (_, body) = app
        .graphql(
            START,
            json!({ "input": { "provider": "apple2", "redirectUri": app_uri, "deviceSecret": SECRET } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "provider",
        "{body}"
    );
}

/// Asking for codes and guessing them spend one budget per email address,
/// whatever client address the guesses come from.
#[tokio::test]
async fn guessing_email_codes_spends_the_addresss_budget() {
    let mut smtp = SmtpServer::start().await;
    let app = spawn_app_with(|c| {
        c.mail.smtp_url = Some(smtp.url());
        c.auth.rate_limit.per_account = 3;
    })
    .await;
    app.graphql(
        "mutation($e: String!) { requestEmailCode(email: $e) }",
        json!({ "e": "kim@example.com" }),
    )
    .await;
    let sent = code_in(&smtp.next().await.data);
    let wrong = if sent == "000000" { "000001" } else { "000000" };
    for _ in 0..2 {
        let body = with_code(&app, "kim@example.com", wrong).await;
        assert_eq!(code(&body), "EMAIL_CODE_INVALID", "{body}");
    }
    let body = with_code(&app, "Kim@Example.com", &sent).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    // Another address has a budget of its own.
    let body = with_code(&app, "lee@example.com", wrong).await;
    assert_eq!(code(&body), "EMAIL_CODE_INVALID", "{body}");
}

/// The admin dashboard offers the configured providers once
/// `AUTH_REDIRECT_URIS` names its callback: an admin whose account has the
/// identity signs in; a member is refused, an unknown identity makes no
/// account, and a code carried to another browser signs nobody in.
#[tokio::test]
async fn admins_sign_in_to_the_dashboard_with_a_provider() {
    const DASHBOARD: &str = "https://hearth.example.com/admin/oauth/callback";
    let op = OidcProvider::start(&[Client {
        id: CLIENT_ID.to_owned(),
        secret: CLIENT_SECRET.to_owned(),
        redirect_uris: vec![REDIRECT.to_owned(), DASHBOARD.to_owned()],
    }])
    .await;
    let without = spawn_app_with(social(&op, |_| {})).await;
    let page = Browser::new(&without).get("/admin/sign-in").await;
    assert!(!page.body.contains("Continue with"), "{}", page.body);

    let app = spawn_app_with(social(&op, |s| s.redirect_uris.push(DASHBOARD.to_owned()))).await;
    TestUser::sign_up(&app, "ann").await;
    TestUser::sign_up(&app, "bob").await;
    exec(
        &app.conn,
        "UPDATE users SET role = 'admin', email_verified_at = created_at WHERE username = 'ann'",
    )
    .await;
    exec(
        &app.conn,
        "UPDATE users SET email_verified_at = created_at WHERE username = 'bob'",
    )
    .await;
    let users_before = count_rows(&app.conn, "users").await;

    // Starts a dashboard sign-in in `browser` and authorizes it at the
    // provider as `who`: the callback path with code and state.
    async fn authorize_dashboard(
        browser: &mut Browser<'_>,
        op: &OidcProvider,
        who: &ProviderUser,
    ) -> String {
        let form = browser.get("/admin/sign-in").await;
        assert!(form.body.contains("Continue with Acme"), "{}", form.body);
        let started = browser
            .post(
                "/admin/sign-in/provider",
                &[
                    ("provider", "acme"),
                    ("form_token", &form.hidden("form_token")),
                ],
            )
            .await;
        // A page that moves on to the provider by itself (a form's redirect
        // to another origin breaks `form-action 'self'`).
        assert_eq!(started.status, 200, "{}", started.body);
        let flow_cookie = started.set_cookies().join("\n");
        assert!(flow_cookie.contains("SameSite=Lax"), "{flow_cookie}");
        assert!(flow_cookie.contains("Path=/admin/oauth"), "{flow_cookie}");
        let start = started.body.find("<a href=\"").expect("a link on") + 9;
        let end = start + started.body[start..].find('"').unwrap();
        let escaped = &started.body[start..end];
        assert!(
            started.body.contains(&format!("0;url={escaped}")),
            "and a refresh to it: {}",
            started.body
        );
        let url = escaped.replace("&amp;", "&");
        let back = op.authorize(&url, who).await.expect("authorized");
        let path = back
            .strip_prefix("https://hearth.example.com")
            .expect(&back);
        assert!(path.starts_with("/admin/oauth/callback?"), "{path}");
        path.to_owned()
    }

    // An admin's verified email joins the identity to the account.
    let mut ann = Browser::new(&app);
    let callback = authorize_dashboard(&mut ann, &op, &ProviderUser::new("ann@example.com")).await;
    let page = ann.get(&callback).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("url=/admin"),
        "moves on by itself: {}",
        page.body
    );
    assert!(ann.cookies.contains_key("hearth_admin"));
    assert!(
        !ann.cookies.contains_key("hearth_admin_oauth"),
        "the flow cookie is spent"
    );
    let overview = ann.get("/admin").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    let replay = ann.get(&callback).await;
    assert_eq!(
        replay.status, 401,
        "coming back again signs nobody in: {}",
        replay.body
    );

    // A member with the identity: refused, no dashboard session.
    let mut bob = Browser::new(&app);
    let callback = authorize_dashboard(&mut bob, &op, &ProviderUser::new("bob@example.com")).await;
    let page = bob.get(&callback).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("not an admin"), "{}", page.body);
    assert!(!bob.cookies.contains_key("hearth_admin"));

    // Someone with no account: refused, and no account is made.
    let mut stranger = Browser::new(&app);
    let callback =
        authorize_dashboard(&mut stranger, &op, &ProviderUser::new("eve@example.com")).await;
    let page = stranger.get(&callback).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert_eq!(count_rows(&app.conn, "users").await, users_before);

    // An admin's code and state opened in another browser: nobody signs in.
    let mut started_here = Browser::new(&app);
    let callback = authorize_dashboard(
        &mut started_here,
        &op,
        &ProviderUser::new("ann@example.com"),
    )
    .await;
    let mut elsewhere = Browser::new(&app);
    let page = elsewhere.get(&callback).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(page.body.contains("another browser"), "{}", page.body);
    assert!(!elsewhere.cookies.contains_key("hearth_admin"));

    let rows = crate::helpers::query_strings(
        &app.conn,
        "SELECT detail FROM audit_log WHERE action = 'admin.sign_in'",
        &["detail"],
    )
    .await;
    assert_eq!(rows, [["signed in to the dashboard with a provider"]]);
}
