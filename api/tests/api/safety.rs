//! Blocks and mutes. A block hides each side from the other on every field
//! that returns people or their content: the test walks the schema for
//! those fields and fails when one is added that no document here reaches.
//! Subscriptions go quiet too, live and on replay. Blocked people cannot
//! follow, message or reply to each other. A mute only trims the muter's
//! feed.

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    time::Duration,
};

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, spawn_app,
    user::{TestUser, ask, code, community, join, notified, ok, post, texts},
    ws::{Ws, signed_in_socket},
};

/// Object types that are a person or someone's content.
const CONTENT: &[&str] = &[
    "User",
    "Post",
    "Comment",
    "Message",
    "Conversation",
    "CommunityMember",
    "Node",
];

/// Root query fields that never show other people or their content, and
/// why.
const NOT_CONTENT: &[(&str, &str)] = &[
    ("me", "the viewer's own account"),
    ("mySessions", "the viewer's own devices"),
    ("authProviders", "the server's configuration"),
    ("backups", "admins only, and files, not people"),
    ("webhooks", "admins only"),
    ("webhook", "admins only"),
    (
        "blockedUsers",
        "whom the viewer blocked: the one list that names them, so a block can be lifted",
    ),
    (
        "mutedUsers",
        "whom the viewer muted: a mute hides only the feed",
    ),
    ("mutedCommunities", "communities, not people"),
    ("notificationPreferences", "the viewer's own settings"),
    ("unreadNotificationCount", "a number"),
    (
        "reports",
        "the moderation queue: moderators judge what is reported to them, whoever wrote it",
    ),
];

const TYPES: &str = "{ __schema { queryType { name } subscriptionType { name }
    types { name kind fields { name type { ...T } } possibleTypes { name } } } }
    fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";

fn innermost(ty: &Value) -> &Value {
    if ty["ofType"].is_object() {
        innermost(&ty["ofType"])
    } else {
        ty
    }
}

