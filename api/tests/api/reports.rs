//! Reports and the moderation queue: who may report what, who sees which
//! reports, what each action does, and what the reporter learns.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, query_strings, spawn_app,
    user::{TestUser, ask, code, community, field, join, ok, post},
};

const REPORT: &str = "mutation($target: ID!, $reason: ReportReason!, $note: String) {
    report(input: { targetId: $target, reason: $reason, note: $note }) {
        id reason note targetType action subject { id } post { id } } }";
const RESOLVE: &str = "mutation($id: ID!, $action: ReportAction!, $note: String) {
    resolveReport(id: $id, action: $action, note: $note) {
        id action resolutionNote resolvedAt resolvedBy { username } subject { username } } }";
const QUEUE: &str = "query($community: ID, $resolved: Boolean) {
    reports(communityId: $community, resolved: $resolved, first: 20) {
        edges { node { id reason note targetType action subject { username }
            post { body } comment { body } message { body } user { username } community { slug }
            resolvedBy { username } } } } }";
const MINE: &str = "{ myReports(first: 20) { edges { node { id targetType action resolutionNote
    resolvedAt resolvedBy { username } subject { username } } } } }";
const COMMENT: &str = "mutation($post: ID!, $body: String!) {
    createComment(input: { postId: $post, body: $body }) { id } }";

async fn report(app: &TestApp, who: &TestUser, target: &str, reason: &str) -> Value {
    let vars = json!({ "target": target, "reason": reason, "note": "please look" });
    ask(app, Some(who), REPORT, vars).await
}

fn report_id(reply: &Value) -> String {
    ok(reply, "report")["id"].as_str().expect("id").to_owned()
}

