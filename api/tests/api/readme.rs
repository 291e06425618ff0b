//! The README's GraphQL examples stay true: every operation in a
//! ```graphql block parses and validates against the schema, and the ones
//! that need no variables run without errors as the seeded demo user.
//! Subscriptions are started over the WebSocket the same way.

use serde_json::json;

use crate::{feed::demo_token, helpers::spawn_app};

fn graphql_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```graphql") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// `(name, needs variables)` for each named operation of these kinds
/// (`"query "`, `"mutation "`, ...) in a block.
fn operations(block: &str, kinds: &[&str]) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    for (at, _) in kinds.iter().flat_map(|kind| block.match_indices(kind)) {
        let rest = &block[at..];
        let rest = rest.split_once(' ').map_or("", |(_, r)| r);
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
        if !name.is_empty() {
            found.push((name.clone(), rest[name.len()..].starts_with('(')));
        }
    }
    found
}

#[tokio::test]
async fn the_readme_examples_are_valid_against_the_schema() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let app = spawn_app().await;
    let options = seed::SeedOptions {
        scale: seed::Scale::Small,
        seed: 1,
        reset: false,
    };
    seed::run(&app.conn, &options).await.expect("seeded");
    let token = demo_token(&app).await;
    let mut checked = 0;
    for block in graphql_blocks(&readme) {
        for (name, needs_variables) in operations(&block, &["query ", "mutation "]) {
            let (_, body) = app.graphql_as_named(&token, &block, &name, json!({})).await;
            let errors = body["errors"].as_array().cloned().unwrap_or_default();
            for error in &errors {
                let code = error["extensions"]["code"].as_str().unwrap_or_default();
                let message = error["message"].as_str().unwrap_or_default();
                let missing_variable = needs_variables && message.contains("Variable");
                assert!(
                    code != "GRAPHQL_PARSE_FAILED"
                        && (code != "GRAPHQL_VALIDATION_FAILED" || missing_variable),
                    "README operation {name}: {body}"
                );
            }
            if !needs_variables {
                assert!(errors.is_empty(), "README operation {name}: {body}");
                assert!(body["data"].is_object(), "{body}");
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "only {checked} operations found in the README"
    );

    // Subscriptions: each starts over the WebSocket without an `error`
    // (only a missing variable is allowed).
    let mut socket = crate::realtime::open(app.addr).await;
    socket.init(Some(&token)).await;
    let mut subscriptions = 0;
    for block in graphql_blocks(&readme) {
        for (name, needs_variables) in operations(&block, &["subscription "]) {
            socket
                .send(json!({"type": "subscribe", "id": name,
                    "payload": {"query": block, "operationName": name}}))
                .await;
            if let Some(crate::realtime::Frame::Json(message)) = socket
                .next_within(std::time::Duration::from_millis(500))
                .await
            {
                let message_text = message["payload"][0]["message"]
                    .as_str()
                    .unwrap_or_default();
                assert!(
                    message["type"] == "ping"
                        || (needs_variables && message_text.contains("Variable")),
                    "README subscription {name}: {message}"
                );
            }
            subscriptions += 1;
        }
    }
    assert!(
        subscriptions >= 4,
        "only {subscriptions} subscriptions found in the README"
    );
}
