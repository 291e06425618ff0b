//! Subscriptions over WebSocket (graphql-transport-ws and the legacy
//! graphql-ws protocol): the protocol's close codes, origins,
//! authorization when subscribing and per event, limits, and events that
//! cross API processes through PostgreSQL.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::SinkExt;
use sea_orm::{EntityTrait, Set};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::helpers::{
    TestApp,
    replicas::{self, call},
    spawn_app, spawn_app_with,
    user::{TestUser, ask},
    ws::{Frame, TRANSPORT_WS, open, open_with, signed_in_socket},
};

async fn create_post(app: &TestApp, who: &TestUser, community: Option<&str>) -> String {
    let body = ask(
        app,
        Some(who),
        "mutation($input: CreatePostInput!) { createPost(input: $input) { id } }",
        json!({"input": {"body": "hello", "communityId": community}}),
    )
    .await;
    body["data"]["createPost"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn comment(app: &TestApp, who: &TestUser, post: &str, text: &str) -> Value {
    ask(
        app,
        Some(who),
        "mutation($input: CreateCommentInput!) { createComment(input: $input) { id } }",
        json!({"input": {"postId": post, "body": text}}),
    )
    .await
}

const COMMENT_ADDED: &str = "subscription($post: ID!) { commentAdded(postId: $post) { cursor comment { id body author { username } } } }";

#[tokio::test]
async fn close_codes_follow_graphql_transport_ws() {
    let app = spawn_app_with(|c| c.realtime.init_timeout = Duration::from_millis(500)).await;
    let ann = TestUser::sign_up(&app, "ann").await;

    // 4400: a message that is not JSON, one of unknown type, a binary frame.
    for bad in ["not json", r#"{"type":"hello"}"#, r#"{"type":"subscribe"}"#] {
        let mut ws = open(app.addr).await;
        ws.send_text(bad).await;
        assert_eq!(ws.closed().await.0, 4400, "{bad}");
    }
    let mut ws = open(app.addr).await;
    ws.0.send(Message::Binary(vec![1, 2].into())).await.unwrap();
    assert_eq!(ws.closed().await.0, 4400);

    // 4401: subscribe before connection_ack.
    let mut ws = open(app.addr).await;
    ws.subscribe(
        "1",
        "subscription { messageReceived { message { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(ws.closed().await.0, 4401);

    // 4403: connection_init with a bad token.
    let mut ws = open(app.addr).await;
    ws.send(json!({"type": "connection_init", "payload": {"Authorization": "Bearer forged.token.value"}}))
        .await;
    assert_eq!(ws.closed().await.0, 4403);

    // 4408: no connection_init in time.
    let mut ws = open(app.addr).await;
    let (code, reason) = ws.closed().await;
    assert_eq!(
        (code, reason.as_str()),
        (4408, "Connection initialisation timeout")
    );

    // 4409: a second subscription under a running one's id.
    let post = create_post(&app, &ann, None).await;
    let mut ws = signed_in_socket(app.addr, &ann).await;
    ws.subscribe("same", COMMENT_ADDED, json!({"post": post}))
        .await;
    ws.subscribe("same", COMMENT_ADDED, json!({"post": post}))
        .await;
    assert_eq!(
        ws.closed().await,
        (4409, "Subscriber for same already exists".into())
    );

    // 4429: a second connection_init.
    let mut ws = signed_in_socket(app.addr, &ann).await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(ws.closed().await.0, 4429);

    // 4406: no subprotocol the server speaks.
    let mut ws = open_with(app.addr, "", &[]).await.expect("opens");
    assert_eq!(ws.closed().await.0, 4406);

    // 4403: a private subscription on an anonymous connection.
    let mut ws = open(app.addr).await;
    ws.init(None).await;
    ws.subscribe(
        "dm",
        "subscription { messageReceived { message { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(ws.closed().await.0, 4403);
}

#[tokio::test]
async fn subscriptions_over_http_are_pointed_to_the_websocket() {
    let app = spawn_app().await;
    let query = "subscription { messageReceived { message { id } } }";
    let (status, body) = app.graphql(query, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("WebSocket")
    );
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", query)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_foreign_origin_is_refused() {
    let app = spawn_app_with(|c| {
        c.cors_origins = vec!["https://app.example".into()];
        c.environment = api::config::Environment::Production;
    })
    .await;
    let refused = open_with(
        app.addr,
        TRANSPORT_WS,
        &[("origin", "https://evil.example")],
    )
    .await;
    match refused {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    // Also refused in production: another port on loopback.
    let loopback = open_with(
        app.addr,
        TRANSPORT_WS,
        &[("origin", "http://localhost:3000")],
    )
    .await;
    assert!(loopback.is_err());
    // Listed, same-origin and origin-less (native) clients connect.
    let own = format!("http://{}", app.addr);
    for origin in [Some("https://app.example"), Some(own.as_str()), None] {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let mut ws = open_with(app.addr, TRANSPORT_WS, &headers)
            .await
            .unwrap_or_else(|e| panic!("{origin:?} refused: {e}"));
        ws.init(None).await;
    }
}

#[tokio::test]
async fn comment_added_reaches_subscribers_and_pings_keep_them_alive() {
    let app = spawn_app_with(|c| c.realtime.keepalive = Duration::from_millis(300)).await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let post = create_post(&app, &ann, None).await;
    let other_post = create_post(&app, &ann, None).await;

    // Anonymous subscribers may follow public posts.
    let mut anonymous = open(app.addr).await;
    anonymous.init(None).await;
    anonymous
        .subscribe("c", COMMENT_ADDED, json!({"post": post}))
        .await;
    let mut ws = signed_in_socket(app.addr, &ann).await;
    ws.subscribe("c", COMMENT_ADDED, json!({"post": post}))
        .await;
    // Let both subscriptions start before the event.
    tokio::time::sleep(Duration::from_millis(200)).await;

    comment(&app, &bob, &other_post, "elsewhere").await;
    let started = Instant::now();
    comment(&app, &bob, &post, "first!").await;
    let payload = ws.event("c").await;
    println!(
        "mutation -> subscriber, same process: {:?}",
        started.elapsed()
    );
    assert_eq!(
        payload["data"]["commentAdded"]["comment"]["body"], "first!",
        "{payload}"
    );
    assert_eq!(
        payload["data"]["commentAdded"]["comment"]["author"]["username"],
        "bob"
    );
    let payload = anonymous.event("c").await;
    assert_eq!(payload["data"]["commentAdded"]["comment"]["body"], "first!");

    // The server pings an idle connection; a client ping gets a pong.
    match ws.next_within(Duration::from_secs(2)).await {
        Some(Frame::Json(m)) => assert_eq!(m["type"], "ping", "{m}"),
        other => panic!("expected a ping, got {other:?}"),
    }
    ws.send(json!({"type": "ping", "payload": {"n": 1}})).await;
    let pong = ws.json().await;
    assert_eq!(pong, json!({"type": "pong", "payload": {"n": 1}}));

    // `complete` from the client stops the events.
    ws.send(json!({"type": "complete", "id": "c"})).await;
    comment(&app, &bob, &post, "second").await;
    let payload = anonymous.event("c").await;
    assert_eq!(payload["data"]["commentAdded"]["comment"]["body"], "second");
    ws.silent_for(Duration::from_millis(500)).await;

    // Queries run over the socket too, then complete.
    ws.subscribe("q", "{ me { email } }", json!({})).await;
    assert_eq!(
        ws.event("q").await["data"]["me"]["email"],
        "ann@example.com"
    );
    assert_eq!(ws.json().await, json!({"type": "complete", "id": "q"}));

    // A subscription that cannot start is an `error` message.
    ws.subscribe("bad", COMMENT_ADDED, json!({"post": "not-an-id"}))
        .await;
    let error = ws.json().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    ws.subscribe("bad", "subscription { nope }", json!({}))
        .await;
    let error = ws.json().await;
    assert_eq!(error["type"], "error", "{error}");
}

#[tokio::test]
async fn private_community_events_stop_when_a_member_is_removed() {
    let app = spawn_app().await;
    let owner = TestUser::sign_up(&app, "owner").await;
    let member = TestUser::sign_up(&app, "member").await;
    let outsider = TestUser::sign_up(&app, "outsider").await;
    let body = ask(
        &app,
        Some(&owner),
        "mutation { createCommunity(input: {slug: \"inner\", name: \"Inner\", visibility: PRIVATE}) { id } }",
        json!({}),
    )
    .await;
    let community = body["data"]["createCommunity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let membership =
        "mutation($c: ID!, $u: ID!) { addCommunityMember(communityId: $c, userId: $u) { role } }";
    ask(
        &app,
        Some(&owner),
        membership,
        json!({"c": community, "u": member.id}),
    )
    .await;
    let subscription = "subscription($c: ID!) { postAdded(communityId: $c) { post { id body } } }";

    // An outsider cannot subscribe.
    let mut ws = signed_in_socket(app.addr, &outsider).await;
    ws.subscribe("p", subscription, json!({"c": community}))
        .await;
    let error = ws.json().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["payload"][0]["extensions"]["code"], "FORBIDDEN");

    let mut ws = signed_in_socket(app.addr, &member).await;
    ws.subscribe("p", subscription, json!({"c": community}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let post = create_post(&app, &owner, Some(&community)).await;
    assert_eq!(
        ws.event("p").await["data"]["postAdded"]["post"]["id"],
        post.as_str()
    );

    // Removed: the same subscription receives nothing more.
    let removal =
        "mutation($c: ID!, $u: ID!) { removeCommunityMember(communityId: $c, userId: $u) { id } }";
    ask(
        &app,
        Some(&owner),
        removal,
        json!({"c": community, "u": member.id}),
    )
    .await;
    create_post(&app, &owner, Some(&community)).await;
    ws.silent_for(Duration::from_millis(700)).await;
}

#[tokio::test]
async fn messages_reach_participants_only() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let eve = TestUser::sign_up(&app, "eve").await;
    let subscription = "subscription { messageReceived { message { body conversation { id } } } }";
    let mut bobs = signed_in_socket(app.addr, &bob).await;
    bobs.subscribe("m", subscription, json!({})).await;
    let mut eves = signed_in_socket(app.addr, &eve).await;
    eves.subscribe("m", subscription, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let body = ask(
        &app,
        Some(&ann),
        "mutation($input: StartConversationInput!) { startConversation(input: $input) { id } }",
        json!({"input": {"participantIds": [bob.id], "message": "hi bob"}}),
    )
    .await;
    let conversation = body["data"]["startConversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = bobs.event("m").await;
    assert_eq!(
        event["data"]["messageReceived"]["message"]["body"],
        "hi bob"
    );
    ask(
        &app,
        Some(&bob),
        "mutation($c: ID!) { sendMessage(conversationId: $c, body: \"hi ann\") { id } }",
        json!({"c": conversation}),
    )
    .await;
    // The sender's own devices see it as well.
    assert_eq!(
        bobs.event("m").await["data"]["messageReceived"]["message"]["body"],
        "hi ann"
    );
    eves.silent_for(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn reactions_update_counts_live() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let post = create_post(&app, &ann, None).await;
    let mut ws = signed_in_socket(app.addr, &ann).await;
    ws.subscribe(
        "r",
        "subscription($p: ID!) { reactionChanged(postId: $p) { post { reactionCount reactionCounts { kind count } } } }",
        json!({"p": post}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let react = "mutation($p: ID!) { react(postId: $p, kind: LOVE) { id } }";
    ask(&app, Some(&bob), react, json!({"p": post})).await;
    let event = ws.event("r").await;
    assert_eq!(
        event["data"]["reactionChanged"]["post"],
        json!({"reactionCount": 1, "reactionCounts": [{"kind": "LOVE", "count": 1}]})
    );
    ask(
        &app,
        Some(&bob),
        "mutation($p: ID!) { unreact(postId: $p) { id } }",
        json!({"p": post}),
    )
    .await;
    assert_eq!(
        ws.event("r").await["data"]["reactionChanged"]["post"]["reactionCount"],
        0
    );
}

/// The subscribers of one event are checked together, each by the read
/// rules a query applies to them: blocks either way with the comment's
/// author, a block of the post's author made mid-subscription, anonymous
/// readers. And many subscriptions cost a few statements per event, not
/// one each.
#[tokio::test]
async fn one_events_subscribers_are_checked_together_by_the_read_rules() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let post = create_post(&app, &ann, None).await;
    let block = "mutation($u: ID!) { blockUser(userId: $u) { id } }";

    // Readers: ann (the post's author), anonymous, and six others, of whom
    // dave blocked bob, bob blocked erin, and frank will block ann.
    let mut readers = Vec::new();
    for name in ["carol", "dave", "erin", "frank", "gus", "hal"] {
        readers.push((name, TestUser::sign_up(&app, name).await));
    }
    let by_name = |name: &str| &readers.iter().find(|(n, _)| *n == name).unwrap().1;
    ask(&app, Some(by_name("dave")), block, json!({"u": bob.id})).await;
    ask(&app, Some(&bob), block, json!({"u": by_name("erin").id})).await;

    // Each signed-in reader subscribes five times on one socket, so the
    // event has 36 subscriptions but 7 distinct signed-in readers.
    const EACH: usize = 5;
    let mut sockets = Vec::new();
    for who in std::iter::once(&ann).chain(readers.iter().map(|(_, u)| u)) {
        let mut ws = signed_in_socket(app.addr, who).await;
        for n in 0..EACH {
            ws.subscribe(&format!("c{n}"), COMMENT_ADDED, json!({"post": post}))
                .await;
        }
        sockets.push(ws);
    }
    let mut anonymous = open(app.addr).await;
    anonymous.init(None).await;
    anonymous
        .subscribe("c", COMMENT_ADDED, json!({"post": post}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // frank blocks the post's author after subscribing: his events stop.
    ask(&app, Some(by_name("frank")), block, json!({"u": ann.id})).await;

    let before = app.statements.get();
    comment(&app, &bob, &post, "for most").await;
    let shown = ["ann", "carol", "gus", "hal"];
    for (ws, name) in sockets
        .iter_mut()
        .zip(std::iter::once("ann").chain(readers.iter().map(|(n, _)| *n)))
    {
        if shown.contains(&name) {
            let mut ids = Vec::new();
            for _ in 0..EACH {
                let message = ws.json().await;
                assert_eq!(message["type"], "next", "{name}: {message}");
                assert_eq!(
                    message["payload"]["data"]["commentAdded"]["comment"]["body"], "for most",
                    "{name}: {message}"
                );
                ids.push(message["id"].as_str().unwrap().to_owned());
            }
            ids.sort();
            assert_eq!(ids, ["c0", "c1", "c2", "c3", "c4"], "{name}");
        }
    }
    let event = anonymous.event("c").await;
    assert_eq!(event["data"]["commentAdded"]["comment"]["body"], "for most");
    let statements = app.statements.get() - before;
    println!("one comment to 36 subscriptions: {statements} statements");
    // About seven with the comment's own reads and its notification's;
    // one per subscription would be 37 (the anonymous one included) on top.
    // The margin is for batches split on a busy machine.
    assert!(statements < 30, "{statements} statements for one event");
    for (ws, name) in sockets
        .iter_mut()
        .zip(std::iter::once("ann").chain(readers.iter().map(|(n, _)| *n)))
    {
        if !shown.contains(&name) {
            ws.silent_for(Duration::from_millis(300)).await;
        }
    }
}

/// A subscriber that falls more than its buffer behind does not slow the
/// others, and loses nothing: it reads on from the log, in order.
#[tokio::test]
async fn a_lagging_subscriber_catches_up_from_the_log_without_slowing_others() {
    let app = spawn_app_with(|c| c.realtime.event_buffer = 4).await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let post = create_post(&app, &ann, None).await;
    let busy_post = create_post(&app, &ann, None).await;
    let body = comment(&app, &ann, &busy_post, "one").await;
    let busy_comment = body["data"]["createComment"]["id"].as_str().unwrap();
    let ids = |global: &str| {
        api::graphql::id::from_global_id(&global.into())
            .expect("a global id")
            .1
    };
    let mut slow = signed_in_socket(app.addr, &ann).await;
    slow.subscribe("s", COMMENT_ADDED, json!({"post": busy_post}))
        .await;
    let mut other = signed_in_socket(app.addr, &ann).await;
    other
        .subscribe("o", COMMENT_ADDED, json!({"post": post}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let before: i64 = crate::helpers::query_strings(
        &app.conn,
        "SELECT CAST(max(position) AS TEXT) AS p FROM events",
        &["p"],
    )
    .await[0][0]
        .parse()
        .unwrap();
    // A burst far faster than one subscriber loads rows: 500 events in one
    // transaction, each naming the busy comment.
    let (post_id, comment_id, author) = (ids(&busy_post), ids(busy_comment), ids(&ann.id));
    app.app_db
        .transaction(move |tx| {
            Box::pin(async move {
                for _ in 0..500 {
                    entity::event::Entity::insert(entity::event::ActiveModel {
                        kind: Set("comment.created".into()),
                        post_id: Set(Some(post_id)),
                        data: Set(json!({"kind": "comment.created", "comment": comment_id,
                            "post": post_id, "author": author})),
                        created_at: Set(chrono::Utc::now()),
                        ..Default::default()
                    })
                    .exec_without_returning(&tx)
                    .await
                    .expect("event written");
                }
                Ok(())
            })
        })
        .await
        .expect("burst committed");
    comment(&app, &ann, &post, "still flowing").await;
    assert_eq!(
        other.event("o").await["data"]["commentAdded"]["comment"]["body"],
        "still flowing"
    );
    // The busy comment's own event may still reach the subscription live,
    // if the log's reader had not passed it when it subscribed; count the
    // burst's events only, by their place in the log.
    let mut positions = Vec::new();
    while positions.len() < 500 {
        let event = slow.event("s").await;
        let position = position_of(&event["data"]["commentAdded"]["cursor"]);
        if position > before {
            positions.push(position);
        }
    }
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "in order, each once"
    );
    slow.silent_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn connections_and_subscriptions_are_limited() {
    let app = spawn_app_with(|c| {
        c.realtime.max_connections_per_user = 2;
        c.realtime.max_subscriptions = 2;
    })
    .await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let post = create_post(&app, &ann, None).await;
    let mut first = signed_in_socket(app.addr, &ann).await;
    let second = signed_in_socket(app.addr, &ann).await;
    let mut third = open(app.addr).await;
    third
        .send(json!({"type": "connection_init", "payload": {"accessToken": ann.token}}))
        .await;
    assert_eq!(third.closed().await.0, 1008);
    // A closed connection frees its slot.
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = open(app.addr).await;
        again
            .send(json!({"type": "connection_init", "payload": {"accessToken": ann.token}}))
            .await;
        match again.next().await {
            Frame::Json(m) if m["type"] == "connection_ack" => break,
            other => assert!(Instant::now() < deadline, "slot never freed: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for id in ["a", "b"] {
        first
            .subscribe(id, COMMENT_ADDED, json!({"post": post}))
            .await;
    }
    first
        .subscribe("c", COMMENT_ADDED, json!({"post": post}))
        .await;
    let error = first.json().await;
    assert_eq!(
        (error["type"].as_str(), error["id"].as_str()),
        (Some("error"), Some("c"))
    );
    assert_eq!(error["payload"][0]["extensions"]["code"], "RATE_LIMITED");
}

#[tokio::test]
async fn the_legacy_graphql_ws_protocol_works() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let post = create_post(&app, &ann, None).await;
    let mut ws = open_with(app.addr, "graphql-ws", &[]).await.expect("opens");
    ws.send(json!({"type": "connection_init", "payload": {"authToken": null}}))
        .await;
    assert_eq!(ws.json().await["type"], "connection_ack");
    ws.send(json!({"type": "start", "id": "1", "payload": {"query": COMMENT_ADDED, "variables": {"post": post}}}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    comment(&app, &ann, &post, "legacy").await;
    let message = ws.json().await;
    assert_eq!(message["type"], "data", "{message}");
    assert_eq!(
        message["payload"]["data"]["commentAdded"]["comment"]["body"],
        "legacy"
    );
    ws.send(json!({"type": "stop", "id": "1"})).await;
    assert_eq!(ws.json().await, json!({"type": "complete", "id": "1"}));
    // A graphql-transport-ws message is not part of this protocol.
    ws.send(json!({"type": "subscribe", "id": "2", "payload": {"query": "{ __typename }"}}))
        .await;
    assert_eq!(ws.closed().await.0, 4400);
}

/// The log position inside a cursor (opaque to clients; tests know it is
/// `ev1:<txid>:<position>` in base64url).
fn position_of(cursor: &Value) -> i64 {
    use base64::Engine;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.as_str().expect("a cursor"))
        .expect("base64");
    let text = String::from_utf8(text).expect("text");
    text.rsplit(':')
        .next()
        .unwrap()
        .parse()
        .expect("a position")
}

const ADD_COMMENT: &str =
    "mutation($p: ID!, $b: String!) { createComment(input: {postId: $p, body: $b}) { id } }";

/// Two API processes on one PostgreSQL database: a comment made through
/// one reaches a subscriber connected to the other.
#[tokio::test]
async fn events_cross_api_processes_through_postgres() {
    let Some(replicas) = replicas::two(&[]).await else {
        return;
    };
    let [addr_a, addr_b] = replicas.addrs;
    let (token, post) = (replicas.token.clone(), replicas.post.clone());
    let mut ws = open(addr_b).await;
    ws.init(Some(&token)).await;
    ws.subscribe("c", COMMENT_ADDED, json!({"post": post}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::new();
    for n in 0..20 {
        let started = Instant::now();
        call(
            addr_a,
            Some(&token),
            ADD_COMMENT,
            json!({"p": post, "b": "from A"}),
        )
        .await;
        let event = ws.event("c").await;
        latencies.push(started.elapsed());
        assert_eq!(
            event["data"]["commentAdded"]["comment"]["body"], "from A",
            "event {n}: {event}"
        );
    }
    latencies.sort();
    println!(
        "mutation on A -> subscriber on B, 20 events: median {:?}, max {:?}",
        latencies[10], latencies[19]
    );
}

/// The listening connections die in the middle of a burst of writes (as in
/// a database restart): every committed event still reaches a subscriber
/// on the other process, once, because readers follow the log from their
/// cursor rather than trusting notifications.
#[tokio::test]
async fn events_committed_while_listeners_are_killed_all_arrive() {
    let Some(replicas) = replicas::two(&[]).await else {
        return;
    };
    let [addr_a, addr_b] = replicas.addrs;
    let (token, post) = (replicas.token.clone(), replicas.post.clone());
    let conn = replicas.db.connect().await;
    let mut ws = open(addr_b).await;
    ws.init(Some(&token)).await;
    ws.subscribe("c", COMMENT_ADDED, json!({"post": post}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (token, post) = (token.clone(), post.clone());
            tokio::spawn(async move {
                for n in 0..25 {
                    let body = format!("{w}-{n}");
                    call(
                        addr_a,
                        Some(&token),
                        ADD_COMMENT,
                        json!({"p": post, "b": body}),
                    )
                    .await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let listeners = "SELECT pid FROM pg_stat_activity \
        WHERE datname = current_database() AND query ILIKE 'LISTEN%'";
    let killed = crate::helpers::query_strings(
        &conn,
        &format!("SELECT pg_terminate_backend(pid)::text AS done FROM ({listeners}) AS l"),
        &["done"],
    )
    .await;
    assert_eq!(killed.len(), 2, "one listener per process: {killed:?}");
    for writer in writers {
        writer.await.unwrap();
    }
    let mut bodies = std::collections::HashSet::new();
    while bodies.len() < 100 {
        let event = ws.event("c").await;
        let body = event["data"]["commentAdded"]["comment"]["body"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(bodies.insert(body.clone()), "{body} arrived twice");
    }
    ws.silent_for(Duration::from_millis(500)).await;
}

/// A session signed out through one process ends on the other within a
/// second: its token is refused there and its socket there closes (4403).
#[tokio::test]
async fn a_session_signed_out_on_one_process_ends_on_the_others() {
    let Some(replicas) = replicas::two(&[]).await else {
        return;
    };
    let [addr_a, addr_b] = replicas.addrs;
    let token = replicas.token.clone();
    let mut ws = open(addr_b).await;
    ws.init(Some(&token)).await;
    let me = |addr: SocketAddr, token: String| async move {
        let body: Value = reqwest::Client::new()
            .post(format!("http://{addr}/graphql"))
            .bearer_auth(token)
            .json(&json!({"query": "{ me { email } }"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body
    };
    assert_eq!(
        me(addr_b, token.clone()).await["data"]["me"]["email"],
        "ann@example.com"
    );
    call(addr_a, Some(&token), "mutation { signOut }", json!({})).await;
    let signed_out = Instant::now();
    // The end travels through the event log, usually in milliseconds; the
    // bound only has to tell it from the token's own expiry (minutes), with
    // room for a CI machine running many tests on two cores.
    let within = Duration::from_secs(3);
    let closed = tokio::spawn(async move { ws.closed().await });
    loop {
        let body = me(addr_b, token.clone()).await;
        if body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" {
            break;
        }
        assert!(
            signed_out.elapsed() < within,
            "still accepted after {:?}: {body}",
            signed_out.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused_after = signed_out.elapsed();
    let (code, _) = closed.await.unwrap();
    assert_eq!(code, 4403);
    assert!(signed_out.elapsed() < within, "{:?}", signed_out.elapsed());
    println!("signed out on A: token refused on B after {refused_after:?}");
}