/// `(type, field)` for every field, on a type reachable from the query
/// (past the roots in [`NOT_CONTENT`]) or subscription roots, that returns
/// a person or content, directly or through a connection, edge or event.
async fn content_fields(app: &TestApp) -> (BTreeSet<(String, String)>, Vec<String>) {
    let (_, body) = app.graphql(TYPES, json!({})).await;
    let schema = &body["data"]["__schema"];
    let types: HashMap<String, Value> = schema["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| (t["name"].as_str().expect("name").to_owned(), t.clone()))
        .collect();
    let fields_of = |name: &str| -> Vec<(String, String)> {
        types[name]["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .map(|f| {
                        let target = innermost(&f["type"])["name"].as_str().unwrap_or_default();
                        (
                            f["name"].as_str().expect("field").to_owned(),
                            target.to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Content-bearing: a content type, or a wrapper (connection, edge,
    // event) with a content-bearing field. Wrappers are shallow, so a few
    // rounds reach the fixed point.
    let mut bearing: BTreeSet<String> = CONTENT.iter().map(|s| (*s).to_owned()).collect();
    for _ in 0..4 {
        for name in types.keys() {
            let wrapper = ["Connection", "Edge", "Event"]
                .iter()
                .any(|suffix| name.ends_with(suffix));
            if wrapper && fields_of(name).iter().any(|(_, t)| bearing.contains(t)) {
                bearing.insert(name.clone());
            }
        }
    }
    let query = schema["queryType"]["name"].as_str().expect("query");
    let subscription = schema["subscriptionType"]["name"]
        .as_str()
        .expect("subscription");
    let mut required = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([query.to_owned(), subscription.to_owned()]);
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut next: Vec<String> = types[&name]["possibleTypes"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|t| t["name"].as_str())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        for (field, target) in fields_of(&name) {
            if name == query && NOT_CONTENT.iter().any(|(f, _)| *f == field) {
                continue;
            }
            if bearing.contains(&target) {
                required.insert((name.clone(), field));
            }
            if matches!(
                types[&target]["kind"].as_str(),
                Some("OBJECT" | "INTERFACE")
            ) {
                next.push(target);
            }
        }
        queue.extend(next);
    }
    let subscriptions = fields_of(subscription)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    (required, subscriptions)
}

/// Every `(type, field)` a response shows, read off the `__typename` each
/// selection asks for.
fn shown_fields(value: &Value, into: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(ty)) = object.get("__typename") {
                for key in object.keys().filter(|k| *k != "__typename") {
                    into.insert((ty.clone(), key.clone()));
                }
            }
            object.values().for_each(|v| shown_fields(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| shown_fields(v, into)),
        _ => {}
    }
}

/// A document with `__typename` in every selection, so coverage can be
/// read off its answer.
fn typed(document: &str) -> String {
    document.replace('{', "{ __typename ")
}

/// [`typed`] for a subscription, whose root selects one field only.
fn typed_subscription(document: &str) -> String {
    let (head, rest) = document.split_once('{').expect("a selection");
    format!("{head}{{{}", typed(rest))
}

/// What one person can read, document by document; every one of them
/// reaches the other person's content while no block stands.
const READS: &[&str] = &[
    "query($other: ID!, $name: String!) {
        user(id: $other) { id username displayName bio
            posts(first: 20) { edges { node { id body } } nodes { body } }
            followers(first: 20) { nodes { id } } following(first: 20) { nodes { id } } }
        userByUsername(username: $name) { id displayName bio }
        node(id: $other) { id ... on User { bio } }
        users(first: 50) { totalCount edges { cursor node { id bio } } nodes { id displayName } } }",
    "query($cat: ID!) { user(id: $cat) {
        followers(first: 20) { edges { node { id bio } } nodes { id displayName } }
        following(first: 20) { edges { node { id bio } } nodes { id displayName } } } }",
    "query($town: ID!) {
        community(id: $town) { id
            members(first: 20) { edges { node { role user { id bio } } } nodes { user { id displayName } } }
            posts(first: 20) { edges { node { id body author { id bio } } } nodes { body } } }
        communityBySlug(slug: \"town\") { posts(first: 20) { nodes { body community { id } } } }
        communities(first: 20) { edges { node { posts(first: 20) { nodes { body } } } } nodes { id } } }",
    "query($otherPost: ID!) {
        post(id: $otherPost) { id body }
        posts(first: 50) { edges { node { id body author { id bio } } } nodes { body } }
        feed(first: 50) { edges { node { body } } nodes { body author { bio } } } }",
    "query($catsPost: ID!) { post(id: $catsPost) { body reactionCounts { kind count }
        comments(first: 20) {
            edges { node { id body author { id bio } post { id }
                replies(first: 10) { edges { node { body author { bio } parent { body } } } nodes { body } } } }
            nodes { body } } } }",
    "query($catsPost: ID!) { post(id: $catsPost) { comments(last: 20) { nodes { body
        replies(last: 10) { nodes { body } } } } } }",
    "query($catsReply: ID!, $otherComment: ID!) {
        node(id: $catsReply) { id ... on Comment { body parent { body author { bio } } } }
        comment: node(id: $otherComment) { id ... on Comment { body } } }",
    "query($direct: ID!, $otherMessage: ID!) {
        conversations(first: 20) {
            edges { node { id participants { id bio } lastMessage { body sender { id } }
                messages(first: 20) { edges { node { body } } nodes { body sender { bio } conversation { id } } } } }
            nodes { id } }
        conversation(id: $direct) { id messages(first: 20) { nodes { body } } }
        message: node(id: $otherMessage) { id ... on Message { body } } }",
    "query($catsPost: ID!) { events(first: 100, postId: $catsPost) {
        edges { cursor node { kind post { body } comment { body author { bio } } } } } }",
    "query($town: ID!) { events(first: 100, communityId: $town) {
        edges { node { kind post { body author { bio } } } } } }",
    "{ events(first: 100) { edges { node { kind post { body } comment { body } message { body sender { bio } } } } } }",
    "{ notifications(first: 50) { edges { cursor node { id kind summary actor { id bio }
        post { body } comment { body } conversation { id } report { id } } } nodes { id } } }",
    "{ myReports(first: 10) { edges { node { id post { body } comment { body } message { body }
        user { bio } community { id } subject { id } resolvedBy { id } } } nodes { id } } }",
];

