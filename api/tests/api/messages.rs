//! Direct messages end to end over HTTP: conversations are for their
//! participants only (starting one, sending, listing newest activity first,
//! unread counts, and an outsider who sees nothing by any route), and under
//! concurrency a pair of people has one one-to-one conversation, however
//! many clients start it at once.

use serde_json::json;

use crate::helpers::{
    count_rows, spawn_app,
    user::{TestUser, ask, code, field, ok, refusal, texts},
};

#[tokio::test]
async fn direct_messages_are_for_participants_only() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let cat = TestUser::sign_up(&app, "cat").await;
    let eve = TestUser::sign_up(&app, "eve").await;

    let start = "mutation($ids: [ID!]!, $m: String) { startConversation(input: { participantIds: $ids, message: $m }) {
        id participants { username } lastMessage { body sender { username } } } }";
    let reply = ask(
        &app,
        Some(&ann),
        start,
        json!({ "ids": [bob.id], "m": "hi bob" }),
    )
    .await;
    let direct = ok(&reply, "startConversation").clone();
    let names: Vec<&str> = direct["participants"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["username"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["ann", "bob"]);
    assert_eq!(direct["lastMessage"]["body"], "hi bob");
    let direct_id = direct["id"].as_str().expect("id").to_owned();
    // A second one-to-one start reuses the conversation, from either side.
    let reply = ask(&app, Some(&bob), start, json!({ "ids": [ann.id] })).await;
    assert_eq!(ok(&reply, "startConversation")["id"], direct_id.as_str());
    let reply = ask(
        &app,
        Some(&ann),
        start,
        json!({ "ids": [bob.id, cat.id], "m": "group!" }),
    )
    .await;
    let group_id = ok(&reply, "startConversation")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_ne!(group_id, direct_id);

    let reply = ask(&app, Some(&ann), start, json!({ "ids": [] })).await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.participantIds")
    );
    let reply = ask(&app, Some(&ann), start, json!({ "ids": [ann.id] })).await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.participantIds")
    );
    let ghost = "VXNlcjowMTlhYjBjMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDA";
    let reply = ask(&app, Some(&ann), start, json!({ "ids": [ghost] })).await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.participantIds")
    );

    let send = "mutation($c: ID!, $b: String!) { sendMessage(conversationId: $c, body: $b) { body sender { username } conversation { id } } }";
    let reply = ask(
        &app,
        Some(&bob),
        send,
        json!({ "c": direct_id, "b": "hey ann" }),
    )
    .await;
    assert_eq!(
        ok(&reply, "sendMessage")["conversation"]["id"],
        direct_id.as_str()
    );
    let reply = ask(&app, Some(&bob), send, json!({ "c": direct_id, "b": "" })).await;
    assert_eq!((code(&reply), field(&reply)), ("BAD_USER_INPUT", "body"));

    // Newest activity first; messages newest first.
    let list = "{ conversations { edges { node { id lastMessage { body } messages(first: 10) { edges { node { body sender { username } } } } } } } }";
    let reply = ask(&app, Some(&ann), list, json!({})).await;
    let edges = ok(&reply, "conversations")["edges"]
        .as_array()
        .expect("edges")
        .clone();
    let ids: Vec<&str> = edges
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, [direct_id.as_str(), group_id.as_str()]);
    assert_eq!(
        texts(&edges[0]["node"]["messages"], "body"),
        ["hey ann", "hi bob"]
    );
    let reply = ask(&app, Some(&cat), list, json!({})).await;
    assert_eq!(
        ok(&reply, "conversations")["edges"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Unread counts: bob sent "hey ann" after ann's last read.
    let unread = "query($id: ID!) { conversation(id: $id) { unreadCount } }";
    let reply = ask(&app, Some(&ann), unread, json!({ "id": direct_id })).await;
    assert_eq!(ok(&reply, "conversation")["unreadCount"], 1, "{reply}");
    let reply = ask(&app, Some(&cat), unread, json!({ "id": group_id })).await;
    assert_eq!(
        ok(&reply, "conversation")["unreadCount"],
        1,
        "cat has not read \"group!\""
    );
    let read = "mutation($id: ID!) { markConversationRead(id: $id) { unreadCount } }";
    let reply = ask(&app, Some(&ann), read, json!({ "id": direct_id })).await;
    assert_eq!(ok(&reply, "markConversationRead")["unreadCount"], 0);
    assert_eq!(
        refusal(&app, Some(&eve), read, json!({ "id": direct_id })).await,
        "NOT_FOUND"
    );

    // An outsider sees nothing, by any route.
    let reply = ask(&app, Some(&eve), list, json!({})).await;
    assert_eq!(ok(&reply, "conversations")["edges"], json!([]));
    let one = "query($id: ID!) { conversation(id: $id) { id } node(id: $id) { id } }";
    let reply = ask(&app, Some(&eve), one, json!({ "id": direct_id })).await;
    assert!(
        reply["data"]["conversation"].is_null() && reply["data"]["node"].is_null(),
        "{reply}"
    );
    assert_eq!(
        refusal(
            &app,
            Some(&eve),
            send,
            json!({ "c": direct_id, "b": "let me in" })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        refusal(&app, None, list, json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        count_rows(&app.conn, "messages").await,
        3,
        "nothing from eve"
    );
}

const START: &str = "mutation($ids: [ID!]!, $m: String) {
    startConversation(input: { participantIds: $ids, message: $m }) { id } }";

/// Both people start their conversation at the same moment, several
/// times over: one conversation (enforced by a unique key), every racer
/// gets it back, every first message lands in it.
#[tokio::test]
async fn racing_starts_of_a_direct_conversation_end_in_one() {
    let app = spawn_app().await;
    const ROUNDS: usize = 6;
    const RACERS: usize = 6;
    for round in 0..ROUNDS {
        let ann = TestUser::sign_up(&app, &format!("ann{round}")).await;
        let bob = TestUser::sign_up(&app, &format!("bob{round}")).await;
        let starts = (0..RACERS).map(|i| {
            let (me, other) = if i % 2 == 0 {
                (&ann, &bob)
            } else {
                (&bob, &ann)
            };
            let app = &app;
            async move {
                let (status, body) = app
                    .graphql_as(
                        &me.token,
                        START,
                        json!({ "ids": [other.id], "m": format!("hello {i}") }),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
                assert!(body["errors"].is_null(), "round {round}: {body}");
                body["data"]["startConversation"]["id"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            }
        });
        let ids = futures_util::future::join_all(starts).await;
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "round {round}: two conversations for one pair: {ids:?}"
        );
    }
    assert_eq!(count_rows(&app.conn, "conversations").await, ROUNDS as i64);
    assert_eq!(
        count_rows(&app.conn, "messages").await,
        (ROUNDS * RACERS) as i64
    );
    assert_eq!(
        count_rows(&app.conn, "conversation_participants").await,
        (ROUNDS * 2) as i64
    );
}
