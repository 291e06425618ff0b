//! Hearth as a library: an application's routes, hooks and migrations,
//! through the real router and the `testing` helpers applications use.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use api::{
    extend::{Admin, Change, Db, Hearth, Logged, MaybeSignedIn, Refusal, SignedIn},
    testing::TestHearth,
};
use axum::{Json, Router, routing::get};
use migration::{MigrationTrait, MigratorTrait};
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestDb, test_config};

async fn whoami(SignedIn(session): SignedIn) -> Json<Value> {
    Json(json!({ "user": session.user_id }))
}

async fn maybe(MaybeSignedIn(session): MaybeSignedIn) -> Json<Value> {
    Json(json!({ "signedIn": session.is_some() }))
}

async fn admin_only(Admin(session): Admin) -> Json<Value> {
    Json(json!({ "admin": session.user_id }))
}

fn with_routes() -> Hearth {
    Hearth::new().routes(
        Router::new()
            .route("/me", get(whoami))
            .route("/maybe", get(maybe))
            .route("/ops", get(admin_only)),
    )
}

async fn start_error(hearth: Hearth) -> String {
    let db = TestDb::new().await;
    match hearth.build(test_config(&db)).await {
        Ok(_) => panic!("the application started"),
        Err(err) => format!("{err:#}"),
    }
}

