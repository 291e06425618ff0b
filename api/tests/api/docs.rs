//! The manual's GraphQL (README.md and docs/) stays true, as a client
//! developer meets it:
//!
//! - every operation has a name of its own (graphql-codegen refuses
//!   documents with duplicates), and parses;
//! - the tour runs step by step, in order, on freshly seeded demo data,
//!   each step feeding the next and returning data;
//! - every other operation validates against the schema, and the ones
//!   that need no variables run; subscriptions start over the WebSocket;
//! - the Graphcache set-up names exactly the types without an `id`.
//!
//! (`scripts/client-check.mjs` validates the same operations with
//! graphql-js and runs the JavaScript set-ups with the real clients.)

use std::collections::HashMap;

use async_graphql::parser::{
    parse_query,
    types::{DocumentOperations, OperationType},
};
use serde_json::{Value, json};

use crate::helpers::{spawn_app, user::demo_token};

/// A page of the manual, by its path from the repository's root.
fn page(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::fs::read_to_string(format!("{root}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The whole manual: README.md, then every page under docs/, in order.
fn manual() -> Vec<(String, String)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut paths: Vec<String> = std::fs::read_dir(format!("{root}/docs"))
        .expect("docs/")
        .filter_map(std::result::Result::ok)
        .map(|e| format!("docs/{}", e.file_name().to_string_lossy()))
        .filter(|p| p.ends_with(".md"))
        .collect();
    paths.sort();
    paths.insert(0, "README.md".to_owned());
    paths.into_iter().map(|p| (page(&p), p)).collect()
}

/// The text of every fenced block of `language`, in order.
fn blocks(text: &str, language: &str) -> Vec<String> {
    let fence = format!("```{language}");
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, open) if open == fence => current = Some(String::new()),
            (Some(block), "```") => {
                found.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    found
}

/// One named operation of a block.
struct Operation {
    name: String,
    kind: OperationType,
    needs_variables: bool,
    /// The whole block, to send with `operationName`.
    document: String,
}

fn operations(text: &str) -> Vec<Operation> {
    let mut found = Vec::new();
    for block in blocks(text, "graphql") {
        let document =
            parse_query(&block).unwrap_or_else(|e| panic!("a block does not parse: {e}\n{block}"));
        let DocumentOperations::Multiple(named) = document.operations else {
            panic!("an operation without a name:\n{block}");
        };
        let mut named: Vec<_> = named.into_iter().collect();
        named.sort_by_key(|(_, operation)| (operation.pos.line, operation.pos.column));
        for (name, operation) in named {
            found.push(Operation {
                name: name.to_string(),
                kind: operation.node.ty,
                needs_variables: operation
                    .node
                    .variable_definitions
                    .iter()
                    .any(|v| !v.node.var_type.node.nullable),
                document: block.clone(),
            });
        }
    }
    found
}

#[test]
fn every_operation_has_a_name_of_its_own() {
    let operations: Vec<Operation> = manual()
        .iter()
        .flat_map(|(text, _)| operations(text))
        .collect();
    assert!(operations.len() >= 35, "{} operations", operations.len());
    let mut seen = HashMap::new();
    for operation in &operations {
        if let Some(kind) = seen.insert(operation.name.clone(), operation.kind) {
            panic!(
                "{} is both a {kind:?} and a {:?}",
                operation.name, operation.kind
            );
        }
    }
}

/// The tour (docs/tour.md), run as a newcomer would: every step in order
/// as the demo user, with the values earlier steps returned.
#[tokio::test]
async fn the_tour_runs_in_order_on_the_seeded_demo() {
    let tour = operations(&page("docs/tour.md"));
    let app = spawn_app().await;
    let options = seed::SeedOptions {
        scale: seed::Scale::Small,
        seed: 42,
        reset: false,
    };
    seed::run(&app.conn, &options).await.expect("seeded");
    let mut token = String::new();
    let mut found: HashMap<&str, Value> = HashMap::new();
    let mut steps = Vec::new();
    for step in &tour {
        let id = |key: &str| {
            found
                .get(key)
                .cloned()
                .unwrap_or_else(|| panic!("{}: no {key} yet", step.name))
        };
        let variables = match step.name.as_str() {
            "Follow" | "Unfollow" => json!({ "id": id("someone") }),
            "Community" | "LeaveCommunity" | "JoinCommunity" => json!({ "id": id("community") }),
            "AddMember" | "PromoteMember" => json!({ "c": id("mine"), "u": id("someone") }),
            "CreatePost" => json!({ "c": id("mine") }),
            "CommentOnPost" | "React" | "Unreact" => json!({ "post": id("post") }),
            "Thread" | "EditPost" | "DeletePost" => json!({ "id": id("post") }),
            "DeleteCommunity" => json!({ "id": id("mine") }),
            "StartConversation" => json!({ "ids": [id("someone")] }),
            "SendMessage" | "MarkRead" => json!({ "c": id("conversation") }),
            name => {
                assert!(
                    !step.needs_variables,
                    "the tour test does not know what {name} needs"
                );
                json!({})
            }
        };
        let (status, body) = if token.is_empty() {
            let request = json!({ "query": step.document, "operationName": step.name, "variables": variables });
            let response = app.post_graphql(&request).await;
            (
                response.status().as_u16(),
                response.json().await.expect("JSON"),
            )
        } else {
            app.graphql_as_named(&token, &step.document, &step.name, variables)
                .await
        };
        assert_eq!(status, 200, "{}: {body}", step.name);
        assert!(body["errors"].is_null(), "{}: {body}", step.name);
        let data = &body["data"];
        let first = |list: &Value| -> Value { list["edges"][0]["node"].clone() };
        match step.name.as_str() {
            "DemoSignIn" => {
                token = data["signIn"]["accessToken"]
                    .as_str()
                    .expect("token")
                    .to_owned();
            }
            "Feed" => assert!(first(&data["feed"]).is_object(), "an empty feed: {body}"),
            "People" => {
                let people = data["users"]["edges"].as_array().expect("people");
                let stranger = people
                    .iter()
                    .map(|e| &e["node"])
                    .find(|u| u["viewerIsFollowing"] == false && u["username"] != "demo")
                    .unwrap_or_else(|| panic!("everyone is followed already: {body}"));
                found.insert("someone", stranger["id"].clone());
            }
            "Communities" => {
                let community = first(&data["communities"]);
                assert!(community["viewerRole"].is_string(), "{body}");
                found.insert("community", community["id"].clone());
            }
            "NewCommunity" => {
                found.insert("mine", data["createCommunity"]["id"].clone());
            }
            "CreatePost" => {
                found.insert("post", data["createPost"]["id"].clone());
            }
            "SearchPosts" => {
                let hits = data["posts"]["edges"].as_array().expect("hits");
                assert!(
                    hits.iter().any(|e| e["node"]["id"] == id("post")),
                    "the new post is not found: {body}"
                );
            }
            "Thread" => assert!(first(&data["post"]["comments"]).is_object(), "{body}"),
            "StartConversation" => {
                found.insert("conversation", data["startConversation"]["id"].clone());
            }
            "Conversations" => assert!(first(&data["conversations"]).is_object(), "{body}"),
            _ => {}
        }
        // Every step returns data: no field of `data` is null.
        let fields = data.as_object().expect("data");
        assert!(
            fields.values().all(|v| !v.is_null()),
            "{}: {body}",
            step.name
        );
        steps.push(step.name.clone());
    }
    assert!(steps.len() >= 25, "only {} steps: {steps:?}", steps.len());
}

/// Every operation outside the tour validates against the schema (a
/// missing variable is the only error allowed), and the ones that need no
/// variables run without errors. Subscriptions start over the WebSocket.
#[tokio::test]
async fn the_other_examples_are_valid_against_the_schema() {
    let app = spawn_app().await;
    let options = seed::SeedOptions {
        scale: seed::Scale::Small,
        seed: 1,
        reset: false,
    };
    seed::run(&app.conn, &options).await.expect("seeded");
    // Some examples are admins' (webhooks, backups): run them all as one.
    crate::helpers::exec(
        &app.conn,
        &format!(
            "UPDATE users SET role = 'admin' WHERE email = '{}'",
            seed::DEMO_EMAIL
        ),
    )
    .await;
    let token = demo_token(&app).await;
    let all: Vec<Operation> = manual()
        .iter()
        .filter(|(_, path)| path != "docs/tour.md")
        .flat_map(|(text, _)| operations(text))
        .collect();
    let mut checked = 0;
    for operation in all.iter().filter(|o| o.kind != OperationType::Subscription) {
        let (_, body) = app
            .graphql_as_named(&token, &operation.document, &operation.name, json!({}))
            .await;
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        for error in &errors {
            let code = error["extensions"]["code"].as_str().unwrap_or_default();
            let message = error["message"].as_str().unwrap_or_default();
            let missing_variable = operation.needs_variables && message.contains("Variable");
            assert!(
                code != "GRAPHQL_PARSE_FAILED"
                    && (code != "GRAPHQL_VALIDATION_FAILED" || missing_variable),
                "{} (in the manual): {body}",
                operation.name
            );
        }
        if !operation.needs_variables {
            assert!(
                errors.is_empty(),
                "{} (in the manual): {body}",
                operation.name
            );
            assert!(body["data"].is_object(), "{body}");
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} operations outside the tour");

    // Subscriptions: each starts over the WebSocket without an `error`
    // (only a missing variable is allowed).
    let mut socket = crate::helpers::ws::open(app.addr).await;
    socket.init(Some(&token)).await;
    let mut subscriptions = 0;
    for operation in all.iter().filter(|o| o.kind == OperationType::Subscription) {
        socket
            .send(json!({"type": "subscribe", "id": operation.name,
                "payload": {"query": operation.document, "operationName": operation.name}}))
            .await;
        if let Some(crate::helpers::ws::Frame::Json(message)) = socket
            .next_within(std::time::Duration::from_millis(500))
            .await
        {
            let text = message["payload"][0]["message"]
                .as_str()
                .unwrap_or_default();
            assert!(
                message["type"] == "ping"
                    || (operation.needs_variables && text.contains("Variable")),
                "subscription {} (in the manual): {message}",
                operation.name
            );
        }
        subscriptions += 1;
    }
    assert!(subscriptions >= 4, "only {subscriptions} subscriptions");
}

/// The Graphcache set-up lists exactly the object types without an `id`
/// (the root types aside): with one missing Graphcache warns on every
/// response; with an extra, an entity stops being normalized.
#[test]
fn the_graphcache_value_types_are_the_types_without_an_id() {
    let schema = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
        .expect("schema.graphql");
    let document = async_graphql::parser::parse_schema(&schema).expect("SDL");
    let mut without_id: Vec<String> = document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            async_graphql::parser::types::TypeSystemDefinition::Type(t) => match &t.node.kind {
                async_graphql::parser::types::TypeKind::Object(object)
                    if !object.fields.iter().any(|f| f.node.name.node == "id") =>
                {
                    Some(t.node.name.node.to_string())
                }
                _ => None,
            },
            _ => None,
        })
        .filter(|name| !matches!(name.as_str(), "Query" | "Mutation" | "Subscription"))
        .collect();
    without_id.sort();
    let snippet = manual()
        .iter()
        .flat_map(|(text, _)| blocks(text, "js"))
        .find(|b| b.contains("const valueTypes"))
        .expect("the Graphcache set-up");
    let list = &snippet[snippet.find("const valueTypes").unwrap()..];
    let list = &list[..list.find("];").expect("end of the list")];
    let mut documented: Vec<String> = list
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    documented.sort();
    assert_eq!(documented, without_id);
}