/// The subscriptions, each with what the other person does to set it off
/// (see [`Traces::act`]).
const SUBSCRIPTIONS: &[(&str, &str)] = &[
    (
        "commentAdded",
        "subscription($catsPost: ID!, $after: String) { commentAdded(postId: $catsPost, after: $after) {
            cursor comment { body author { bio } parent { body } } } }",
    ),
    (
        "postAdded",
        "subscription($town: ID!, $after: String) { postAdded(communityId: $town, after: $after) {
            cursor post { body author { bio } } } }",
    ),
    (
        "messageReceived",
        "subscription($after: String) { messageReceived(after: $after) {
            cursor message { body sender { bio } } } }",
    ),
    (
        "notificationReceived",
        "subscription($after: String) { notificationReceived(after: $after) {
            cursor notification { summary actor { bio } comment { body } conversation { lastMessage { body } } } } }",
    ),
    (
        "reactionChanged",
        "subscription($catsPost: ID!, $after: String) { reactionChanged(postId: $catsPost, after: $after) {
            cursor post { body reactionCounts { kind count } } } }",
    ),
];

/// The shared scene: Cat's public community `town` and post there, a
/// group conversation of all three, and ids of what each side wrote.
struct Scene {
    town: String,
    cats_post: String,
    cats_comment: String,
    group: String,
    direct: String,
}

/// What one person left everywhere, each text carrying their mark.
struct Traces {
    mark: &'static str,
    post: String,
    comment: String,
    message: String,
    cats_reply: String,
}

const UPDATE_PROFILE: &str = "mutation($name: String!, $bio: String!) {
    updateProfile(input: { displayName: $name, bio: $bio }) { id } }";
const COMMENT: &str = "mutation($post: ID!, $parent: ID, $body: String!) {
    createComment(input: { postId: $post, parentId: $parent, body: $body }) { id } }";
const SEND: &str =
    "mutation($c: ID!, $body: String!) { sendMessage(conversationId: $c, body: $body) { id } }";
const REACT: &str =
    "mutation($post: ID!, $kind: ReactionKind!) { react(postId: $post, kind: $kind) { id } }";
const BLOCK: &str = "mutation($id: ID!) { blockUser(userId: $id) { id viewerHasBlocked } }";

async fn id_of(
    app: &TestApp,
    who: &TestUser,
    document: &str,
    variables: Value,
    root: &str,
) -> String {
    let reply = ask(app, Some(who), document, variables).await;
    ok(&reply, root)["id"].as_str().expect("id").to_owned()
}

