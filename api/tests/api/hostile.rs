//! Hostile documents and requests: each is refused with
//! a clear, coded error before anything runs, and leaves the data alone.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, count_rows, spawn_app, spawn_app_with,
    user::{TestUser, code},
};

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

/// A real nesting of `depth` levels: user -> followers -> user -> ...
fn nested(depth: usize) -> String {
    // `users` + `edges` + `node` is 3 levels; each `followers { edges { node`
    // adds 3 more; `id` is the last level.
    let hops = (depth - 4) / 3;
    format!(
        "{{ users(first: 1) {{ edges {{ node {{ {} id {} }} }} }} }}",
        "followers(first: 1) { edges { node { ".repeat(hops),
        "} } }".repeat(hops)
    )
}

#[tokio::test]
async fn deep_documents_are_refused_before_any_sql_and_the_limit_itself_passes() {
    let app = spawn_app().await;
    let before = app.quiet_statements().await;
    // Depth 50 stops at the parser's recursion guard (32 levels of
    // nesting), which protects the stack; between 17 and 32 the depth
    // limit answers. Either way: a stable code, and no SQL at all.
    let (status, body) = app.graphql(&nested(49), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "GRAPHQL_PARSE_FAILED", "{body}");
    assert!(message(&body).contains("recursion depth"), "{body}");
    let (status, body) = app.graphql(&nested(19), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(message(&body).contains("too deep"), "{body}");
    assert_eq!(
        app.statements.get(),
        before,
        "no SQL for a refused document"
    );

    // Exactly at the default limit (16) runs.
    let (status, body) = app.graphql(&nested(16), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn huge_pages_aliases_and_repeated_directives_are_refused() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql("{ posts(first: 10000) { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "first");

    let before = app.quiet_statements().await;
    let aliases = |n: usize, field: &str| {
        let fields: String = (0..n).map(|i| format!("a{i}: {field} ")).collect();
        format!("{{ {fields} }}")
    };
    let (status, body) = app
        .graphql(&aliases(101, "users { totalCount }"), json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(message(&body).contains("aliases"), "{body}");
    let (status, body) = app.graphql(&aliases(10_000, "__typename"), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    let directives = format!("{{ __typename {} }}", "@include(if: true) ".repeat(10));
    let (status, body) = app.graphql(&directives, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "GRAPHQL_PARSE_FAILED", "{body}");
    assert!(message(&body).contains("directives"), "{body}");
    assert_eq!(app.statements.get(), before, "nothing ran");
    // 100 aliases are fine.
    let (status, body) = app.graphql(&aliases(100, "__typename"), json!({})).await;
    assert_eq!(status, 200, "{body}");

    // Complexity: a wide page of deep pages.
    let costly = "{ posts(first: 100) { edges { node { comments(first: 100) { edges { node { body author { username } } } } } } } }";
    let (status, body) = app.graphql(costly, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("complex"), "{body}");
}

#[tokio::test]
async fn production_hides_the_schema_and_suggestions() {
    let app = spawn_app_with(|config| config.graphql.introspection = false).await;
    for query in [
        "{ __schema { types { name } } }",
        "{ __type(name: \"Post\") { name } }",
    ] {
        // Refused with a code that says why, not answered with a silent null.
        let (status, body) = app.graphql(query, json!({})).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
        assert!(
            message(&body).contains("introspection is disabled"),
            "{body}"
        );
        assert!(body.get("data").is_none(), "{body}");
        assert!(!body.to_string().contains("Post\""), "{body}");
    }
    let (_, body) = app
        .graphql("{ postz { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");
    assert!(!body.to_string().contains("Did you mean"), "{body}");
    // Development keeps them: they help.
    let dev = spawn_app().await;
    let (_, body) = dev
        .graphql("{ postz { edges { node { id } } } }", json!({}))
        .await;
    assert!(body.to_string().contains("Did you mean"), "{body}");
}

/// Cross-site tricks change nothing: mutations over GET, form posts.
#[tokio::test]
async fn mutations_need_a_json_post() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let mutation = "mutation { createPost(input: { body: \"csrf\" }) { id } }";
    let response = app
        .client
        .get(app.url("/graphql"))
        .bearer_auth(&ann.token)
        .query(&[("query", mutation)])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&ann.token)
            .header("content-type", content_type)
            .body(json!({ "query": mutation }).to_string())
            .send()
            .await
            .expect("sent");
        assert!(response.status().is_client_error(), "{content_type}");
    }
    assert_eq!(count_rows(&app.conn, "posts").await, 0);
}

/// Nothing internal leaks: malformed JSON, wrong types, unknown ids.
#[tokio::test]
async fn errors_never_leak_internals() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let probes: Vec<(&str, Value)> = vec![
        ("{ post(id: \"' OR 1=1 --\") { id } }", json!({})),
        ("{ node(id: \"Zm9vOmJhcg\") { id } }", json!({})),
        (
            "query($f: PostFilter) { posts(filter: $f) { edges { cursor } } }",
            json!({ "f": { "createdAfter": "yesterday" } }),
        ),
        (
            "{ posts(after: \"not-a-cursor\") { edges { cursor } } }",
            json!({}),
        ),
        (
            "{ communities(search: \"%%%'\\\"\") { edges { cursor } } }",
            json!({}),
        ),
        (
            "query($c: ID!) { community(id: $c) { id } }",
            json!({ "c": ["array"] }),
        ),
    ];
    for (query, variables) in probes {
        let (status, body) = app.graphql_as(&ann.token, query, variables).await;
        let text = body.to_string();
        assert!(status == 200 || status == 400, "{status} {text}");
        assert!(
            !body["errors"]
                .as_array()
                .is_some_and(std::vec::Vec::is_empty),
            "{text}"
        );
        for error in body["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"].as_str().unwrap_or("(none)");
            assert!(code != "INTERNAL" && code != "(none)", "{query}: {text}");
        }
        for leak in ["InvalidRequest(", "SELECT", "sqlx", "/src/", "panicked"] {
            assert!(!text.contains(leak), "{query} leaked {leak}: {text}");
        }
    }
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(code(&body), "BAD_REQUEST");
}

/// PostgreSQL text cannot hold NUL, so it is refused before anything runs,
/// in variables and in the document, on both backends.
#[tokio::test]
async fn nul_characters_are_refused_before_anything_is_written() {
    let app = spawn_app().await;
    let sign_up =
        "mutation($name: String) { signUp(input: { email: \"nul@example.com\", username: \"nul\",
        password: \"correct horse battery\", displayName: $name,
        device: { name: \"d\", secret: \"device-secret-0123456789\" } }) { accessToken } }";
    let (status, body) = app.graphql(sign_up, json!({ "name": "a\u{0}b" })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "BAD_REQUEST");
    let inline = "{ userByUsername(username: \"a\\u0000\") { id } }";
    let (status, body) = app.graphql(inline, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(count_rows(&app.conn, "users").await, 0);
    // `\u0041` is just "A".
    let (status, body) = app
        .graphql(
            "{ userByUsername(username: \"\\u0041nn\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn oversized_bodies_and_batches_are_refused() {
    let app: TestApp = spawn_app().await;
    let big = json!({ "query": "{ __typename }", "variables": { "pad": "x".repeat(1024 * 1024) } });
    let response = app.post_graphql(&big).await;
    assert_eq!(response.status(), 413);
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let response = app.post_graphql(&batch).await;
    assert_eq!(response.status(), 400);
}
