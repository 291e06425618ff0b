//! The admin dashboard at `/admin`: who gets in (anonymous, members,
//! banned and demoted admins, admins), its cookies and headers, CSRF
//! refusals, the first-admin setup link, and actions that reach the API
//! and land in the audit log. Pages in a real browser are tested by the
//! Playwright suite under `api/tests/browser`.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    TestApp,
    browser::Browser,
    count_rows, spawn_app, spawn_app_with,
    user::{TestUser, ask, code, community, join, ok, post},
};

const PASSWORD: &str = "correct horse battery";

/// The account row id behind a profile's global id.
fn row_id(user: &TestUser) -> Uuid {
    api::graphql::id::from_global_id(&user.id.clone().into())
        .expect("a global id")
        .1
}

/// `name` as a new admin (an account made by `api admin create`).
async fn make_admin(app: &TestApp, name: &str) -> TestUser {
    let user = TestUser::sign_up(app, name).await;
    api::auth::service::ensure_admin(&app.app_db, &format!("{name}@example.com"), None, None)
        .await
        .expect("promoted");
    user
}

async fn is_banned(app: &TestApp, username: &str) -> bool {
    let rows = crate::helpers::query_strings(
        &app.conn,
        &format!(
            "SELECT CASE WHEN disabled_at IS NULL THEN 'no' ELSE 'yes' END AS banned FROM users WHERE username = '{username}'"
        ),
        &["banned"],
    )
    .await;
    rows[0][0] == "yes"
}