impl Traces {
    /// `who` writes their profile, a post on it and in `town`, a comment
    /// (naming `other`) and a reply on Cat's post, a reaction and a group
    /// message; Cat answers their comment.
    async fn leave(
        app: &TestApp,
        who: &TestUser,
        cat: &TestUser,
        (mark, other): (&'static str, &str),
        scene: &Scene,
    ) -> Self {
        let vars = json!({ "name": format!("{mark} name"), "bio": format!("{mark} bio") });
        ok(
            &ask(app, Some(who), UPDATE_PROFILE, vars).await,
            "updateProfile",
        );
        let post = post(app, who, &format!("{mark} profile post"), None).await;
        self::post(app, who, &format!("{mark} town post"), Some(&scene.town)).await;
        let comment = id_of(
            app,
            who,
            COMMENT,
            json!({ "post": scene.cats_post, "body": format!("{mark} comment @{other}") }),
            "createComment",
        )
        .await;
        let vars = json!({ "post": scene.cats_post, "parent": scene.cats_comment, "body": format!("{mark} reply") });
        id_of(app, who, COMMENT, vars, "createComment").await;
        let vars = json!({ "post": scene.cats_post, "kind": "LOVE" });
        ok(&ask(app, Some(who), REACT, vars).await, "react");
        let vars = json!({ "c": scene.group, "body": format!("{mark} group message") });
        let message = id_of(app, who, SEND, vars, "sendMessage").await;
        let vars = json!({ "post": scene.cats_post, "parent": comment, "body": "cat answers" });
        let cats_reply = id_of(app, cat, COMMENT, vars, "createComment").await;
        Self {
            mark,
            post,
            comment,
            message,
            cats_reply,
        }
    }

    /// `who` does what each subscription reports: a comment on Cat's post,
    /// a post in town, a group message, a changed reaction.
    async fn act(app: &TestApp, who: &TestUser, text: &str, kind: &str, scene: &Scene) {
        let vars = json!({ "post": scene.cats_post, "body": text });
        id_of(app, who, COMMENT, vars, "createComment").await;
        self::post(app, who, text, Some(&scene.town)).await;
        let vars = json!({ "c": scene.group, "body": text });
        id_of(app, who, SEND, vars, "sendMessage").await;
        let vars = json!({ "post": scene.cats_post, "kind": kind });
        ok(&ask(app, Some(who), REACT, vars).await, "react");
    }
}

/// Variables for [`READS`] and [`SUBSCRIPTIONS`], as `viewer` reads
/// `other`'s traces.
fn variables(
    scene: &Scene,
    other: &TestUser,
    name: &str,
    theirs: &Traces,
    cat: &TestUser,
) -> Value {
    json!({
        "other": other.id, "name": name, "cat": cat.id, "town": scene.town,
        "otherPost": theirs.post, "catsPost": scene.cats_post, "catsReply": theirs.cats_reply,
        "otherComment": theirs.comment, "direct": scene.direct, "otherMessage": theirs.message,
    })
}

/// Runs every read as `viewer`; the answers, after checking none failed.
async fn read_all(app: &TestApp, viewer: &TestUser, vars: &Value) -> Vec<Value> {
    let mut answers = Vec::new();
    for document in READS {
        let document = typed(document);
        let body = ask(app, Some(viewer), &document, vars.clone()).await;
        assert!(body["errors"].is_null(), "{document}: {body}");
        answers.push(body);
    }
    answers
}

async fn subscribe_all(app: &TestApp, who: &TestUser, vars: &Value, after: Option<&str>) -> Ws {
    let mut ws = signed_in_socket(app.addr, who).await;
    let mut vars = vars.clone();
    vars["after"] = json!(after);
    for (name, document) in SUBSCRIPTIONS {
        ws.subscribe(name, &typed_subscription(document), vars.clone())
            .await;
    }
    ws
}

/// Each subscription's events, read until every text subscription has
/// shown `sentinel` and `reactionChanged` has sent `reactions` events
/// (its payload names no one, so it is counted).
async fn collect(ws: &mut Ws, sentinel: &str, reactions: usize) -> HashMap<String, Vec<Value>> {
    // The four streams interleave on one socket: each frame is filed
    // under its subscription.
    let mut found: HashMap<String, Vec<Value>> = HashMap::new();
    let finished = |found: &HashMap<String, Vec<Value>>| {
        SUBSCRIPTIONS.iter().all(|(name, _)| {
            let events = found.get(*name).map(Vec::as_slice).unwrap_or_default();
            if *name == "reactionChanged" {
                events.len() >= reactions
            } else {
                events.iter().any(|e| e.to_string().contains(sentinel))
            }
        })
    };
    while !finished(&found) {
        let message = ws.json().await;
        assert_eq!(message["type"], "next", "{message}");
        let payload = message["payload"].clone();
        assert!(payload["errors"].is_null(), "{payload}");
        let id = message["id"].as_str().expect("id").to_owned();
        found.entry(id).or_default().push(payload);
    }
    assert_eq!(found["reactionChanged"].len(), reactions, "{found:?}");
    found
}

/// As [`collect`], then whatever else arrives: none of it may show Bob,
/// and what comes after the sentinel may only be notifications (the inbox
/// fills just after each write, and a gathering notification names the
/// conversation's latest message, so it can show the sentinel early).
async fn collect_without_bob(ws: &mut Ws, sentinel: &str, reactions: usize) {
    let found = collect(ws, sentinel, reactions).await;
    let rest = drain(ws, Duration::from_millis(500)).await;
    assert!(
        !format!("{found:?}{rest:?}").contains("BOB-MARK"),
        "{found:?} {rest:?}"
    );
    assert!(
        rest.iter().all(|m| m["id"] == "notificationReceived"),
        "{rest:?}"
    );
}

/// Every message that arrives until nothing has for `quiet`.
async fn drain(ws: &mut Ws, quiet: Duration) -> Vec<Value> {
    let mut found = Vec::new();
    while let Some(frame) = ws.next_within(quiet).await {
        match frame {
            crate::helpers::ws::Frame::Json(m) if m["type"] == "ping" => {}
            crate::helpers::ws::Frame::Json(m) => found.push(m),
            other => panic!("the socket ended: {other:?}"),
        }
    }
    found
}

/// Ann, Bob and Cat, with Cat's community, post, comment and a group
/// conversation of all three, and Ann and Bob's one-to-one.
async fn cast(app: &TestApp) -> (TestUser, TestUser, TestUser, Scene) {
    let ann = TestUser::sign_up(app, "ann").await;
    let bob = TestUser::sign_up(app, "bob").await;
    let cat = TestUser::sign_up(app, "cat").await;
    let town = community(app, &cat, "town", "PUBLIC").await;
    for who in [&ann, &bob] {
        ok(&join(app, who, &town).await, "joinCommunity");
    }
    let cats_post = post(app, &cat, "cat post", Some(&town)).await;
    let vars = json!({ "post": cats_post, "body": "cat comment" });
    let cats_comment = id_of(app, &cat, COMMENT, vars, "createComment").await;
    let start =
        "mutation($ids: [ID!]!) { startConversation(input: { participantIds: $ids }) { id } }";
    let group = id_of(
        app,
        &cat,
        start,
        json!({ "ids": [ann.id, bob.id] }),
        "startConversation",
    )
    .await;
    let direct = id_of(
        app,
        &ann,
        start,
        json!({ "ids": [bob.id] }),
        "startConversation",
    )
    .await;
    let follow = "mutation($id: ID!) { follow(userId: $id) { id } }";
    for (who, whom) in [
        (&ann, &bob),
        (&bob, &ann),
        (&ann, &cat),
        (&bob, &cat),
        (&cat, &ann),
        (&cat, &bob),
    ] {
        ok(
            &ask(app, Some(who), follow, json!({ "id": whom.id })).await,
            "follow",
        );
    }
    let scene = Scene {
        town,
        cats_post,
        cats_comment,
        group,
        direct,
    };
    (ann, bob, cat, scene)
}

/// Where the event log ends now, as a cursor.
async fn log_end(app: &TestApp, who: &TestUser) -> String {
    let reply = ask(
        app,
        Some(who),
        "{ events(first: 100) { pageInfo { endCursor } } }",
        json!({}),
    )
    .await;
    ok(&reply, "events")["pageInfo"]["endCursor"]
        .as_str()
        .expect("cursor")
        .to_owned()
}

#[tokio::test]
async fn a_block_hides_each_side_from_the_other_on_every_field_that_shows_people() {
    let app = spawn_app().await;
    let (ann, bob, cat, scene) = cast(&app).await;
    let start = log_end(&app, &cat).await;
    let anns = Traces::leave(&app, &ann, &cat, ("ANN-MARK", "bob"), &scene).await;
    let bobs = Traces::leave(&app, &bob, &cat, ("BOB-MARK", "ann"), &scene).await;
    let report = "mutation($t: ID!) { report(input: { targetId: $t, reason: SPAM }) { id } }";
    for (who, mark, theirs) in [(&ann, "ANN-MARK", &bobs), (&bob, "BOB-MARK", &anns)] {
        let vars = json!({ "c": scene.direct, "body": format!("{mark} direct") });
        id_of(&app, who, SEND, vars, "sendMessage").await;
        id_of(&app, who, report, json!({ "t": theirs.post }), "report").await;
    }
    Traces::act(&app, &cat, "sentinel-a", "WOW", &scene).await;
    // Each has heard of the other's mention (the inbox fills just after).
    notified(&app, &ann, "BOB-MARK name mentioned you.").await;
    notified(&app, &bob, "ANN-MARK name mentioned you.").await;
    // Each side as the viewer, the other as the one to hide.
    let sides = [
        (
            &ann,
            variables(&scene, &bob, "bob", &bobs, &cat),
            &bob,
            bobs.mark,
        ),
        (
            &bob,
            variables(&scene, &ann, "ann", &anns, &cat),
            &ann,
            anns.mark,
        ),
    ];

    // No block yet: every read, and every subscription replayed, shows
    // the other's content; what the answers show is the coverage.
    let mut covered = BTreeSet::new();
    for (viewer, vars, _, mark) in &sides {
        for (document, answer) in READS.iter().zip(read_all(&app, viewer, vars).await) {
            assert!(
                answer.to_string().contains(mark),
                "{mark} missing before the block from {document}: {answer}"
            );
            shown_fields(&answer, &mut covered);
        }
    }
    let vars = &sides[0].1;
    let mut ws = subscribe_all(&app, &ann, vars, Some(&start)).await;
    // Reactions so far: Ann's, Bob's and Cat's.
    let replayed = collect(&mut ws, "sentinel-a", 3).await;
    for (name, events) in &replayed {
        if name != "reactionChanged" {
            assert!(
                events.iter().any(|e| e.to_string().contains("BOB-MARK")),
                "{name}: {events:?}"
            );
        }
        events.iter().for_each(|e| shown_fields(e, &mut covered));
        // A subscription's root has no `__typename` to read it off.
        covered.insert(("Subscription".to_owned(), name.clone()));
    }
    drop(ws);

    // Every field that returns people or their content was reached.
    let (required, subscriptions) = content_fields(&app).await;
    let missing: Vec<_> = required.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "fields no document here reaches: {missing:?}"
    );
    let tested: BTreeSet<&str> = SUBSCRIPTIONS.iter().map(|(name, _)| *name).collect();
    for name in &subscriptions {
        assert!(
            tested.contains(name.as_str()),
            "subscription {name} is not tested"
        );
    }

