//! The event log: subscriptions that resume from a cursor, the `events`
//! catch-up query, retention, and changes that roll back leaving no event.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, exec, query_strings, spawn_app, spawn_app_with,
    user::{TestUser, ask, code, community, ok, post},
    ws::{Frame, open, signed_in_socket},
};

const POST_ADDED: &str = "subscription($c: ID!, $after: String) {
    postAdded(communityId: $c, after: $after) { cursor post { id body } } }";

const EVENTS: &str = "query($after: String, $first: Int, $c: ID) {
    events(after: $after, first: $first, communityId: $c) {
        edges { cursor node { kind post { id } comment { id } message { body } } }
        pageInfo { hasNextPage endCursor } } }";

async fn add_member(app: &TestApp, owner: &TestUser, community: &str, who: &TestUser) {
    let body = ask(
        app,
        Some(owner),
        "mutation($c: ID!, $u: ID!) { addCommunityMember(communityId: $c, userId: $u) { role } }",
        json!({"c": community, "u": who.id}),
    )
    .await;
    ok(&body, "addCommunityMember");
}

async fn remove_member(app: &TestApp, owner: &TestUser, community: &str, who: &TestUser) {
    let body = ask(
        app,
        Some(owner),
        "mutation($c: ID!, $u: ID!) { removeCommunityMember(communityId: $c, userId: $u) { id } }",
        json!({"c": community, "u": who.id}),
    )
    .await;
    ok(&body, "removeCommunityMember");
}

async fn delete_post(app: &TestApp, who: &TestUser, id: &str) {
    let body = ask(
        app,
        Some(who),
        "mutation($id: ID!) { deletePost(id: $id) }",
        json!({"id": id}),
    )
    .await;
    ok(&body, "deletePost");
}

