//! Writes under concurrency: nothing acknowledged is lost, a failing write
//! fails alone, a multi-statement write is all or nothing, and on SQLite a
//! process killed in the middle of a burst keeps every write it answered.
//! On SQLite every write goes through the one writer and its group commit.

use std::{collections::HashSet, process::Stdio, time::Duration};

use migration::database::Backend;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, count_rows, free_port, query_strings, spawn_app, start_api,
    user::{CREATE_POST, TestUser, code, post},
};

const COMMENT: &str = "mutation($p: ID!, $b: String!) {
    createComment(input: { postId: $p, body: $b }) { id } }";
const REACT: &str = "mutation($p: ID!) { react(postId: $p, kind: LIKE) { id } }";

/// The `id` under `data.<field>` of a successful answer.
fn id_of(body: &Value, field: &str) -> String {
    assert!(body["errors"].is_null(), "{field}: {body}");
    body["data"][field]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{field}: {body}"))
        .to_owned()
}

/// 64 clients write at once (comments, posts, reactions): every write
/// answered is there to read back, and nothing else is.
#[tokio::test]
async fn racing_writers_lose_nothing() {
    let app = spawn_app().await;
    let mut people = Vec::new();
    for i in 0..8 {
        people.push(TestUser::sign_up(&app, &format!("writer{i}")).await);
    }
    let target = post(&app, &people[0], "the thread", None).await;
    let writes = (0..64).map(|i| {
        let (app, who, target) = (&app, &people[i % people.len()], target.clone());
        async move {
            match i % 3 {
                0 => {
                    let vars = json!({ "p": target, "b": format!("comment {i}") });
                    (
                        "comment",
                        id_of(
                            &app.graphql_as(&who.token, COMMENT, vars).await.1,
                            "createComment",
                        ),
                    )
                }
                1 => {
                    let vars = json!({ "body": format!("post {i}"), "c": null });
                    (
                        "post",
                        id_of(
                            &app.graphql_as(&who.token, CREATE_POST, vars).await.1,
                            "createPost",
                        ),
                    )
                }
                _ => {
                    let body = app
                        .graphql_as(&who.token, REACT, json!({ "p": target }))
                        .await
                        .1;
                    ("reaction", id_of(&body, "react"))
                }
            }
        }
    });
    let done = futures_util::future::join_all(writes).await;
    let comments: Vec<&String> = done
        .iter()
        .filter(|(k, _)| *k == "comment")
        .map(|(_, id)| id)
        .collect();
    let posts: Vec<&String> = done
        .iter()
        .filter(|(k, _)| *k == "post")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(
        count_rows(&app.conn, "comments").await,
        comments.len() as i64
    );
    assert_eq!(count_rows(&app.conn, "posts").await, posts.len() as i64 + 1);
    // Each of the 8 people reacted to the thread: one reaction each.
    assert_eq!(count_rows(&app.conn, "reactions").await, 8);
    let node = "query($id: ID!) { node(id: $id) { id } }";
    for id in comments.iter().chain(&posts) {
        let (_, body) = app
            .graphql_as(&people[0].token, node, json!({ "id": id }))
            .await;
        assert_eq!(body["data"]["node"]["id"], json!(id), "{id} not read back");
    }
}

