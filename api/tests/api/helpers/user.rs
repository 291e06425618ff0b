//! Someone using the API: a `TestUser` signed up over GraphQL, the requests
//! the area tests make as one (`ask`, `refusal`) and read back (`code`,
//! `field`, `ok`, `texts`), the posts and communities several areas create,
//! and the seeded demo account's token.

use serde_json::{Value, json};

use super::TestApp;

/// Someone signed up through the API.
pub struct TestUser {
    pub token: String,
    pub id: String,
}

impl TestUser {
    /// Signs `name` up (`name@example.com`, password "correct horse
    /// battery"); `id` is their profile's global id.
    pub async fn sign_up(app: &TestApp, name: &str) -> TestUser {
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
        TestUser {
            token: payload["accessToken"].as_str().expect("token").to_owned(),
            id: payload["user"]["profile"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        }
    }
}

impl TestUser {
    /// Signs `name` up as [`TestUser::sign_up`] does, makes them an admin,
    /// and signs in again so the access token carries the role.
    pub async fn admin(app: &TestApp, name: &str) -> TestUser {
        let person = TestUser::sign_up(app, name).await;
        api::auth::service::ensure_admin(&app.app_db, &format!("{name}@example.com"), None, None)
            .await
            .expect("promoted");
        let (_, body) = app
            .graphql(
                "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
                json!({ "input": {
                    "login": name, "password": "correct horse battery",
                    "device": { "name": "test", "secret": "device-secret-0123456789abcdef" },
                }}),
            )
            .await;
        let token = body["data"]["signIn"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("admin sign-in failed: {body}"));
        TestUser {
            token: token.to_owned(),
            id: person.id,
        }
    }
}

/// Signs the seeded demo account in; its access token.
pub async fn demo_token(app: &TestApp) -> String {
    let (_, body) = app
        .graphql(
            "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
            json!({ "input": {
                "login": seed::DEMO_EMAIL, "password": seed::DEMO_PASSWORD,
                "device": { "name": "test", "secret": "device-secret-0123456789abcdef" },
            }}),
        )
        .await;
    body["data"]["signIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("demo sign-in failed: {body}"))
        .to_owned()
}

/// Runs a document as `who` (anonymous when `None`); returns the body.
pub async fn ask(app: &TestApp, who: Option<&TestUser>, query: &str, variables: Value) -> Value {
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
pub async fn refusal(
    app: &TestApp,
    who: Option<&TestUser>,
    query: &str,
    variables: Value,
) -> String {
    code(&ask(app, who, query, variables).await).to_owned()
}

/// The first error's code, or "" when there is none.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

/// The input field the first error names, or "" when there is none.
pub fn field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_default()
}

/// The data of the root field `name`, after checking there are no errors.
pub fn ok<'a>(body: &'a Value, name: &str) -> &'a Value {
    assert!(body["errors"].is_null(), "{name}: {body}");
    &body["data"][name]
}

/// The `key` of every node of a connection, in order.
pub fn texts(connection: &Value, key: &str) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|e| e["node"][key].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub const CREATE_POST: &str = "mutation($body: String!, $c: ID) {
    createPost(input: { body: $body, communityId: $c }) { id body community { slug } } }";
pub const CREATE_COMMUNITY: &str = "mutation($slug: String!, $v: CommunityVisibility) {
    createCommunity(input: { slug: $slug, name: $slug, visibility: $v }) { id slug viewerRole memberCount } }";

/// `who` posts `body` on their profile or in `community`; the post's id.
pub async fn post(app: &TestApp, who: &TestUser, body: &str, community: Option<&str>) -> String {
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

/// `owner` creates a community (`visibility`: PUBLIC or PRIVATE); its id.
pub async fn community(app: &TestApp, owner: &TestUser, slug: &str, visibility: &str) -> String {
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

/// `who` joins `community`; the whole reply.
pub async fn join(app: &TestApp, who: &TestUser, community: &str) -> Value {
    ask(
        app,
        Some(who),
        "mutation($id: ID!) { joinCommunity(id: $id) { memberCount viewerRole } }",
        json!({ "id": community }),
    )
    .await
}

/// Waits until `who` has a notification whose summary says `text`
/// (notifications are written just after the change commits, by a
/// background reader of the event log); their notifications then.
pub async fn notified(app: &TestApp, who: &TestUser, text: &str) -> Vec<Value> {
    let inbox = "{ notifications(first: 50) { edges { node { kind summary actorCount } } } }";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let reply = ask(app, Some(who), inbox, json!({})).await;
        let items: Vec<Value> = ok(&reply, "notifications")["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        if items
            .iter()
            .any(|n| n["summary"].as_str().unwrap_or_default().contains(text))
        {
            return items;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no \"{text}\" within 10 s: {items:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
