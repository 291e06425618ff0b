//! `/admin`: the dashboard's routes. Pages are rendered on the server
//! (`views`); the rules live in `crate::admin`.
//!
//! Security, route by route: every page but sign-in and setup needs a
//! dashboard session (the `Signed` extractor: a session cookie that is
//! HttpOnly, SameSite=Strict, Secure in production); every form that
//! changes something carries the session's CSRF token, and sign-in and
//! setup a double-submit token, and cross-site posts are refused before
//! either is looked at; every response carries a Content-Security-Policy
//! without `unsafe-inline` and `frame-ancestors 'none'`.

mod views;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Extension, Form, Router,
    extract::{ConnectInfo, FromRequestParts, Path, Query, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use entity::enums::UserRole;
use maud::Markup;
use serde::Deserialize;
use uuid::Uuid;

use self::views::Running;
use super::{error::status_of, state::AppState};
use crate::{
    admin::{Admin, Dashboard, audit, figures},
    auth::tokens::random_token,
    error::AppError,
};

const SESSION_COOKIE: &str = "hearth_admin";
/// Sign-in and setup forms' double-submit token, before any session.
const FORM_COOKIE: &str = "hearth_admin_form";
const PAGE_SIZE: u64 = 50;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(super) fn routes(state: AppState) -> Router {
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/sign-in", get(sign_in_page).post(sign_in))
        .route("/admin/sign-out", post(sign_out))
        .route("/admin/setup", get(setup_page).post(setup))
        .route("/admin/users", get(users))
        .route("/admin/users/{id}", get(user))
        .route("/admin/users/{id}/{action}", post(user_action))
        .route("/admin/content", get(content))
        .route("/admin/content/{kind}/{id}/{action}", post(content_action))
        .route("/admin/files", get(files))
        .route("/admin/files/sweep", post(sweep_files))
        .route("/admin/files/{id}/delete", post(delete_file))
        .route("/admin/backups", get(backups).post(create_backup))
        .route("/admin/backups/{name}", get(download_backup))
        .route("/admin/webhooks", get(webhooks))
        .route("/admin/webhooks/{id}/rotate", post(rotate_webhook_secret))
        .route("/admin/webhooks/deliveries/{id}/redeliver", post(redeliver))
        .route("/admin/data", get(data_tables))
        .route("/admin/data/{table}", get(data_table))
        .route("/admin/audit", get(audit_log))
        .route("/admin/settings", get(settings))
        .route("/admin/assets/{name}", get(asset))
        .layer(axum::middleware::map_response(headers))
        .with_state(state)
}

/// What every dashboard response carries.
async fn headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn dashboard(state: &AppState) -> &Arc<Dashboard> {
    state
        .admin
        .as_ref()
        .expect("dashboard routes exist only with a dashboard")
}

fn client_ip(state: &AppState, parts: &Parts) -> std::net::IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    state.client_ip(&parts.headers, peer)
}

/// A request from a signed-in admin. Anyone else is sent to the sign-in
/// page (or, signed in but no longer an admin, refused), never shown data.
struct Signed(Admin);

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if parts.method != Method::GET && cross_site(&parts.headers) {
            return Err(refused(
                None,
                StatusCode::FORBIDDEN,
                "cross-site requests are refused",
            ));
        }
        let ip = client_ip(state, parts);
        let next = parts.uri.path_and_query().map_or("/admin", |p| p.as_str());
        let to_sign_in = || {
            let next = if parts.method == Method::GET {
                next
            } else {
                "/admin"
            };
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            let mut response = Redirect::to(&format!("/admin/sign-in?{query}")).into_response();
            if cookie(&parts.headers, SESSION_COOKIE).is_some() {
                set_cookie(&mut response, state, SESSION_COOKIE, "", Some(0));
            }
            response
        };
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        match dashboard(state).authenticate(value, ip).await {
            Ok(admin) => Ok(Signed(admin)),
            Err(AppError::Unauthenticated(_)) => Err(to_sign_in()),
            Err(AppError::Forbidden) => Err(refused(
                None,
                StatusCode::FORBIDDEN,
                "this account is not an admin",
            )),
            Err(err) => Err(error_page(None, err)),
        }
    }
}

