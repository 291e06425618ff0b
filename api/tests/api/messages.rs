//! Direct messages under concurrency: a pair of people has one one-to-one
//! conversation, however many clients start it at once.

use serde_json::json;

use crate::{
    helpers::{count_rows, spawn_app},
    social::person,
};

const START: &str = "mutation($ids: [ID!]!, $m: String) {
    startConversation(input: { participantIds: $ids, message: $m }) { id } }";

/// X3: both people start their conversation at the same moment, several
/// times over: one conversation (enforced by a unique key), every racer
/// gets it back, every first message lands in it.
#[tokio::test]
async fn racing_starts_of_a_direct_conversation_end_in_one() {
    let app = spawn_app().await;
    const ROUNDS: usize = 6;
    const RACERS: usize = 6;
    for round in 0..ROUNDS {
        let ann = person(&app, &format!("ann{round}")).await;
        let bob = person(&app, &format!("bob{round}")).await;
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