/// The next `postAdded` event on `id`: its cursor and post id.
async fn next_post(ws: &mut crate::helpers::ws::Ws, id: &str) -> (String, String) {
    let event = ws.event(id).await;
    let added = &event["data"]["postAdded"];
    (
        added["cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("{event}"))
            .to_owned(),
        added["post"]["id"].as_str().unwrap().to_owned(),
    )
}

/// A subscriber goes away; 100 events happen, some it may not see (posts
/// deleted since, posts in a private community it was removed from); it
/// comes back with `after:` and gets exactly the visible ones, in order,
/// once each, then live ones. The private community's subscription cannot
/// resume at all.
#[tokio::test]
async fn a_returning_subscriber_gets_what_it_may_see_since_its_cursor_then_live_events() {
    let app = spawn_app().await;
    let owner = TestUser::sign_up(&app, "owner").await;
    let sub = TestUser::sign_up(&app, "sub").await;
    let open_c = community(&app, &owner, "open", "PUBLIC").await;
    let inner = community(&app, &owner, "inner", "PRIVATE").await;
    add_member(&app, &owner, &inner, &sub).await;

    let mut ws = signed_in_socket(app.addr, &sub).await;
    ws.subscribe("o", POST_ADDED, json!({"c": open_c})).await;
    ws.subscribe("i", POST_ADDED, json!({"c": inner})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    post(&app, &owner, "first open", Some(&open_c)).await;
    let (open_cursor, _) = next_post(&mut ws, "o").await;
    post(&app, &owner, "first inner", Some(&inner)).await;
    let (inner_cursor, _) = next_post(&mut ws, "i").await;
    drop(ws);

    // 100 events while away: 50 posts in the public community, 10 of which
    // are deleted again, and 50 in the private one.
    let mut visible = Vec::new();
    let mut deleted = Vec::new();
    for n in 0..100 {
        if n % 2 == 0 {
            let id = post(&app, &owner, &format!("open {n}"), Some(&open_c)).await;
            if n % 10 == 0 {
                deleted.push(id);
            } else {
                visible.push(id);
            }
        } else {
            post(&app, &owner, &format!("inner {n}"), Some(&inner)).await;
        }
    }
    for id in &deleted {
        delete_post(&app, &owner, id).await;
    }
    remove_member(&app, &owner, &inner, &sub).await;

    let mut ws = signed_in_socket(app.addr, &sub).await;
    ws.subscribe("o", POST_ADDED, json!({"c": open_c, "after": open_cursor}))
        .await;
    let mut replayed = Vec::new();
    let mut cursors = vec![open_cursor.clone()];
    while replayed.len() < visible.len() {
        let (cursor, id) = next_post(&mut ws, "o").await;
        cursors.push(cursor);
        replayed.push(id);
    }
    assert_eq!(replayed, visible, "the visible posts, in order, once each");
    let distinct: std::collections::HashSet<_> = cursors.iter().collect();
    assert_eq!(distinct.len(), cursors.len(), "every cursor differs");
    ws.silent_for(Duration::from_millis(300)).await;
    let live = post(&app, &owner, "live again", Some(&open_c)).await;
    assert_eq!(next_post(&mut ws, "o").await.1, live);

    // No longer a member: the private community cannot be resumed.
    ws.subscribe("i", POST_ADDED, json!({"c": inner, "after": inner_cursor}))
        .await;
    let error = ws.json().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["payload"][0]["extensions"]["code"], "FORBIDDEN");
}

/// `events` over plain HTTP: what happened since a cursor that the viewer
/// may see, in pages that hand over to each other and to subscriptions.
#[tokio::test]
async fn the_events_query_catches_up_over_http() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let eve = TestUser::sign_up(&app, "eve").await;
    let club = community(&app, &ann, "club", "PUBLIC").await;
    let secret = community(&app, &eve, "secret", "PRIVATE").await;
    crate::helpers::user::join(&app, &bob, &club).await;

    // Bob's starting point: the end of what he can see now.
    let start = ask(&app, Some(&bob), EVENTS, json!({})).await;
    let mut after = ok(&start, "events")["pageInfo"]["endCursor"].clone();
    assert!(after.is_string(), "{start}");

    let bobs_post = post(&app, &bob, "mine", None).await;
    let in_club = post(&app, &ann, "in the club", Some(&club)).await;
    post(&app, &eve, "not for bob", Some(&secret)).await;
    post(&app, &ann, "on ann's profile", None).await;
    let commented = ask(
        &app,
        Some(&ann),
        "mutation($p: ID!) { createComment(input: {postId: $p, body: \"nice\"}) { id } }",
        json!({"p": bobs_post}),
    )
    .await;
    let comment = ok(&commented, "createComment")["id"].clone();
    let started = ask(
        &app,
        Some(&ann),
        "mutation($u: [ID!]!) { startConversation(input: {participantIds: $u, message: \"hey bob\"}) { id } }",
        json!({"u": [bob.id]}),
    )
    .await;
    ok(&started, "startConversation");

    visible(&app, &bob, json!({"after": after}), 3).await;
    // Two pages of two: the club post and the comment, then the message.
    let mut kinds = Vec::new();
    let mut pages = 0;
    loop {
        let body = ask(
            &app,
            Some(&bob),
            EVENTS,
            json!({"after": after, "first": 2}),
        )
        .await;
        let events = ok(&body, "events");
        pages += 1;
        for edge in events["edges"].as_array().unwrap() {
            let node = &edge["node"];
            kinds.push(node["kind"].as_str().unwrap().to_owned());
            match node["kind"].as_str() {
                Some("POST_CREATED") => assert_eq!(node["post"]["id"], in_club.as_str()),
                Some("COMMENT_CREATED") => assert_eq!(node["comment"]["id"], comment),
                Some("MESSAGE_SENT") => assert_eq!(node["message"]["body"], "hey bob"),
                other => panic!("unexpected {other:?}: {node}"),
            }
        }
        after = events["pageInfo"]["endCursor"].clone();
        if events["pageInfo"]["hasNextPage"] == false {
            break;
        }
    }
    assert_eq!(kinds, ["POST_CREATED", "COMMENT_CREATED", "MESSAGE_SENT"]);
    assert_eq!(pages, 2);
    let caught_up = ask(&app, Some(&bob), EVENTS, json!({"after": after})).await;
    assert_eq!(ok(&caught_up, "events")["edges"], json!([]));

    // One community's posts, anonymously; a private one is refused.
    let body = ask(&app, None, EVENTS, json!({"c": club})).await;
    let edges = ok(&body, "events")["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 1, "{body}");
    let body = ask(&app, None, EVENTS, json!({"c": secret})).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let body = ask(&app, None, EVENTS, json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    let body = ask(&app, Some(&bob), EVENTS, json!({"after": "bm9wZQ"})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let body = ask(&app, Some(&bob), EVENTS, json!({"first": 101})).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "first", "{body}");
}

/// The edges of `events` for `variables`, once there are `n`: on
/// PostgreSQL an event is read once no transaction that began before it
/// still runs (other tests' too), so it may show a moment after its write.
async fn visible(app: &TestApp, who: &TestUser, variables: Value, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body = ask(app, Some(who), EVENTS, variables.clone()).await;
        let edges = ok(&body, "events")["edges"].as_array().unwrap().clone();
        if edges.len() >= n {
            assert_eq!(edges.len(), n, "{body}");
            return edges;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Once the log is pruned past a cursor, resuming from it is refused with
/// `RESYNC_REQUIRED`, over HTTP and on a socket; a newer cursor still works.
#[tokio::test]
async fn a_cursor_older_than_the_log_keeps_must_resync() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let club = community(&app, &ann, "club", "PUBLIC").await;
    let old = ask(&app, Some(&ann), EVENTS, json!({"c": club})).await;
    let old_cursor = ok(&old, "events")["pageInfo"]["endCursor"].clone();
    for n in 0..6 {
        post(&app, &ann, &format!("post {n}"), Some(&club)).await;
    }
    let edges = visible(&app, &ann, json!({"c": club}), 6).await;
    let config = api::events::settings::EventsConfig {
        retention: Duration::from_secs(3600),
        max_events: 3,
    };
    // Pruning never passes the webhook fan-out's place in the log, which
    // (with no webhook registered) moves every few seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut pruned = 0;
    while pruned < 3 {
        assert!(std::time::Instant::now() < deadline, "pruned {pruned}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        pruned += api::events::sweeper::prune(&app.app_db, &config)
            .await
            .expect("pruned");
    }

    let body = ask(
        &app,
        Some(&ann),
        EVENTS,
        json!({"c": club, "after": old_cursor}),
    )
    .await;
    assert_eq!(code(&body), "RESYNC_REQUIRED", "{body}");
    let mut ws = signed_in_socket(app.addr, &ann).await;
    ws.subscribe("p", POST_ADDED, json!({"c": club, "after": old_cursor}))
        .await;
    let error = ws.json().await;
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "RESYNC_REQUIRED",
        "{error}"
    );

    // The newest three are kept, and can be resumed from.
    let recent = edges[3]["cursor"].clone();
    let body = ask(
        &app,
        Some(&ann),
        EVENTS,
        json!({"c": club, "after": recent}),
    )
    .await;
    assert_eq!(ok(&body, "events")["edges"].as_array().unwrap().len(), 2);
    // A cursor this database never handed out is refused too.
    let foreign = base64_cursor(i64::MAX / 2, 1);
    let body = ask(
        &app,
        Some(&ann),
        EVENTS,
        json!({"c": club, "after": foreign}),
    )
    .await;
    assert_eq!(code(&body), "RESYNC_REQUIRED", "{body}");
}

fn base64_cursor(txid: i64, position: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ev1:{txid}:{position}"))
}

/// A change that fails after writing its row rolls back with its event:
/// the post is not there, and neither subscribers nor the log ever see it.
/// The failure is forced by the database itself, after the post's row was
/// written: on SQLite a trigger refuses the event row; on PostgreSQL a
/// deferred constraint trigger fails the commit.
#[tokio::test]
async fn a_change_that_rolls_back_leaves_no_event() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let club = community(&app, &ann, "club", "PUBLIC").await;
    let mut ws = signed_in_socket(app.addr, &ann).await;
    ws.subscribe("p", POST_ADDED, json!({"c": club})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = event_count(&app).await;

    if app.db.backend == migration::database::Backend::Postgres {
        exec(
            &app.conn,
            "CREATE FUNCTION refuse_posts() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.kind = 'post.created' THEN RAISE EXCEPTION 'refused at commit'; END IF;
             RETURN NULL; END $$",
        )
        .await;
        exec(
            &app.conn,
            "CREATE CONSTRAINT TRIGGER refuse_posts AFTER INSERT ON events
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_posts()",
        )
        .await;
    } else {
        exec(
            &app.conn,
            "CREATE TRIGGER refuse_posts BEFORE INSERT ON events WHEN NEW.kind = 'post.created'
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .await;
    }
    let body = ask(
        &app,
        Some(&ann),
        "mutation($c: ID!) { createPost(input: {body: \"doomed\", communityId: $c}) { id } }",
        json!({"c": club}),
    )
    .await;
    assert_eq!(code(&body), "INTERNAL", "{body}");
    let posts = query_strings(
        &app.conn,
        "SELECT CAST(count(*) AS TEXT) AS n FROM posts WHERE body = 'doomed'",
        &["n"],
    )
    .await;
    assert_eq!(posts, [["0"]], "the post's row went with the failure");
    assert_eq!(event_count(&app).await, before, "no event was written");
    ws.silent_for(Duration::from_millis(500)).await;

    // Other writes go on, and so do their events.
    let drop = if app.db.backend == migration::database::Backend::Postgres {
        "DROP TRIGGER refuse_posts ON events"
    } else {
        "DROP TRIGGER refuse_posts"
    };
    exec(&app.conn, drop).await;
    let id = post(&app, &ann, "fine", Some(&club)).await;
    assert_eq!(next_post(&mut ws, "p").await.1, id);
}

async fn event_count(app: &TestApp) -> String {
    query_strings(
        &app.conn,
        "SELECT CAST(count(*) AS TEXT) AS n FROM events",
        &["n"],
    )
    .await
    .remove(0)
    .remove(0)
}

/// A socket's session is signed out elsewhere: the socket closes with 4403
/// and the token is refused at once.
#[tokio::test]
async fn a_signed_out_session_loses_its_socket_and_its_token() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let mut ws = signed_in_socket(app.addr, &ann).await;
    let me = "{ me { email } }";
    let (_, body) = app.graphql_as(&ann.token, me, json!({})).await;
    assert_eq!(body["data"]["me"]["email"], "ann@example.com");
    let (_, body) = app
        .graphql_as(&ann.token, "mutation { signOut }", json!({}))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let started = std::time::Instant::now();
    let (code_, reason) = ws.closed().await;
    assert_eq!(
        (code_, reason.as_str()),
        (4403, "Forbidden: this session has ended")
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let (_, body) = app.graphql_as(&ann.token, me, json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    // Nor can it open a new socket.
    let mut ws = open(app.addr).await;
    ws.send(json!({"type": "connection_init", "payload": {"accessToken": ann.token}}))
        .await;
    assert_eq!(ws.closed().await.0, 4403);
}

/// A socket closes with 4401 when its access token expires, unless the
/// client signed in again on it with a `ping` carrying a fresh token.
#[tokio::test]
async fn a_socket_ends_with_its_token_unless_signed_in_again() {
    let app = spawn_app_with(|c| c.auth.access_token_ttl = Duration::from_secs(3)).await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let mut lapsing = signed_in_socket(app.addr, &ann).await;
    let mut renewed = signed_in_socket(app.addr, &ann).await;
    // Expiry has whole seconds: the first token ends 2 to 3 s from now,
    // the fresh one 3.5 to 4.5 s from now.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let fresh = sign_in(&app, "ann").await;
    renewed
        .send(json!({"type": "ping", "payload": {"accessToken": fresh}}))
        .await;
    assert_eq!(renewed.json().await["type"], "pong");

    let (code_, reason) = lapsing.closed().await;
    assert_eq!(code_, 4401, "{reason}");
    // The renewed one outlives the first token.
    renewed.silent_for(Duration::from_millis(400)).await;
    renewed.subscribe("q", "{ me { email } }", json!({})).await;
    assert_eq!(
        renewed.event("q").await["data"]["me"]["email"],
        "ann@example.com"
    );
    // Another account's token cannot take a socket over.
    let bob = TestUser::sign_up(&app, "bob").await;
    renewed
        .send(json!({"type": "ping", "payload": {"accessToken": bob.token}}))
        .await;
    assert_eq!(renewed.closed().await.0, 4403);
}

async fn sign_in(app: &TestApp, name: &str) -> String {
    let (_, body) = app
        .graphql(
            "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
            json!({ "input": {
                "login": name, "password": "correct horse battery",
                "device": { "name": "test", "secret": "device-secret-0123456789abcdef" },
            }}),
        )
        .await;
    body["data"]["signIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// Sockets without a token are limited per address.
#[tokio::test]
async fn anonymous_sockets_are_limited_per_address() {
    let app = spawn_app_with(|c| c.realtime.max_anonymous_per_address = 2).await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let mut first = open(app.addr).await;
    first.init(None).await;
    let mut second = open(app.addr).await;
    second.init(None).await;
    let mut third = open(app.addr).await;
    third.send(json!({"type": "connection_init"})).await;
    let (code_, reason) = third.closed().await;
    assert_eq!(code_, 1008, "{reason}");
    // Signed in, the same address may open more.
    let _signed_in = signed_in_socket(app.addr, &ann).await;
    // A closed one frees its place.
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = open(app.addr).await;
        again.send(json!({"type": "connection_init"})).await;
        match again.next_within(Duration::from_secs(2)).await {
            Some(Frame::Json(m)) if m["type"] == "connection_ack" => break,
            _ => assert!(std::time::Instant::now() < deadline, "no place freed"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = second;
}