/// A post another site's page made: browsers say so in `Sec-Fetch-Site`,
/// older ones through an `Origin` that is not this host.
fn cross_site(headers: &HeaderMap) -> bool {
    let value = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = value("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (value("origin"), value("host")) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            origin_host != host
        }
        (Some(_), None) => true,
        _ => false,
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// Sets a dashboard cookie: HttpOnly, SameSite=Strict, only under
/// `/admin`, Secure in production. `max_age` 0 deletes it; `None` makes it
/// last as long as the browser session (the server enforces the idle
/// timeout).
fn set_cookie(
    response: &mut Response,
    state: &AppState,
    name: &str,
    value: &str,
    max_age: Option<u64>,
) {
    let mut cookie = format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Strict");
    if dashboard(state).config.secure_cookies {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn html(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn refused(admin: Option<&Admin>, status: StatusCode, text: &str) -> Response {
    html(status, views::message("Not allowed", admin, text))
}

/// An error as a page: the status its code implies and the message the API
/// would give (internal errors are logged, never shown).
fn error_page(admin: Option<&Admin>, err: AppError) -> Response {
    let status = status_of(&err);
    let message = async_graphql::Error::from(err).message;
    html(
        status,
        views::message("Something went wrong", admin, &message),
    )
}

/// What a handler answers: its page, or a page saying why not.
type Answer = Result<Response, Response>;

/// A refusal unless `sent` is the session's CSRF token.
// Both sides of a handler's answer are whole responses; boxing the refusal
// would only add an allocation to the rare path.
#[allow(clippy::result_large_err)]
fn fresh(admin: &Admin, sent: &str) -> Result<(), Response> {
    admin.check_csrf(sent).map_err(|_| {
        refused(
            Some(admin),
            StatusCode::FORBIDDEN,
            "the form expired; reload the page",
        )
    })
}

/// Turns a service's error into its page, for `?`.
fn failed(admin: &Admin) -> impl FnOnce(AppError) -> Response + '_ {
    move |err| error_page(Some(admin), err)
}

/// The end of every change: its entry in the audit log, then back to `to`.
async fn done(
    state: &AppState,
    admin: &Admin,
    action: &'static str,
    target: Option<(&'static str, String)>,
    detail: String,
    to: &str,
) -> Answer {
    admin
        .audit(&state.db, action, target, detail)
        .await
        .map_err(failed(admin))?;
    Ok(Redirect::to(to).into_response())
}

/// The form cookie's token (a new one when the browser has none) and the
/// response headers that keep it.
fn form_token(state: &AppState, headers: &HeaderMap) -> (String, Option<Response>) {
    match cookie(headers, FORM_COOKIE) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = random_token();
            let mut carrier = ().into_response();
            set_cookie(&mut carrier, state, FORM_COOKIE, &token, None);
            (token, Some(carrier))
        }
    }
}

fn with_cookies_of(mut response: Response, carrier: Option<Response>) -> Response {
    if let Some(carrier) = carrier {
        for value in carrier.headers().get_all(header::SET_COOKIE) {
            response
                .headers_mut()
                .append(header::SET_COOKIE, value.clone());
        }
    }
    response
}

/// Sign-in and setup posts: same-site, with the form cookie's token.
fn check_form(headers: &HeaderMap, sent: &str) -> bool {
    !cross_site(headers)
        && cookie(headers, FORM_COOKIE).is_some_and(|kept| crate::admin::service::same(kept, sent))
}

/// Where to go after signing in: a dashboard path, never another site.
fn local_next(next: &str) -> &str {
    let local = next.starts_with("/admin") && !next.contains("//") && !next.contains('\\');
    if local { next } else { "/admin" }
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let (token, carrier) = form_token(&state, &headers);
    let page = views::sign_in(&token, local_next(&q.next), "", None);
    with_cookies_of(html(StatusCode::OK, page), carrier)
}

#[derive(Deserialize)]
struct SignInForm {
    login: String,
    password: String,
    form_token: String,
    #[serde(default)]
    next: String,
}

async fn sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = local_next(&form.next);
    let (token, carrier) = form_token(&state, &headers);
    let again = |status: StatusCode, error: &str| {
        with_cookies_of(
            html(
                status,
                views::sign_in(&token, next, &form.login, Some(error)),
            ),
            None,
        )
    };
    if !check_form(&headers, &form.form_token) {
        let page = again(StatusCode::FORBIDDEN, "the form expired; try again");
        return with_cookies_of(page, carrier);
    }
    let ip = state.client_ip(&headers, peer.map(|Extension(ConnectInfo(a))| a));
    match dashboard(&state)
        .sign_in(&form.login, &form.password, ip)
        .await
    {
        Ok(value) => {
            let mut response = Redirect::to(next).into_response();
            set_cookie(&mut response, &state, SESSION_COOKIE, &value, None);
            response
        }
        Err(AppError::Forbidden) => again(StatusCode::FORBIDDEN, "this account is not an admin"),
        Err(err) => {
            let status = status_of(&err);
            let message = async_graphql::Error::from(err).message;
            again(status, &message)
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    state
        .auth
        .sign_out(&admin.session)
        .await
        .map_err(failed(&admin))?;
    let mut response = Redirect::to("/admin/sign-in").into_response();
    set_cookie(&mut response, &state, SESSION_COOKIE, "", Some(0));
    Ok(response)
}

#[derive(Deserialize)]
struct SetupQuery {
    #[serde(default)]
    token: String,
}

async fn setup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SetupQuery>,
) -> Response {
    if !dashboard(&state).setup_token_valid(&q.token) {
        return refused(
            None,
            StatusCode::NOT_FOUND,
            "this setup link is used or expired; restart the server for a new one, or run `api admin create`",
        );
    }
    let (token, carrier) = form_token(&state, &headers);
    with_cookies_of(
        html(StatusCode::OK, views::setup(&q.token, &token, None)),
        carrier,
    )
}

#[derive(Deserialize)]
struct SetupForm {
    token: String,
    form_token: String,
    email: String,
    username: String,
    password: String,
}

async fn setup(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    if !check_form(&headers, &form.form_token) {
        return refused(
            None,
            StatusCode::FORBIDDEN,
            "the form expired; open the setup link again",
        );
    }
    let ip = state.client_ip(&headers, peer.map(|Extension(ConnectInfo(a))| a));
    match dashboard(&state)
        .complete_setup(&form.token, &form.email, &form.username, &form.password, ip)
        .await
    {
        Ok(value) => {
            let mut response = Redirect::to("/admin").into_response();
            set_cookie(&mut response, &state, SESSION_COOKIE, &value, None);
            response
        }
        Err(err) => error_page(None, err),
    }
}

async fn overview(State(state): State<AppState>, Signed(admin): Signed) -> Answer {
    let dashboard = dashboard(&state);
    let o = figures::overview(&state.db).await.map_err(failed(&admin))?;
    Ok({
        let running = Running {
            version: env!("CARGO_PKG_VERSION"),
            uptime_secs: dashboard.started.elapsed().as_secs(),
        };
        html(StatusCode::OK, views::overview(&admin, &o, &running))
    })
}

#[derive(Deserialize)]
struct UsersQuery {
    #[serde(default)]
    q: String,
    after: Option<Uuid>,
}

async fn users(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<UsersQuery>,
) -> Answer {
    let (rows, next) = figures::search_users(&state.db, &q.q, q.after, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    Ok(html(
        StatusCode::OK,
        views::users(&admin, &q.q, &rows, next),
    ))
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

/// What a finished action says on the page it returns to. Only these
/// fixed sentences, so a link cannot put words on the page.
fn done_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "ban" => "Banned: every session of the account has ended.",
        "unban" => "Unbanned: the account can sign in again.",
        "promote" => "The account is now an admin.",
        "demote" => "The account is no longer an admin.",
        "verify-email" => "The email address is marked verified.",
        "send-reset" => "A password reset email is on its way.",
        "sign-out-everywhere" => "Every session of the account has ended.",
        "revoke-session" => "The session has ended.",
        _ => return None,
    })
}

async fn user(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Query(q): Query<DoneQuery>,
) -> Answer {
    let page = match figures::user_page(&state.db, id).await {
        Ok(Some(page)) => page,
        Ok(None) => {
            return Err(refused(
                Some(&admin),
                StatusCode::NOT_FOUND,
                "no account has this id",
            ));
        }
        Err(err) => return Err(error_page(Some(&admin), err)),
    };
    let sessions = state.auth.sessions_of(id).await.map_err(failed(&admin))?;
    let done = q.done.as_deref().and_then(done_text).map(Ok);
    Ok(html(
        StatusCode::OK,
        views::user(&admin, &page, &sessions, done),
    ))
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    session: Option<Uuid>,
}

async fn user_action(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path((id, action)): Path<(Uuid, String)>,
    Form(form): Form<ActionForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let auth = &state.auth;
    let Ok(Some(target)) = crate::users::service::find_by_id(&state.db, id).await else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no account has this id",
        ));
    };
    let name = target.username.clone();
    let done = match action.as_str() {
        "ban" => auth
            .set_disabled(&admin.session, id, true)
            .await
            .map(|_| ("user.ban", format!("banned {name}"))),
        "unban" => auth
            .set_disabled(&admin.session, id, false)
            .await
            .map(|_| ("user.unban", format!("unbanned {name}"))),
        "promote" => auth
            .set_role(&admin.session, id, UserRole::Admin)
            .await
            .map(|_| ("user.promote", format!("made {name} an admin"))),
        "demote" => auth
            .set_role(&admin.session, id, UserRole::User)
            .await
            .map(|_| ("user.demote", format!("took admin rights from {name}"))),
        "verify-email" => auth.set_email_verified(&admin.session, id).await.map(|()| {
            (
                "user.verify_email",
                format!("marked {name}'s email verified"),
            )
        }),
        "send-reset" => auth
            .request_password_reset(&target.email, admin.ip)
            .await
            .map(|()| {
                (
                    "user.send_reset",
                    format!("sent {name} a password reset email"),
                )
            }),
        "sign-out-everywhere" => auth
            .revoke_sessions_of(&admin.session, id, None)
            .await
            .map(|n| {
                (
                    "user.sign_out_everywhere",
                    format!("ended {n} sessions of {name}"),
                )
            }),
        "revoke-session" => match form.session {
            None => Err(AppError::bad_input("session", "which session?")),
            Some(session) => match auth
                .revoke_sessions_of(&admin.session, id, Some(session))
                .await
            {
                Ok(0) => Err(AppError::NotFound("session")),
                Ok(_) => Ok((
                    "session.revoke",
                    format!("ended {name}'s session {session}"),
                )),
                Err(err) => Err(err),
            },
        },
        _ => {
            return Err(refused(
                Some(&admin),
                StatusCode::NOT_FOUND,
                "no such action",
            ));
        }
    };
    let (what, detail) = done.map_err(failed(&admin))?;
    admin
        .audit(&state.db, what, Some(("user", id.to_string())), detail)
        .await
        .map_err(failed(&admin))?;
    // Signing oneself out everywhere ends this dashboard session too.
    Ok(Redirect::to(&format!("/admin/users/{id}?done={action}")).into_response())
}

