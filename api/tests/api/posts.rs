//! Posts and what hangs off them, end to end over HTTP: writing, editing
//! and deleting posts, filters and paging, threaded comments, reactions,
//! and what becomes of banned and deleted users' content. The feed:
//! follows, communities and one's own posts, newest first, in pages that
//! follow each other without gaps; and no N+1: its SQL statement count
//! depends on the query's shape, not its page size (counted on the app's
//! own pool, over the seeded demo data: the demo account follows people and
//! belongs to communities).

use chrono::Utc;
use entity::user;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, count_rows, spawn_app,
    user::{
        CREATE_POST, TestUser, ask, code, community, demo_token, field, join, ok, post, refusal,
        texts,
    },
};

/// The feed as a client renders it: posts with author, reaction counts,
/// the viewer's reaction, and the first comments with their authors.
const FEED: &str =
    "query($n: Int!) { feed(first: $n) { pageInfo { hasNextPage endCursor } edges { node {
    id body createdAt author { username displayName }
    community { slug }
    reactionCount reactionCounts { kind count } viewerReaction commentCount
    comments(first: 5) { edges { node { body author { username } } } }
} } } }";

#[tokio::test]
async fn posts_comments_and_reactions() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;

    let reply = ask(&app, Some(&ann), CREATE_POST, json!({ "body": "   " })).await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.body")
    );
    let reply = ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "x".repeat(10_001) }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.body")
    );
    let reply = ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "x", "c": ann.id }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.communityId")
    );
    assert_eq!(
        refusal(&app, None, CREATE_POST, json!({ "body": "x" })).await,
        "UNAUTHENTICATED"
    );

    let first = post(&app, &ann, "First post about Rust", None).await;
    let second = post(&app, &ann, "Second: 100% of it", None).await;
    let bobs = post(&app, &bob, "Bob here", None).await;

    // Edit your own, not someone else's.
    let edit = "mutation($id: ID!, $b: String!) { updatePost(id: $id, body: $b) { body updatedAt createdAt } }";
    let reply = ask(
        &app,
        Some(&ann),
        edit,
        json!({ "id": first, "b": "First post about Rust, edited" }),
    )
    .await;
    assert_eq!(
        ok(&reply, "updatePost")["body"],
        "First post about Rust, edited"
    );
    assert_eq!(
        refusal(
            &app,
            Some(&bob),
            edit,
            json!({ "id": first, "b": "mine now" })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        refusal(
            &app,
            Some(&bob),
            "mutation($id: ID!) { deletePost(id: $id) }",
            json!({ "id": first })
        )
        .await,
        "FORBIDDEN"
    );

    // Filters: author, text (case-insensitive, % literal), time range.
    let search = "query($f: PostFilter) { posts(filter: $f) { edges { node { body } } } }";
    let reply = ask(&app, None, search, json!({ "f": { "authorId": bob.id } })).await;
    assert_eq!(texts(ok(&reply, "posts"), "body"), ["Bob here"]);
    let reply = ask(
        &app,
        None,
        search,
        json!({ "f": { "bodyContains": "RUST" } }),
    )
    .await;
    assert_eq!(
        texts(ok(&reply, "posts"), "body"),
        ["First post about Rust, edited"]
    );
    let reply = ask(
        &app,
        None,
        search,
        json!({ "f": { "bodyContains": "100%" } }),
    )
    .await;
    assert_eq!(texts(ok(&reply, "posts"), "body"), ["Second: 100% of it"]);
    let reply = ask(
        &app,
        None,
        search,
        json!({ "f": { "createdAfter": "2999-01-01T00:00:00Z" } }),
    )
    .await;
    assert!(texts(ok(&reply, "posts"), "body").is_empty());
    let reply = ask(
        &app,
        None,
        search,
        json!({ "f": { "createdAfter": "2000-01-01T00:00:00Z", "authorId": ann.id } }),
    )
    .await;
    assert_eq!(texts(ok(&reply, "posts"), "body").len(), 2);
    let oldest = "{ posts(order: OLDEST_FIRST, first: 1) { edges { node { body } } } }";
    let reply = ask(&app, None, oldest, json!({})).await;
    assert_eq!(
        texts(ok(&reply, "posts"), "body"),
        ["First post about Rust, edited"]
    );
    let reply = ask(&app, None, search, json!({ "f": { "authorId": first } })).await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "filter.authorId")
    );

    // Paging both ways over the newest-first list.
    let page = "query($first: Int, $after: String, $last: Int, $before: String) {
        posts(first: $first, after: $after, last: $last, before: $before) {
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { body } } } }";
    let reply = ask(&app, None, page, json!({ "first": 2 })).await;
    let p1 = ok(&reply, "posts");
    assert_eq!(texts(p1, "body"), ["Bob here", "Second: 100% of it"]);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    let reply = ask(
        &app,
        None,
        page,
        json!({ "first": 2, "after": p1["pageInfo"]["endCursor"] }),
    )
    .await;
    let p2 = ok(&reply, "posts");
    assert_eq!(texts(p2, "body"), ["First post about Rust, edited"]);
    assert_eq!(
        (
            p2["pageInfo"]["hasNextPage"].as_bool(),
            p2["pageInfo"]["hasPreviousPage"].as_bool()
        ),
        (Some(false), Some(true))
    );
    let reply = ask(
        &app,
        None,
        page,
        json!({ "last": 2, "before": p2["pageInfo"]["startCursor"] }),
    )
    .await;
    assert_eq!(
        texts(ok(&reply, "posts"), "body"),
        ["Bob here", "Second: 100% of it"]
    );
    let reply = ask(&app, None, page, json!({ "first": 10_000 })).await;
    assert_eq!((code(&reply), field(&reply)), ("BAD_USER_INPUT", "first"));

    // Threaded comments.
    let comment = "mutation($p: ID!, $parent: ID, $b: String!) {
        createComment(input: { postId: $p, parentId: $parent, body: $b }) { id body parent { id } post { id } author { username } } }";
    let reply = ask(
        &app,
        Some(&bob),
        comment,
        json!({ "p": first, "b": "Nice" }),
    )
    .await;
    let top = ok(&reply, "createComment").clone();
    assert_eq!(
        (
            top["author"]["username"].as_str(),
            top["post"]["id"].as_str()
        ),
        (Some("bob"), Some(first.as_str()))
    );
    let top_id = top["id"].as_str().expect("id").to_owned();
    let reply = ask(
        &app,
        Some(&ann),
        comment,
        json!({ "p": first, "parent": top_id, "b": "Thanks" }),
    )
    .await;
    assert_eq!(ok(&reply, "createComment")["parent"]["id"], top_id.as_str());
    let reply = ask(
        &app,
        Some(&ann),
        comment,
        json!({ "p": second, "parent": top_id, "b": "wrong post" }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.parentId")
    );
    let reply = ask(
        &app,
        Some(&ann),
        comment,
        json!({ "p": first, "b": "x".repeat(5001) }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.body")
    );
    ok(
        &ask(
            &app,
            Some(&ann),
            comment,
            json!({ "p": first, "b": "Second top-level" }),
        )
        .await,
        "createComment",
    );
    let thread = "query($id: ID!) { post(id: $id) { commentCount comments(first: 1) { pageInfo { hasNextPage endCursor }
        edges { node { body replies { edges { node { body author { username } } } } } } } } }";
    let reply = ask(&app, None, thread, json!({ "id": first })).await;
    let p = ok(&reply, "post");
    assert_eq!(p["commentCount"], 3);
    assert_eq!(texts(&p["comments"], "body"), ["Nice"]);
    assert_eq!(p["comments"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        texts(&p["comments"]["edges"][0]["node"]["replies"], "body"),
        ["Thanks"]
    );
    let next = "query($id: ID!, $after: String) { post(id: $id) { comments(first: 5, after: $after) { edges { node { body } } } } }";
    let reply = ask(
        &app,
        None,
        next,
        json!({ "id": first, "after": p["comments"]["pageInfo"]["endCursor"] }),
    )
    .await;
    assert_eq!(
        texts(&ok(&reply, "post")["comments"], "body"),
        ["Second top-level"]
    );

    // Deleting comments: the author may, others may not; replies go too.
    let delete_comment = "mutation($id: ID!) { deleteComment(id: $id) }";
    assert_eq!(
        refusal(&app, Some(&ann), delete_comment, json!({ "id": top_id })).await,
        "FORBIDDEN"
    );
    ok(
        &ask(&app, Some(&bob), delete_comment, json!({ "id": top_id })).await,
        "deleteComment",
    );
    let reply = ask(&app, None, thread, json!({ "id": first })).await;
    assert_eq!(ok(&reply, "post")["commentCount"], 1);

    // Reactions: one per person, replaced by a new kind, counted per kind.
    let react = "mutation($p: ID!, $k: ReactionKind!) { react(postId: $p, kind: $k) { reactionCount viewerReaction reactionCounts { kind count } } }";
    ok(
        &ask(&app, Some(&ann), react, json!({ "p": bobs, "k": "LOVE" })).await,
        "react",
    );
    let reply = ask(&app, Some(&bob), react, json!({ "p": bobs, "k": "LIKE" })).await;
    ok(&reply, "react");
    let reply = ask(&app, Some(&bob), react, json!({ "p": bobs, "k": "LOVE" })).await;
    let r = ok(&reply, "react");
    assert_eq!(
        (r["reactionCount"].as_u64(), r["viewerReaction"].as_str()),
        (Some(2), Some("LOVE"))
    );
    assert_eq!(r["reactionCounts"], json!([{ "kind": "LOVE", "count": 2 }]));
    assert_eq!(
        refusal(&app, Some(&bob), react, json!({ "p": bobs, "k": "MEH" })).await,
        "GRAPHQL_VALIDATION_FAILED"
    );
    let unreact = "mutation($p: ID!) { unreact(postId: $p) { reactionCount viewerReaction } }";
    let reply = ask(&app, Some(&bob), unreact, json!({ "p": bobs })).await;
    assert_eq!(ok(&reply, "unreact")["reactionCount"], 1);
    assert_eq!(
        refusal(&app, Some(&bob), unreact, json!({ "p": bobs })).await,
        "NOT_FOUND"
    );

    // Deleting a post takes its comments and reactions with it.
    let before = count_rows(&app.conn, "comments").await;
    assert_eq!(before, 1);
    ok(
        &ask(
            &app,
            Some(&ann),
            "mutation($id: ID!) { deletePost(id: $id) }",
            json!({ "id": first }),
        )
        .await,
        "deletePost",
    );
    assert_eq!(count_rows(&app.conn, "comments").await, 0);
    assert!(
        ask(
            &app,
            None,
            "query($id: ID!) { post(id: $id) { id } }",
            json!({ "id": first })
        )
        .await["data"]["post"]
            .is_null()
    );
    assert_eq!(
        refusal(&app, Some(&ann), edit, json!({ "id": first, "b": "gone" })).await,
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn the_feed_is_follows_communities_and_own_posts_newest_first() {
    let app = spawn_app().await;
    let me = TestUser::sign_up(&app, "myself").await;
    let friend = TestUser::sign_up(&app, "friend").await;
    let stranger = TestUser::sign_up(&app, "stranger").await;
    let club = community(&app, &stranger, "club", "PUBLIC").await;
    let vault = community(&app, &friend, "vault", "PRIVATE").await;
    ok(&join(&app, &me, &club).await, "joinCommunity");
    ok(
        &ask(
            &app,
            Some(&me),
            "mutation($id: ID!) { follow(userId: $id) { id } }",
            json!({ "id": friend.id }),
        )
        .await,
        "follow",
    );

    post(&app, &stranger, "stranger on profile", None).await;
    post(&app, &friend, "friend on profile", None).await;
    post(&app, &stranger, "stranger in club", Some(&club)).await;
    post(&app, &friend, "friend in the vault", Some(&vault)).await;
    post(&app, &me, "my own", None).await;

    let feed = "{ feed { edges { node { body author { username } } } } }";
    let reply = ask(&app, Some(&me), feed, json!({})).await;
    assert_eq!(
        texts(ok(&reply, "feed"), "body"),
        ["my own", "stranger in club", "friend on profile"]
    );
    assert_eq!(
        refusal(&app, None, feed, json!({})).await,
        "UNAUTHENTICATED"
    );
    // An invalid token is not treated as anonymous: the client must refresh.
    let (_, reply) = app
        .graphql_as(
            "not-a-token",
            "{ posts { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&reply), "UNAUTHENTICATED");
}

/// Statements the app ran for one feed request of `n` posts: the fewest
/// of three runs. DataLoader batches by time (keys asked for within 1 ms
/// share a statement), so on a loaded machine a batch can split in two;
/// the fewest is what the query's shape costs.
async fn statements_for(app: &TestApp, token: &str, n: i64) -> (u64, Value) {
    let mut fewest = u64::MAX;
    let mut body = Value::Null;
    for _ in 0..3 {
        let before = app.quiet_statements().await;
        let (status, reply) = app.graphql_as(token, FEED, json!({ "n": n })).await;
        fewest = fewest.min(app.statements.get() - before);
        assert_eq!(status, 200, "{reply}");
        assert!(reply["errors"].is_null(), "{reply}");
        body = reply;
    }
    (fewest, body)
}

#[tokio::test]
async fn the_feed_runs_the_same_few_statements_at_any_page_size() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("hearth::sql=trace")
        .with_test_writer()
        .try_init();
    let app = spawn_app().await;
    let options = seed::SeedOptions {
        scale: seed::Scale::Small,
        seed: 1,
        reset: false,
    };
    seed::run(&app.conn, &options).await.expect("seeded");
    let token = demo_token(&app).await;

    let (small, body) = statements_for(&app, &token, 5).await;
    let edges = body["data"]["feed"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 5);
    let (large, body) = statements_for(&app, &token, 50).await;
    let edges = body["data"]["feed"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 50, "the demo feed has at least 50 posts");
    let with_comments = edges
        .iter()
        .filter(|e| {
            e["node"]["comments"]["edges"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        })
        .count();
    assert!(with_comments > 10, "the seeded posts have comments");
    assert!(
        edges
            .iter()
            .any(|e| e["node"]["reactionCount"].as_u64() > Some(0)),
        "the seeded posts have reactions"
    );
    println!("feed statements: first 5 -> {small}, first 50 -> {large}");
    assert_eq!(small, large, "statement count must not grow with page size");
    // The page, authors, reaction counts, the viewer's reactions, comment
    // counts, the first comments, their authors, communities.
    assert!(large <= 9, "{large} statements for one feed page");
}

#[tokio::test]
async fn pages_of_the_feed_follow_each_other_without_gaps() {
    let app = spawn_app().await;
    let options = seed::SeedOptions {
        scale: seed::Scale::Small,
        seed: 1,
        reset: false,
    };
    seed::run(&app.conn, &options).await.expect("seeded");
    let token = demo_token(&app).await;
    let page = "query($after: String) { feed(first: 7, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id createdAt } } } }";
    let (_, whole) = app
        .graphql_as(
            &token,
            page.replace("first: 7", "first: 21").as_str(),
            json!({}),
        )
        .await;
    let all: Vec<Value> = whole["data"]["feed"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].clone())
        .collect();
    let mut paged = Vec::new();
    let mut after = Value::Null;
    for _ in 0..3 {
        let (_, body) = app
            .graphql_as(&token, page, json!({ "after": after }))
            .await;
        let feed = &body["data"]["feed"];
        paged.extend(
            feed["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["id"].clone()),
        );
        after = feed["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(paged, all);
    let times: Vec<&str> = whole["data"]["feed"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["createdAt"].as_str().unwrap_or_default())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
}

#[tokio::test]
async fn banned_and_deleted_users_content() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let troll = TestUser::sign_up(&app, "troll").await;
    let spam = post(&app, &troll, "spam", None).await;
    let fine = post(&app, &ann, "fine", None).await;
    let comment =
        "mutation($p: ID!, $b: String!) { createComment(input: { postId: $p, body: $b }) { id } }";
    let reply = ask(
        &app,
        Some(&troll),
        comment,
        json!({ "p": fine, "b": "troll comment" }),
    )
    .await;
    let troll_comment = ok(&reply, "createComment")["id"].clone();
    let reply_to = "mutation($p: ID!, $parent: ID!) {
        createComment(input: { postId: $p, parentId: $parent, body: \"a reply\" }) { id } }";
    let vars = json!({ "p": fine, "parent": troll_comment });
    let reply = ask(&app, Some(&ann), reply_to, vars).await;
    let answer = ok(&reply, "createComment")["id"].clone();
    ok(
        &ask(
            &app,
            Some(&ann),
            comment,
            json!({ "p": fine, "b": "ann comment" }),
        )
        .await,
        "createComment",
    );

    let conn = &app.conn;
    let set_disabled = |disabled: bool| async move {
        let at = disabled.then(Utc::now);
        user::Entity::update_many()
            .col_expr(user::Column::DisabledAt, Expr::value(at))
            .filter(user::Column::Username.eq("troll"))
            .exec(conn)
            .await
            .expect("updated");
    };
    set_disabled(true).await;
    // Hidden everywhere while banned...
    let all =
        "{ posts { edges { node { body commentCount comments { edges { node { body } } } } } } }";
    let reply = ask(&app, Some(&ann), all, json!({})).await;
    let posts = ok(&reply, "posts");
    assert_eq!(texts(posts, "body"), ["fine"]);
    assert_eq!(posts["edges"][0]["node"]["commentCount"], 2, "ann's two");
    assert_eq!(
        texts(&posts["edges"][0]["node"]["comments"], "body"),
        ["ann comment"]
    );
    let node = "query($id: ID!) { node(id: $id) { id } }";
    assert!(ask(&app, Some(&ann), node, json!({ "id": spam })).await["data"]["node"].is_null());
    // A reply survives, but the banned parent it answers is hidden.
    let parent = "query($id: ID!) { node(id: $id) { ... on Comment { body parent { body } } } }";
    let reply = ask(&app, Some(&ann), parent, json!({ "id": answer })).await;
    assert_eq!(reply["data"]["node"]["body"], "a reply", "{reply}");
    assert!(reply["data"]["node"]["parent"].is_null(), "{reply}");
    // ...and the banned account's still-valid token writes nothing.
    assert_eq!(
        refusal(
            &app,
            Some(&troll),
            CREATE_POST,
            json!({ "body": "more spam" })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        refusal(&app, Some(&troll), comment, json!({ "p": fine, "b": "x" })).await,
        "FORBIDDEN"
    );
    set_disabled(false).await;
    let reply = ask(&app, Some(&ann), all, json!({})).await;
    assert_eq!(texts(ok(&reply, "posts"), "body"), ["fine", "spam"]);

    // A deleted account's content goes with it.
    let reply = ask(
        &app,
        Some(&troll),
        "mutation { deleteAccount(password: \"correct horse battery\") }",
        json!({}),
    )
    .await;
    assert_eq!(reply["data"]["deleteAccount"], true, "{reply}");
    let reply = ask(&app, Some(&ann), all, json!({})).await;
    assert_eq!(texts(ok(&reply, "posts"), "body"), ["fine"]);
    assert_eq!(count_rows(&app.conn, "comments").await, 1);
    assert_eq!(
        refusal(&app, Some(&troll), CREATE_POST, json!({ "body": "back" })).await,
        "UNAUTHENTICATED"
    );

    // Instance admins moderate anywhere.
    let bob = TestUser::sign_up(&app, "bob").await;
    let bobs = post(&app, &bob, "rule-breaking", None).await;
    user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value("admin"))
        .filter(user::Column::Username.eq("ann"))
        .exec(&app.conn)
        .await
        .expect("promoted");
    let reply = ask(
        &app,
        Some(&ann),
        "mutation($id: ID!) { deletePost(id: $id) }",
        json!({ "id": bobs }),
    )
    .await;
    assert_eq!(ok(&reply, "deletePost"), &json!(bobs));
}
