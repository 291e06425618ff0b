//! The guestbook through the real router, on SQLite or (with
//! `TEST_DATABASE_URL`) PostgreSQL.

use api::testing::TestHearth;
use sea_orm::EntityTrait;
use serde_json::json;

#[tokio::test]
async fn signing_the_guestbook_stores_the_entry_and_fires_its_events() {
    let app = TestHearth::spawn(guestbook::app()).await;
    let ann = app.create_user("ann").await;

    let signed = app
        .post("/comment")
        .as_user(&ann)
        .json(json!({ "message": "Lovely place!" }))
        .expect_status(201)
        .expect_events([("guestbook.signed", 1), ("activity.request", 1)])
        .await;

    let stored = guestbook::Entry::find().all(app.db()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].message, "Lovely place!");
    assert_eq!(stored[0].author_id, ann.id);
    assert_eq!(signed.body["id"], json!(stored[0].id));

    let listed = app
        .graphql("{ guestbook { message authorId } }")
        .expect_status(200)
        .expect_events([])
        .await;
    assert_eq!(
        listed.body["data"]["guestbook"],
        json!([{ "message": "Lovely place!", "authorId": ann.id }])
    );
}

#[tokio::test]
async fn only_signed_in_users_sign_and_bad_input_writes_nothing() {
    let app = TestHearth::spawn(guestbook::app()).await;
    let ann = app.create_user("ann").await;

    let anonymous = app
        .post("/comment")
        .json(json!({ "message": "hi" }))
        .expect_status(401)
        .expect_events([("activity.request", 1)])
        .await;
    assert_eq!(
        anonymous.body["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );

    let empty = app
        .post("/comment")
        .as_user(&ann)
        .json(json!({ "message": "  " }))
        .expect_status(400)
        .expect_events([("activity.request", 1)])
        .await;
    assert_eq!(empty.body["errors"][0]["extensions"]["field"], "message");
    assert!(
        guestbook::Entry::find()
            .all(app.db())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_before_hook_keeps_the_banned_word_out_of_posts() {
    let app = TestHearth::spawn(guestbook::app()).await;
    let ann = app.create_user("ann").await;
    let create = "mutation($body: String!) { createPost(input: { body: $body }) { id } }";

    let refused = app
        .graphql(create)
        .variables(json!({ "body": "Best Casino in town" }))
        .as_user(&ann)
        .expect_events([])
        .await;
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"],
        "BANNED_WORD"
    );

    app.graphql(create)
        .variables(json!({ "body": "Best cafe in town" }))
        .as_user(&ann)
        .expect_status(200)
        .expect_events([("post.created", 1)])
        .await;
}

#[test]
fn the_schema_has_the_guestbook_field() {
    let sdl = guestbook::app().sdl();
    assert!(
        sdl.contains("guestbook(last: Int! = 20): [GuestbookEntry!]!"),
        "{sdl}"
    );
    // Hearth's own fields are all still there.
    assert!(sdl.contains("createPost(input: CreatePostInput!): Post!"));
}