#[derive(Deserialize)]
struct ContentQuery {
    #[serde(default)]
    kind: figures::Kind,
    #[serde(default)]
    q: String,
    after: Option<Uuid>,
    done: Option<String>,
}

async fn content(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<ContentQuery>,
) -> Answer {
    let (rows, next) = figures::content(&state.db, q.kind, &q.q, q.after, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    Ok({
        let done = match q.done.as_deref() {
            Some("remove") => Some(Ok(
                "Removed: it is gone from every API read, and can be restored.",
            )),
            Some("restore") => Some(Ok("Restored: it is back where it was.")),
            _ => None,
        };
        let list = views::ContentList {
            kind: q.kind,
            query: &q.q,
            rows: &rows,
            next,
            done,
        };
        html(StatusCode::OK, views::content(&admin, &list))
    })
}

#[derive(Deserialize)]
struct ContentForm {
    csrf: String,
    #[serde(default)]
    q: String,
}

async fn content_action(
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

#[derive(Deserialize)]
struct FilesQuery {
    after: Option<Uuid>,
    done: Option<String>,
    removed: Option<u64>,
}

async fn files(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<FilesQuery>,
) -> Answer {
    let (rows, next) = figures::files(&state.db, q.after, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    let rows: Vec<views::FileRow> = rows
        .into_iter()
        .map(|(file, owner)| views::FileRow {
            preview: file
                .content_type
                .starts_with("image/")
                .then(|| state.files.preview_path(file.id)),
            file,
            owner,
        })
        .collect();
    let swept;
    let done = match q.done.as_deref() {
        Some("deleted") => Some(Ok("The file is deleted.")),
        Some("swept") => {
            swept = format!("Removed {} unused uploads.", q.removed.unwrap_or_default());
            Some(Ok(swept.as_str()))
        }
        _ => None,
    };
    Ok(html(
        StatusCode::OK,
        views::files(&admin, &rows, next, done),
    ))
}

async fn delete_file(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let file = state
        .files
        .delete_as_admin(&admin.session, id)
        .await
        .map_err(failed(&admin))?;
    let detail = format!(
        "deleted {} ({}, {} bytes) of account {}",
        file.original_name.as_deref().unwrap_or("a file"),
        file.content_type,
        file.size_bytes,
        file.owner_id
    );
    done(
        &state,
        &admin,
        "file.delete",
        Some(("file", id.to_string())),
        detail,
        "/admin/files?done=deleted",
    )
    .await
}

async fn sweep_files(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let cutoff = chrono::Utc::now() - state.files.config().orphan_grace;
    let report = state.files.sweep(cutoff).await.map_err(failed(&admin))?;
    let detail = format!(
        "removed {} unused uploads and {} stray stored objects",
        report.rows, report.objects
    );
    done(
        &state,
        &admin,
        "file.sweep",
        None,
        detail,
        &format!("/admin/files?done=swept&removed={}", report.rows),
    )
    .await
}

async fn backups(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<DoneQuery>,
) -> Response {
    let done = match q.done.as_deref() {
        Some("created") => Some(Ok("Backup taken.")),
        _ => None,
    };
    match dashboard(&state).backups.list().await {
        Ok(list) => html(StatusCode::OK, views::backups(&admin, Ok(&list), done)),
        Err(crate::backup::service::BackupError::Unsupported) => {
            let advice = crate::backup::service::POSTGRES_ADVICE;
            html(StatusCode::OK, views::backups(&admin, Err(advice), done))
        }
        Err(err) => backup_failed(&admin, &err),
    }
}

fn backup_failed(admin: &Admin, err: &crate::backup::service::BackupError) -> Response {
    tracing::error!(error = %err, "dashboard: backup failed");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        views::message("Backup failed", Some(admin), &err.to_string()),
    )
}

async fn create_backup(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let backup = match dashboard(&state).backups.create().await {
        Ok(backup) => backup,
        Err(crate::backup::service::BackupError::Unsupported) => {
            return Err(refused(
                Some(&admin),
                StatusCode::BAD_REQUEST,
                crate::backup::service::POSTGRES_ADVICE,
            ));
        }
        Err(err) => return Err(backup_failed(&admin, &err)),
    };
    let detail = format!("took backup {} ({} bytes)", backup.name, backup.size_bytes);
    done(
        &state,
        &admin,
        "backup.create",
        Some(("backup", backup.name)),
        detail,
        "/admin/backups?done=created",
    )
    .await
}

/// A listed backup's file, as an attachment. Only names the list has are
/// served, so no path can reach outside the backup directory.
async fn download_backup(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(name): Path<String>,
) -> Answer {
    let Ok(list) = dashboard(&state).backups.list().await else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no such backup",
        ));
    };
    let Some(backup) = list.into_iter().find(|b| b.name == name) else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no such backup",
        ));
    };
    let Ok(file) = tokio::fs::File::open(&backup.path).await else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no such backup",
        ));
    };
    let detail = format!("downloaded backup {}", backup.name);
    admin
        .audit(
            &state.db,
            "backup.download",
            Some(("backup", backup.name.clone())),
            detail,
        )
        .await
        .map_err(failed(&admin))?;
    let disposition = format!("attachment; filename=\"{}\"", backup.name);
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.sqlite3".to_owned()),
            (header::CONTENT_LENGTH, backup.size_bytes.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}

