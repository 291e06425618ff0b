//! Push: one token per signed-in device, bound to its session and gone as
//! soon as the session ends (signing out, a revoked session, a password
//! change, a ban), so no push can reach a signed-out device; pushes sent
//! through local stand-ins for FCM and APNs, retried while a provider is
//! down, collapsed in bursts, and dead tokens forgotten.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, count_rows,
    push::FakeProviders,
    query_strings, spawn_app, spawn_app_with,
    user::{TestUser, ask, code, field, notified, ok, post},
};

const COMMENT: &str = "mutation($post: ID!, $body: String!) {
    createComment(input: { postId: $post, body: $body }) { id } }";

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

/// `who` revokes, from their device, the session of their device `name`.
async fn revoke_device(app: &TestApp, who: &TestUser, name: &str) {
    let sessions = ask(
        app,
        Some(who),
        "{ mySessions { id deviceName } }",
        json!({}),
    )
    .await;
    let session = ok(&sessions, "mySessions")
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["deviceName"] == name)
        .map(|s| s["id"].clone())
        .unwrap_or_else(|| panic!("no session of {name}: {sessions}"));
    let revoke = "mutation($id: ID!) { revokeSession(id: $id) }";
    ok(
        &ask(app, Some(who), revoke, json!({ "id": session })).await,
        "revokeSession",
    );
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
    revoke_device(&app, &laptop, "tablet").await;
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

/// An app whose pushes go to `fake`, retrying after each pause of
/// `schedule`.
async fn app_pushing_to(fake: &FakeProviders, schedule: &str) -> TestApp {
    let config = fake.config(schedule);
    spawn_app_with(move |c| c.push = config).await
}

/// `who` comments on `post`; the comment's id.
async fn comment(app: &TestApp, who: &TestUser, post: &str, body: &str) -> String {
    let reply = ask(
        app,
        Some(who),
        COMMENT,
        json!({ "post": post, "body": body }),
    )
    .await;
    ok(&reply, "createComment")["id"]
        .as_str()
        .expect("comment id")
        .to_owned()
}