    // Ann blocks Bob: each side's reads lose the other entirely.
    let blocked = ask(&app, Some(&ann), BLOCK, json!({ "id": bob.id })).await;
    assert_eq!(ok(&blocked, "blockUser")["viewerHasBlocked"], true);
    for (viewer, vars, other, mark) in &sides {
        // The other has the last word in the group, where both stay.
        let last = json!({ "c": scene.group, "body": format!("{mark} last word") });
        id_of(&app, other, SEND, last, "sendMessage").await;
        for (document, answer) in READS.iter().zip(read_all(&app, viewer, vars).await) {
            let text = answer.to_string();
            assert!(
                !text.contains(mark) && !text.contains(&other.id),
                "{mark} shows after the block in {document}: {answer}"
            );
        }
    }

    // Live: Bob's comment, post, message and reaction never reach Ann;
    // Cat's, made after them, do. (Subscribed from the log's end, so
    // nothing is missed while the subscriptions start.)
    let now = log_end(&app, &cat).await;
    let mut ws = subscribe_all(&app, &ann, vars, Some(&now)).await;
    Traces::act(&app, &cat, "warm", "LAUGH", &scene).await;
    collect(&mut ws, "warm", 1).await;
    Traces::act(&app, &bob, "BOB-MARK live", "SAD", &scene).await;
    Traces::act(&app, &cat, "sentinel-b", "ANGRY", &scene).await;
    collect_without_bob(&mut ws, "sentinel-b", 1).await;