/// How many of each endpoint's latest deliveries the pane shows.
const DELIVERIES_SHOWN: i32 = 10;

/// Every endpoint with its latest deliveries.
async fn endpoints(state: &AppState) -> Result<Vec<views::Endpoint>, AppError> {
    let page = crate::paging::PageRequest::new(crate::paging::PageArgs {
        first: Some(DELIVERIES_SHOWN),
        after: None,
        last: None,
        before: None,
    })?;
    let mut out = Vec::new();
    for endpoint in crate::webhooks::service::list(&state.db).await? {
        let deliveries = crate::webhooks::service::deliveries(&state.db, endpoint.id, None, &page)
            .await?
            .items;
        out.push(views::Endpoint {
            endpoint,
            deliveries,
        });
    }
    Ok(out)
}

async fn webhooks(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<DoneQuery>,
) -> Answer {
    let done = match q.done.as_deref() {
        Some("redeliver") => Some(Ok(
            "Queued again: it is being sent now, with a fresh set of retries.",
        )),
        _ => None,
    };
    let list = endpoints(&state).await.map_err(failed(&admin))?;
    Ok(html(
        StatusCode::OK,
        views::webhooks(&admin, &list, done, None),
    ))
}

async fn rotate_webhook_secret(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let (endpoint, secret) = crate::webhooks::service::rotate_secret(&state.db, id)
        .await
        .map_err(failed(&admin))?;
    let detail = format!("rotated the signing secret of {}", endpoint.url);
    admin
        .audit(
            &state.db,
            "webhook.rotate_secret",
            Some(("webhook", id.to_string())),
            detail,
        )
        .await
        .map_err(failed(&admin))?;
    // Shown in this answer only: never in a URL, a log or the audit entry.
    let list = endpoints(&state).await.map_err(failed(&admin))?;
    Ok(html(
        StatusCode::OK,
        views::webhooks(&admin, &list, None, Some(&secret)),
    ))
}

