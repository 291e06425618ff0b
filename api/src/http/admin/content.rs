//! The content pane: posts and comments, removed and restored (its
//! communities tab is `communities`).

use super::*;

#[derive(Deserialize)]
pub(super) struct ContentQuery {
    /// `posts` (the default), `comments` or `communities`.
    kind: Option<String>,
    #[serde(default)]
    q: String,
    after: Option<Uuid>,
    done: Option<String>,
}

pub(super) async fn content(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<ContentQuery>,
) -> Answer {
    let name = q.kind.as_deref().unwrap_or("posts");
    if name == "communities" {
        let (rows, next) = crate::admin::communities::list(&state.db, &q.q, q.after, PAGE_SIZE)
            .await
            .map_err(failed(&admin))?;
        let done = (q.done.as_deref() == Some("delete")).then_some(Ok(
            "Deleted: the community, its memberships and its posts are gone.",
        ));
        let page = views::communities::list(&admin, &q.q, &rows, next, done);
        return Ok(html(StatusCode::OK, page));
    }
    let Some(kind) = figures::Kind::from_name(name) else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no such kind of content",
        ));
    };
    let (rows, next) = figures::content(&state.db, kind, &q.q, q.after, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    let done = match q.done.as_deref() {
        Some("remove") => Some(Ok(
            "Removed: it is gone from every API read, and can be restored.",
        )),
        Some("restore") => Some(Ok("Restored: it is back where it was.")),
        _ => None,
    };
    let list = views::ContentList {
        kind,
        query: &q.q,
        rows: &rows,
        next,
        done,
    };
    Ok(html(StatusCode::OK, views::content(&admin, &list)))
}

#[derive(Deserialize)]
pub(super) struct ContentForm {
    csrf: String,
    #[serde(default)]
    q: String,
}

pub(super) async fn content_action(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path((kind, id, action)): Path<(String, Uuid, String)>,
    Form(form): Form<ContentForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let removed = match action.as_str() {
        "remove" => true,
        "restore" => false,
        _ => {
            return Err(refused(
                Some(&admin),
                StatusCode::NOT_FOUND,
                "no such action",
            ));
        }
    };
    let db = &state.db;
    let done = match kind.as_str() {
        "posts" => crate::posts::service::set_removed(db, &admin.session, id, removed)
            .await
            .map(|p| ("post", p.author_id, p.body)),
        "comments" => crate::comments::service::set_removed(db, &admin.session, id, removed)
            .await
            .map(|c| ("comment", c.author_id, c.body)),
        _ => {
            return Err(refused(
                Some(&admin),
                StatusCode::NOT_FOUND,
                "no such kind of content",
            ));
        }
    };
    let (what, author, body) = done.map_err(failed(&admin))?;
    let verb = if removed { "removed" } else { "restored" };
    let excerpt: String = body.chars().take(60).collect();
    let detail = format!("{verb} a {what} by {author}: \"{excerpt}\"");
    let audit_action = match (what, removed) {
        ("post", true) => "post.remove",
        ("post", false) => "post.restore",
        (_, true) => "comment.remove",
        (_, false) => "comment.restore",
    };
    admin
        .audit(db, audit_action, Some((what, id.to_string())), detail)
        .await
        .map_err(failed(&admin))?;
    let q: String = url::form_urlencoded::byte_serialize(form.q.as_bytes()).collect();
    Ok(Redirect::to(&format!("/admin/content?kind={kind}&q={q}&done={action}")).into_response())
}