#[tokio::test]
async fn routes_see_the_caller_with_hearths_errors_and_middleware() {
    let app = TestHearth::spawn(with_routes()).await;
    let ann = app.create_user("ann").await;

    let me = app.get("/me").as_user(&ann).expect_status(200).await;
    assert_eq!(me.body["user"], json!(ann.id));
    let anonymous = app.get("/me").expect_status(401).await;
    assert_eq!(
        anonymous.body["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    let maybe = app.get("/maybe").expect_status(200).await;
    assert_eq!(maybe.body["signedIn"], false);
    let forged = app
        .client
        .get(app.url("/maybe"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // Hearth's middleware runs around the application's routes too.
    assert!(forged.headers().contains_key("x-request-id"));

    let refused = app.get("/ops").as_user(&ann).expect_status(403).await;
    assert_eq!(refused.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let root = app.create_admin("root").await;
    let ops = app.get("/ops").as_user(&root).expect_status(200).await;
    assert_eq!(ops.body["admin"], json!(root.id));

    // A banned account's still-valid token is refused, as in GraphQL.
    app.db()
        .transaction(|tx| {
            Box::pin(async move {
                tx.execute_unprepared(
                    "UPDATE users SET disabled_at = created_at WHERE username = 'ann'",
                )
                .await?;
                Ok(())
            })
        })
        .await
        .unwrap();
    let banned = app.get("/me").as_user(&ann).expect_status(403).await;
    assert_eq!(banned.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn a_route_that_is_taken_is_refused_at_start_up() {
    let hearths = Hearth::new().routes(Router::new().route("/graphql", get(maybe)));
    let err = start_error(hearths).await;
    assert!(err.contains("/graphql"), "{err}");

    let twice = Hearth::new()
        .routes(Router::new().route("/me", get(whoami)))
        .routes(Router::new().route("/me", get(maybe)));
    let err = start_error(twice).await;
    assert!(err.contains("/me"), "{err}");
}

struct Colliding;

impl MigratorTrait for Colliding {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migration::with_hearth(vec![Box::new(NamedLikeHearths)])
    }
}

struct NamedLikeHearths;

impl migration::MigrationName for NamedLikeHearths {
    fn name(&self) -> &str {
        "m20261123_000001_accounts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for NamedLikeHearths {
    async fn up(&self, _: &migration::SchemaManager) -> Result<(), migration::DbErr> {
        Ok(())
    }
}

#[tokio::test]
async fn a_migration_named_like_one_of_hearths_is_refused() {
    let err = start_error(Hearth::new().migrations::<Colliding>()).await;
    assert!(
        err.contains("m20261123_000001_accounts is listed twice"),
        "{err}"
    );
    assert!(err.contains("Hearth"), "{err}");
}

#[tokio::test]
async fn before_hooks_refuse_with_their_code_and_a_panic_fails_one_request() {
    let hearth = Hearth::new().before(|change: &Change<'_>| match change {
        Change::Post { body, .. } if body.contains("boom") => panic!("the hook blew up"),
        Change::Post { body, .. } if body.contains("nope") => {
            Err(Refusal::new("NOT_HERE", "not here"))
        }
        Change::Account { username, .. } if username.starts_with("bot") => {
            Err(Refusal::new("NO_BOTS", "no bots"))
        }
        _ => Ok(()),
    });
    let app = TestHearth::spawn(hearth).await;
    let ann = app.create_user("ann").await;
    let create = "mutation($body: String!) { createPost(input: { body: $body }) { body } }";

    let refused = app
        .graphql(create)
        .variables(json!({ "body": "nope" }))
        .as_user(&ann)
        .expect_events([])
        .await;
    assert_eq!(refused.body["errors"][0]["extensions"]["code"], "NOT_HERE");
    assert_eq!(refused.body["errors"][0]["message"], "not here");

    let panicked = app
        .graphql(create)
        .variables(json!({ "body": "boom" }))
        .as_user(&ann)
        .expect_events([])
        .await;
    assert_eq!(panicked.body["errors"][0]["extensions"]["code"], "INTERNAL");

    // The server runs on.
    let fine = app
        .graphql(create)
        .variables(json!({ "body": "fine" }))
        .as_user(&ann)
        .expect_events([("post.created", 1)])
        .await;
    assert_eq!(fine.body["data"]["createPost"]["body"], "fine");

    let bot = app
        .graphql("mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }")
        .variables(json!({ "input": {
            "email": "bot1@example.com", "username": "bot1", "password": "correct horse battery",
            "device": { "name": "t", "secret": "test-device-secret-0123456789" },
        }}))
        .await;
    assert_eq!(bot.body["errors"][0]["extensions"]["code"], "NO_BOTS");
}

/// Records what it handled; fails each event `fail_first` times first,
/// and panics on posts when `panic_on_posts`.
#[derive(Clone, Default)]
struct Recorder {
    handled: Arc<Mutex<Vec<String>>>,
    tries: Arc<Mutex<std::collections::HashMap<i64, u32>>>,
    fail_first: u32,
    panic_on_posts: bool,
}

#[async_trait::async_trait]
impl api::extend::AfterHook for Recorder {
    async fn after(&self, event: &Logged, _db: &Db) -> anyhow::Result<()> {
        let kind = event.event.kind().to_owned();
        if self.panic_on_posts && kind == "post.created" {
            panic!("cannot handle posts");
        }
        let tries = {
            let mut tries = self.tries.lock().unwrap();
            let n = tries.entry(event.cursor.position).or_default();
            *n += 1;
            *n
        };
        if tries <= self.fail_first {
            anyhow::bail!("try {tries} fails");
        }
        self.handled.lock().unwrap().push(kind);
        Ok(())
    }
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn after_hooks_retry_and_keep_what_still_fails() {
    let flaky = Recorder {
        fail_first: 2,
        ..Recorder::default()
    };
    let broken = Recorder {
        panic_on_posts: true,
        ..Recorder::default()
    };
    let hearth = Hearth::new()
        .after("flaky", flaky.clone())
        .after("broken", broken.clone());
    let app = TestHearth::spawn(hearth).await;
    let ann = app.create_user("ann").await;
    let post = app
        .graphql("mutation { createPost(input: { body: \"hi\" }) { id } }")
        .as_user(&ann)
        .expect_events([("post.created", 1)])
        .await;
    let post = post.body["data"]["createPost"]["id"].clone();

    // Each event once, after two failed tries.
    eventually("the flaky hook", || {
        flaky
            .handled
            .lock()
            .unwrap()
            .contains(&"post.created".to_owned())
    })
    .await;
    let handled = flaky.handled.lock().unwrap().clone();
    assert_eq!(handled.iter().filter(|k| *k == "post.created").count(), 1);

    // The broken hook gives up on the post, keeps it, and moves on.
    let failures = || async {
        app.db()
            .query_all_raw(Statement::from_string(
                app.db().get_database_backend(),
                "SELECT hook, kind, attempts FROM hook_failures".to_owned(),
            ))
            .await
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let rows = loop {
        let rows = failures().await;
        if !rows.is_empty() || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(rows.len(), 1, "one failure is kept");
    assert_eq!(rows[0].try_get::<String>("", "hook").unwrap(), "broken");
    assert_eq!(
        rows[0].try_get::<String>("", "kind").unwrap(),
        "post.created"
    );
    app.graphql("mutation($post: ID!) { react(postId: $post, kind: LIKE) { id } }")
        .variables(json!({ "post": post }))
        .as_user(&ann)
        .expect_events([("reaction.changed", 1)])
        .await;
    eventually("the broken hook to move on", || {
        broken
            .handled
            .lock()
            .unwrap()
            .iter()
            .any(|k| k == "reaction.changed")
    })
    .await;
}

/// Takes the log a batch at a time; the first batch it is offered fails,
/// so those events come again one by one.
#[derive(Clone, Default)]
struct Batcher {
    batches: Arc<Mutex<Vec<Vec<String>>>>,
    singles: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl api::extend::AfterHook for Batcher {
    async fn after(&self, event: &Logged, _db: &Db) -> anyhow::Result<()> {
        self.singles
            .lock()
            .unwrap()
            .push(event.event.kind().to_owned());
        Ok(())
    }

    async fn after_batch(&self, events: &[Logged], _db: &Db) -> anyhow::Result<bool> {
        let mut batches = self.batches.lock().unwrap();
        let first = batches.is_empty();
        batches.push(Vec::new());
        if first {
            anyhow::bail!("the first batch fails");
        }
        let kinds = events.iter().map(|e| e.event.kind().to_owned()).collect();
        *batches.last_mut().unwrap() = kinds;
        Ok(true)
    }
}

#[tokio::test]
async fn a_hook_may_take_a_batch_at_once_and_a_failed_batch_goes_event_by_event() {
    let batcher = Batcher::default();
    let app = TestHearth::spawn(Hearth::new().after("batcher", batcher.clone())).await;
    let ann = app.create_user("ann").await;
    let create = |body: &'static str| {
        app.graphql(&format!(
            "mutation {{ createPost(input: {{ body: \"{body}\" }}) {{ id }} }}"
        ))
        .as_user(&ann)
        .expect_events([("post.created", 1)])
    };
    create("one").await;
    eventually("the first batch, then its events one by one", || {
        !batcher.singles.lock().unwrap().is_empty()
    })
    .await;
    let post = create("two").await;
    app.graphql("mutation($post: ID!) { react(postId: $post, kind: LIKE) { id } }")
        .variables(json!({ "post": post.body["data"]["createPost"]["id"] }))
        .as_user(&ann)
        .expect_events([("reaction.changed", 1)])
        .await;
    let seen = || {
        let mut all = batcher.singles.lock().unwrap().clone();
        all.extend(batcher.batches.lock().unwrap().iter().flatten().cloned());
        all
    };
    eventually("the reaction, in a batch", || {
        seen().iter().any(|k| k == "reaction.changed")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The first post came alone, after its batch failed; what followed
    // came in whole batches. Nothing came twice.
    assert_eq!(
        *batcher.singles.lock().unwrap(),
        vec!["post.created".to_owned()]
    );
    let all = seen();
    assert_eq!(
        all.iter().filter(|k| *k == "post.created").count(),
        2,
        "{all:?}"
    );
    assert_eq!(
        all.iter().filter(|k| *k == "reaction.changed").count(),
        1,
        "{all:?}"
    );
    assert!(
        batcher.batches.lock().unwrap()[1..]
            .iter()
            .all(|b| !b.is_empty()),
        "an empty batch is never offered"
    );
}

#[tokio::test]
async fn an_after_hook_catches_up_on_what_happened_while_it_was_stopped() {
    let db = TestDb::new().await;
    let first = Recorder::default();
    let app = Hearth::new()
        .after("audit", first.clone())
        .build(test_config(&db))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let addr = app.local_addr().unwrap();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let sign_up = |name: &'static str| {
        let client = client.clone();
        async move {
            client
                .post(format!("http://{addr}/graphql"))
                .json(&json!({
                    "query": "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }",
                    "variables": { "input": {
                        "email": format!("{name}@example.com"), "username": name,
                        "password": "correct horse battery",
                        "device": { "name": "t", "secret": "test-device-secret-0123456789" },
                    }},
                }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let token = sign_up("ann").await["data"]["signUp"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |body: &'static str| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            client
                .post(format!("http://{addr}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": format!("mutation {{ createPost(input: {{ body: \"{body}\" }}) {{ id }} }}") }))
                .send()
                .await
                .unwrap();
        }
    };
    post("one").await;
    eventually("the first post", || {
        !first.handled.lock().unwrap().is_empty()
    })
    .await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();

    // While the hook is away (Hearth runs without it), a post is made.
    let without = Hearth::new().build(test_config(&db)).await.unwrap();
    let addr2 = without.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(without.run_until_stopped(async {
        let _ = stopped.await;
    }));
    client
        .post(format!("http://{addr2}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "mutation { createPost(input: { body: \"two\" }) { id } }" }))
        .send()
        .await
        .unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();

    // Back with the hook: it sees the post it missed, and not the first again.
    let second = Recorder::default();
    let back = Hearth::new()
        .after("audit", second.clone())
        .build(test_config(&db))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(back.run_until_stopped(async {
        let _ = stopped.await;
    }));
    eventually("the missed post", || {
        !second.handled.lock().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        *second.handled.lock().unwrap(),
        vec!["post.created".to_owned()]
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let kept = entity::event::Entity::find()
        .all(&db.connect().await)
        .await
        .unwrap();
    assert!(kept.len() >= 2);
}

/// An application's own roots: a query that reads the viewer and the
/// database, a mutation refusing with Hearth's codes, a subscription.
#[derive(Default)]
struct AppQuery;

#[async_graphql::Object]
impl AppQuery {
    /// How many accounts exist, for signed-in callers.
    async fn account_count(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<u64> {
        use sea_orm::PaginatorTrait;
        api::extend::context::signed_in(ctx)?;
        let db = api::extend::context::db(ctx)?;
        Ok(entity::user::Entity::find()
            .count(db)
            .await
            .map_err(api::extend::AppError::from)?)
    }
}

#[derive(Default)]
struct AppMutation;

#[async_graphql::Object]
impl AppMutation {
    async fn shout(&self, text: String) -> async_graphql::Result<String> {
        if text.is_empty() {
            return Err(api::extend::AppError::bad_input("text", "say something").into());
        }
        Ok(text.to_uppercase())
    }
}

#[derive(Default)]
struct AppSubscription;

#[async_graphql::Subscription]
impl AppSubscription {
    async fn countdown(&self, from: u32) -> impl futures_util::Stream<Item = u32> {
        futures_util::stream::iter((0..=from).rev())
    }
}

#[tokio::test]
async fn an_applications_graphql_roots_merge_into_hearths() {
    let hearth = Hearth::new().graphql::<AppQuery, AppMutation, AppSubscription>();
    let sdl = hearth.sdl();
    for field in [
        "accountCount: Int!",
        "shout(text: String!): String!",
        "countdown(from: Int!): Int!",
        "createPost(input: CreatePostInput!): Post!",
        "commentAdded(",
    ] {
        assert!(sdl.contains(field), "the merged schema lacks {field}");
    }
    let app = TestHearth::spawn(hearth).await;
    let ann = app.create_user("ann").await;

    let count = app.graphql("{ accountCount }").as_user(&ann).await;
    assert_eq!(count.body["data"]["accountCount"], 1);
    let anonymous = app.graphql("{ accountCount }").await;
    assert_eq!(
        anonymous.body["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    let shout = app.graphql("mutation { shout(text: \"hi\") }").await;
    assert_eq!(shout.body["data"]["shout"], "HI");
    let empty = app.graphql("mutation { shout(text: \"\") }").await;
    assert_eq!(
        empty.body["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(empty.body["errors"][0]["extensions"]["field"], "text");

    let mut ws = crate::helpers::ws::open(app.addr).await;
    ws.init(None).await;
    ws.subscribe("1", "subscription { countdown(from: 2) }", json!({}))
        .await;
    for expected in [2, 1, 0] {
        assert_eq!(ws.event("1").await["data"]["countdown"], expected);
    }
}

#[tokio::test]
async fn two_servers_on_one_database_run_an_after_hook_once_per_event() {
    let db = TestDb::new().await;
    let (one, two) = (Recorder::default(), Recorder::default());
    let mut servers = Vec::new();
    let mut addrs = Vec::new();
    for recorder in [&one, &two] {
        let app = Hearth::new()
            .after("audit", recorder.clone())
            .build(test_config(&db))
            .await
            .unwrap();
        addrs.push(app.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        servers.push((
            stop,
            tokio::spawn(app.run_until_stopped(async {
                let _ = stopped.await;
            })),
        ));
    }
    let client = reqwest::Client::new();
    let graphql =
        |addr: std::net::SocketAddr, token: Option<String>, query: String, variables: Value| {
            let client = client.clone();
            async move {
                let mut request = client.post(format!("http://{addr}/graphql"));
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                request
                    .json(&json!({ "query": query, "variables": variables }))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        };
    let signed_up = graphql(
        addrs[0],
        None,
        "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }".into(),
        json!({ "input": {
            "email": "ann@example.com", "username": "ann", "password": "correct horse battery",
            "device": { "name": "t", "secret": "test-device-secret-0123456789" },
        }}),
    )
    .await;
    let token = signed_up["data"]["signUp"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    // Posts through both servers.
    for i in 0..6 {
        let body = graphql(
            addrs[i % 2],
            Some(token.clone()),
            "mutation($b: String!) { createPost(input: { body: $b }) { id } }".into(),
            json!({ "b": format!("post {i}") }),
        )
        .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let posts = |r: &Recorder| {
        r.handled
            .lock()
            .unwrap()
            .iter()
            .filter(|k| *k == "post.created")
            .count()
    };
    let handled = || posts(&one) + posts(&two);
    eventually("six posts handled", || handled() >= 6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        handled(),
        6,
        "each event once, by whichever server holds the hook"
    );
    for (stop, server) in servers {
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