/// A write that breaks a uniqueness rule, queued with others while the
/// writer is busy, fails alone with its own coded error; the writes
/// committed in the same batch are all there.
#[tokio::test]
async fn a_failing_write_in_a_batch_fails_alone() {
    let app = spawn_app().await;
    if app.db.backend != Backend::Sqlite {
        return; // Group commit is SQLite's; PostgreSQL has many writers.
    }
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let target = post(&app, &ann, "the thread", None).await;
    let follow = "mutation($id: ID!) { follow(userId: $id) { id } }";
    let (_, body) = app
        .graphql_as(&ann.token, follow, json!({ "id": bob.id }))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // The notifications reader writes too: let it settle first.
    crate::helpers::user::notified(&app, &bob, "followed you").await;

    // Hold the writer for a moment, so the writes below queue up behind it.
    let (batches_before, _) = app.app_db.write_stats().expect("SQLite has a writer");
    let hold = {
        let db = app.app_db.clone();
        tokio::spawn(async move {
            db.transaction(|_| {
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Ok(())
                })
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let comments = (0..12).map(|i| {
        let (app, ann, target) = (&app, &ann, target.clone());
        async move {
            let vars = json!({ "p": target, "b": format!("batched {i}") });
            app.graphql_as(&ann.token, COMMENT, vars).await.1
        }
    });
    // Following twice breaks the unique index on follows.
    let again = app.graphql_as(&ann.token, follow, json!({ "id": bob.id }));
    let (answers, again) = tokio::join!(futures_util::future::join_all(comments), again);
    hold.await.expect("join").expect("the holding write");
    assert_eq!(code(&again.1), "CONFLICT", "{}", again.1);
    for answer in &answers {
        id_of(answer, "createComment");
    }
    assert_eq!(count_rows(&app.conn, "comments").await, 12);
    assert_eq!(count_rows(&app.conn, "follows").await, 1);
    let (batches_after, _) = app.app_db.write_stats().expect("stats");
    // The holding write, the 13 (in one or two batches), and the
    // notifications reader noting how far it has read once they commit.
    assert!(
        batches_after - batches_before <= 4,
        "13 writes queued behind one took {} batches",
        batches_after - batches_before
    );
}

/// Multi-statement writes under concurrency: a sign-up is an account and
/// its session, a post its row and its attachments; when one fails (a
/// taken email, someone else's file) none of its rows remain.
#[tokio::test]
async fn multi_statement_writes_are_all_or_nothing() {
    let app = spawn_app().await;
    let sign_up = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }";
    let attempts = (0..24).map(|i| {
        let app = &app;
        async move {
            // Every email is used by two racers; usernames are all new.
            let input = json!({ "input": {
                "email": format!("racer{}@example.com", i / 2),
                "username": format!("racer_{i}"),
                "password": "correct horse battery",
                "device": { "name": "race", "secret": "device-secret-0123456789abcdef" },
            }});
            app.graphql(sign_up, input).await.1
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let won = answers.iter().filter(|a| a["errors"].is_null()).count();
    assert_eq!(won, 12, "one per email: {answers:?}");
    for answer in answers.iter().filter(|a| !a["errors"].is_null()) {
        assert_eq!(code(answer), "CONFLICT", "{answer}");
    }
    assert_eq!(count_rows(&app.conn, "users").await, 12);
    assert_eq!(count_rows(&app.conn, "sessions").await, 12);
    let orphans = query_strings(
        &app.conn,
        "SELECT CAST(COUNT(*) AS TEXT) AS n FROM users u WHERE NOT EXISTS \
         (SELECT 1 FROM sessions s WHERE s.user_id = u.id)",
        &["n"],
    )
    .await;
    assert_eq!(orphans, [["0"]], "an account without its session");

    // Posts with attachments, half of them naming a file that is not the
    // author's: those write nothing.
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let foreign = upload(&app, &bob).await;
    let with_files = "mutation($body: String!, $files: [ID!]) {
        createPost(input: { body: $body, attachmentIds: $files }) { id attachments { id } } }";
    let mut posts = Vec::new();
    for i in 0..8 {
        let own = upload(&app, &ann).await;
        let files = if i % 2 == 0 {
            json!([own])
        } else {
            json!([own, foreign])
        };
        let (app, ann) = (&app, &ann);
        posts.push(async move {
            let vars = json!({ "body": format!("with files {i}"), "files": files });
            app.graphql_as(&ann.token, with_files, vars).await.1
        });
    }
    let answers = futures_util::future::join_all(posts).await;
    let created = answers.iter().filter(|a| a["errors"].is_null()).count();
    assert_eq!(created, 4, "{answers:?}");
    assert_eq!(count_rows(&app.conn, "posts").await, 4);
    assert_eq!(count_rows(&app.conn, "post_attachments").await, 4);
}

async fn upload(app: &TestApp, who: &TestUser) -> String {
    let operations = json!({
        "query": "mutation($file: Upload!) { uploadFile(file: $file) { id } }",
        "variables": { "file": null },
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(b"a plain text upload".to_vec()).file_name("a.txt"),
        );
    let body: Value = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&who.token)
        .header("Apollo-Require-Preflight", "true")
        .multipart(form)
        .send()
        .await
        .expect("upload sent")
        .json()
        .await
        .expect("JSON");
    id_of(&body, "uploadFile")
}

/// The API killed with SIGKILL in the middle of a burst of writes (each a
/// conversation started with its first message: four statements): after a
/// restart every write it answered is there, and no write is half there.
#[tokio::test]
async fn killed_mid_burst_keeps_every_answered_write() {
    let db = crate::helpers::TestDb::new().await;
    if db.backend != Backend::Sqlite {
        return; // The writer and its durability are SQLite's.
    }
    let port = free_port();
    let vars = [
        ("JWT_SECRET", crate::helpers::TEST_JWT_SECRET),
        ("AUTH_RATE_LIMIT_PER_IP", "100000"),
        ("AUTH_RATE_LIMIT_PER_ACCOUNT", "100000"),
        ("RUST_LOG", "warn"),
    ];
    let mut api = start_api(&db, port, &vars, Stdio::null()).await;
    let url = format!("http://127.0.0.1:{port}/graphql");
    let client = reqwest::Client::new();
    let graphql = |token: Option<String>, query: &'static str, variables: Value| {
        let request = client
            .post(&url)
            .json(&json!({ "query": query, "variables": variables }));
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        async move {
            let response = request.send().await.ok()?;
            response.json::<Value>().await.ok()
        }
    };
    let sign_up = "mutation($input: SignUpInput!) { signUp(input: $input) {
        accessToken user { profile { id } } } }";
    let mut people = Vec::new();
    for i in 0..41 {
        let input = json!({ "input": {
            "email": format!("p{i}@example.com"), "username": format!("person{i}"),
            "password": "correct horse battery",
            "device": { "name": "burst", "secret": "device-secret-0123456789abcdef" },
        }});
        let body = graphql(None, sign_up, input).await.expect("sign-up");
        assert!(body["errors"].is_null(), "sign-up: {body}");
        people.push((
            body["data"]["signUp"]["accessToken"]
                .as_str()
                .expect("token")
                .to_owned(),
            body["data"]["signUp"]["user"]["profile"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        ));
    }
    let start = "mutation($ids: [ID!]!) {
        startConversation(input: { participantIds: $ids, message: \"first\" }) { id } }";
    // Person 0 starts a conversation with each of the others, 4 at a time,
    // until the process dies.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for lane in 0..4 {
        let (acked, people) = (acked.clone(), people.clone());
        writers.push(async move {
            for other in (1 + lane..people.len()).step_by(4) {
                let vars = json!({ "ids": [people[other].1] });
                match graphql(Some(people[0].0.clone()), start, vars).await {
                    Some(body) if body["errors"].is_null() => {
                        let id = body["data"]["startConversation"]["id"]
                            .as_str()
                            .map(str::to_owned);
                        acked.lock().unwrap().extend(id);
                    }
                    _ => break,
                }
            }
        });
    }
    let killer = async {
        loop {
            if acked.lock().unwrap().len() >= 12 {
                api.kill().expect("SIGKILL");
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::join!(futures_util::future::join_all(writers), killer);
    let _ = api.wait();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 12, "{} acknowledged", acked.len());

    let mut api = start_api(&db, port, &vars, Stdio::null()).await;
    let node = "query($id: ID!) { node(id: $id) { ... on Conversation { id messages(first: 5) { edges { node { body } } } participants { id } } } }";
    for id in &acked {
        let body = graphql(Some(people[0].0.clone()), node, json!({ "id": id }))
            .await
            .expect("answer");
        let conversation = &body["data"]["node"];
        assert_eq!(
            conversation["id"],
            json!(id),
            "answered write {id} lost: {body}"
        );
        assert_eq!(
            conversation["participants"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(
            conversation["messages"]["edges"][0]["node"]["body"],
            "first"
        );
    }
    // Whatever committed, committed whole: every conversation has its two
    // people and its first message.
    let conn = db.connect().await;
    let partial = query_strings(
        &conn,
        "SELECT CAST(COUNT(*) AS TEXT) AS n FROM conversations c WHERE \
         (SELECT COUNT(*) FROM conversation_participants p WHERE p.conversation_id = c.id) <> 2 \
         OR NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id)",
        &["n"],
    )
    .await;
    assert_eq!(partial, [["0"]], "a conversation half written");
    let ids: HashSet<&String> = acked.iter().collect();
    assert_eq!(ids.len(), acked.len(), "one conversation per pair");
    let _ = api.kill();
    let _ = api.wait();
}

const KEYED_COMMENT: &str = "mutation($p: ID!, $b: String!, $k: String) {
    createComment(input: { postId: $p, body: $b, idempotencyKey: $k }) { id body } }";

/// A retried write with its idempotency key gets the first result and
/// writes nothing again: posts, comments, messages and reactions. The same
/// key with other input is `CONFLICT`; keys are per account; a write that
/// failed saved nothing, so its key still works.
#[tokio::test]
async fn a_repeated_idempotency_key_answers_the_first_result() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let keyed_post = "mutation($b: String!, $k: String) {
        createPost(input: { body: $b, idempotencyKey: $k }) { id } }";
    let ask = |who: &TestUser, query: &'static str, variables: Value| {
        let app = &app;
        let token = who.token.clone();
        async move { app.graphql_as(&token, query, variables).await.1 }
    };

    let first = id_of(
        &ask(&ann, keyed_post, json!({"b": "once", "k": "post-1"})).await,
        "createPost",
    );
    let again = id_of(
        &ask(&ann, keyed_post, json!({"b": "once", "k": "post-1"})).await,
        "createPost",
    );
    assert_eq!(first, again);
    let other = ask(&ann, keyed_post, json!({"b": "twice?", "k": "post-1"})).await;
    assert_eq!(code(&other), "CONFLICT", "{other}");
    assert_eq!(other["errors"][0]["extensions"]["field"], "idempotencyKey");
    // Bob's key of the same name is his own.
    let bobs = id_of(
        &ask(&bob, keyed_post, json!({"b": "once", "k": "post-1"})).await,
        "createPost",
    );
    assert_ne!(bobs, first);
    assert_eq!(count_of(&app, "posts", "body = 'once'").await, 2);

    let comment = id_of(
        &ask(
            &bob,
            KEYED_COMMENT,
            json!({"p": first, "b": "hi", "k": "c"}),
        )
        .await,
        "createComment",
    );
    let comment_again = id_of(
        &ask(
            &bob,
            KEYED_COMMENT,
            json!({"p": first, "b": "hi", "k": "c"}),
        )
        .await,
        "createComment",
    );
    assert_eq!(comment, comment_again);
    assert_eq!(count_of(&app, "comments", "body = 'hi'").await, 1);
    // A failed write saves nothing: its key works for the next attempt.
    let nowhere =
        api::graphql::id::to_global_id(api::graphql::id::NodeType::Post, uuid::Uuid::nil());
    let missing = ask(
        &bob,
        KEYED_COMMENT,
        json!({"p": nowhere.as_str(), "b": "lost", "k": "d"}),
    )
    .await;
    assert!(missing["errors"].is_array(), "{missing}");
    id_of(
        &ask(
            &bob,
            KEYED_COMMENT,
            json!({"p": first, "b": "found", "k": "d"}),
        )
        .await,
        "createComment",
    );

    let start = "mutation($u: [ID!]!) { startConversation(input: {participantIds: $u}) { id } }";
    let conversation = id_of(
        &ask(&ann, start, json!({"u": [bob.id]})).await,
        "startConversation",
    );
    let send = "mutation($c: ID!, $k: String) { sendMessage(conversationId: $c, body: \"ping\", idempotencyKey: $k) { id } }";
    let message = id_of(
        &ask(&ann, send, json!({"c": conversation, "k": "m"})).await,
        "sendMessage",
    );
    assert_eq!(
        message,
        id_of(
            &ask(&ann, send, json!({"c": conversation, "k": "m"})).await,
            "sendMessage"
        )
    );
    assert_eq!(count_of(&app, "messages", "body = 'ping'").await, 1);

    let react = "mutation($p: ID!, $k: String) { react(postId: $p, kind: LOVE, idempotencyKey: $k) { id } }";
    let unreact =
        "mutation($p: ID!, $k: String) { unreact(postId: $p, idempotencyKey: $k) { id } }";
    id_of(
        &ask(&bob, react, json!({"p": first, "k": "r"})).await,
        "react",
    );
    id_of(
        &ask(&bob, unreact, json!({"p": first, "k": "u"})).await,
        "unreact",
    );
    // Repeating the reaction's key does not react again...
    id_of(
        &ask(&bob, react, json!({"p": first, "k": "r"})).await,
        "react",
    );
    assert_eq!(count_of(&app, "reactions", "1 = 1").await, 0);
    // ...and a repeated removal answers like the first one did.
    id_of(
        &ask(&bob, unreact, json!({"p": first, "k": "u"})).await,
        "unreact",
    );
    let changes = count_of(&app, "events", "kind = 'reaction.changed'").await;
    assert_eq!(changes, 2, "one event per write that happened");

    let long = "k".repeat(256);
    let refused = ask(&ann, keyed_post, json!({"b": "x", "k": long})).await;
    assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
}

async fn count_of(app: &TestApp, table: &str, condition: &str) -> i64 {
    let rows = query_strings(
        &app.conn,
        &format!("SELECT CAST(count(*) AS TEXT) AS n FROM {table} WHERE {condition}"),
        &["n"],
    )
    .await;
    rows[0][0].parse().unwrap()
}

/// Twenty requests race with one key: one comment, one event, and every
/// request is answered with that comment.
#[tokio::test]
async fn racing_requests_with_one_key_write_once() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let target = post(&app, &ann, "the thread", None).await;
    let requests = (0..20).map(|_| {
        let (app, token, target) = (&app, ann.token.clone(), target.clone());
        async move {
            let (_, body) = app
                .graphql_as(
                    &token,
                    KEYED_COMMENT,
                    json!({"p": target, "b": "just once", "k": "race"}),
                )
                .await;
            id_of(&body, "createComment")
        }
    });
    let ids: HashSet<String> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(count_of(&app, "comments", "body = 'just once'").await, 1);
    assert_eq!(
        count_of(&app, "events", "kind = 'comment.created'").await,
        1
    );
}
