//! GraphQL end to end over HTTP: the users queries, Relay paging, global ids,
//! and the GraphQL-over-HTTP rules of the handler.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};

use crate::helpers::{insert_user, spawn_app, user::TestUser};

const USERS_PAGE: &str = r#"
query Users($first: Int, $after: String, $last: Int, $before: String) {
  users(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id username } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"#;

fn usernames(body: &Value) -> Vec<String> {
    body["data"]["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["username"].as_str().expect("username").to_owned())
        .collect()
}

#[tokio::test]
async fn users_connection_pages_forward_and_backward_in_creation_order() {
    let app = spawn_app().await;
    let base = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("date");
    // Two share a timestamp so the id breaks the tie.
    for (i, name) in ["ada", "bob", "cyd", "dee", "eve"].iter().enumerate() {
        let at = base + Duration::seconds(if i == 2 { 1 } else { i as i64 });
        insert_user(&app.conn, name, at).await;
    }

    let (status, page1) = app.graphql(USERS_PAGE, json!({ "first": 2 })).await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(usernames(&page1), ["ada", "bob"]);
    assert_eq!(page1["data"]["users"]["totalCount"], 5);
    assert_eq!(page1["data"]["users"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(page1["data"]["users"]["pageInfo"]["hasPreviousPage"], false);

    let after = page1["data"]["users"]["pageInfo"]["endCursor"].clone();
    let (_, page2) = app
        .graphql(USERS_PAGE, json!({ "first": 2, "after": after }))
        .await;
    let (_, page3) = app
        .graphql(
            USERS_PAGE,
            json!({ "first": 2, "after": page2["data"]["users"]["pageInfo"]["endCursor"] }),
        )
        .await;
    let mut seen = usernames(&page2);
    seen.extend(usernames(&page3));
    // bob and cyd share created_at's second but not the id; all 3 remain.
    seen.sort();
    assert_eq!(seen, ["cyd", "dee", "eve"]);
    assert_eq!(page3["data"]["users"]["pageInfo"]["hasNextPage"], false);

    let (_, last2) = app.graphql(USERS_PAGE, json!({ "last": 2 })).await;
    assert_eq!(usernames(&last2), ["dee", "eve"]);
    assert_eq!(last2["data"]["users"]["pageInfo"]["hasPreviousPage"], true);
    let before = last2["data"]["users"]["pageInfo"]["startCursor"].clone();
    let (_, prev) = app
        .graphql(USERS_PAGE, json!({ "last": 2, "before": before }))
        .await;
    assert_eq!(usernames(&prev).len(), 2);
    assert!(!usernames(&prev).contains(&"dee".to_owned()));
}

#[tokio::test]
async fn bad_paging_arguments_are_bad_user_input() {
    let app = spawn_app().await;
    for (variables, field) in [
        (json!({ "first": 10000 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "first": 1, "last": 1 }), "last"),
        (json!({ "first": 1, "after": "not-a-cursor" }), "after"),
    ] {
        let (status, body) = app.graphql(USERS_PAGE, variables.clone()).await;
        assert_eq!(status, 200, "{variables}: {body}");
        let error = &body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{variables}: {body}"
        );
        assert_eq!(error["extensions"]["field"], field, "{variables}: {body}");
    }
}

#[tokio::test]
async fn user_by_global_id_node_and_username() {
    let app = spawn_app().await;
    insert_user(&app.conn, "Grace", Utc::now()).await;
    let (_, list) = app
        .graphql("{ users { edges { node { id } } } }", json!({}))
        .await;
    let id = list["data"]["users"]["edges"][0]["node"]["id"].clone();
    assert!(
        id.as_str().is_some_and(|s| !s.contains('-')),
        "global ids are opaque: {id}"
    );

    let (_, body) = app
        .graphql(
            "query($id: ID!) { user(id: $id) { username displayName bio createdAt } node(id: $id) { __typename id ... on User { username } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["user"]["username"], "Grace", "{body}");
    assert_eq!(body["data"]["node"]["__typename"], "User");
    assert_eq!(body["data"]["node"]["id"], id);

    let (_, by_name) = app
        .graphql(r#"{ userByUsername(username: "gRACE") { id } }"#, json!({}))
        .await;
    assert_eq!(
        by_name["data"]["userByUsername"]["id"], id,
        "usernames match case-insensitively"
    );

    let (_, missing) = app
        .graphql(
            r#"{ userByUsername(username: "nobody") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(missing["data"]["userByUsername"], Value::Null);

    let (_, bad) = app
        .graphql(r#"{ user(id: "garbage") { id } }"#, json!({}))
        .await;
    assert_eq!(
        bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{bad}"
    );
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            ("query", "query Q { users { totalCount } }"),
            ("operationName", "Q"),
        ])
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["users"]["totalCount"], 0);

    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { anything }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.expect("a JSON body");
    assert!(body["errors"][0]["message"].is_string());

    // A document's only operation, named, is selected without
    // `operationName`: a named mutation is refused too, and writes nothing.
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[(
            "query",
            r#"mutation M { signUp(input: { email: "get@example.com", username: "viaget",
                password: "correct horse battery staple",
                device: { name: "d", secret: "device-secret-0123456789" } }) { accessToken } }"#,
        )])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let (_, users) = app.graphql("{ users { totalCount } }", json!({})).await;
    assert_eq!(users["data"]["users"]["totalCount"], 0, "{users}");

    // So is a named subscription, which belongs on the WebSocket.
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "subscription S { anything }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn transport_errors_are_coded_json() {
    let app = spawn_app().await;
    let post = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    // Malformed JSON: 400 with a GraphQL error body, no internals.
    let response = post("{not json", "application/json").await.expect("sent");
    assert_eq!(response.status(), 400);
    let text = response.text().await.expect("text");
    let body: Value = serde_json::from_str(&text).expect("JSON body");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert!(!text.contains("InvalidRequest("), "{text}");

    // Form posts (the CSRF vector) are refused: multipart (uploads) only
    // with a header that forces a CORS preflight.
    for (content_type, status) in [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 400),
    ] {
        let response = post(r#"{"query":"{ users { totalCount } }"}"#, content_type)
            .await
            .expect("sent");
        assert_eq!(response.status(), status, "{content_type}");
    }

    // A body over the limit.
    let big = format!(
        r#"{{"query":"{{ users {{ totalCount }} }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(1024 * 1024 + 1)
    );
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);

    // Nothing acceptable.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept", "text/csv")
        .body(r#"{"query":"{ users { totalCount } }"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 406);
}

