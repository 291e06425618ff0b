//! Push tokens: one per signed-in device, bound to its session, and gone
//! as soon as the session ends (signing out, a revoked session, a
//! password change, a ban), so no push can reach a signed-out device.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, count_rows, query_strings, spawn_app,
    user::{TestUser, ask, code, field, ok},
};

const REGISTER: &str = "mutation($p: PushProvider!, $t: String!) {
    registerPushToken(provider: $p, token: $t) { provider registeredAt } }";

/// `name` signs in again on another device; that session's user.
async fn another_device(app: &TestApp, name: &str, device: &str) -> TestUser {
    let (_, body) = app
        .graphql(
            "mutation($input: SignInInput!) { signIn(input: $input) { accessToken user { profile { id } } } }",
            json!({ "input": {
                "login": name, "password": "correct horse battery",
                "device": { "name": device, "secret": format!("{device}-secret-0123456789abcdef") },
            }}),
        )
        .await;
    let payload = &body["data"]["signIn"];
    TestUser {
        token: payload["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned(),
        id: payload["user"]["profile"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
    }
}

async fn register(app: &TestApp, who: &TestUser, provider: &str, token: &str) -> Value {
    ask(
        app,
        Some(who),
        REGISTER,
        json!({ "p": provider, "t": token }),
    )
    .await
}

/// The registered tokens, sorted.
async fn tokens(app: &TestApp) -> Vec<String> {
    let rows = query_strings(
        &app.conn,
        "SELECT token FROM push_tokens ORDER BY token",
        &["token"],
    )
    .await;
    rows.into_iter().map(|mut r| r.remove(0)).collect()
}

#[tokio::test]
async fn a_push_token_lives_and_dies_with_its_session() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let registered = register(&app, &ann, "FCM", "fcm-token-one").await;
    assert_eq!(ok(&registered, "registerPushToken")["provider"], "FCM");
    let device = ask(&app, Some(&ann), "{ pushDevice { provider } }", json!({})).await;
    assert_eq!(ok(&device, "pushDevice")["provider"], "FCM");

    // Bad tokens and anonymous callers are refused plainly.
    for bad in ["", "has space", &"x".repeat(513)] {
        let refused = register(&app, &ann, "FCM", bad).await;
        assert_eq!(
            (code(&refused), field(&refused)),
            ("BAD_USER_INPUT", "token"),
            "{refused}"
        );
    }
    let anonymous = ask(&app, None, REGISTER, json!({ "p": "FCM", "t": "x" })).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");

    // A new token for the same session replaces the old one.
    ok(
        &register(&app, &ann, "APNS", "apns-token-one").await,
        "registerPushToken",
    );
    assert_eq!(tokens(&app).await, ["apns-token-one"]);

    // Each device has its own; a token another account registers moves to
    // it (the phone changed hands).
    let phone = another_device(&app, "ann", "phone").await;
    ok(
        &register(&app, &phone, "FCM", "fcm-shared-phone").await,
        "registerPushToken",
    );
    let bob = TestUser::sign_up(&app, "bob").await;
    ok(
        &register(&app, &bob, "FCM", "fcm-shared-phone").await,
        "registerPushToken",
    );
    assert_eq!(count_rows(&app.conn, "push_tokens").await, 2);
    let device = ask(&app, Some(&phone), "{ pushDevice { provider } }", json!({})).await;
    assert!(ok(&device, "pushDevice").is_null(), "{device}");

    // Signing out removes the device's token.
    let sign_out = ask(&app, Some(&ann), "mutation { signOut }", json!({})).await;
    assert_eq!(ok(&sign_out, "signOut"), true);
    assert_eq!(tokens(&app).await, ["fcm-shared-phone"]);

    // A password change ends the other sessions, and their tokens.
    ok(
        &register(&app, &phone, "FCM", "fcm-ann-phone").await,
        "registerPushToken",
    );
    let tablet = another_device(&app, "ann", "tablet").await;
    ok(
        &register(&app, &tablet, "APNS", "apns-ann-tablet").await,
        "registerPushToken",
    );
    let change = "mutation { changePassword(currentPassword: \"correct horse battery\", newPassword: \"a new horse battery staple\") }";
    ok(
        &ask(&app, Some(&tablet), change, json!({})).await,
        "changePassword",
    );
    assert_eq!(tokens(&app).await, ["apns-ann-tablet", "fcm-shared-phone"]);
    // The phone, signed out by it, may not register again.
    let refused = register(&app, &phone, "FCM", "fcm-ann-phone").await;
    assert_eq!(code(&refused), "UNAUTHENTICATED", "{refused}");

    // Revoking a session from another device removes its token.
    let laptop = TestUser {
        token: {
            let (_, body) = app
                .graphql(
                    "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
                    json!({ "input": {
                        "login": "ann", "password": "a new horse battery staple",
                        "device": { "name": "laptop", "secret": "laptop-secret-0123456789abcdef" },
                    }}),
                )
                .await;
            body["data"]["signIn"]["accessToken"]
                .as_str()
                .expect("token")
                .to_owned()
        },
        id: ann.id.clone(),
    };
    let sessions = ask(
        &app,
        Some(&laptop),
        "{ mySessions { id deviceName } }",
        json!({}),
    )
    .await;
    let tablet_session = ok(&sessions, "mySessions")
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["deviceName"] == "tablet")
        .map(|s| s["id"].clone())
        .expect("the tablet's session");
    let revoke = "mutation($id: ID!) { revokeSession(id: $id) }";
    ok(
        &ask(&app, Some(&laptop), revoke, json!({ "id": tablet_session })).await,
        "revokeSession",
    );
    assert_eq!(tokens(&app).await, ["fcm-shared-phone"]);

    // A ban ends every session of the account, and its tokens.
    let root = TestUser::admin(&app, "root").await;
    let ban = "mutation($id: ID!) { setUserDisabled(id: $id, disabled: true) { id } }";
    ok(
        &ask(&app, Some(&root), ban, json!({ "id": bob.id })).await,
        "setUserDisabled",
    );
    assert!(tokens(&app).await.is_empty());

    // Unregistering: true once, then false.
    ok(
        &register(&app, &laptop, "FCM", "fcm-laptop").await,
        "registerPushToken",
    );
    let unregister = "mutation { unregisterPushToken }";
    assert_eq!(
        ok(
            &ask(&app, Some(&laptop), unregister, json!({})).await,
            "unregisterPushToken"
        ),
        true
    );
    assert_eq!(
        ok(
            &ask(&app, Some(&laptop), unregister, json!({})).await,
            "unregisterPushToken"
        ),
        false
    );
    app.stop().await;
}
