//! The social API end to end over HTTP: profiles and follows, communities
//! and their roles, posts, threaded comments, reactions, the feed and
//! direct messages, with each authorization rule tested as its own refusal.

use chrono::Utc;
use entity::user;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::helpers::{TestApp, count_rows, spawn_app};

/// Someone signed up through the API.
pub struct Person {
    pub token: String,
    pub id: String,
}

pub async fn person(app: &TestApp, name: &str) -> Person {
    let (_, body) = app
        .graphql(
            "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken user { profile { id } } } }",
            json!({ "input": {
                "email": format!("{name}@example.com"), "username": name,
                "password": "correct horse battery",
                "device": { "name": "test", "secret": "device-secret-0123456789abcdef" },
            }}),
        )
        .await;
    let payload = &body["data"]["signUp"];
    assert!(payload.is_object(), "sign-up failed: {body}");
    Person {
        token: payload["accessToken"].as_str().expect("token").to_owned(),
        id: payload["user"]["profile"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
    }
}

/// Runs a document as `who` (anonymous when `None`); returns the body.
pub async fn ask(app: &TestApp, who: Option<&Person>, query: &str, variables: Value) -> Value {
    let (status, body) = match who {
        Some(p) => app.graphql_as(&p.token, query, variables).await,
        None => app.graphql(query, variables).await,
    };
    // Request errors (bad variables) are 400 without data; anything that
    // executed is 200.
    assert_eq!(status == 200, body.get("data").is_some(), "{status} {body}");
    body
}

/// The code of the first error a document gets, or "" when it succeeds.
async fn refusal(app: &TestApp, who: Option<&Person>, query: &str, variables: Value) -> String {
    code(&ask(app, who, query, variables).await).to_owned()
}

/// The first error's code, or "" when there is none.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

fn field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_default()
}

fn ok<'a>(body: &'a Value, name: &str) -> &'a Value {
    assert!(body["errors"].is_null(), "{name}: {body}");
    &body["data"][name]
}

fn texts(connection: &Value, key: &str) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|e| e["node"][key].as_str().unwrap_or_default().to_owned())
        .collect()
}

const CREATE_POST: &str = "mutation($body: String!, $c: ID) {
    createPost(input: { body: $body, communityId: $c }) { id body community { slug } } }";
const CREATE_COMMUNITY: &str = "mutation($slug: String!, $v: CommunityVisibility) {
    createCommunity(input: { slug: $slug, name: $slug, visibility: $v }) { id slug viewerRole memberCount } }";

async fn post(app: &TestApp, who: &Person, body: &str, community: Option<&str>) -> String {
    let reply = ask(
        app,
        Some(who),
        CREATE_POST,
        json!({ "body": body, "c": community }),
    )
    .await;
    ok(&reply, "createPost")["id"]
        .as_str()
        .expect("post id")
        .to_owned()
}

async fn community(app: &TestApp, owner: &Person, slug: &str, visibility: &str) -> String {
    let reply = ask(
        app,
        Some(owner),
        CREATE_COMMUNITY,
        json!({ "slug": slug, "v": visibility }),
    )
    .await;
    ok(&reply, "createCommunity")["id"]
        .as_str()
        .expect("community id")
        .to_owned()
}

async fn join(app: &TestApp, who: &Person, community: &str) -> Value {
    ask(
        app,
        Some(who),
        "mutation($id: ID!) { joinCommunity(id: $id) { memberCount viewerRole } }",
        json!({ "id": community }),
    )
    .await
}

