//! No N+1: the feed's SQL statement count depends on the query's shape,
//! not its page size. Counted on the app's own pool, over the seeded demo
//! data (the demo account follows people and belongs to communities).

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// The feed as a client renders it: posts with author, reaction counts,
/// the viewer's reaction, and the first comments with their authors.
const FEED: &str =
    "query($n: Int!) { feed(first: $n) { pageInfo { hasNextPage endCursor } edges { node {
    id body createdAt author { username displayName }
    community { slug }
    reactionCount reactionCounts { kind count } viewerReaction commentCount
    comments(first: 5) { edges { node { body author { username } } } }
} } } }";

pub async fn demo_token(app: &TestApp) -> String {
    let (_, body) = app
        .graphql(
            "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
            json!({ "input": {
                "login": seed::DEMO_EMAIL, "password": seed::DEMO_PASSWORD,
                "device": { "name": "test", "secret": "device-secret-0123456789abcdef" },
            }}),
        )
        .await;
    body["data"]["signIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("demo sign-in failed: {body}"))
        .to_owned()
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
