//! Profiles and follows end to end over HTTP: editing one's own profile,
//! following and unfollowing, follower and following lists with their
//! counts, each refusal tested as its own error code.

use serde_json::json;

use crate::helpers::{
    spawn_app,
    user::{TestUser, ask, code, field, ok, post, refusal, texts},
};

#[tokio::test]
async fn profiles_and_follows() {
    let app = spawn_app().await;
    let ann = TestUser::sign_up(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let cat = TestUser::sign_up(&app, "cat").await;

    let update = "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { displayName bio } }";
    let reply = ask(
        &app,
        Some(&ann),
        update,
        json!({ "input": { "displayName": " Ann A. ", "bio": "hi" } }),
    )
    .await;
    assert_eq!(ok(&reply, "updateProfile")["displayName"], "Ann A.");
    let reply = ask(
        &app,
        Some(&ann),
        update,
        json!({ "input": { "displayName": "  " } }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.displayName"),
        "{reply}"
    );
    let reply = ask(
        &app,
        Some(&ann),
        update,
        json!({ "input": { "bio": "x".repeat(501) } }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.bio"),
        "{reply}"
    );
    let reply = ask(&app, None, update, json!({ "input": { "bio": "anon" } })).await;
    assert_eq!(code(&reply), "UNAUTHENTICATED");

    let follow =
        "mutation($id: ID!) { follow(userId: $id) { username followerCount viewerIsFollowing } }";
    let reply = ask(&app, Some(&bob), follow, json!({ "id": ann.id })).await;
    let followed = ok(&reply, "follow");
    assert_eq!(followed["followerCount"], 1, "{reply}");
    assert_eq!(followed["viewerIsFollowing"], true);
    ok(
        &ask(&app, Some(&cat), follow, json!({ "id": ann.id })).await,
        "follow",
    );
    ok(
        &ask(&app, Some(&ann), follow, json!({ "id": bob.id })).await,
        "follow",
    );
    assert_eq!(
        refusal(&app, Some(&bob), follow, json!({ "id": ann.id })).await,
        "CONFLICT"
    );
    let reply = ask(&app, Some(&bob), follow, json!({ "id": bob.id })).await;
    assert_eq!((code(&reply), field(&reply)), ("BAD_USER_INPUT", "userId"));
    let stranger = "VXNlcjowMTlhYjBjMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDA"; // User:<unknown uuid>
    assert_eq!(
        refusal(&app, Some(&bob), follow, json!({ "id": stranger })).await,
        "NOT_FOUND"
    );
    // A post id where a user id belongs.
    let post_id = post(&app, &ann, "hello", None).await;
    let reply = ask(&app, Some(&bob), follow, json!({ "id": post_id })).await;
    assert_eq!((code(&reply), field(&reply)), ("BAD_USER_INPUT", "userId"));

    let profile = "query($name: String!) { userByUsername(username: $name) {
        displayName followerCount followingCount viewerIsFollowing
        followers(first: 10) { totalCount edges { node { username } } }
        following { totalCount edges { node { username } } } } }";
    let reply = ask(&app, Some(&bob), profile, json!({ "name": "ANN" })).await;
    let ann_profile = ok(&reply, "userByUsername");
    assert_eq!(ann_profile["displayName"], "Ann A.");
    assert_eq!(
        (
            ann_profile["followerCount"].as_u64(),
            ann_profile["followingCount"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(ann_profile["viewerIsFollowing"], true);
    assert_eq!(
        texts(&ann_profile["followers"], "username"),
        ["cat", "bob"],
        "newest first"
    );
    assert_eq!(ann_profile["followers"]["totalCount"], 2);
    assert_eq!(texts(&ann_profile["following"], "username"), ["bob"]);
    let reply = ask(&app, None, profile, json!({ "name": "ann" })).await;
    assert_eq!(ok(&reply, "userByUsername")["viewerIsFollowing"], false);

    let unfollow =
        "mutation($id: ID!) { unfollow(userId: $id) { followerCount viewerIsFollowing } }";
    let reply = ask(&app, Some(&bob), unfollow, json!({ "id": ann.id })).await;
    assert_eq!(ok(&reply, "unfollow")["followerCount"], 1);
    assert_eq!(ok(&reply, "unfollow")["viewerIsFollowing"], false);
    assert_eq!(
        refusal(&app, Some(&bob), unfollow, json!({ "id": ann.id })).await,
        "NOT_FOUND"
    );
}
