//! Notifications: a row for each kind of cause, gathered where they should
//! be; unread counts and marking read; preferences, mutes and blocks
//! deciding what arrives; the subscription, live and on replay.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, spawn_app,
    user::{TestUser, ask, code, community, join, notified, ok, post},
    ws::signed_in_socket,
};

const INBOX: &str = "query($unread: Boolean) {
    notifications(first: 50, unreadOnly: $unread) {
        edges { cursor node { id kind read actorCount summary actor { username }
            post { body } comment { body } conversation { id } report { action } } } }
    unreadNotificationCount }";
const COMMENT: &str = "mutation($post: ID!, $parent: ID, $body: String!) {
    createComment(input: { postId: $post, parentId: $parent, body: $body }) { id } }";
const REACT: &str = "mutation($post: ID!) { react(postId: $post, kind: LOVE) { id } }";
const FOLLOW: &str = "mutation($id: ID!) { follow(userId: $id) { id } }";

/// `who`'s notifications, newest first, and their unread count.
async fn inbox(app: &TestApp, who: &TestUser) -> (Vec<Value>, u64) {
    let reply = ask(app, Some(who), INBOX, json!({})).await;
    let edges = ok(&reply, "notifications")["edges"]
        .as_array()
        .expect("edges")
        .clone();
    let unread = reply["data"]["unreadNotificationCount"]
        .as_u64()
        .expect("count");
    (
        edges.into_iter().map(|e| e["node"].clone()).collect(),
        unread,
    )
}

/// Waits until `who` has a notification saying `text`; their inbox then.
async fn arrived(app: &TestApp, who: &TestUser, text: &str) -> (Vec<Value>, u64) {
    notified(app, who, text).await;
    inbox(app, who).await
}

fn kinds(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or_default())
        .collect()
}

async fn named(app: &TestApp, name: &str, display: &str) -> TestUser {
    let who = TestUser::sign_up(app, name).await;
    let rename = "mutation($n: String!) { updateProfile(input: { displayName: $n }) { id } }";
    ok(
        &ask(app, Some(&who), rename, json!({ "n": display })).await,
        "updateProfile",
    );
    who
}

