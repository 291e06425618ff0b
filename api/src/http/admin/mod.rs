//! `/admin`: the dashboard's routes. This file holds what every pane
//! shares (the routes, the `Signed` extractor, cookies, CSRF, headers, the
//! answers a handler gives); each pane's handlers have a file of their own
//! (`users`, `content`, `communities`, `reports`, `files`, `backups`, `webhooks`, `records` for the
//! read-only panes, `session` for signing in and setup), which takes these
//! shared parts with `use super::*`. Pages are rendered on the server
//! (`views`); the rules live in `crate::admin`.
//!
//! Security, route by route: every page but sign-in and setup needs a
//! dashboard session (the `Signed` extractor: a session cookie that is
//! HttpOnly, SameSite=Strict, Secure in production); every form that
//! changes something carries the session's CSRF token, and sign-in and
//! setup a double-submit token, and cross-site posts are refused before
//! either is looked at; every response carries a Content-Security-Policy
//! without `unsafe-inline` and `frame-ancestors 'none'`.

mod backups;
mod communities;
mod content;
mod files;
mod records;
mod reports;
mod session;
mod users;
mod views;
mod webhooks;

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
        .route("/admin", get(records::overview))
        .route(
            "/admin/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/admin/sign-out", post(session::sign_out))
        .route("/admin/sign-in/provider", post(session::provider_sign_in))
        .route(
            crate::admin::provider::OAUTH_CALLBACK_PATH,
            get(session::provider_callback),
        )
        .route(
            "/admin/setup",
            get(session::setup_page).post(session::setup),
        )
        .route("/admin/users", get(users::users))
        .route("/admin/users/{id}", get(users::user))
        .route("/admin/users/{id}/{action}", post(users::user_action))
        .route("/admin/content", get(content::content))
        .route(
            "/admin/content/{kind}/{id}/{action}",
            post(content::content_action),
        )
        .route("/admin/reports", get(reports::reports))
        .route("/admin/reports/{id}/resolve", post(reports::resolve))
        .route("/admin/communities/{id}", get(communities::community))
        .route(
            "/admin/communities/{id}/visibility",
            post(communities::set_visibility),
        )
        .route(
            "/admin/communities/{id}/members/{user}/{action}",
            post(communities::member_action),
        )
        .route("/admin/communities/{id}/delete", post(communities::delete))
        .route("/admin/files", get(files::files))
        .route("/admin/files/sweep", post(files::sweep_files))
        .route("/admin/files/{id}/delete", post(files::delete_file))
        .route(
            "/admin/backups",
            get(backups::backups).post(backups::create_backup),
        )
        .route("/admin/backups/{name}", get(backups::download_backup))
        .route("/admin/webhooks", get(webhooks::webhooks))
        .route(
            "/admin/webhooks/{id}/rotate",
            post(webhooks::rotate_webhook_secret),
        )
        .route(
            "/admin/webhooks/deliveries/{id}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/admin/data", get(records::data_tables))
        .route("/admin/data/{table}", get(records::data_table))
        .route("/admin/audit", get(records::audit_log))
        .route("/admin/settings", get(records::settings))
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
    let cookie = format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Strict");
    add_cookie(response, state, cookie, max_age);
}

/// Appends `cookie` with `Secure` in production and its `Max-Age`.
fn add_cookie(response: &mut Response, state: &AppState, mut cookie: String, max_age: Option<u64>) {
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

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
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