async fn redeliver(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let delivery = crate::webhooks::service::redeliver(&state.db, id)
        .await
        .map_err(failed(&admin))?;
    dashboard(&state).webhooks.poke();
    let detail = format!("queued the {} delivery again", delivery.kind);
    done(
        &state,
        &admin,
        "webhook.redeliver",
        Some(("delivery", id.to_string())),
        detail,
        "/admin/webhooks?done=redeliver",
    )
    .await
}

async fn settings(Signed(admin): Signed) -> Response {
    let rows = figures::settings(migration::settings::process_env);
    html(StatusCode::OK, views::settings(&admin, &rows))
}

async fn data_tables(State(state): State<AppState>, Signed(admin): Signed) -> Answer {
    let names = crate::admin::data::tables(&state.db)
        .await
        .map_err(failed(&admin))?;
    Ok(html(StatusCode::OK, views::tables(&admin, &names)))
}

async fn data_table(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(name): Path<String>,
    Query(query): Query<crate::admin::data::Query>,
) -> Answer {
    let table = crate::admin::data::table(&state.db, &name)
        .await
        .map_err(failed(&admin))?;
    let (rows, next) = crate::admin::data::rows(&state.db, &table, &query, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    Ok({
        let view = views::TablePage {
            table: &table,
            query: &query,
            rows: &rows,
            next,
        };
        html(StatusCode::OK, views::table(&admin, &view))
    })
}

async fn audit_log(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(filter): Query<audit::Filter>,
) -> Answer {
    let (rows, next) = audit::list(&state.db, &filter, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    Ok(html(
        StatusCode::OK,
        views::audit(&admin, &filter, &rows, next),
    ))
}

/// The stylesheet and script, from the binary; cached for a day.
async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "admin.css" => (include_str!("admin.css"), "text/css; charset=utf-8"),
        "admin.js" => (include_str!("admin.js"), "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}