fn id(reply: &Value, root: &str) -> String {
    ok(reply, root)["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn each_kind_of_cause_lands_in_the_inbox_gathered_where_it_should_be() {
    let app = spawn_app().await;
    let ann = named(&app, "ann", "Ann").await;
    let bob = named(&app, "bob", "Bob").await;
    let cat = named(&app, "cat", "Cat").await;
    let dan = named(&app, "dan", "Dan").await;
    let root = TestUser::admin(&app, "root").await;
    let anns = post(&app, &ann, "hello world", None).await;

    // A comment on Ann's post; a reply to her comment naming @cat.
    let vars = json!({ "post": anns, "body": "welcome!" });
    ok(&ask(&app, Some(&bob), COMMENT, vars).await, "createComment");
    let vars = json!({ "post": anns, "body": "thanks" });
    let hers = id(&ask(&app, Some(&ann), COMMENT, vars).await, "createComment");
    let vars = json!({ "post": anns, "parent": hers, "body": "you are welcome, @cat see this" });
    ok(&ask(&app, Some(&bob), COMMENT, vars).await, "createComment");
    // Three reactions, two follows, two messages, a mention in a post.
    for who in [&bob, &cat, &dan] {
        ok(
            &ask(&app, Some(who), REACT, json!({ "post": anns })).await,
            "react",
        );
    }
    for who in [&bob, &cat] {
        ok(
            &ask(&app, Some(who), FOLLOW, json!({ "id": ann.id })).await,
            "follow",
        );
    }
    let start = "mutation($ids: [ID!]!, $m: String) { startConversation(input: { participantIds: $ids, message: $m }) { id } }";
    let chat = id(
        &ask(
            &app,
            Some(&bob),
            start,
            json!({ "ids": [ann.id], "m": "hi" }),
        )
        .await,
        "startConversation",
    );
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, body: \"there?\") { id } }";
    ok(
        &ask(&app, Some(&bob), send, json!({ "c": chat })).await,
        "sendMessage",
    );
    post(&app, &dan, "shout out to @ANN and @nobody_here", None).await;
    // Ann reports Bob's comment; an admin dismisses it.
    let bobs = post(&app, &bob, "bob's post", None).await;
    let report = "mutation($t: ID!) { report(input: { targetId: $t, reason: SPAM }) { id } }";
    let filed = id(
        &ask(&app, Some(&ann), report, json!({ "t": bobs })).await,
        "report",
    );
    let resolve =
        "mutation($id: ID!) { resolveReport(id: $id, action: DISMISSED, note: \"fine\") { id } }";
    ok(
        &ask(&app, Some(&root), resolve, json!({ "id": filed })).await,
        "resolveReport",
    );

    let (items, unread) = arrived(&app, &ann, "dealt with your report").await;
    assert_eq!(
        kinds(&items),
        [
            "MODERATION",
            "MENTION",
            "MESSAGE",
            "FOLLOW",
            "REACTION",
            "REPLY",
            "REPLY"
        ],
        "{items:?}"
    );
    assert_eq!(unread, 7);
    assert_eq!(items[0]["report"]["action"], "DISMISSED");
    assert!(items[0]["actor"].is_null(), "moderators stay anonymous");
    assert_eq!(
        items[1]["post"]["body"],
        "shout out to @ANN and @nobody_here"
    );
    assert_eq!(items[2]["summary"], "New messages from Bob.");
    assert_eq!(items[2]["conversation"]["id"], chat.as_str());
    assert_eq!(items[3]["summary"], "Cat and 1 other followed you.");
    assert_eq!(
        items[4]["summary"],
        "Dan and 2 others reacted to your post."
    );
    assert_eq!(items[4]["actorCount"], 3);
    assert_eq!(
        items[5]["comment"]["body"],
        "you are welcome, @cat see this"
    );
    assert_eq!(items[6]["comment"]["body"], "welcome!");
    assert_eq!(items[6]["summary"], "Bob replied to you.");
    // Cat was mentioned; Bob (who wrote it all) hears of nothing but the
    // report's author, which he is not told of.
    let (cats, _) = arrived(&app, &cat, "mentioned you").await;
    assert_eq!(kinds(&cats), ["MENTION"]);
    assert!(inbox(&app, &bob).await.0.is_empty());

    // Marking read: one; then up to a cursor (that one and older); then
    // the rest.
    let mark = "mutation($id: ID!) { markNotificationRead(id: $id) { read } }";
    let first = items[0]["id"].as_str().expect("id");
    let marked = ask(&app, Some(&ann), mark, json!({ "id": first })).await;
    assert_eq!(ok(&marked, "markNotificationRead")["read"], true);
    assert_eq!(inbox(&app, &ann).await.1, 6);
    let reply = ask(&app, Some(&ann), INBOX, json!({})).await;
    let cursor = reply["data"]["notifications"]["edges"][4]["cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let all = "mutation($upTo: String) { markAllNotificationsRead(upTo: $upTo) }";
    let marked = ask(&app, Some(&ann), all, json!({ "upTo": cursor })).await;
    assert_eq!(
        ok(&marked, "markAllNotificationsRead"),
        3,
        "the three oldest"
    );
    assert_eq!(inbox(&app, &ann).await.1, 3);
    let marked = ask(&app, Some(&ann), all, json!({})).await;
    assert_eq!(ok(&marked, "markAllNotificationsRead"), 3);
    assert_eq!(inbox(&app, &ann).await.1, 0);
    let unread = ask(&app, Some(&ann), INBOX, json!({ "unread": true })).await;
    assert_eq!(ok(&unread, "notifications")["edges"], json!([]));
    // Someone else's notification is not found; a bad cursor is refused.
    let refused = ask(&app, Some(&bob), mark, json!({ "id": first })).await;
    assert_eq!(code(&refused), "NOT_FOUND");
    let refused = ask(&app, Some(&ann), all, json!({ "upTo": "nope" })).await;
    assert_eq!(code(&refused), "BAD_USER_INPUT");

    // A reaction after the gathered one was read opens a new one.
    let eve = named(&app, "eve", "Eve").await;
    ok(
        &ask(&app, Some(&eve), REACT, json!({ "post": anns })).await,
        "react",
    );
    let (items, unread) = arrived(&app, &ann, "Eve reacted to your post.").await;
    assert_eq!((items[0]["actorCount"].as_i64(), unread), (Some(1), 1));

    // A mention where the named person cannot read stays silent.
    let hideout = community(&app, &dan, "hideout", "PRIVATE").await;
    post(&app, &dan, "@ann will never see this", Some(&hideout)).await;
    ok(
        &ask(&app, Some(&eve), FOLLOW, json!({ "id": ann.id })).await,
        "follow",
    );
    let (items, _) = arrived(&app, &ann, "Eve followed you.").await;
    assert!(
        !items
            .iter()
            .any(|n| n["post"]["body"] == "@ann will never see this"),
        "{items:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn preferences_mutes_and_blocks_decide_what_arrives() {
    let app = spawn_app().await;
    let ann = named(&app, "ann", "Ann").await;
    let bob = named(&app, "bob", "Bob").await;
    let cat = named(&app, "cat", "Cat").await;
    let dan = named(&app, "dan", "Dan").await;
    let eve = named(&app, "eve", "Eve").await;
    let town = community(&app, &ann, "town", "PUBLIC").await;
    ok(&join(&app, &bob, &town).await, "joinCommunity");
    let anns = post(&app, &ann, "in town", Some(&town)).await;
    ok(
        &ask(&app, Some(&dan), FOLLOW, json!({ "id": ann.id })).await,
        "follow",
    );
    arrived(&app, &ann, "Dan followed you.").await;

    // Every kind is on until changed; Ann turns reactions off for her inbox.
    let prefs = "{ notificationPreferences { kind inbox push } }";
    let all = ask(&app, Some(&ann), prefs, json!({})).await;
    assert_eq!(
        ok(&all, "notificationPreferences").as_array().map(Vec::len),
        Some(6)
    );
    let set =
        "mutation { setNotificationPreference(kind: REACTION, inbox: false) { kind inbox push } }";
    let changed = ask(&app, Some(&ann), set, json!({})).await;
    assert_eq!(
        ok(&changed, "setNotificationPreference"),
        &json!({ "kind": "REACTION", "inbox": false, "push": true })
    );
    let all = ask(&app, Some(&ann), prefs, json!({})).await;
    assert!(
        all["data"]["notificationPreferences"]
            .as_array()
            .expect("list")
            .contains(&json!({ "kind": "REACTION", "inbox": false, "push": true }))
    );

    // Ann mutes Cat and the town, and blocks Dan: his earlier follow
    // leaves her inbox at once.
    let mute = "mutation($id: ID!) { muteUser(userId: $id) { id } }";
    ok(
        &ask(&app, Some(&ann), mute, json!({ "id": cat.id })).await,
        "muteUser",
    );
    let block = "mutation($id: ID!) { blockUser(userId: $id) { id } }";
    ok(
        &ask(&app, Some(&ann), block, json!({ "id": dan.id })).await,
        "blockUser",
    );
    assert!(
        inbox(&app, &ann).await.0.is_empty(),
        "a block clears what came before it"
    );

    // Bob reacts (switched off), Cat comments and follows (muted), Bob
    // comments in the muted town... after muting it.
    ok(
        &ask(&app, Some(&bob), REACT, json!({ "post": anns })).await,
        "react",
    );
    let vars = json!({ "post": anns, "body": "cat was here" });
    ok(&ask(&app, Some(&cat), COMMENT, vars).await, "createComment");
    ok(
        &ask(&app, Some(&cat), FOLLOW, json!({ "id": ann.id })).await,
        "follow",
    );
    let mute_town = "mutation($id: ID!) { muteCommunity(communityId: $id) { id } }";
    ok(
        &ask(&app, Some(&ann), mute_town, json!({ "id": town })).await,
        "muteCommunity",
    );
    let vars = json!({ "post": anns, "body": "bob in the muted town" });
    ok(&ask(&app, Some(&bob), COMMENT, vars).await, "createComment");
    // Eve follows last: once her follow is there, the rest were seen too.
    ok(
        &ask(&app, Some(&eve), FOLLOW, json!({ "id": ann.id })).await,
        "follow",
    );
    let (items, unread) = arrived(&app, &ann, "Eve followed you.").await;
    assert_eq!((kinds(&items), unread), (vec!["FOLLOW"], 1), "{items:?}");
    assert_eq!(items[0]["actorCount"], 1, "Cat (muted) is not counted in");
    app.stop().await;
}

#[tokio::test]
async fn notifications_arrive_over_the_subscription_and_on_replay() {
    let app = spawn_app().await;
    let ann = named(&app, "ann", "Ann").await;
    let bob = named(&app, "bob", "Bob").await;
    let anns = post(&app, &ann, "hello", None).await;
    let subscription = "subscription($after: String) { notificationReceived(after: $after) {
        cursor notification { id kind summary actorCount comment { body } } } }";
    let mut ws = signed_in_socket(app.addr, &ann).await;
    let end = "{ events(first: 100) { pageInfo { endCursor } } }";
    let start =
        ask(&app, Some(&ann), end, json!({})).await["data"]["events"]["pageInfo"]["endCursor"]
            .clone();
    ws.subscribe("n", subscription, json!({ "after": start }))
        .await;

    let vars = json!({ "post": anns, "body": "first!" });
    ok(&ask(&app, Some(&bob), COMMENT, vars).await, "createComment");
    let event = ws.event("n").await;
    let live = &event["data"]["notificationReceived"];
    assert_eq!(live["notification"]["kind"], "REPLY", "{event}");
    assert_eq!(live["notification"]["summary"], "Bob replied to you.");
    assert_eq!(live["notification"]["comment"]["body"], "first!");
    // A gathering notification comes again, with the same id, as it grows.
    ok(
        &ask(&app, Some(&bob), REACT, json!({ "post": anns })).await,
        "react",
    );
    let reacted = ws.event("n").await;
    assert_eq!(
        reacted["data"]["notificationReceived"]["notification"]["kind"],
        "REACTION"
    );
    drop(ws);

    // Resumed from the first event's cursor: the second comes again.
    let cursor = live["cursor"].clone();
    let mut ws = signed_in_socket(app.addr, &ann).await;
    ws.subscribe("again", subscription, json!({ "after": cursor }))
        .await;
    let replayed = ws.event("again").await;
    assert_eq!(
        replayed["data"]["notificationReceived"]["notification"]["kind"],
        "REACTION"
    );
    // Anonymous sockets may not subscribe.
    let mut anonymous = crate::helpers::ws::open(app.addr).await;
    anonymous.init(None).await;
    anonymous.subscribe("x", subscription, json!({})).await;
    assert_eq!(anonymous.closed().await.0, 4403);
    app.stop().await;
}