    // Replayed from before anything happened: the same, and of the six
    // reactions only Bob's two are left out.
    let mut ws = subscribe_all(&app, &ann, vars, Some(&start)).await;
    collect_without_bob(&mut ws, "sentinel-b", 4).await;
    app.stop().await;
}

#[tokio::test]
async fn blocked_people_cannot_follow_message_or_reply_to_each_other() {
    let app = spawn_app().await;
    let (ann, bob, cat, scene) = cast(&app).await;
    let anns_post = post(&app, &ann, "ann's post", None).await;
    let vars = json!({ "post": scene.cats_post, "body": "ann comments" });
    let anns_comment = id_of(&app, &ann, COMMENT, vars, "createComment").await;

    // Blocking yourself, someone unknown or a bad id is refused plainly;
    // blocking twice is fine.
    let refused = ask(&app, Some(&ann), BLOCK, json!({ "id": ann.id })).await;
    assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
    let unknown = json!({ "id": "VXNlcjowMTliMDAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDA" });
    assert_eq!(
        code(&ask(&app, Some(&ann), BLOCK, unknown).await),
        "NOT_FOUND"
    );
    assert_eq!(
        code(&ask(&app, None, BLOCK, json!({ "id": bob.id })).await),
        "UNAUTHENTICATED"
    );
    for _ in 0..2 {
        ok(
            &ask(&app, Some(&ann), BLOCK, json!({ "id": bob.id })).await,
            "blockUser",
        );
    }

    // The follows both ways ended; neither can follow again.
    let follows = "query($id: ID!) { user(id: $id) { followerCount followingCount } }";
    let counts = ask(&app, Some(&cat), follows, json!({ "id": ann.id })).await;
    assert_eq!(
        ok(&counts, "user")["followerCount"],
        1,
        "only Cat follows Ann now"
    );
    assert_eq!(
        ok(&counts, "user")["followingCount"],
        1,
        "Ann follows only Cat now"
    );
    let follow = "mutation($id: ID!) { follow(userId: $id) { id } }";
    for (who, whom) in [(&ann, &bob), (&bob, &ann)] {
        let refused = ask(&app, Some(who), follow, json!({ "id": whom.id })).await;
        assert_eq!(code(&refused), "NOT_FOUND", "{refused}");
    }

    // No messages: the one-to-one is gone for both, and a new one cannot
    // be started. The group goes on.
    for (who, whom) in [(&ann, &bob), (&bob, &ann)] {
        let vars = json!({ "c": scene.direct, "body": "hello?" });
        assert_eq!(code(&ask(&app, Some(who), SEND, vars).await), "NOT_FOUND");
        let start =
            "mutation($ids: [ID!]!) { startConversation(input: { participantIds: $ids }) { id } }";
        let refused = ask(&app, Some(who), start, json!({ "ids": [whom.id] })).await;
        assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
        let vars = json!({ "c": scene.group, "body": "still here" });
        ok(&ask(&app, Some(who), SEND, vars).await, "sendMessage");
    }

    // Bob cannot comment on Ann's post, reply to her comment, or react.
    let vars = json!({ "post": anns_post, "body": "hey" });
    assert_eq!(
        code(&ask(&app, Some(&bob), COMMENT, vars).await),
        "BAD_USER_INPUT"
    );
    let vars = json!({ "post": scene.cats_post, "parent": anns_comment, "body": "hey" });
    let refused = ask(&app, Some(&bob), COMMENT, vars).await;
    assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
    assert_eq!(crate::helpers::user::field(&refused), "input.parentId");
    let vars = json!({ "post": anns_post, "kind": "LIKE" });
    assert_eq!(code(&ask(&app, Some(&bob), REACT, vars).await), "NOT_FOUND");
    // Cat, outside the block, still can.
    let vars = json!({ "post": scene.cats_post, "parent": anns_comment, "body": "hi ann" });
    ok(&ask(&app, Some(&cat), COMMENT, vars).await, "createComment");

    // Ann's list names Bob, so she can lift it; Bob's names nobody.
    let list =
        "{ blockedUsers(first: 10) { totalCount edges { node { username viewerHasBlocked } } } }";
    let anns = ask(&app, Some(&ann), list, json!({})).await;
    assert_eq!(texts(ok(&anns, "blockedUsers"), "username"), ["bob"]);
    assert_eq!(anns["data"]["blockedUsers"]["totalCount"], 1);
    assert_eq!(
        anns["data"]["blockedUsers"]["edges"][0]["node"]["viewerHasBlocked"],
        true
    );
    let bobs = ask(&app, Some(&bob), list, json!({})).await;
    assert_eq!(ok(&bobs, "blockedUsers")["totalCount"], 0);
    // Bob cannot lift Ann's block by "unblocking" her.
    let unblock = "mutation($id: ID!) { unblockUser(userId: $id) { id } }";
    ok(
        &ask(&app, Some(&bob), unblock, json!({ "id": ann.id })).await,
        "unblockUser",
    );
    let lookup = "query($id: ID!) { user(id: $id) { id } }";
    let hidden = ask(&app, Some(&bob), lookup, json!({ "id": ann.id })).await;
    assert!(ok(&hidden, "user").is_null(), "{hidden}");

    // Lifted: they see each other again and may follow; follows that
    // ended stay ended.
    ok(
        &ask(&app, Some(&ann), unblock, json!({ "id": bob.id })).await,
        "unblockUser",
    );
    let seen = ask(&app, Some(&bob), lookup, json!({ "id": ann.id })).await;
    assert_eq!(ok(&seen, "user")["id"], ann.id.as_str());
    let counts = ask(&app, Some(&cat), follows, json!({ "id": ann.id })).await;
    assert_eq!(ok(&counts, "user")["followerCount"], 1);
    ok(
        &ask(&app, Some(&bob), follow, json!({ "id": ann.id })).await,
        "follow",
    );
    app.stop().await;
}

