//! Communities and their roles end to end over HTTP: creating, joining
//! public ones and being added to private ones, the roles the owner hands
//! out, what moderators may do and where their powers end, private posts
//! that only members read, leaving, deleting, listing and searching; each
//! authorization rule tested as its own refusal.

use serde_json::json;

use crate::helpers::{
    count_rows, spawn_app,
    user::{
        CREATE_COMMUNITY, CREATE_POST, TestUser, ask, code, community, field, join, ok, post,
        refusal, texts,
    },
};

#[tokio::test]
async fn communities_roles_and_private_content() {
    let app = spawn_app().await;
    let owner = TestUser::sign_up(&app, "owner").await;
    let modr = TestUser::sign_up(&app, "modr").await;
    let member = TestUser::sign_up(&app, "member").await;
    let outsider = TestUser::sign_up(&app, "outsider").await;

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