#[tokio::test]
async fn anonymous_visitors_and_members_get_the_sign_in_page_never_data() {
    let app = spawn_app().await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let mut anonymous = Browser::new(&app);
    for path in [
        "/admin",
        "/admin/users?q=bob",
        &format!("/admin/users/{}", row_id(&bob)),
        "/admin/audit",
    ] {
        let page = anonymous.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert!(
            page.location().starts_with("/admin/sign-in?next="),
            "{path}: {}",
            page.location()
        );
        assert!(!page.body.contains("bob@example.com"), "{path}");
    }
    let ban = anonymous
        .post(
            &format!("/admin/users/{}/ban", row_id(&bob)),
            &[("csrf", "x")],
        )
        .await;
    assert_eq!(ban.status, 303);
    assert!(!is_banned(&app, "bob").await);

    // A member with the right password is refused, and gets no session.
    let sessions_before = count_rows(&app.conn, "sessions").await;
    let mut member = Browser::new(&app);
    let page = member.sign_in("bob", PASSWORD).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("not an admin"), "{}", page.body);
    assert!(!member.cookies.contains_key("hearth_admin"));
    assert_eq!(count_rows(&app.conn, "sessions").await, sessions_before);
    assert_eq!(member.get("/admin").await.status, 303);

    // A wrong password is the API's answer, on the form.
    let page = Browser::new(&app).sign_in("bob", "wrong password!!").await;
    assert_eq!(page.status, 401);
    assert!(
        page.body.contains("invalid email, username or password"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn admins_get_strict_cookies_and_locked_down_pages() {
    let app = spawn_app().await;
    make_admin(&app, "ann").await;
    let mut ann = Browser::new(&app);
    let form = ann.get("/admin/sign-in").await;
    let form_cookie = form.set_cookies().join("\n");
    assert!(form_cookie.contains("hearth_admin_form="), "{form_cookie}");
    let page = ann
        .post(
            "/admin/sign-in",
            &[
                ("login", "ANN@example.com"),
                ("password", PASSWORD),
                ("form_token", &form.hidden("form_token")),
                ("next", "/admin/audit"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), "/admin/audit");
    let cookie = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("hearth_admin="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP in development: {cookie}"
    );

    for path in ["/admin", "/admin/users", "/admin/audit", "/admin/sign-in"] {
        let page = ann.get(path).await;
        assert!(
            page.status == 200 || page.status == 303,
            "{path}: {}",
            page.status
        );
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
        assert_eq!(page.headers["cache-control"], "no-store", "{path}");
    }
    let overview = ann.get("/admin").await;
    assert!(overview.body.contains("Accounts"), "{}", overview.body);
    assert!(overview.body.contains("<svg"), "the sign-ups chart");
    // No inline script or style for the policy to have to allow.
    assert!(!overview.body.contains("<script>") && !overview.body.contains("style="));
    let log = ann.get("/admin/audit").await;
    assert!(log.body.contains("admin.sign_in"), "{}", log.body);

    // A redirect after sign-in never leaves the dashboard.
    let mut other = Browser::new(&app);
    let form = other.get("/admin/sign-in?next=https://evil.example").await;
    assert!(
        form.body.contains("name=\"next\" value=\"/admin\""),
        "{}",
        form.body
    );

    // Production marks the cookie Secure.
    let secure = spawn_app_with(|c| c.admin.secure_cookies = true).await;
    make_admin(&secure, "sue").await;
    let page = Browser::new(&secure).sign_in("sue", PASSWORD).await;
    assert!(
        page.set_cookies()
            .iter()
            .any(|c| c.starts_with("hearth_admin=") && c.contains("; Secure")),
        "{:?}",
        page.set_cookies()
    );
}

#[tokio::test]
async fn every_change_needs_the_sessions_csrf_token_and_the_same_site() {
    let app = spawn_app().await;
    make_admin(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let ban = format!("/admin/users/{}/ban", row_id(&bob));
    let mut ann = Browser::new(&app);
    assert_eq!(ann.sign_in("ann", PASSWORD).await.status, 303);
    let csrf = ann
        .get(&format!("/admin/users/{}", row_id(&bob)))
        .await
        .hidden("csrf");

    assert_eq!(
        ann.post(&ban, &[]).await.status,
        422,
        "no token: the form is rejected"
    );
    assert_eq!(ann.post(&ban, &[("csrf", "forged")]).await.status, 403);
    let cross = ann
        .post_with(
            &ban,
            &[("csrf", &csrf)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(cross.status, 403);
    let other_origin = ann
        .post_with(
            &ban,
            &[("csrf", &csrf)],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(other_origin.status, 403);
    assert!(!is_banned(&app, "bob").await, "nothing changed");

    // Another admin's token is not this session's.
    make_admin(&app, "cat").await;
    let mut cat = Browser::new(&app);
    cat.sign_in("cat", PASSWORD).await;
    let cats = cat
        .get(&format!("/admin/users/{}", row_id(&bob)))
        .await
        .hidden("csrf");
    assert_ne!(cats, csrf);
    assert_eq!(ann.post(&ban, &[("csrf", &cats)]).await.status, 403);
    assert!(!is_banned(&app, "bob").await);

    // Sign-in without the form cookie's token is refused too.
    let page = Browser::new(&app)
        .post(
            "/admin/sign-in",
            &[
                ("login", "ann"),
                ("password", PASSWORD),
                ("form_token", "guess"),
            ],
        )
        .await;
    assert_eq!(page.status, 403);

    assert_eq!(ann.post(&ban, &[("csrf", &csrf)]).await.status, 303);
    assert!(is_banned(&app, "bob").await);
}

#[tokio::test]
async fn a_ban_from_the_dashboard_locks_the_api_out_and_is_audited() {
    let app = spawn_app().await;
    make_admin(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let (_, body) = app
        .graphql_as(&bob.token, "{ me { profile { username } } }", json!({}))
        .await;
    assert_eq!(body["data"]["me"]["profile"]["username"], "bob", "{body}");

    let mut ann = Browser::new(&app);
    ann.sign_in("ann", PASSWORD).await;
    let found = ann.get("/admin/users?q=BOB@exa").await;
    assert!(found.body.contains("bob@example.com"), "{}", found.body);
    assert!(!found.body.contains("ann@example.com"), "search narrows");
    let by_id = ann.get(&format!("/admin/users?q={}", row_id(&bob))).await;
    assert!(by_id.body.contains("bob@example.com"));

    let user_page = format!("/admin/users/{}", row_id(&bob));
    let csrf = ann.get(&user_page).await.hidden("csrf");
    let done = ann
        .post(&format!("{user_page}/ban"), &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location(), format!("{user_page}?done=ban"));
    let page = ann.get(done.location()).await;
    assert!(page.body.contains("Banned: every session"), "{}", page.body);
    assert!(page.body.contains("banned"));

    let (_, body) = app
        .graphql_as(&bob.token, "{ me { profile { username } } }", json!({}))
        .await;
    assert_eq!(
        code(&body),
        "UNAUTHENTICATED",
        "the ban ended bob's session: {body}"
    );

    let log = ann.get("/admin/audit?action=user.ban").await;
    assert!(log.body.contains("banned bob"), "{}", log.body);
    assert!(log.body.contains("127.0.0.1"), "from where");
    assert!(log.body.contains(">ann<"), "who");
    let other = ann.get("/admin/audit?action=user.unban").await;
    assert!(!other.body.contains("banned bob"), "the filter narrows");

    let unban = ann
        .post(&format!("{user_page}/unban"), &[("csrf", &csrf)])
        .await;
    assert_eq!(unban.status, 303);
    assert!(!is_banned(&app, "bob").await);
    let rows = crate::helpers::query_strings(
        &app.conn,
        "SELECT action FROM audit_log ORDER BY id",
        &["action"],
    )
    .await;
    let actions: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(actions, ["admin.sign_in", "user.ban", "user.unban"]);
    // The log has no way to change it: no route takes a post.
    let post = ann.post("/admin/audit", &[("csrf", &csrf)]).await;
    assert_eq!(post.status, 405);
}

#[tokio::test]
async fn banned_and_demoted_admins_lose_the_dashboard() {
    let app = spawn_app().await;
    let ann_user = make_admin(&app, "ann").await;
    let bea = make_admin(&app, "bea").await;
    let cat = make_admin(&app, "cat").await;
    let mut ann = Browser::new(&app);
    let mut bea_browser = Browser::new(&app);
    let mut cat_browser = Browser::new(&app);
    ann.sign_in("ann", PASSWORD).await;
    bea_browser.sign_in("bea", PASSWORD).await;
    cat_browser.sign_in("cat", PASSWORD).await;
    assert_eq!(bea_browser.get("/admin").await.status, 200);
    assert_eq!(cat_browser.get("/admin").await.status, 200);

    let csrf = ann.get("/admin/users").await.hidden("csrf");
    ann.post(
        &format!("/admin/users/{}/ban", row_id(&bea)),
        &[("csrf", &csrf)],
    )
    .await;
    let page = bea_browser.get("/admin").await;
    assert_eq!(page.status, 303, "a banned admin's session ended");
    assert_eq!(bea_browser.sign_in("bea", PASSWORD).await.status, 401);

    ann.post(
        &format!("/admin/users/{}/demote", row_id(&cat)),
        &[("csrf", &csrf)],
    )
    .await;
    let page = cat_browser.get("/admin").await;
    assert_eq!(page.status, 403, "a demoted admin is refused");
    assert!(!page.body.contains("Accounts"));

    // Admins cannot ban or demote themselves.
    for action in ["ban", "demote"] {
        let page = ann
            .post(
                &format!("/admin/users/{}/{action}", row_id(&ann_user)),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(page.status, 400, "{action}: {}", page.body);
    }
    assert_eq!(ann.get("/admin").await.status, 200);
    let admins = crate::helpers::query_strings(
        &app.conn,
        "SELECT username FROM users WHERE role = 'admin' AND disabled_at IS NULL",
        &["username"],
    )
    .await;
    assert_eq!(admins, [["ann"]]);
}

#[tokio::test]
async fn an_idle_dashboard_session_ends() {
    let app = spawn_app_with(|c| c.admin.idle_timeout = Duration::from_secs(2)).await;
    make_admin(&app, "ann").await;
    let mut ann = Browser::new(&app);
    ann.sign_in("ann", PASSWORD).await;
    assert_eq!(ann.get("/admin").await.status, 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        ann.get("/admin").await.status,
        303,
        "idle longer than the timeout: signed out"
    );
}

#[tokio::test]
async fn the_setup_link_makes_the_first_admin_once() {
    let app = spawn_app().await;
    let link = app.admin_setup.clone().expect("no admin yet: a setup link");
    let token = link.split("token=").nth(1).expect("a token").to_owned();

    assert_eq!(
        Browser::new(&app)
            .get("/admin/setup?token=wrong")
            .await
            .status,
        404
    );
    let mut browser = Browser::new(&app);
    let form = browser.get(&link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let form_token = form.hidden("form_token");
    let fields = |username: &'static str| {
        [
            ("token", token.clone()),
            ("form_token", form_token.clone()),
            ("email", format!("{username}@example.com")),
            ("username", username.to_owned()),
            ("password", PASSWORD.to_owned()),
        ]
    };
    let as_pairs =
        |f: &[(&'static str, String)]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let first = as_pairs(&fields("root"));
    let first: Vec<(&str, &str)> = first.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = browser.post("/admin/setup", &first).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        browser.get("/admin").await.status,
        200,
        "signed in as the new admin"
    );
    let admins = crate::helpers::query_strings(
        &app.conn,
        "SELECT username FROM users WHERE role = 'admin'",
        &["username"],
    )
    .await;
    assert_eq!(admins, [["root"]]);

    let again = as_pairs(&fields("mallory"));
    let again: Vec<(&str, &str)> = again.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = browser.post("/admin/setup", &again).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(browser.get(&link).await.status, 404);
    assert_eq!(count_rows(&app.conn, "users").await, 1, "no second account");
    let log = browser.get("/admin/audit").await;
    assert!(log.body.contains("admin.setup"), "{}", log.body);
}

#[tokio::test]
async fn dashboard_sign_in_spends_the_apis_sign_in_budget() {
    let app = spawn_app_with(|c| {
        c.auth.rate_limit.per_ip = 100;
        c.auth.rate_limit.per_account = 3;
    })
    .await;
    make_admin(&app, "ann").await;
    for _ in 0..3 {
        assert_eq!(
            Browser::new(&app)
                .sign_in("ann", "not the password")
                .await
                .status,
            401
        );
    }
    let page = Browser::new(&app).sign_in("ann", PASSWORD).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.body.contains("too many requests"), "{}", page.body);
    assert_eq!(
        count_rows(&app.conn, "audit_log").await,
        0,
        "nobody signed in"
    );
}

#[tokio::test]
async fn removed_posts_and_comments_leave_every_read_until_restored() {
    let app = spawn_app().await;
    make_admin(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let post_id = crate::helpers::user::post(&app, &bob, "a post to moderate", None).await;
    let reply = crate::helpers::user::ask(
        &app,
        Some(&bob),
        "mutation($p: ID!) { createComment(input: { postId: $p, body: \"a comment to moderate\" }) { id } }",
        json!({ "p": post_id }),
    )
    .await;
    let comment_id = crate::helpers::user::ok(&reply, "createComment")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reads = "query($p: ID!, $c: ID!) {
        post(id: $p) { id commentCount comments(first: 10) { edges { node { id } } } }
        comment: node(id: $c) { id }
        posts(first: 10) { edges { node { id } } }
    }";
    let seen = |body: &serde_json::Value| {
        (
            body["data"]["post"]["id"].is_string(),
            body["data"]["comment"]["id"].is_string(),
            body["data"]["posts"]["edges"]
                .as_array()
                .map_or(0, Vec::len),
        )
    };
    let vars = json!({ "p": post_id, "c": comment_id });
    let before = crate::helpers::user::ask(&app, Some(&bob), reads, vars.clone()).await;
    assert_eq!(seen(&before), (true, true, 1), "{before}");
    assert_eq!(before["data"]["post"]["commentCount"], 1);

    let mut ann = Browser::new(&app);
    ann.sign_in("ann", PASSWORD).await;
    let list = ann
        .get("/admin/content?kind=comments&q=TO%20MODERATE")
        .await;
    assert!(list.body.contains("a comment to moderate"), "{}", list.body);
    let csrf = list.hidden("csrf");
    let comment_row = api::graphql::id::from_global_id(&comment_id.clone().into())
        .unwrap()
        .1;
    let post_row = api::graphql::id::from_global_id(&post_id.clone().into())
        .unwrap()
        .1;

    let done = ann
        .post(
            &format!("/admin/content/comments/{comment_row}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let after = crate::helpers::user::ask(&app, Some(&bob), reads, vars.clone()).await;
    assert_eq!(seen(&after), (true, false, 1), "{after}");
    assert_eq!(after["data"]["post"]["commentCount"], 0);
    assert_eq!(after["data"]["post"]["comments"]["edges"], json!([]));

    assert_eq!(
        ann.post(
            &format!("/admin/content/posts/{post_row}/remove"),
            &[("csrf", &csrf)]
        )
        .await
        .status,
        303
    );
    let gone = crate::helpers::user::ask(&app, Some(&bob), reads, vars.clone()).await;
    assert_eq!(
        seen(&gone),
        (false, false, 0),
        "not even its author sees it: {gone}"
    );
    let refused = crate::helpers::user::ask(
        &app,
        Some(&bob),
        "mutation($p: ID!) { createComment(input: { postId: $p, body: \"late\" }) { id } }",
        json!({ "p": post_id }),
    )
    .await;
    assert_eq!(
        code(&refused),
        "BAD_USER_INPUT",
        "no such post, as for one never written: {refused}"
    );
    let listed = ann.get("/admin/content?kind=posts").await;
    assert!(listed.body.contains("removed"), "the pane still lists it");

    // Without the token, nothing is restored.
    assert_eq!(
        ann.post(
            &format!("/admin/content/posts/{post_row}/restore"),
            &[("csrf", "nope")]
        )
        .await
        .status,
        403
    );
    assert!(!seen(&crate::helpers::user::ask(&app, Some(&bob), reads, vars.clone()).await).0);

    ann.post(
        &format!("/admin/content/posts/{post_row}/restore"),
        &[("csrf", &csrf)],
    )
    .await;
    ann.post(
        &format!("/admin/content/comments/{comment_row}/restore"),
        &[("csrf", &csrf)],
    )
    .await;
    let back = crate::helpers::user::ask(&app, Some(&bob), reads, vars).await;
    assert_eq!(seen(&back), (true, true, 1), "{back}");
    let rows = crate::helpers::query_strings(
        &app.conn,
        "SELECT action FROM audit_log WHERE action <> 'admin.sign_in' ORDER BY id",
        &["action"],
    )
    .await;
    let actions: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        actions,
        [
            "comment.remove",
            "post.remove",
            "post.restore",
            "comment.restore"
        ]
    );
    // Each one is an event too, for webhooks and after-commit hooks.
    let events = crate::helpers::query_strings(
        &app.conn,
        "SELECT kind, CAST(data AS TEXT) AS data FROM events WHERE kind LIKE '%.moderated' ORDER BY position",
        &["kind", "data"],
    )
    .await;
    let seen: Vec<(String, bool)> = events
        .iter()
        .map(|r| {
            let data: serde_json::Value = serde_json::from_str(&r[1]).expect("event data");
            (r[0].clone(), data["removed"].as_bool().expect("removed"))
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("comment.moderated".to_owned(), true),
            ("post.moderated".to_owned(), true),
            ("post.moderated".to_owned(), false),
            ("comment.moderated".to_owned(), false),
        ]
    );
}

#[tokio::test]
async fn backups_are_taken_and_downloaded_from_the_dashboard_on_sqlite_only() {
    let app = spawn_app().await;
    make_admin(&app, "ann").await;
    let mut ann = Browser::new(&app);
    ann.sign_in("ann", PASSWORD).await;
    let pane = ann.get("/admin/backups").await;
    assert_eq!(pane.status, 200);
    if app.db.backend == migration::database::Backend::Postgres {
        assert!(pane.body.contains("pg_dump"), "{}", pane.body);
        let csrf = ann.get("/admin").await.hidden("csrf");
        assert_eq!(
            ann.post("/admin/backups", &[("csrf", &csrf)]).await.status,
            400
        );
        return;
    }
    let csrf = pane.hidden("csrf");
    assert_eq!(
        ann.post("/admin/backups", &[("csrf", "forged")])
            .await
            .status,
        403
    );
    let done = ann.post("/admin/backups", &[("csrf", &csrf)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let pane = ann.get(done.location()).await;
    assert!(pane.body.contains("Backup taken."), "{}", pane.body);
    let start = pane
        .body
        .find("/admin/backups/hearth-")
        .expect("a listed backup");
    let end = pane.body[start..].find('"').unwrap() + start;
    let href = pane.body[start..end].to_owned();

    let file = ann.get(&href).await;
    assert_eq!(file.status, 200);
    assert!(
        file.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(
        file.body.starts_with("SQLite format 3"),
        "a SQLite database"
    );
    for path in ["/admin/backups/..%2Fhearth.db", "/admin/backups/nope.db"] {
        assert_eq!(ann.get(path).await.status, 404, "{path}");
    }
    assert_eq!(
        Browser::new(&app).get(&href).await.status,
        303,
        "admins only"
    );
    let rows = crate::helpers::query_strings(
        &app.conn,
        "SELECT action FROM audit_log WHERE action LIKE 'backup.%' ORDER BY id",
        &["action"],
    )
    .await;
    assert_eq!(rows, [["backup.create"], ["backup.download"]]);
}

#[tokio::test]
async fn files_are_listed_with_previews_deleted_and_swept_from_the_dashboard() {
    let app = spawn_app_with(|c| c.files.orphan_grace = Duration::ZERO).await;
    make_admin(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let upload = |query: &'static str, name: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text(
                "operations",
                json!({ "query": query, "variables": { "f": null } }).to_string(),
            )
            .text("map", json!({ "0": ["variables.f"] }).to_string())
            .part(
                "0",
                reqwest::multipart::Part::bytes(crate::helpers::png(3, 2)).file_name(name),
            );
        app.client
            .post(app.url("/graphql"))
            .bearer_auth(&bob.token)
            .header("apollo-require-preflight", "true")
            .multipart(form)
            .send()
    };
    let avatar: serde_json::Value = upload(
        "mutation($f: Upload) { setAvatar(file: $f) { avatar { id url } } }",
        "kept.png",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let kept_id = avatar["data"]["setAvatar"]["avatar"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{avatar}"))
        .to_owned();
    let url = avatar["data"]["setAvatar"]["avatar"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    upload(
        "mutation($f: Upload!) { uploadFile(file: $f) { id } }",
        "orphan.png",
    )
    .await
    .unwrap();

    let mut ann = Browser::new(&app);
    ann.sign_in("ann", PASSWORD).await;
    let pane = ann.get("/admin/files").await;
    assert!(
        pane.body.contains("kept.png") && pane.body.contains("orphan.png"),
        "{}",
        pane.body
    );
    assert!(pane.body.contains("image/png") && pane.body.contains("3×2"));
    let start = pane.body.find("src=\"/files/").expect("a preview") + 5;
    let preview = &pane.body[start..start + pane.body[start..].find('"').unwrap()];
    let image = app
        .client
        .get(app.url(&preview.replace("&amp;", "&")))
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), 200, "the preview loads from this host");

    let csrf = pane.hidden("csrf");
    let swept = ann.post("/admin/files/sweep", &[("csrf", &csrf)]).await;
    assert_eq!(
        swept.location(),
        "/admin/files?done=swept&removed=1",
        "only the unattached upload"
    );
    let pane = ann.get("/admin/files").await;
    assert!(
        pane.body.contains("kept.png") && !pane.body.contains("orphan.png"),
        "{}",
        pane.body
    );

    let row = api::graphql::id::from_global_id(&kept_id.clone().into())
        .unwrap()
        .1;
    assert_eq!(
        ann.post(&format!("/admin/files/{row}/delete"), &[("csrf", "forged")])
            .await
            .status,
        403
    );
    let deleted = ann
        .post(&format!("/admin/files/{row}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(count_rows(&app.conn, "files").await, 0);
    let gone = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(gone.status(), 404, "its bytes are gone: {url}");
    let (_, body) = app
        .graphql_as(
            &bob.token,
            "{ me { profile { avatar { id } } } }",
            json!({}),
        )
        .await;
    assert!(
        body["data"]["me"]["profile"]["avatar"].is_null(),
        "the avatar is unset: {body}"
    );
    let rows = crate::helpers::query_strings(
        &app.conn,
        "SELECT action FROM audit_log WHERE action LIKE 'file.%' ORDER BY id",
        &["action"],
    )
    .await;
    assert_eq!(rows, [["file.sweep"], ["file.delete"]]);
}

#[tokio::test]
async fn webhooks_show_their_deliveries_and_are_redelivered_and_rotated() {
    let app = spawn_app_with(|c| c.webhooks.allow_private_addresses = true).await;
    make_admin(&app, "ann").await;
    // A fresh sign-in carries the admin role in the token.
    let (_, body) = app
        .graphql(
            "mutation { signIn(input: { login: \"ann\", password: \"correct horse battery\", device: { name: \"t\", secret: \"device-secret-0123456789abcdef\" } }) { accessToken } }",
            json!({}),
        )
        .await;
    let admin_token = body["data"]["signIn"]["accessToken"]
        .as_str()
        .expect("signed in")
        .to_owned();
    // Nothing listens on port 9: every attempt fails, and stays visible.
    let (_, body) = app
        .graphql_as(
            &admin_token,
            "mutation { createWebhook(input: { url: \"http://127.0.0.1:9/hook\", events: [\"post.created\"] }) { secret webhook { id } } }",
            json!({}),
        )
        .await;
    let first_secret = body["data"]["createWebhook"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let bob = TestUser::sign_up(&app, "bob").await;
    crate::helpers::user::post(&app, &bob, "an event for the hook", None).await;

    let mut ann = Browser::new(&app);
    ann.sign_in("ann", PASSWORD).await;
    let mut pane = ann.get("/admin/webhooks").await;
    for _ in 0..100 {
        // The event is fanned out to the endpoint in the background.
        if pane.body.contains("/admin/webhooks/deliveries/") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        pane = ann.get("/admin/webhooks").await;
    }
    assert!(
        pane.body.contains("http://127.0.0.1:9/hook"),
        "{}",
        pane.body
    );
    assert!(
        pane.body.contains("post.created"),
        "the delivery is listed: {}",
        pane.body
    );
    let csrf = pane.hidden("csrf");
    let start = pane
        .body
        .find("/admin/webhooks/deliveries/")
        .expect("a redeliver form");
    let action = &pane.body[start..start + pane.body[start..].find('"').unwrap()];
    let done = ann.post(action, &[("csrf", &csrf)]).await;
    assert_eq!(
        done.location(),
        "/admin/webhooks?done=redeliver",
        "{}",
        done.body
    );

    let start = pane.body.find("/admin/webhooks/").expect("a rotate form");
    let rotate = &pane.body[start..start + pane.body[start..].find('"').unwrap()];
    assert!(rotate.ends_with("/rotate"), "{rotate}");
    assert_eq!(ann.post(rotate, &[("csrf", "forged")]).await.status, 403);
    let rotated = ann.post(rotate, &[("csrf", &csrf)]).await;
    assert_eq!(rotated.status, 200);
    let stored = crate::helpers::query_strings(
        &app.conn,
        "SELECT secret FROM webhook_endpoints",
        &["secret"],
    )
    .await;
    let new_secret = &stored[0][0];
    assert_ne!(new_secret, &first_secret);
    assert!(
        rotated.body.contains(new_secret.as_str()),
        "shown once, on the answer"
    );
    assert!(
        !ann.get("/admin/webhooks")
            .await
            .body
            .contains(new_secret.as_str()),
        "and never again"
    );
    let audit = crate::helpers::query_strings(
        &app.conn,
        "SELECT action, detail FROM audit_log WHERE action LIKE 'webhook.%' ORDER BY id",
        &["action", "detail"],
    )
    .await;
    assert_eq!(
        audit.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        // Registered through the API, then handled in the dashboard.
        [
            "webhook.create",
            "webhook.redeliver",
            "webhook.rotate_secret"
        ]
    );
    assert!(
        audit.iter().all(|r| !r[1].contains(new_secret.as_str())),
        "no secret in the log"
    );
}

#[tokio::test]
async fn the_settings_pane_lists_every_variable_and_hides_secrets() {
    let app = spawn_app().await;
    make_admin(&app, "ann").await;
    let mut ann = Browser::new(&app);
    ann.sign_in("ann", PASSWORD).await;
    let page = ann.get("/admin/settings").await;
    assert_eq!(page.status, 200);
    for name in [
        "DATABASE_URL",
        "JWT_SECRET",
        "ADMIN_SESSION_IDLE_SECS",
        "WEBHOOK_TIMEOUT_SECS",
    ] {
        assert!(
            page.body.contains(&format!("<code>{name}</code>")),
            "{name}"
        );
    }
    assert!(!page.body.contains(api::testing::TEST_JWT_SECRET));
    assert_eq!(Browser::new(&app).get("/admin/settings").await.status, 303);
}

#[tokio::test]
async fn the_data_browser_pages_filters_and_never_shows_secrets() {
    let app = spawn_app().await;
    let ann = make_admin(&app, "ann").await;
    for name in ["bob", "cat", "dan"] {
        TestUser::sign_up(&app, name).await;
    }
    let mut browser = Browser::new(&app);
    browser.sign_in("ann", PASSWORD).await;
    let tables = browser.get("/admin/data").await;
    for name in [
        "users",
        "sessions",
        "events",
        "audit_log",
        "idempotency_keys",
    ] {
        assert!(
            tables.body.contains(&format!("/admin/data/{name}\"")),
            "{name}"
        );
    }

    let users = browser.get("/admin/data/users").await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains("bob@example.com") && users.body.contains("dan@example.com"));
    assert!(
        users.body.contains("(hidden)"),
        "password hashes are hidden"
    );
    assert!(
        !users.body.contains("$argon2"),
        "no hash leaves the database"
    );
    let sessions = browser.get("/admin/data/sessions").await;
    let stored = crate::helpers::query_strings(
        &app.conn,
        "SELECT device_secret_hash FROM sessions",
        &["device_secret_hash"],
    )
    .await;
    assert!(
        stored
            .iter()
            .all(|h| !sessions.body.contains(h[0].as_str()))
    );

    // One row, by its key: the id as the API's account row knows it.
    let id = row_id(&ann);
    let one = browser
        .get(&format!(
            "/admin/data/users?column=id&value={}",
            id.to_string().to_uppercase()
        ))
        .await;
    assert!(
        one.body.contains("ann@example.com") && !one.body.contains("bob@example.com"),
        "{}",
        one.body
    );
    assert!(one.body.contains("The row"));
    let by_name = browser
        .get("/admin/data/users?column=username&value=cat")
        .await;
    assert!(by_name.body.contains("cat@example.com") && !by_name.body.contains("dan@example.com"));

    // Keyset pages: 50 rows a page, then the rest.
    for i in 0..55 {
        crate::helpers::exec(
            &app.conn,
            &format!(
                "INSERT INTO rate_limits (key, tat) VALUES ('k{i:03}', '2026-01-01T00:00:00+00:00')"
            ),
        )
        .await;
    }
    let first = browser.get("/admin/data/rate_limits").await;
    assert!(
        first.body.contains("k054") && !first.body.contains("k004"),
        "newest key first"
    );
    let start = first
        .body
        .find("/admin/data/rate_limits?column=&amp;value=&amp;after=")
        .expect("a next page");
    let href =
        first.body[start..start + first.body[start..].find('"').unwrap()].replace("&amp;", "&");
    let second = browser.get(&href).await;
    assert!(
        second.body.contains("k004")
            && second.body.contains("k000")
            && !second.body.contains("k054"),
        "{}",
        second.body
    );

    // A key of two columns pages by both: 30 keys for each of two
    // accounts, 60 rows, all seen once over two pages.
    let (_, found) = app
        .graphql("{ userByUsername(username: \"bob\") { id } }", json!({}))
        .await;
    let bob_global = found["data"]["userByUsername"]["id"]
        .as_str()
        .expect("bob")
        .to_owned();
    let bob_id = api::graphql::id::from_global_id(&bob_global.into())
        .expect("a global id")
        .1;
    for account in [id, bob_id] {
        for i in 0..30 {
            use sea_orm::{ActiveModelTrait, Set};
            entity::idempotency_key::ActiveModel {
                account_id: Set(account),
                key: Set(format!("k{i:03}")),
                operation: Set("createPost".to_owned()),
                fingerprint: Set("f".to_owned()),
                result_id: Set(Uuid::now_v7()),
                created_at: Set(chrono::Utc::now()),
            }
            .insert(&app.conn)
            .await
            .expect("a key row");
        }
    }
    let mut seen = 0;
    let mut path = "/admin/data/idempotency_keys".to_owned();
    for pages in 1.. {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen += page.body.matches("<td>k0").count();
        let Some(start) = page
            .body
            .find("/admin/data/idempotency_keys?column=&amp;value=&amp;after=")
        else {
            assert_eq!(pages, 2, "two pages");
            break;
        };
        let end = start + page.body[start..].find('"').unwrap();
        path = page.body[start..end].replace("&amp;", "&");
    }
    assert_eq!(seen, 60, "every row once");

    for (path, status) in [
        ("/admin/data/no_such_table", 404),
        (
            "/admin/data/idempotency_keys?after=%5B%22only-one%22%5D",
            400,
        ),
        ("/admin/data/users?column=password_hash&value=x", 400),
        ("/admin/data/users;drop%20table%20users", 404),
        ("/admin/data/events?after=not-a-number", 400),
    ] {
        assert_eq!(browser.get(path).await.status, status, "{path}");
    }
    assert_eq!(count_rows(&app.conn, "users").await, 4);
    assert_eq!(
        Browser::new(&app).get("/admin/data/users").await.status,
        303,
        "admins only"
    );
}

/// The audit log's actions, oldest first.
#[tokio::test]
async fn reports_are_worked_through_from_the_dashboard() {
    let app = spawn_app().await;
    make_admin(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let cat = TestUser::sign_up(&app, "cat").await;
    let post_id = crate::helpers::user::post(&app, &bob, "buy followers here", None).await;
    let report = "mutation($t: ID!) { report(input: { targetId: $t, reason: SPAM, note: \"third time today\" }) { id } }";
    let filed = crate::helpers::user::ask(&app, Some(&cat), report, json!({ "t": post_id })).await;
    let report_id = crate::helpers::user::ok(&filed, "report")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let row = api::graphql::id::from_global_id(&report_id.into())
        .unwrap()
        .1;

    let mut ann = Browser::new(&app);
    ann.sign_in("ann", PASSWORD).await;
    let queue = ann.get("/admin/reports").await;
    for shown in [
        "buy followers here",
        "bob",
        "cat",
        "spam",
        "third time today",
    ] {
        assert!(queue.body.contains(shown), "{shown}: {}", queue.body);
    }
    let csrf = queue.hidden("csrf");
    let resolve = format!("/admin/reports/{row}/resolve");
    let refused = ann
        .post(&resolve, &[("csrf", "nope"), ("action", "remove")])
        .await;
    assert_eq!(refused.status, 403);
    let refused = ann
        .post(&resolve, &[("csrf", &csrf), ("action", "explode")])
        .await;
    assert_eq!(refused.status, 400);
    let done = ann
        .post(
            &resolve,
            &[
                ("csrf", &csrf),
                ("action", "remove"),
                ("note", "no selling"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);

    // Gone from the API, closed for its reporter, listed as resolved.
    let read = "query($p: ID!) { post(id: $p) { id } }";
    let gone = crate::helpers::user::ask(&app, Some(&cat), read, json!({ "p": post_id })).await;
    assert!(gone["data"]["post"].is_null(), "{gone}");
    let mine = "{ myReports(first: 5) { edges { node { action resolutionNote } } } }";
    let mine = crate::helpers::user::ask(&app, Some(&cat), mine, json!({})).await;
    assert_eq!(
        mine["data"]["myReports"]["edges"][0]["node"]["action"],
        "CONTENT_REMOVED"
    );
    assert_eq!(
        mine["data"]["myReports"]["edges"][0]["node"]["resolutionNote"],
        "no selling"
    );
    assert!(
        ann.get("/admin/reports")
            .await
            .body
            .contains("No open reports.")
    );
    let resolved = ann.get("/admin/reports?resolved=1").await;
    assert!(
        resolved.body.contains("by ann") && resolved.body.contains("no selling"),
        "{}",
        resolved.body
    );
    assert_eq!(
        audit_actions(&app).await.last().map(String::as_str),
        Some("report.resolve")
    );
    let again = ann
        .post(&resolve, &[("csrf", &csrf), ("action", "dismiss")])
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    app.stop().await;
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    crate::helpers::query_strings(
        &app.conn,
        "SELECT action FROM audit_log ORDER BY id",
        &["action"],
    )
    .await
    .into_iter()
    .map(|mut r| r.remove(0))
    .collect()
}

#[tokio::test]
async fn an_account_is_deleted_from_the_dashboard_once_its_username_is_typed() {
    let app = spawn_app().await;
    let ann = make_admin(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    post(&app, &bob, "bob was here", None).await;
    let mut browser = Browser::new(&app);
    browser.sign_in("ann", PASSWORD).await;

    // Admins delete their own account with their password, not from here.
    let own = format!("/admin/users/{}", row_id(&ann));
    let page = browser.get(&own).await;
    assert!(!page.body.contains("Delete account"), "{}", page.body);
    let csrf = page.hidden("csrf");
    let refused = browser
        .post(
            &format!("{own}/delete"),
            &[("csrf", &csrf), ("confirm", "ann")],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("deleteAccount"), "{}", refused.body);

    let user_page = format!("/admin/users/{}", row_id(&bob));
    let page = browser.get(&user_page).await;
    assert!(page.body.contains("Delete account"), "{}", page.body);
    let mistyped = browser
        .post(
            &format!("{user_page}/delete"),
            &[("csrf", &csrf), ("confirm", "bobby")],
        )
        .await;
    assert_eq!(mistyped.status, 400, "{}", mistyped.body);
    assert!(
        mistyped.body.contains("type the account"),
        "{}",
        mistyped.body
    );
    assert_eq!(count_rows(&app.conn, "posts").await, 1, "nothing deleted");

    let done = browser
        .post(
            &format!("{user_page}/delete"),
            &[("csrf", &csrf), ("confirm", "bob")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/admin/users?done=delete");
    let list = browser.get(done.location()).await;
    assert!(list.body.contains("Deleted: the account"), "{}", list.body);
    assert!(!list.body.contains("bob@example.com"), "{}", list.body);
    assert_eq!(browser.get(&user_page).await.status, 404);

    let (_, body) = app
        .graphql_as(&bob.token, "{ me { profile { username } } }", json!({}))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    assert_eq!(
        count_rows(&app.conn, "posts").await,
        0,
        "its posts went too"
    );
    let (_, body) = app
        .graphql("{ userByUsername(username: \"bob\") { id } }", json!({}))
        .await;
    assert!(body["data"]["userByUsername"].is_null(), "{body}");
    assert_eq!(audit_actions(&app).await, ["admin.sign_in", "user.delete"]);
    let log = browser.get("/admin/audit?action=user.delete").await;
    assert!(
        log.body.contains("deleted bob (bob@example.com)"),
        "{}",
        log.body
    );
}

#[tokio::test]
async fn communities_are_found_and_their_visibility_members_and_roles_managed() {
    let app = spawn_app().await;
    make_admin(&app, "ann").await;
    let carl = TestUser::sign_up(&app, "carl").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let id = community(&app, &carl, "gardeners", "PUBLIC").await;
    community(&app, &carl, "bakers", "PUBLIC").await;
    join(&app, &bob, &id).await;
    let row = api::graphql::id::from_global_id(&id.clone().into())
        .expect("a global id")
        .1;
    let mut browser = Browser::new(&app);
    browser.sign_in("ann", PASSWORD).await;

    let list = browser
        .get("/admin/content?kind=communities&q=GARDEN")
        .await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("gardeners"), "{}", list.body);
    assert!(!list.body.contains("bakers"), "the search narrows");
    assert_eq!(browser.get("/admin/content?kind=nothing").await.status, 404);

    let page_path = format!("/admin/communities/{row}");
    let page = browser.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("carl") && page.body.contains("bob"),
        "{}",
        page.body
    );
    assert!(page.body.contains("the owner"), "{}", page.body);
    let csrf = page.hidden("csrf");
    let bob_row = row_id(&bob);
    let members = "query($id: ID!) { community(id: $id) { visibility members(first: 10) { edges { node { role user { username } } } } } }";
    let roles = async |app: &TestApp| {
        let reply = ask(app, Some(&carl), members, json!({ "id": id })).await;
        let c = ok(&reply, "community").clone();
        let roles: Vec<String> = c["members"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e["node"]["user"]["username"].as_str().unwrap(),
                    e["node"]["role"].as_str().unwrap()
                )
            })
            .collect();
        (c["visibility"].as_str().unwrap().to_owned(), roles)
    };

    // An admin who is not a member acts as the owner would.
    let done = browser
        .post(
            &format!("{page_path}/members/{bob_row}/moderator"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), format!("{page_path}?done=moderator"));
    assert_eq!(roles(&app).await.1, ["carl:OWNER", "bob:MODERATOR"]);
    browser
        .post(
            &format!("{page_path}/members/{bob_row}/member"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(roles(&app).await.1, ["carl:OWNER", "bob:MEMBER"]);
    let carl_row = row_id(&carl);
    let owner = browser
        .post(
            &format!("{page_path}/members/{carl_row}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        owner.status, 403,
        "nobody removes the owner: {}",
        owner.body
    );
    let done = browser
        .post(
            &format!("{page_path}/visibility"),
            &[("csrf", &csrf), ("visibility", "private")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(roles(&app).await.0, "PRIVATE");
    let odd = browser
        .post(
            &format!("{page_path}/visibility"),
            &[("csrf", &csrf), ("visibility", "secret")],
        )
        .await;
    assert_eq!(odd.status, 400, "{}", odd.body);
    browser
        .post(
            &format!("{page_path}/members/{bob_row}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(roles(&app).await.1, ["carl:OWNER"]);

    let mistyped = browser
        .post(
            &format!("{page_path}/delete"),
            &[("csrf", &csrf), ("confirm", "bakers")],
        )
        .await;
    assert_eq!(mistyped.status, 400, "{}", mistyped.body);
    let done = browser
        .post(
            &format!("{page_path}/delete"),
            &[("csrf", &csrf), ("confirm", "gardeners")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let reply = ask(
        &app,
        Some(&carl),
        "query($id: ID!) { community(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    assert!(reply["data"]["community"].is_null(), "{reply}");
    assert_eq!(
        audit_actions(&app).await,
        [
            "admin.sign_in",
            "community.set_role",
            "community.set_role",
            "community.visibility",
            "community.remove_member",
            "community.delete",
        ]
    );
    let log = browser.get(&format!("/admin/audit?target={row}")).await;
    assert!(
        log.body.contains("made bob a moderator of gardeners"),
        "{}",
        log.body
    );
}

#[tokio::test]
async fn the_overview_shows_request_and_error_rates_from_the_metrics() {
    let off = spawn_app().await;
    make_admin(&off, "ann").await;
    let mut browser = Browser::new(&off);
    browser.sign_in("ann", PASSWORD).await;
    let page = browser.get("/admin").await;
    assert!(
        page.body.contains("set METRICS_ENABLED=true"),
        "{}",
        page.body
    );

    let app = spawn_app_with(|c| c.metrics.enabled = true).await;
    make_admin(&app, "ann").await;
    for _ in 0..3 {
        app.graphql("{ users(first: 1) { totalCount } }", json!({}))
            .await;
        app.graphql("{ user(id: \"nope\") { id } }", json!({}))
            .await;
    }
    let mut browser = Browser::new(&app);
    browser.sign_in("ann", PASSWORD).await;
    let page = browser.get("/admin").await;
    assert!(page.body.contains("Requests per second"), "{}", page.body);
    assert!(page.body.contains("Since start-up"), "{}", page.body);
    // The recorder is shared by every app in this process, so only the
    // shape is certain: a share of operations with errors, not "no requests".
    let share = page
        .body
        .split("GraphQL operations with an error</dt><dd>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the error share");
    assert!(share.ends_with('%'), "{share}");
}

#[tokio::test]
async fn admin_operations_over_graphql_land_in_the_same_audit_log() {
    let app = spawn_app_with(|c| c.webhooks.allow_private_addresses = true).await;
    make_admin(&app, "ann").await;
    let bob = TestUser::sign_up(&app, "bob").await;
    let (_, body) = app
        .graphql(
            "mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",
            json!({ "input": {
                "login": "ann", "password": PASSWORD,
                "device": { "name": "script", "secret": "device-secret-0123456789abcdef" },
            }}),
        )
        .await;
    let token = body["data"]["signIn"]["accessToken"]
        .as_str()
        .expect("an admin token")
        .to_owned();
    let (_, body) = app
        .graphql_as(
            &token,
            "mutation($id: ID!) { setUserDisabled(id: $id, disabled: true) { id } }",
            json!({ "id": bob.id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let (_, body) = app
        .graphql_as(
            &token,
            "mutation { createWebhook(input: { url: \"http://127.0.0.1:9/hook\", events: [\"post.created\"] }) { webhook { id } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let webhook = body["data"]["createWebhook"]["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = app
        .graphql_as(
            &token,
            "mutation($id: ID!) { deleteWebhook(id: $id) }",
            json!({ "id": webhook }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // A refused call changes nothing and records nothing.
    let (_, body) = app
        .graphql_as(&bob.token, "mutation { createBackup { name } }", json!({}))
        .await;
    assert!(!body["errors"].is_null(), "{body}");

    // An admin may manage any community: audited. Its owner: not.
    let carl = TestUser::sign_up(&app, "carl").await;
    let dan = TestUser::sign_up(&app, "dan").await;
    let garden = community(&app, &carl, "gardeners", "PUBLIC").await;
    join(&app, &dan, &garden).await;
    let set_role = "mutation($c: ID!, $u: ID!, $r: AssignableRole!) { setCommunityMemberRole(communityId: $c, userId: $u, role: $r) { role } }";
    let (_, body) = app
        .graphql_as(
            &token,
            set_role,
            json!({ "c": garden, "u": dan.id, "r": "MODERATOR" }),
        )
        .await;
    assert_eq!(
        body["data"]["setCommunityMemberRole"]["role"], "MODERATOR",
        "{body}"
    );
    let reply = ask(
        &app,
        Some(&carl),
        set_role,
        json!({ "c": garden, "u": dan.id, "r": "MEMBER" }),
    )
    .await;
    assert_eq!(ok(&reply, "setCommunityMemberRole")["role"], "MEMBER");

    assert_eq!(
        audit_actions(&app).await,
        [
            "user.ban",
            "webhook.create",
            "webhook.delete",
            "community.set_role"
        ]
    );
    let mut browser = Browser::new(&app);
    browser.sign_in("ann", PASSWORD).await;
    let log = browser.get("/admin/audit?actor=ann").await;
    assert!(log.body.contains("banned bob"), "{}", log.body);
    assert!(
        log.body
            .contains("registered a webhook to http://127.0.0.1:9/hook"),
        "{}",
        log.body
    );
}