#[tokio::test]
async fn a_mute_trims_the_muters_feed_and_nothing_else() {
    let app = spawn_app().await;
    let (ann, bob, cat, scene) = cast(&app).await;
    let dan = TestUser::sign_up(&app, "dan").await;
    ok(&join(&app, &dan, &scene.town).await, "joinCommunity");
    post(&app, &bob, "bob at home", None).await;
    post(&app, &dan, "dan in town", Some(&scene.town)).await;
    let feed = "{ feed(first: 50) { edges { node { body } } } }";
    let bodies = |reply: &Value| texts(ok(reply, "feed"), "body");
    let before = bodies(&ask(&app, Some(&ann), feed, json!({})).await);
    assert!(
        before.contains(&"bob at home".to_owned()) && before.contains(&"dan in town".to_owned()),
        "{before:?}"
    );

    // Ann mutes Bob: his posts leave her feed, nowhere else.
    let mute = "mutation($id: ID!) { muteUser(userId: $id) { viewerHasMuted viewerHasBlocked } }";
    for _ in 0..2 {
        let muted = ask(&app, Some(&ann), mute, json!({ "id": bob.id })).await;
        assert_eq!(ok(&muted, "muteUser")["viewerHasMuted"], true);
        assert_eq!(muted["data"]["muteUser"]["viewerHasBlocked"], false);
    }
    let after = bodies(&ask(&app, Some(&ann), feed, json!({})).await);
    assert!(!after.contains(&"bob at home".to_owned()), "{after:?}");
    assert!(after.contains(&"dan in town".to_owned()), "{after:?}");
    let his = "query($id: ID!) { user(id: $id) { posts(first: 10) { edges { node { body } } } } }";
    let profile = ask(&app, Some(&ann), his, json!({ "id": bob.id })).await;
    assert_eq!(
        texts(&profile["data"]["user"]["posts"], "body"),
        ["bob at home"]
    );
    let cats_feed = bodies(&ask(&app, Some(&cat), feed, json!({})).await);
    assert!(
        cats_feed.contains(&"bob at home".to_owned()),
        "a mute is Ann's alone: {cats_feed:?}"
    );

    // Ann mutes the town: its posts leave her feed; she stays a member.
    let mute_town =
        "mutation($id: ID!) { muteCommunity(communityId: $id) { viewerHasMuted viewerRole } }";
    let muted = ask(&app, Some(&ann), mute_town, json!({ "id": scene.town })).await;
    assert_eq!(ok(&muted, "muteCommunity")["viewerHasMuted"], true);
    assert_eq!(muted["data"]["muteCommunity"]["viewerRole"], "MEMBER");
    let after = bodies(&ask(&app, Some(&ann), feed, json!({})).await);
    assert!(
        !after.iter().any(|b| b == "dan in town" || b == "cat post"),
        "{after:?}"
    );
    let lists = "{ mutedUsers(first: 10) { totalCount edges { node { username } } }
        mutedCommunities(first: 10) { edges { node { slug } } } }";
    let listed = ask(&app, Some(&ann), lists, json!({})).await;
    assert_eq!(texts(ok(&listed, "mutedUsers"), "username"), ["bob"]);
    assert_eq!(listed["data"]["mutedUsers"]["totalCount"], 1);
    assert_eq!(texts(&listed["data"]["mutedCommunities"], "slug"), ["town"]);

    // Both lifted: the feed is whole again.
    let unmute = "mutation($id: ID!) { unmuteUser(userId: $id) { viewerHasMuted } }";
    let unmuted = ask(&app, Some(&ann), unmute, json!({ "id": bob.id })).await;
    assert_eq!(ok(&unmuted, "unmuteUser")["viewerHasMuted"], false);
    let unmute_town = "mutation($id: ID!) { unmuteCommunity(communityId: $id) { viewerHasMuted } }";
    ok(
        &ask(&app, Some(&ann), unmute_town, json!({ "id": scene.town })).await,
        "unmuteCommunity",
    );
    assert_eq!(
        bodies(&ask(&app, Some(&ann), feed, json!({})).await),
        before
    );
    let unknown = json!({ "id": "Q29tbXVuaXR5OjAxOWIwMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDAwMA" });
    assert_eq!(
        code(&ask(&app, Some(&ann), mute_town, unknown).await),
        "NOT_FOUND"
    );
    app.stop().await;
}