#[tokio::test]
async fn request_errors_are_400_without_data_in_graphql_response_mode() {
    let app = spawn_app().await;
    let send = |accept: &'static str, query: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("accept", accept)
            .json(&json!({ "query": query }))
            .send()
    };
    let response = send("application/graphql-response+json", "{ users(")
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|ct| ct.starts_with("application/graphql-response+json"))
    );
    let body: Value = response.json().await.expect("json");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );

    let response = send("application/graphql-response+json", "{ nope }")
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );

    // Legacy JSON clients get 200 with the same errors.
    let response = send("application/json", "{ nope }").await.expect("sent");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|ct| ct.starts_with("application/json"))
    );
}

#[tokio::test]
async fn deep_documents_and_oversized_batches_are_refused() {
    let app = spawn_app().await;
    // The standard introspection query (graphql-js's, as GraphiQL, Apollo
    // and codegen tools send it, 9 levels of `ofType`) must pass the limit.
    let type_ref = format!(
        "kind name {}",
        "ofType { kind name ".repeat(9) + &"}".repeat(9)
    );
    let introspection = format!(
        "query IntrospectionQuery {{ __schema {{ queryType {{ name }} types {{ kind name \
         fields(includeDeprecated: true) {{ name args {{ name type {{ {type_ref} }} }} type {{ {type_ref} }} }} \
         interfaces {{ {type_ref} }} possibleTypes {{ {type_ref} }} }} }} }}"
    );
    let (status, body) = app.graphql(&introspection, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["__schema"]["types"].is_array(), "{body}");

    // The only deeper shape in the schema so far is introspection's `ofType`.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {}name{} }} }} }} }} }}",
        "ofType { ".repeat(20),
        " }".repeat(20)
    );
    let (status, body) = app.graphql(&deep, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too deep")),
        "{body}"
    );
    // Deeper still, the parser's own recursion limit stops it first.
    let deeper = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {}name{} }} }} }} }} }}",
        "ofType { ".repeat(50),
        " }".repeat(50)
    );
    let (status, body) = app.graphql(&deeper, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );

    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let response = app.post_graphql(&batch).await;
    assert_eq!(response.status(), 400);

    let batch: Vec<Value> = (0..2)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let response = app.post_graphql(&batch).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body[1]["data"]["__typename"], "Query");
}

#[tokio::test]
async fn browsers_get_the_offline_playground() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("connect-src 'self'"));
    let html = response.text().await.expect("html");
    assert!(html.contains("<title>"), "an HTML page");
    assert!(!html.contains("https://"), "no CDN or other external asset");
}

#[tokio::test]
async fn request_ids_are_echoed_or_replaced_when_unsafe() {
    let app = spawn_app().await;
    let get = |id: &'static str| {
        app.client
            .get(app.url("/health/live"))
            .header("x-request-id", id)
            .send()
    };
    let response = get("client-abc_123").await.expect("sent");
    assert_eq!(response.headers()["x-request-id"], "client-abc_123");
    let response = get("evil\tvalue with spaces").await.expect("sent");
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    assert_ne!(id, "evil\tvalue with spaces");
    assert_eq!(id.len(), 36, "a fresh UUID: {id}");
}