/// The queue as `who` sees it: `(targetType, action)` per report.
async fn queue(
    app: &TestApp,
    who: &TestUser,
    community: Option<&str>,
    resolved: bool,
) -> Vec<Value> {
    let vars = json!({ "community": community, "resolved": resolved });
    let reply = ask(app, Some(who), QUEUE, vars).await;
    ok(&reply, "reports")["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// Cat owns the public `town`, where Mo moderates and Ann and Bob are
/// members; Root is an instance admin.
async fn town(app: &TestApp) -> (TestUser, TestUser, TestUser, TestUser, TestUser, String) {
    let cat = TestUser::sign_up(app, "cat").await;
    let mo = TestUser::sign_up(app, "moe").await;
    let ann = TestUser::sign_up(app, "ann").await;
    let bob = TestUser::sign_up(app, "bob").await;
    let root = TestUser::admin(app, "root").await;
    let town = community(app, &cat, "town", "PUBLIC").await;
    for who in [&mo, &ann, &bob] {
        ok(&join(app, who, &town).await, "joinCommunity");
    }
    let promote = "mutation($c: ID!, $u: ID!) { setCommunityMemberRole(communityId: $c, userId: $u, role: MODERATOR) { role } }";
    ok(
        &ask(app, Some(&cat), promote, json!({ "c": town, "u": mo.id })).await,
        "setCommunityMemberRole",
    );
    (cat, mo, ann, bob, root, town)
}

async fn events_of_kind(app: &TestApp, kind: &str) -> usize {
    let sql = format!("SELECT kind FROM events WHERE kind = '{kind}'");
    query_strings(&app.conn, &sql, &["kind"]).await.len()
}

#[tokio::test]
async fn reports_reach_the_communitys_moderators_and_reporters_learn_the_outcome() {
    let app = spawn_app().await;
    let (_cat, mo, ann, bob, root, town) = town(&app).await;
    let eve = TestUser::sign_up(&app, "eve").await;
    let spam = post(&app, &bob, "buy cheap watches", Some(&town)).await;

    // Ann and Eve (not a member, but the town is public) report the post.
    let anns = report(&app, &ann, &spam, "SPAM").await;
    assert_eq!(ok(&anns, "report")["targetType"], "POST");
    assert!(
        anns["data"]["report"]["subject"].is_null(),
        "a reporter is not shown whom: {anns}"
    );
    let anns = report_id(&anns);
    report_id(&report(&app, &eve, &spam, "SPAM").await);

    // One open report per reporter and thing; not your own content; only
    // what you can see; only reportable ids.
    let again = report(&app, &ann, &spam, "HATE").await;
    assert_eq!(code(&again), "CONFLICT", "{again}");
    let own = post(&app, &ann, "my own", Some(&town)).await;
    let refused = report(&app, &ann, &own, "SPAM").await;
    assert_eq!(
        (code(&refused), field(&refused)),
        ("BAD_USER_INPUT", "input.targetId")
    );
    let hidden_place = community(&app, &bob, "hideout", "PRIVATE").await;
    let hidden = post(&app, &bob, "secret", Some(&hidden_place)).await;
    assert_eq!(
        code(&report(&app, &ann, &hidden, "SPAM").await),
        "NOT_FOUND"
    );
    let note = "x".repeat(1_001);
    let vars = json!({ "target": spam, "reason": "OTHER", "note": note });
    assert_eq!(
        code(&ask(&app, Some(&bob), REPORT, vars).await),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        code(
            &ask(
                &app,
                None,
                REPORT,
                json!({ "target": spam, "reason": "SPAM" })
            )
            .await
        ),
        "UNAUTHENTICATED"
    );
    let session_id = "U2Vzc2lvbjowMTliMDAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDA";
    assert_eq!(
        code(&report(&app, &ann, session_id, "SPAM").await),
        "BAD_USER_INPUT"
    );
    assert_eq!(events_of_kind(&app, "report.created").await, 2);

    // Mo (moderator) and Root (admin) see both; Ann and Eve, none; Ann
    // may not ask for the town's queue.
    let mods = queue(&app, &mo, None, false).await;
    assert_eq!(mods.len(), 2, "{mods:?}");
    assert_eq!(mods[0]["subject"]["username"], "bob");
    assert_eq!(mods[0]["post"]["body"], "buy cheap watches");
    assert_eq!(mods[0]["note"], "please look");
    assert_eq!(queue(&app, &mo, Some(&town), false).await.len(), 2);
    assert_eq!(queue(&app, &root, None, false).await.len(), 2);
    assert!(queue(&app, &ann, None, false).await.is_empty());
    let vars = json!({ "community": town });
    assert_eq!(code(&ask(&app, Some(&ann), QUEUE, vars).await), "FORBIDDEN");
    // Ann cannot resolve even her own report.
    let vars = json!({ "id": anns, "action": "DISMISSED" });
    let r = ask(&app, Some(&ann), RESOLVE, vars).await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");

    // Mo removes the post: both reports are resolved, with who and why.
    let vars = json!({ "id": anns, "action": "CONTENT_REMOVED", "note": "spam is not allowed" });
    let done = ask(&app, Some(&mo), RESOLVE, vars.clone()).await;
    let done = ok(&done, "resolveReport");
    assert_eq!(done["action"], "CONTENT_REMOVED");
    assert_eq!(done["resolvedBy"]["username"], "moe");
    assert_eq!(code(&ask(&app, Some(&mo), RESOLVE, vars).await), "CONFLICT");
    let gone = ask(
        &app,
        Some(&ann),
        "query($id: ID!) { post(id: $id) { id } }",
        json!({ "id": spam }),
    )
    .await;
    assert!(ok(&gone, "post").is_null(), "{gone}");
    assert!(queue(&app, &mo, None, false).await.is_empty());
    let resolved = queue(&app, &mo, None, true).await;
    assert_eq!(resolved.len(), 2);
    assert!(
        resolved
            .iter()
            .all(|r| r["resolvedBy"]["username"] == "moe"),
        "{resolved:?}"
    );
    // Moderators still read what they removed, to judge it again.
    assert_eq!(resolved[0]["post"]["body"], "buy cheap watches");
    assert_eq!(events_of_kind(&app, "report.resolved").await, 2);
    assert_eq!(events_of_kind(&app, "post.moderated").await, 1);

    // Each reporter learns the outcome and the reason, not who decided.
    for who in [&ann, &eve] {
        let mine = ask(&app, Some(who), MINE, json!({})).await;
        let node = &ok(&mine, "myReports")["edges"][0]["node"];
        assert_eq!(node["action"], "CONTENT_REMOVED", "{mine}");
        assert_eq!(node["resolutionNote"], "spam is not allowed");
        assert!(node["resolvedAt"].is_string());
        assert!(
            node["resolvedBy"].is_null() && node["subject"].is_null(),
            "{mine}"
        );
    }
    // Reported again after it was resolved: a new report may be filed.
    let other = post(&app, &bob, "more watches", Some(&town)).await;
    let first = report_id(&report(&app, &ann, &other, "SPAM").await);
    let vars = json!({ "id": first, "action": "DISMISSED" });
    ok(&ask(&app, Some(&mo), RESOLVE, vars).await, "resolveReport");
    report_id(&report(&app, &ann, &other, "SPAM").await);
    app.stop().await;
}

#[tokio::test]
async fn moderators_ban_from_their_community_and_only_admins_ban_accounts_or_delete_messages() {
    let app = spawn_app().await;
    let (cat, mo, ann, bob, root, town) = town(&app).await;
    let cats = post(&app, &cat, "welcome", Some(&town)).await;
    let vars = json!({ "post": cats, "body": "you are all fools" });
    let rude = ask(&app, Some(&bob), COMMENT, vars).await;
    let rude = ok(&rude, "createComment")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let start = "mutation($ids: [ID!]!, $m: String) { startConversation(input: { participantIds: $ids, message: $m }) { lastMessage { id } } }";
    let dm = ask(
        &app,
        Some(&bob),
        start,
        json!({ "ids": [ann.id], "m": "send me money" }),
    )
    .await;
    let dm = ok(&dm, "startConversation")["lastMessage"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let on_comment = report_id(&report(&app, &ann, &rude, "HARASSMENT").await);
    let on_message = report_id(&report(&app, &ann, &dm, "SPAM").await);
    let on_user = report_id(&report(&app, &ann, &bob.id, "HARASSMENT").await);
    let on_town = report_id(&report(&app, &ann, &town, "OTHER").await);

    // Messages, people and communities go to admins only.
    let mods = queue(&app, &mo, None, false).await;
    let kinds: Vec<&Value> = mods.iter().map(|n| &n["targetType"]).collect();
    assert_eq!(kinds, [&json!("COMMENT")]);
    let all = queue(&app, &root, None, false).await;
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(
        all[1]["message"]["body"], "send me money",
        "admins read the reported message"
    );
    assert_eq!(all[3]["community"]["slug"], "town");
    for id in [&on_message, &on_user, &on_town] {
        let vars = json!({ "id": id, "action": "DISMISSED" });
        assert_eq!(
            code(&ask(&app, Some(&mo), RESOLVE, vars).await),
            "NOT_FOUND"
        );
    }

    // A moderator may not ban an account, nor remove a person.
    let vars = json!({ "id": on_comment, "action": "ACCOUNT_BAN" });
    assert_eq!(
        code(&ask(&app, Some(&mo), RESOLVE, vars).await),
        "FORBIDDEN"
    );
    let vars = json!({ "id": on_user, "action": "CONTENT_REMOVED" });
    let refused = ask(&app, Some(&root), RESOLVE, vars).await;
    assert_eq!(
        (code(&refused), field(&refused)),
        ("BAD_USER_INPUT", "action")
    );

    // Mo bans Bob from the town: out, and he cannot come back or comment.
    let vars = json!({ "id": on_comment, "action": "COMMUNITY_BAN", "note": "insults" });
    ok(&ask(&app, Some(&mo), RESOLVE, vars).await, "resolveReport");
    let role = "query($id: ID!) { community(id: $id) { viewerRole } }";
    let bobs = ask(&app, Some(&bob), role, json!({ "id": town })).await;
    assert!(ok(&bobs, "community")["viewerRole"].is_null(), "{bobs}");
    assert_eq!(code(&join(&app, &bob, &town).await), "FORBIDDEN");
    let vars = json!({ "post": cats, "body": "let me back" });
    assert_eq!(
        code(&ask(&app, Some(&bob), COMMENT, vars).await),
        "BAD_USER_INPUT"
    );
    let add =
        "mutation($c: ID!, $u: ID!) { addCommunityMember(communityId: $c, userId: $u) { role } }";
    let refused = ask(&app, Some(&mo), add, json!({ "c": town, "u": bob.id })).await;
    assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
    // The ban is lifted by a moderator; Bob may join again.
    let unban =
        "mutation($c: ID!, $u: ID!) { unbanFromCommunity(communityId: $c, userId: $u) { slug } }";
    ok(
        &ask(&app, Some(&mo), unban, json!({ "c": town, "u": bob.id })).await,
        "unbanFromCommunity",
    );
    assert_eq!(
        code(&ask(&app, Some(&mo), unban, json!({ "c": town, "u": bob.id })).await),
        "NOT_FOUND"
    );
    ok(&join(&app, &bob, &town).await, "joinCommunity");
    // Moderators cannot ban the owner, nor each other.
    let ban =
        "mutation($c: ID!, $u: ID!) { banFromCommunity(communityId: $c, userId: $u) { slug } }";
    assert_eq!(
        code(&ask(&app, Some(&mo), ban, json!({ "c": town, "u": cat.id })).await),
        "FORBIDDEN"
    );
    assert_eq!(
        code(&ask(&app, Some(&ann), ban, json!({ "c": town, "u": bob.id })).await),
        "FORBIDDEN"
    );

    // Root deletes the message and bans the account; both are audited.
    let vars = json!({ "id": on_message, "action": "CONTENT_REMOVED" });
    ok(
        &ask(&app, Some(&root), RESOLVE, vars).await,
        "resolveReport",
    );
    let convos = "{ conversations(first: 5) { edges { node { lastMessage { body } } } } }";
    let anns = ask(&app, Some(&ann), convos, json!({})).await;
    assert!(
        ok(&anns, "conversations")["edges"][0]["node"]["lastMessage"].is_null(),
        "{anns}"
    );
    let vars = json!({ "id": on_user, "action": "ACCOUNT_BAN", "note": "repeated abuse" });
    ok(
        &ask(&app, Some(&root), RESOLVE, vars).await,
        "resolveReport",
    );
    let me = ask(&app, Some(&bob), "{ me { id } }", json!({})).await;
    assert_ne!(
        code(&me),
        "",
        "a banned account's token stops working: {me}"
    );
    let audited = query_strings(
        &app.conn,
        "SELECT detail FROM audit_log WHERE action = 'report.resolve' ORDER BY id",
        &["detail"],
    )
    .await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(audited[1][0].contains("account banned"), "{audited:?}");
    let mine = ask(&app, Some(&ann), MINE, json!({})).await;
    let actions: Vec<&str> = ok(&mine, "myReports")["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap_or("OPEN"))
        .collect();
    assert_eq!(
        actions,
        ["OPEN", "ACCOUNT_BAN", "CONTENT_REMOVED", "COMMUNITY_BAN"]
    );
    app.stop().await;
}