#[tokio::test]
async fn profiles_and_follows() {
    let app = spawn_app().await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let cat = person(&app, "cat").await;

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

#[tokio::test]
async fn communities_roles_and_private_content() {
    let app = spawn_app().await;
    let owner = person(&app, "owner").await;
    let modr = person(&app, "modr").await;
    let member = person(&app, "member").await;
    let outsider = person(&app, "outsider").await;

    let reply = ask(
        &app,
        Some(&owner),
        CREATE_COMMUNITY,
        json!({ "slug": "Rust-Lang", "v": "PUBLIC" }),
    )
    .await;
    let created = ok(&reply, "createCommunity");
    assert_eq!(
        (created["slug"].as_str(), created["viewerRole"].as_str()),
        (Some("rust-lang"), Some("OWNER"))
    );
    assert_eq!(created["memberCount"], 1);
    let reply = ask(
        &app,
        Some(&member),
        CREATE_COMMUNITY,
        json!({ "slug": "rust-lang" }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("CONFLICT", "input.slug"),
        "{reply}"
    );
    let reply = ask(
        &app,
        Some(&member),
        CREATE_COMMUNITY,
        json!({ "slug": "no spaces" }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.slug")
    );
    let public = created["id"].as_str().expect("id").to_owned();
    let private = community(&app, &owner, "secret-club", "PRIVATE").await;

    // Public: anyone joins, once.
    assert_eq!(
        ok(&join(&app, &member, &public).await, "joinCommunity")["viewerRole"],
        "MEMBER"
    );
    assert_eq!(code(&join(&app, &member, &public).await), "CONFLICT");
    // Private: invite-only.
    assert_eq!(code(&join(&app, &outsider, &private).await), "FORBIDDEN");
    let add = "mutation($c: ID!, $u: ID!) { addCommunityMember(communityId: $c, userId: $u) { role user { username } } }";
    assert_eq!(
        refusal(
            &app,
            Some(&member),
            add,
            json!({ "c": private, "u": member.id })
        )
        .await,
        "FORBIDDEN"
    );
    ok(
        &ask(
            &app,
            Some(&owner),
            add,
            json!({ "c": private, "u": modr.id }),
        )
        .await,
        "addCommunityMember",
    );
    ok(
        &ask(
            &app,
            Some(&owner),
            add,
            json!({ "c": public, "u": modr.id }),
        )
        .await,
        "addCommunityMember",
    );
    assert_eq!(
        refusal(
            &app,
            Some(&owner),
            add,
            json!({ "c": private, "u": modr.id })
        )
        .await,
        "CONFLICT"
    );

    // Only the owner hands out roles; a moderator then adds members.
    let set_role = "mutation($c: ID!, $u: ID!, $r: AssignableRole!) { setCommunityMemberRole(communityId: $c, userId: $u, role: $r) { role } }";
    assert_eq!(
        refusal(
            &app,
            Some(&modr),
            set_role,
            json!({ "c": private, "u": modr.id, "r": "MODERATOR" })
        )
        .await,
        "FORBIDDEN"
    );
    let reply = ask(
        &app,
        Some(&owner),
        set_role,
        json!({ "c": private, "u": modr.id, "r": "MODERATOR" }),
    )
    .await;
    assert_eq!(ok(&reply, "setCommunityMemberRole")["role"], "MODERATOR");
    ok(
        &ask(
            &app,
            Some(&modr),
            add,
            json!({ "c": private, "u": member.id }),
        )
        .await,
        "addCommunityMember",
    );

    // Private posts: members read them, nobody else does.
    let secret = post(&app, &member, "members only", Some(&private)).await;
    let open = post(&app, &member, "for everyone", Some(&public)).await;
    let by_community =
        "query($c: ID!) { posts(filter: { communityId: $c }) { edges { node { body } } } }";
    let reply = ask(&app, Some(&outsider), by_community, json!({ "c": private })).await;
    assert_eq!(code(&reply), "FORBIDDEN", "{reply}");
    assert_eq!(
        refusal(&app, None, by_community, json!({ "c": private })).await,
        "FORBIDDEN"
    );
    let reply = ask(&app, Some(&modr), by_community, json!({ "c": private })).await;
    assert_eq!(texts(ok(&reply, "posts"), "body"), ["members only"]);
    let nested = "query($c: ID!) { community(id: $c) { name posts { edges { node { body } } } members { totalCount } } }";
    let reply = ask(&app, Some(&outsider), nested, json!({ "c": private })).await;
    assert_eq!(code(&reply), "FORBIDDEN", "{reply}");
    let node = "query($id: ID!) { node(id: $id) { id ... on Post { body } } }";
    assert!(
        ask(&app, Some(&outsider), node, json!({ "id": secret })).await["data"]["node"].is_null()
    );
    assert_eq!(
        ask(&app, Some(&member), node, json!({ "id": secret })).await["data"]["node"]["body"],
        "members only"
    );
    let everything = "{ posts { edges { node { body } } } }";
    let seen = texts(
        ok(
            &ask(&app, Some(&outsider), everything, json!({})).await,
            "posts",
        ),
        "body",
    );
    assert_eq!(seen, ["for everyone"]);
    let comment = "mutation($p: ID!) { createComment(input: { postId: $p, body: \"hi\" }) { id } }";
    let reply = ask(&app, Some(&outsider), comment, json!({ "p": secret })).await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.postId")
    );
    let react = "mutation($p: ID!) { react(postId: $p, kind: LIKE) { reactionCount } }";
    assert_eq!(
        refusal(&app, Some(&outsider), react, json!({ "p": secret })).await,
        "NOT_FOUND"
    );
    // Posting in a community takes membership.
    let reply = ask(
        &app,
        Some(&outsider),
        CREATE_POST,
        json!({ "body": "x", "c": public }),
    )
    .await;
    assert_eq!(code(&reply), "FORBIDDEN");

    // Members list and counts.
    let members = "query($c: ID!) { community(id: $c) { memberCount members(first: 2) { totalCount pageInfo { hasNextPage }
        edges { node { role user { username } } } } } }";
    let reply = ask(&app, Some(&member), members, json!({ "c": private })).await;
    let c = ok(&reply, "community");
    assert_eq!(c["memberCount"], 3);
    assert_eq!(c["members"]["pageInfo"]["hasNextPage"], true);
    let roles: Vec<&str> = c["members"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["role"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(roles, ["OWNER", "MODERATOR"]);

    // Editing: members cannot, moderators edit text, only the owner flips visibility.
    let update = "mutation($c: ID!, $input: UpdateCommunityInput!) { updateCommunity(id: $c, input: $input) { name description visibility } }";
    assert_eq!(
        refusal(
            &app,
            Some(&member),
            update,
            json!({ "c": private, "input": { "name": "mine" } })
        )
        .await,
        "FORBIDDEN"
    );
    let reply = ask(
        &app,
        Some(&modr),
        update,
        json!({ "c": private, "input": { "description": "Shh." } }),
    )
    .await;
    assert_eq!(ok(&reply, "updateCommunity")["description"], "Shh.");
    assert_eq!(
        refusal(
            &app,
            Some(&modr),
            update,
            json!({ "c": private, "input": { "visibility": "PUBLIC" } })
        )
        .await,
        "FORBIDDEN"
    );
    let reply = ask(
        &app,
        Some(&owner),
        update,
        json!({ "c": private, "input": { "name": "" } }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.name")
    );

    // Moderators' powers end at their community.
    let delete = "mutation($id: ID!) { deletePost(id: $id) }";
    let elsewhere = community(&app, &outsider, "elsewhere", "PUBLIC").await;
    ok(&join(&app, &member, &elsewhere).await, "joinCommunity");
    let far = post(&app, &member, "in another community", Some(&elsewhere)).await;
    assert_eq!(
        refusal(&app, Some(&modr), delete, json!({ "id": far })).await,
        "FORBIDDEN"
    );
    let profile_post = post(&app, &member, "on my profile", None).await;
    assert_eq!(
        refusal(&app, Some(&modr), delete, json!({ "id": profile_post })).await,
        "FORBIDDEN"
    );
    assert_eq!(
        ok(
            &ask(&app, Some(&modr), delete, json!({ "id": secret })).await,
            "deletePost"
        ),
        &json!(secret)
    );
    // ...and a moderator of one community is a plain member in another.
    assert_eq!(
        refusal(&app, Some(&modr), delete, json!({ "id": open })).await,
        "FORBIDDEN"
    );
    assert_eq!(
        ok(
            &ask(&app, Some(&owner), delete, json!({ "id": open })).await,
            "deletePost"
        ),
        &json!(open)
    );

    // Removing people: moderators remove members, never the owner or peers.
    let remove = "mutation($c: ID!, $u: ID!) { removeCommunityMember(communityId: $c, userId: $u) { memberCount } }";
    assert_eq!(
        refusal(
            &app,
            Some(&modr),
            remove,
            json!({ "c": private, "u": owner.id })
        )
        .await,
        "FORBIDDEN"
    );
    let reply = ask(
        &app,
        Some(&modr),
        remove,
        json!({ "c": private, "u": member.id }),
    )
    .await;
    assert_eq!(ok(&reply, "removeCommunityMember")["memberCount"], 2);
    // A removed member loses the private posts at once.
    let still = post(&app, &modr, "after the removal", Some(&private)).await;
    assert!(ask(&app, Some(&member), node, json!({ "id": still })).await["data"]["node"].is_null());

    // Leaving.
    let leave = "mutation($c: ID!) { leaveCommunity(id: $c) { memberCount viewerRole } }";
    let reply = ask(&app, Some(&owner), leave, json!({ "c": public })).await;
    assert_eq!((code(&reply), field(&reply)), ("BAD_USER_INPUT", "id"));
    let reply = ask(&app, Some(&member), leave, json!({ "c": public })).await;
    assert!(ok(&reply, "leaveCommunity")["viewerRole"].is_null());
    assert_eq!(
        refusal(&app, Some(&member), leave, json!({ "c": public })).await,
        "NOT_FOUND"
    );

    // Deleting a community: the owner's call, not a moderator's.
    let delete_community = "mutation($c: ID!) { deleteCommunity(id: $c) }";
    assert_eq!(
        refusal(&app, Some(&modr), delete_community, json!({ "c": private })).await,
        "FORBIDDEN"
    );
    let doomed = community(&app, &outsider, "doomed", "PUBLIC").await;
    post(&app, &outsider, "going down with it", Some(&doomed)).await;
    let posts_before = count_rows(&app.conn, "posts").await;
    let reply = ask(
        &app,
        Some(&outsider),
        delete_community,
        json!({ "c": doomed }),
    )
    .await;
    assert_eq!(ok(&reply, "deleteCommunity"), &json!(doomed));
    assert_eq!(count_rows(&app.conn, "posts").await, posts_before - 1);

    // Listing and searching communities; `joined` needs a viewer.
    let list = "query($q: String, $j: Boolean) { communities(search: $q, joined: $j) { edges { node { slug } } } }";
    let reply = ask(&app, None, list, json!({ "q": "RUST" })).await;
    assert_eq!(texts(ok(&reply, "communities"), "slug"), ["rust-lang"]);
    let reply = ask(&app, Some(&modr), list, json!({ "j": true })).await;
    assert_eq!(
        texts(ok(&reply, "communities"), "slug"),
        ["secret-club", "rust-lang"]
    );
    assert_eq!(
        refusal(&app, None, list, json!({ "j": true })).await,
        "UNAUTHENTICATED"
    );
    let reply = ask(&app, None, list, json!({ "q": "%" })).await;
    assert!(
        texts(ok(&reply, "communities"), "slug").is_empty(),
        "a % is literal: {reply}"
    );
}

#[tokio::test]
async fn posts_comments_and_reactions() {
    let app = spawn_app().await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;

    let reply = ask(&app, Some(&ann), CREATE_POST, json!({ "body": "   " })).await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.body")
    );
    let reply = ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "x".repeat(10_001) }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.body")
    );
    let reply = ask(
        &app,
        Some(&ann),
        CREATE_POST,
        json!({ "body": "x", "c": ann.id }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.communityId")
    );
    assert_eq!(
        refusal(&app, None, CREATE_POST, json!({ "body": "x" })).await,
        "UNAUTHENTICATED"
    );

    let first = post(&app, &ann, "First post about Rust", None).await;
    let second = post(&app, &ann, "Second: 100% of it", None).await;
    let bobs = post(&app, &bob, "Bob here", None).await;

    // Edit your own, not someone else's.
    let edit = "mutation($id: ID!, $b: String!) { updatePost(id: $id, body: $b) { body updatedAt createdAt } }";
    let reply = ask(
        &app,
        Some(&ann),
        edit,
        json!({ "id": first, "b": "First post about Rust, edited" }),
    )
    .await;
    assert_eq!(
        ok(&reply, "updatePost")["body"],
        "First post about Rust, edited"
    );
    assert_eq!(
        refusal(
            &app,
            Some(&bob),
            edit,
            json!({ "id": first, "b": "mine now" })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        refusal(
            &app,
            Some(&bob),
            "mutation($id: ID!) { deletePost(id: $id) }",
            json!({ "id": first })
        )
        .await,
        "FORBIDDEN"
    );

    // Filters: author, text (case-insensitive, % literal), time range.
    let search = "query($f: PostFilter) { posts(filter: $f) { edges { node { body } } } }";
    let reply = ask(&app, None, search, json!({ "f": { "authorId": bob.id } })).await;
    assert_eq!(texts(ok(&reply, "posts"), "body"), ["Bob here"]);
    let reply = ask(
        &app,
        None,
        search,
        json!({ "f": { "bodyContains": "RUST" } }),
    )
    .await;
    assert_eq!(
        texts(ok(&reply, "posts"), "body"),
        ["First post about Rust, edited"]
    );
    let reply = ask(
        &app,
        None,
        search,
        json!({ "f": { "bodyContains": "100%" } }),
    )
    .await;
    assert_eq!(texts(ok(&reply, "posts"), "body"), ["Second: 100% of it"]);
    let reply = ask(
        &app,
        None,
        search,
        json!({ "f": { "createdAfter": "2999-01-01T00:00:00Z" } }),
    )
    .await;
    assert!(texts(ok(&reply, "posts"), "body").is_empty());
    let reply = ask(
        &app,
        None,
        search,
        json!({ "f": { "createdAfter": "2000-01-01T00:00:00Z", "authorId": ann.id } }),
    )
    .await;
    assert_eq!(texts(ok(&reply, "posts"), "body").len(), 2);
    let oldest = "{ posts(order: OLDEST_FIRST, first: 1) { edges { node { body } } } }";
    let reply = ask(&app, None, oldest, json!({})).await;
    assert_eq!(
        texts(ok(&reply, "posts"), "body"),
        ["First post about Rust, edited"]
    );
    let reply = ask(&app, None, search, json!({ "f": { "authorId": first } })).await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "filter.authorId")
    );

    // Paging both ways over the newest-first list.
    let page = "query($first: Int, $after: String, $last: Int, $before: String) {
        posts(first: $first, after: $after, last: $last, before: $before) {
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { body } } } }";
    let reply = ask(&app, None, page, json!({ "first": 2 })).await;
    let p1 = ok(&reply, "posts");
    assert_eq!(texts(p1, "body"), ["Bob here", "Second: 100% of it"]);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    let reply = ask(
        &app,
        None,
        page,
        json!({ "first": 2, "after": p1["pageInfo"]["endCursor"] }),
    )
    .await;
    let p2 = ok(&reply, "posts");
    assert_eq!(texts(p2, "body"), ["First post about Rust, edited"]);
    assert_eq!(
        (
            p2["pageInfo"]["hasNextPage"].as_bool(),
            p2["pageInfo"]["hasPreviousPage"].as_bool()
        ),
        (Some(false), Some(true))
    );
    let reply = ask(
        &app,
        None,
        page,
        json!({ "last": 2, "before": p2["pageInfo"]["startCursor"] }),
    )
    .await;
    assert_eq!(
        texts(ok(&reply, "posts"), "body"),
        ["Bob here", "Second: 100% of it"]
    );
    let reply = ask(&app, None, page, json!({ "first": 10_000 })).await;
    assert_eq!((code(&reply), field(&reply)), ("BAD_USER_INPUT", "first"));

    // Threaded comments.
    let comment = "mutation($p: ID!, $parent: ID, $b: String!) {
        createComment(input: { postId: $p, parentId: $parent, body: $b }) { id body parent { id } post { id } author { username } } }";
    let reply = ask(
        &app,
        Some(&bob),
        comment,
        json!({ "p": first, "b": "Nice" }),
    )
    .await;
    let top = ok(&reply, "createComment").clone();
    assert_eq!(
        (
            top["author"]["username"].as_str(),
            top["post"]["id"].as_str()
        ),
        (Some("bob"), Some(first.as_str()))
    );
    let top_id = top["id"].as_str().expect("id").to_owned();
    let reply = ask(
        &app,
        Some(&ann),
        comment,
        json!({ "p": first, "parent": top_id, "b": "Thanks" }),
    )
    .await;
    assert_eq!(ok(&reply, "createComment")["parent"]["id"], top_id.as_str());
    let reply = ask(
        &app,
        Some(&ann),
        comment,
        json!({ "p": second, "parent": top_id, "b": "wrong post" }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.parentId")
    );
    let reply = ask(
        &app,
        Some(&ann),
        comment,
        json!({ "p": first, "b": "x".repeat(5001) }),
    )
    .await;
    assert_eq!(
        (code(&reply), field(&reply)),
        ("BAD_USER_INPUT", "input.body")
    );
    ok(
        &ask(
            &app,
            Some(&ann),
            comment,
            json!({ "p": first, "b": "Second top-level" }),
        )
        .await,
        "createComment",
    );
    let thread = "query($id: ID!) { post(id: $id) { commentCount comments(first: 1) { pageInfo { hasNextPage endCursor }
        edges { node { body replies { edges { node { body author { username } } } } } } } } }";
    let reply = ask(&app, None, thread, json!({ "id": first })).await;
    let p = ok(&reply, "post");
    assert_eq!(p["commentCount"], 3);
    assert_eq!(texts(&p["comments"], "body"), ["Nice"]);
    assert_eq!(p["comments"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        texts(&p["comments"]["edges"][0]["node"]["replies"], "body"),
        ["Thanks"]
    );
    let next = "query($id: ID!, $after: String) { post(id: $id) { comments(first: 5, after: $after) { edges { node { body } } } } }";
    let reply = ask(
        &app,
        None,
        next,
        json!({ "id": first, "after": p["comments"]["pageInfo"]["endCursor"] }),
    )
    .await;
    assert_eq!(
        texts(&ok(&reply, "post")["comments"], "body"),
        ["Second top-level"]
    );

    // Deleting comments: the author may, others may not; replies go too.
    let delete_comment = "mutation($id: ID!) { deleteComment(id: $id) }";
    assert_eq!(
        refusal(&app, Some(&ann), delete_comment, json!({ "id": top_id })).await,
        "FORBIDDEN"
    );
    ok(
        &ask(&app, Some(&bob), delete_comment, json!({ "id": top_id })).await,
        "deleteComment",
    );
    let reply = ask(&app, None, thread, json!({ "id": first })).await;
    assert_eq!(ok(&reply, "post")["commentCount"], 1);

    // Reactions: one per person, replaced by a new kind, counted per kind.
    let react = "mutation($p: ID!, $k: ReactionKind!) { react(postId: $p, kind: $k) { reactionCount viewerReaction reactionCounts { kind count } } }";
    ok(
        &ask(&app, Some(&ann), react, json!({ "p": bobs, "k": "LOVE" })).await,
        "react",
    );
    let reply = ask(&app, Some(&bob), react, json!({ "p": bobs, "k": "LIKE" })).await;
    ok(&reply, "react");
    let reply = ask(&app, Some(&bob), react, json!({ "p": bobs, "k": "LOVE" })).await;
    let r = ok(&reply, "react");
    assert_eq!(
        (r["reactionCount"].as_u64(), r["viewerReaction"].as_str()),
        (Some(2), Some("LOVE"))
    );
    assert_eq!(r["reactionCounts"], json!([{ "kind": "LOVE", "count": 2 }]));
    assert_eq!(
        refusal(&app, Some(&bob), react, json!({ "p": bobs, "k": "MEH" })).await,
        "GRAPHQL_VALIDATION_FAILED"
    );
    let unreact = "mutation($p: ID!) { unreact(postId: $p) { reactionCount viewerReaction } }";
    let reply = ask(&app, Some(&bob), unreact, json!({ "p": bobs })).await;
    assert_eq!(ok(&reply, "unreact")["reactionCount"], 1);
    assert_eq!(
        refusal(&app, Some(&bob), unreact, json!({ "p": bobs })).await,
        "NOT_FOUND"
    );

    // Deleting a post takes its comments and reactions with it.
    let before = count_rows(&app.conn, "comments").await;
    assert_eq!(before, 1);
    ok(
        &ask(
            &app,
            Some(&ann),
            "mutation($id: ID!) { deletePost(id: $id) }",
            json!({ "id": first }),
        )
        .await,
        "deletePost",
    );
    assert_eq!(count_rows(&app.conn, "comments").await, 0);
    assert!(
        ask(
            &app,
            None,
            "query($id: ID!) { post(id: $id) { id } }",
            json!({ "id": first })
        )
        .await["data"]["post"]
            .is_null()
    );
    assert_eq!(
        refusal(&app, Some(&ann), edit, json!({ "id": first, "b": "gone" })).await,
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn the_feed_is_follows_communities_and_own_posts_newest_first() {
    let app = spawn_app().await;
    let me = person(&app, "myself").await;
    let friend = person(&app, "friend").await;
    let stranger = person(&app, "stranger").await;
    let club = community(&app, &stranger, "club", "PUBLIC").await;
    let vault = community(&app, &friend, "vault", "PRIVATE").await;
    ok(&join(&app, &me, &club).await, "joinCommunity");
    ok(
        &ask(
            &app,
            Some(&me),
            "mutation($id: ID!) { follow(userId: $id) { id } }",
            json!({ "id": friend.id }),
        )
        .await,
        "follow",
    );

    post(&app, &stranger, "stranger on profile", None).await;
    post(&app, &friend, "friend on profile", None).await;
    post(&app, &stranger, "stranger in club", Some(&club)).await;
    post(&app, &friend, "friend in the vault", Some(&vault)).await;
    post(&app, &me, "my own", None).await;

    let feed = "{ feed { edges { node { body author { username } } } } }";
    let reply = ask(&app, Some(&me), feed, json!({})).await;
    assert_eq!(
        texts(ok(&reply, "feed"), "body"),
        ["my own", "stranger in club", "friend on profile"]
    );
    assert_eq!(
        refusal(&app, None, feed, json!({})).await,
        "UNAUTHENTICATED"
    );
    // An invalid token is not treated as anonymous: the client must refresh.
    let (_, reply) = app
        .graphql_as(
            "not-a-token",
            "{ posts { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&reply), "UNAUTHENTICATED");
}

#[tokio::test]
async fn direct_messages_are_for_participants_only() {
    let app = spawn_app().await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let cat = person(&app, "cat").await;
    let eve = person(&app, "eve").await;

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

#[tokio::test]
async fn banned_and_deleted_users_content() {
    let app = spawn_app().await;
    let ann = person(&app, "ann").await;
    let troll = person(&app, "troll").await;
    let spam = post(&app, &troll, "spam", None).await;
    let fine = post(&app, &ann, "fine", None).await;
    let comment =
        "mutation($p: ID!, $b: String!) { createComment(input: { postId: $p, body: $b }) { id } }";
    let reply = ask(
        &app,
        Some(&troll),
        comment,
        json!({ "p": fine, "b": "troll comment" }),
    )
    .await;
    let troll_comment = ok(&reply, "createComment")["id"].clone();
    let reply_to = "mutation($p: ID!, $parent: ID!) {
        createComment(input: { postId: $p, parentId: $parent, body: \"a reply\" }) { id } }";
    let vars = json!({ "p": fine, "parent": troll_comment });
    let reply = ask(&app, Some(&ann), reply_to, vars).await;
    let answer = ok(&reply, "createComment")["id"].clone();
    ok(
        &ask(
            &app,
            Some(&ann),
            comment,
            json!({ "p": fine, "b": "ann comment" }),
        )
        .await,
        "createComment",
    );

    let conn = &app.conn;
    let set_disabled = |disabled: bool| async move {
        let at = disabled.then(Utc::now);
        user::Entity::update_many()
            .col_expr(user::Column::DisabledAt, Expr::value(at))
            .filter(user::Column::Username.eq("troll"))
            .exec(conn)
            .await
            .expect("updated");
    };
    set_disabled(true).await;
    // Hidden everywhere while banned...
    let all =
        "{ posts { edges { node { body commentCount comments { edges { node { body } } } } } } }";
    let reply = ask(&app, Some(&ann), all, json!({})).await;
    let posts = ok(&reply, "posts");
    assert_eq!(texts(posts, "body"), ["fine"]);
    assert_eq!(posts["edges"][0]["node"]["commentCount"], 2, "ann's two");
    assert_eq!(
        texts(&posts["edges"][0]["node"]["comments"], "body"),
        ["ann comment"]
    );
    let node = "query($id: ID!) { node(id: $id) { id } }";
    assert!(ask(&app, Some(&ann), node, json!({ "id": spam })).await["data"]["node"].is_null());
    // A reply survives, but the banned parent it answers is hidden.
    let parent = "query($id: ID!) { node(id: $id) { ... on Comment { body parent { body } } } }";
    let reply = ask(&app, Some(&ann), parent, json!({ "id": answer })).await;
    assert_eq!(reply["data"]["node"]["body"], "a reply", "{reply}");
    assert!(reply["data"]["node"]["parent"].is_null(), "{reply}");
    // ...and the banned account's still-valid token writes nothing.
    assert_eq!(
        refusal(
            &app,
            Some(&troll),
            CREATE_POST,
            json!({ "body": "more spam" })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        refusal(&app, Some(&troll), comment, json!({ "p": fine, "b": "x" })).await,
        "FORBIDDEN"
    );
    set_disabled(false).await;
    let reply = ask(&app, Some(&ann), all, json!({})).await;
    assert_eq!(texts(ok(&reply, "posts"), "body"), ["fine", "spam"]);

    // A deleted account's content goes with it.
    let reply = ask(
        &app,
        Some(&troll),
        "mutation { deleteAccount(password: \"correct horse battery\") }",
        json!({}),
    )
    .await;
    assert_eq!(reply["data"]["deleteAccount"], true, "{reply}");
    let reply = ask(&app, Some(&ann), all, json!({})).await;
    assert_eq!(texts(ok(&reply, "posts"), "body"), ["fine"]);
    assert_eq!(count_rows(&app.conn, "comments").await, 1);
    assert_eq!(
        refusal(&app, Some(&troll), CREATE_POST, json!({ "body": "back" })).await,
        "UNAUTHENTICATED"
    );

    // Instance admins moderate anywhere.
    let bob = person(&app, "bob").await;
    let bobs = post(&app, &bob, "rule-breaking", None).await;
    user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value("admin"))
        .filter(user::Column::Username.eq("ann"))
        .exec(&app.conn)
        .await
        .expect("promoted");
    let reply = ask(
        &app,
        Some(&ann),
        "mutation($id: ID!) { deletePost(id: $id) }",
        json!({ "id": bobs }),
    )
    .await;
    assert_eq!(ok(&reply, "deletePost"), &json!(bobs));
}