/// Waits until no push is waiting in the outbox.
async fn outbox_empty(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while count_rows(&app.conn, "push_deliveries").await > 0 {
        assert!(Instant::now() < deadline, "pushes still waiting after 15 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_comment_is_pushed_to_each_of_the_authors_devices_through_fcm_and_apns() {
    let fake = FakeProviders::start().await;
    let app = app_pushing_to(&fake, "200ms,200ms").await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let phone = another_device(&app, "ann", "phone").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    ok(
        &register(&app, &ann, "FCM", "fcm-ann-laptop").await,
        "registerPushToken",
    );
    let apns_token = "a3f1c2d4e5b6a7980112233445566778899aabbccddeeff00112233445566778";
    ok(
        &register(&app, &phone, "APNS", apns_token).await,
        "registerPushToken",
    );
    let post_id = post(&app, &ann, "Hello phones", None).await;

    // Each comment is one notification, pushed once to each device; the
    // time from the request (and from its answer, sent after the commit)
    // to the push reaching the provider is printed for the record.
    let mut after_answer = Vec::new();
    let mut comments = Vec::new();
    for n in 0..5 {
        let asked = Instant::now();
        comments.push(comment(&app, &bob, &post_id, &format!("Reply {n}")).await);
        let answered = Instant::now();
        let received = fake.wait_for(2 * (n + 1)).await;
        let last = received.iter().map(|r| r.at).max().expect("a push");
        after_answer.push(last.saturating_duration_since(answered));
        eprintln!(
            "comment {n}: push at the provider {:?} after the request, {:?} after the answer",
            last - asked,
            last.saturating_duration_since(answered)
        );
    }
    after_answer.sort();
    eprintln!(
        "comment → push, after the answer: median {:?}, max {:?}",
        after_answer[2], after_answer[4]
    );

    let received = fake.received();
    assert_eq!(received.len(), 10, "{received:#?}");
    assert!(fake.refused().is_empty(), "{:?}", fake.refused());
    // The service account's access token is kept, not exchanged per push.
    assert_eq!(fake.exchanges(), 1);

    let inbox = ask(
        &app,
        Some(&ann),
        "{ notifications(first: 10) { edges { node { id kind summary } } } }",
        json!({}),
    )
    .await;
    let newest = &ok(&inbox, "notifications")["edges"][0]["node"];
    let fcm: Vec<_> = received.iter().filter(|r| r.provider == "fcm").collect();
    let apns: Vec<_> = received.iter().filter(|r| r.provider == "apns").collect();
    assert_eq!((fcm.len(), apns.len()), (5, 5));
    let (f, a) = (fcm[4], apns[4]);
    assert_eq!(f.token, "fcm-ann-laptop");
    assert_eq!(a.token, apns_token);
    for push in [f, a] {
        assert_eq!(push.title, "New reply");
        assert_eq!(push.body, newest["summary"].as_str().expect("summary"));
        assert_eq!(push.body, "bob replied to you.");
        assert_eq!(push.data["notificationId"], newest["id"]);
        assert_eq!(push.data["kind"], "REPLY");
        assert_eq!(push.data["postId"], post_id.as_str());
        assert_eq!(push.data["commentId"], comments[4].as_str());
        assert!(!push.collapse_id.is_empty());
    }
    // One notification, one collapse id, on both platforms.
    assert_eq!(f.collapse_id, a.collapse_id);
    assert_eq!(
        f.request["message"]["android"]["collapse_key"],
        f.collapse_id.as_str()
    );
    assert_eq!(
        f.request["message"]["apns"]["headers"]["apns-collapse-id"],
        f.collapse_id.as_str()
    );
    assert_eq!(a.headers["apns-priority"], "10");
    assert!(a.headers.contains_key("apns-expiration"));
    assert_eq!(a.request["aps"]["thread-id"], f.data["postId"]);
    // Different notifications do not collapse into each other.
    assert_ne!(fcm[3].collapse_id, fcm[4].collapse_id);
    outbox_empty(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn no_push_reaches_a_signed_out_revoked_or_banned_device_a_blocked_actor_or_a_kind_switched_off()
 {
    let fake = FakeProviders::start().await;
    let app = app_pushing_to(&fake, &["100ms"; 100].join(",")).await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let cat = TestUser::sign_up(&app, "cat").await;
    ok(
        &register(&app, &ann, "FCM", "fcm-ann-main").await,
        "registerPushToken",
    );
    let post_id = post(&app, &ann, "Mind the phones", None).await;

    // Signed out; revoked from another device; ended by a password change.
    let phone = another_device(&app, "ann", "phone").await;
    ok(
        &register(&app, &phone, "FCM", "fcm-ann-phone").await,
        "registerPushToken",
    );
    ok(
        &ask(&app, Some(&phone), "mutation { signOut }", json!({})).await,
        "signOut",
    );
    let tablet = another_device(&app, "ann", "tablet").await;
    ok(
        &register(&app, &tablet, "APNS", "apns-ann-tablet").await,
        "registerPushToken",
    );
    revoke_device(&app, &ann, "tablet").await;
    let laptop = another_device(&app, "ann", "laptop").await;
    ok(
        &register(&app, &laptop, "APNS", "apns-ann-laptop").await,
        "registerPushToken",
    );
    let change = "mutation { changePassword(currentPassword: \"correct horse battery\", newPassword: \"a new horse battery staple\") }";
    ok(
        &ask(&app, Some(&ann), change, json!({})).await,
        "changePassword",
    );

    comment(&app, &bob, &post_id, "First!").await;
    fake.wait_for(1).await;
    outbox_empty(&app).await;
    let tokens_pushed = |fake: &FakeProviders| -> Vec<String> {
        fake.received().into_iter().map(|r| r.token).collect()
    };
    assert_eq!(tokens_pushed(&fake), ["fcm-ann-main"]);

    // A kind switched off for push still reaches the inbox, but no phone.
    let off = "mutation { setNotificationPreference(kind: REPLY, push: false) { push } }";
    ok(
        &ask(&app, Some(&ann), off, json!({})).await,
        "setNotificationPreference",
    );
    comment(&app, &bob, &post_id, "Second!").await;
    let react = "mutation($post: ID!) { react(postId: $post, kind: LOVE) { id } }";
    ok(
        &ask(&app, Some(&cat), react, json!({ "post": post_id })).await,
        "react",
    );
    // Notifications follow the log in order: once the reaction's push is
    // out, the reply was dealt with.
    let received = fake.wait_for(2).await;
    assert_eq!(received[1].data["kind"], "REACTION", "{received:#?}");
    outbox_empty(&app).await;
    assert_eq!(fake.received().len(), 2);
    let replies = notified(&app, &ann, "bob replied to you.").await;
    assert_eq!(replies.iter().filter(|n| n["kind"] == "REPLY").count(), 2);
    let on = "mutation { setNotificationPreference(kind: REPLY, push: true) { push } }";
    ok(
        &ask(&app, Some(&ann), on, json!({})).await,
        "setNotificationPreference",
    );

    // A push waiting while the provider is down is dropped when its actor
    // is blocked before it could go out.
    fake.set_down(true);
    let follow = "mutation($id: ID!) { follow(userId: $id) { id } }";
    ok(
        &ask(&app, Some(&bob), follow, json!({ "id": ann.id })).await,
        "follow",
    );
    notified(&app, &ann, "bob followed you.").await;
    assert_eq!(count_rows(&app.conn, "push_deliveries").await, 1);
    let block = "mutation($id: ID!) { blockUser(userId: $id) { id } }";
    ok(
        &ask(&app, Some(&ann), block, json!({ "id": bob.id })).await,
        "blockUser",
    );
    // The waiting push is dropped at its next attempt. (One already past
    // its check when the block came would still go out: wait for the drop
    // before the provider comes back.)
    outbox_empty(&app).await;
    fake.set_down(false);
    comment(&app, &cat, &post_id, "Still here").await;
    let received = fake.wait_for(3).await;
    outbox_empty(&app).await;
    let kinds: Vec<_> = fake
        .received()
        .iter()
        .map(|r| r.data["kind"].clone())
        .collect();
    assert_eq!(kinds, ["REPLY", "REACTION", "REPLY"], "{received:#?}");

    // A ban takes the waiting pushes with the account's tokens.
    fake.set_down(true);
    comment(&app, &cat, &post_id, "Hello again").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while count_rows(&app.conn, "push_deliveries").await == 0 {
        assert!(Instant::now() < deadline, "the push was never queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let root = TestUser::admin(&app, "root").await;
    let ban = "mutation($id: ID!) { setUserDisabled(id: $id, disabled: true) { id } }";
    ok(
        &ask(&app, Some(&root), ban, json!({ "id": ann.id })).await,
        "setUserDisabled",
    );
    assert_eq!(count_rows(&app.conn, "push_deliveries").await, 0);
    // A send already past its check when the ban came is answered 503.
    fake.quiet().await;
    fake.set_down(false);
    // Cat's own phone still gets pushes: the sender is running.
    ok(
        &register(&app, &cat, "FCM", "fcm-cat").await,
        "registerPushToken",
    );
    ok(
        &ask(&app, Some(&root), follow, json!({ "id": cat.id })).await,
        "follow",
    );
    let received = fake.wait_for(4).await;
    assert_eq!(received[3].token, "fcm-cat");
    outbox_empty(&app).await;
    assert_eq!(fake.received().len(), 4);
    assert!(fake.refused().is_empty(), "{:?}", fake.refused());
    app.stop().await;
}

#[tokio::test]
async fn a_dead_token_is_forgotten_and_a_provider_that_is_down_is_retried() {
    let fake = FakeProviders::start().await;
    let app = app_pushing_to(&fake, "100ms,200ms,300ms").await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let phone = another_device(&app, "ann", "phone").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    ok(
        &register(&app, &ann, "FCM", "dead-fcm-token").await,
        "registerPushToken",
    );
    ok(
        &register(&app, &phone, "APNS", "dead-apns-token").await,
        "registerPushToken",
    );
    let post_id = post(&app, &ann, "Anyone there?", None).await;

    // Both providers answer "unregistered": both tokens are forgotten.
    comment(&app, &bob, &post_id, "Hello?").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while count_rows(&app.conn, "push_tokens").await > 0 {
        assert!(
            Instant::now() < deadline,
            "dead tokens kept: {:?}",
            tokens(&app).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.attempts(), 2);
    let device = ask(&app, Some(&ann), "{ pushDevice { provider } }", json!({})).await;
    assert!(ok(&device, "pushDevice").is_null(), "{device}");
    outbox_empty(&app).await;

    // A provider down for two attempts gets the push on the third.
    ok(
        &register(&app, &ann, "FCM", "fcm-ann-new").await,
        "registerPushToken",
    );
    fake.fail_next(2);
    comment(&app, &bob, &post_id, "Are you up?").await;
    let received = fake.wait_for(1).await;
    assert_eq!(received[0].token, "fcm-ann-new");
    assert_eq!(fake.attempts(), 2 + 3);
    outbox_empty(&app).await;
    // The notification itself was never at stake.
    notified(&app, &ann, "bob replied to you.").await;

    // Down for longer than the schedule: the push is given up, the token
    // kept, and the next push goes out.
    fake.set_down(true);
    comment(&app, &bob, &post_id, "Last try").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.attempts() < 5 + 4 {
        assert!(Instant::now() < deadline, "{} attempts", fake.attempts());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    outbox_empty(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.attempts(), 5 + 4, "tried again after the last retry");
    fake.set_down(false);
    assert_eq!(tokens(&app).await, ["fcm-ann-new"]);
    comment(&app, &bob, &post_id, "Back?").await;
    assert_eq!(fake.wait_for(2).await.len(), 2);
    assert!(fake.refused().is_empty(), "{:?}", fake.refused());
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_reactions_collapses_into_one_push_with_the_latest_count() {
    let fake = FakeProviders::start().await;
    let app = app_pushing_to(&fake, &["100ms"; 100].join(",")).await;
    let ann = TestUser::sign_up(&app, "ann").await;
    ok(
        &register(&app, &ann, "FCM", "fcm-ann").await,
        "registerPushToken",
    );
    let post_id = post(&app, &ann, "React to me", None).await;

    fake.set_down(true);
    let react = "mutation($post: ID!) { react(postId: $post, kind: LOVE) { id } }";
    for name in ["bob", "cat", "dan"] {
        let fan = TestUser::sign_up(&app, name).await;
        ok(
            &ask(&app, Some(&fan), react, json!({ "post": post_id })).await,
            "react",
        );
    }
    notified(&app, &ann, "dan and 2 others reacted to your post.").await;
    // One notification gathered them; one push waits for it.
    assert_eq!(count_rows(&app.conn, "push_deliveries").await, 1);
    fake.set_down(false);
    let received = fake.wait_for(1).await;
    outbox_empty(&app).await;
    assert_eq!(fake.received().len(), 1, "{received:#?}");
    assert_eq!(received[0].title, "New reactions");
    assert_eq!(received[0].body, "dan and 2 others reacted to your post.");
    app.stop().await;
}

#[tokio::test]
async fn without_push_settings_nothing_is_queued() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    ok(
        &register(&app, &ann, "FCM", "fcm-ann").await,
        "registerPushToken",
    );
    let post_id = post(&app, &ann, "Quiet", None).await;
    comment(&app, &bob, &post_id, "Hi").await;
    notified(&app, &ann, "bob replied to you.").await;
    assert_eq!(count_rows(&app.conn, "push_deliveries").await, 0);
    app.stop().await;
}