#[tokio::test]
async fn unknown_routes_are_404_json() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/nope")).send().await.expect("sent");
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn response_fields_follow_the_selection_order() {
    let app = spawn_app().await;
    insert_user(&app.conn, "zed", Utc::now()).await;
    let response = app.post_graphql(&json!({ "query": "{ users { edges { node { username displayName bio createdAt id } } } }" })).await;
    let text = response.text().await.expect("text");
    let position = |key: &str| {
        text.find(&format!("\"{key}\""))
            .unwrap_or_else(|| panic!("{key} in {text}"))
    };
    assert!(position("username") < position("displayName"), "{text}");
    assert!(position("createdAt") < position("id"), "{text}");
}

/// Clients that do not ask for `application/graphql-response+json` (no
/// `Accept`, or `*/*` as graphql_flutter sends) get legacy JSON: 200 and
/// `application/json`, even for a document that does not validate.
#[tokio::test]
async fn clients_without_the_new_media_type_get_legacy_json() {
    let app = spawn_app().await;
    let plain = reqwest::Client::new();
    for accept in [None, Some("*/*"), Some("application/json")] {
        let mut request = plain
            .post(app.url("/graphql"))
            .json(&json!({ "query": "{ nope }" }));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), 200, "{accept:?}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .is_ok_and(|ct| ct.starts_with("application/json")),
            "{accept:?}"
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
    }
}

/// A field error nulls the field, and a non-null field's error nulls its
/// nearest nullable parent (GraphQL spec, "Handling Field Errors"), never
/// leaving an object with a field missing.
#[tokio::test]
async fn field_errors_null_the_nearest_nullable_parent() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let (_, body) = app
        .graphql_as(
            &ann.token,
            "mutation { createPost(input: { body: \"hello\" }) { id } }",
            json!({}),
        )
        .await;
    let post = body["data"]["createPost"]["id"].clone();

    // `comments` is non-null and fails (page too large): the post (nullable
    // `node`) becomes null; the sibling field keeps its data.
    let (status, body) = app
        .graphql(
            "query($id: ID!) {
                node(id: $id) { id ... on Post { body comments(first: 1000) { pageInfo { hasNextPage } } } }
                users(first: 1) { totalCount }
            }",
            json!({ "id": post }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({ "node": null, "users": { "totalCount": 1 } }),
        "{body}"
    );
    assert_eq!(body["errors"][0]["path"], json!(["node", "comments"]));
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    // Through lists of non-null items up to a non-null root field: `data`
    // itself is null.
    let (_, body) = app
        .graphql(
            "{ posts(first: 5) { edges { node { id comments(first: 1000) { pageInfo { hasNextPage } } } } } }",
            json!({}),
        )
        .await;
    assert!(body["data"].is_null(), "{body}");
    assert!(body.as_object().unwrap().contains_key("data"), "{body}");

    // A nullable field that fails is present, as null.
    let (_, body) = app
        .graphql(
            "{ node(id: \"not-an-id\") { id } users(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({ "node": null, "users": { "totalCount": 1 } }),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

/// Ids of different types never collide, even for one row: the viewer's
/// `Account` and its public `User` have different ids (normalized caches
/// would merge them otherwise), and so do a membership and its member.
#[tokio::test]
async fn each_type_has_ids_of_its_own() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let (_, body) = app
        .graphql_as(
            &ann.token,
            "mutation { createCommunity(input: { slug: \"club\", name: \"Club\" }) {
                id members(first: 1) { edges { node { id user { id } } } } } }",
            json!({}),
        )
        .await;
    let member = &body["data"]["createCommunity"]["members"]["edges"][0]["node"];
    assert!(member["id"].is_string(), "{body}");
    assert_ne!(member["id"], member["user"]["id"], "{body}");
    let (_, body) = app
        .graphql_as(&ann.token, "{ me { id profile { id } } }", json!({}))
        .await;
    let (account, user) = (
        &body["data"]["me"]["id"],
        &body["data"]["me"]["profile"]["id"],
    );
    assert_ne!(account, user, "{body}");
    assert_eq!(*user, json!(ann.id));
    let node = "query($id: ID!) { node(id: $id) { __typename id } }";
    let (_, body) = app
        .graphql_as(&ann.token, node, json!({ "id": user }))
        .await;
    assert_eq!(body["data"]["node"]["__typename"], "User", "{body}");
    let (_, body) = app
        .graphql_as(&ann.token, node, json!({ "id": account }))
        .await;
    assert_eq!(body["data"], json!({ "node": null }), "{body}");
}
