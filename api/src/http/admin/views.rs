//! The dashboard's pages, as HTML built at compile time (maud escapes
//! every value). No inline scripts or styles: the Content-Security-Policy
//! allows only `/admin/assets`.

use chrono::{DateTime, Utc};
use entity::{audit_entry, enums::UserRole, session, user};
use maud::{DOCTYPE, Markup, html};
use uuid::Uuid;

use crate::admin::{
    Admin,
    audit::Filter,
    figures::{ContentRow, Day, Kind, Overview, UserPage},
    traffic::Rates,
};

pub(super) mod communities;
pub(super) mod reports;

/// The panes, in the navigation's order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Pane {
    Overview,
    Users,
    Content,
    Reports,
    Files,
    Backups,
    Webhooks,
    Data,
    Audit,
    Settings,
}

const PANES: [(Pane, &str, &str); 10] = [
    (Pane::Overview, "/admin", "Overview"),
    (Pane::Users, "/admin/users", "Users"),
    (Pane::Content, "/admin/content", "Content"),
    (Pane::Reports, "/admin/reports", "Reports"),
    (Pane::Files, "/admin/files", "Files"),
    (Pane::Backups, "/admin/backups", "Backups"),
    (Pane::Webhooks, "/admin/webhooks", "Webhooks"),
    (Pane::Data, "/admin/data", "Data"),
    (Pane::Audit, "/admin/audit", "Audit log"),
    (Pane::Settings, "/admin/settings", "Settings"),
];

/// The frame around every page.
pub(super) fn page(
    title: &str,
    admin: Option<&Admin>,
    pane: Option<Pane>,
    body: &Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · Hearth admin" }
                link rel="stylesheet" href="/admin/assets/admin.css";
                script src="/admin/assets/admin.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/admin" { "Hearth" span.muted { " admin" } }
                    @if let Some(admin) = admin {
                        nav aria-label="Dashboard" {
                            ul {
                                @for (this, href, label) in PANES {
                                    li {
                                        a href=(href) aria-current=[(pane == Some(this)).then_some("page")] { (label) }
                                    }
                                }
                            }
                        }
                        form.signout method="post" action="/admin/sign-out" {
                            input type="hidden" name="csrf" value=(admin.csrf);
                            span.muted { (admin.user.username) }
                            " "
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A notice above a page's content: `Ok` for done, `Err` for refused.
pub(super) fn notice(message: Option<Result<&str, &str>>) -> Markup {
    html! {
        @match message {
            Some(Ok(text)) => p.notice.ok role="status" { (text) },
            Some(Err(text)) => p.notice.error role="alert" { (text) },
            None => {},
        }
    }
}

pub(super) fn sign_in(
    form_token: &str,
    next: &str,
    login: &str,
    providers: &[String],
    error: Option<&str>,
) -> Markup {
    page(
        "Sign in",
        None,
        None,
        &html! {
            (notice(error.map(Err)))
            form.card method="post" action="/admin/sign-in" {
                input type="hidden" name="form_token" value=(form_token);
                input type="hidden" name="next" value=(next);
                label for="login" { "Email or username" }
                input #login name="login" type="text" autocomplete="username" required autofocus value=(login);
                label for="password" { "Password" }
                input #password name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
            @if !providers.is_empty() {
                form.card.providers method="post" action="/admin/sign-in/provider" {
                    input type="hidden" name="form_token" value=(form_token);
                    @for provider in providers {
                        button type="submit" name="provider" value=(provider) { "Continue with " (provider_label(provider)) }
                    }
                }
            }
            p.muted { "Only admins can sign in here. Make one with " code { "api admin create" } "." }
        },
    )
}

/// A provider's name as its button says it: `google` is "Google".
fn provider_label(name: &str) -> String {
    match name {
        "github" => "GitHub".to_owned(),
        _ => {
            let mut chars = name.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// A page that moves on to `to` by itself: after a provider sign-in (a
/// same-site navigation, which carries the new Strict session cookie), and
/// on the way to a provider (which a form's redirect may not reach under
/// `form-action 'self'`). The link is there for browsers that do not
/// follow a meta refresh.
pub(super) fn moving_on(to: &str, name: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content=(format!("0;url={to}"));
                title { "Hearth admin" }
                link rel="stylesheet" href="/admin/assets/admin.css";
            }
            body { main { p { a href=(to) { "Continue to " (name) } "." } } }
        }
    }
}

pub(super) fn setup(token: &str, form_token: &str, error: Option<&str>) -> Markup {
    page(
        "Create the first admin",
        None,
        None,
        &html! {
            (notice(error.map(Err)))
            p { "No account is an admin yet. This link works once: the account made here becomes the first admin." }
            form.card method="post" action="/admin/setup" {
                input type="hidden" name="token" value=(token);
                input type="hidden" name="form_token" value=(form_token);
                label for="email" { "Email" }
                input #email name="email" type="email" autocomplete="email" required;
                label for="username" { "Username" }
                input #username name="username" type="text" autocomplete="username" required;
                label for="password" { "Password" }
                input #password name="password" type="password" autocomplete="new-password" required minlength="8";
                button type="submit" { "Create admin and sign in" }
            }
        },
    )
}

/// A page that only says something (refusals, errors, unknown rows).
pub(super) fn message(title: &str, admin: Option<&Admin>, text: &str) -> Markup {
    page(
        title,
        admin,
        None,
        &html! { p { (text) } p { a href="/admin" { "Back to the overview" } } },
    )
}

pub(super) struct Running {
    pub(super) version: &'static str,
    pub(super) uptime_secs: u64,
    /// `None`: metrics are off.
    pub(super) rates: Option<Rates>,
}

/// Request rate and error shares, or why there are none.
fn traffic(rates: Option<&Rates>) -> Markup {
    let percent = |share: Option<f64>| {
        share.map_or_else(
            || "no requests".to_owned(),
            |s| format!("{:.1}%", s * 100.0),
        )
    };
    html! {
        h2 { "Traffic" }
        @match rates {
            None => p.muted { "Request and error rates come from the metrics, which are off: set METRICS_ENABLED=true." },
            Some(r) => {
                dl.figures {
                    div { dt { "Requests per second" } dd { (format!("{:.2}", r.requests_per_sec)) } }
                    div { dt { "Answered 5xx" } dd { (percent(r.server_error_share)) } }
                    div { dt { "GraphQL operations with an error" } dd { (percent(r.operation_error_share)) } }
                }
                p.muted {
                    @if r.since_start { "Since start-up (" (duration(r.over.as_secs())) "); reload for the rate of the last minutes." }
                    @else { "Over the last " (duration(r.over.as_secs())) "." }
                }
            }
        }
    }
}

pub(super) fn overview(admin: &Admin, o: &Overview, running: &Running) -> Markup {
    let figures: [(&str, String); 10] = [
        ("Accounts", o.accounts.to_string()),
        ("Admins", o.admins.to_string()),
        ("Banned", o.banned.to_string()),
        ("Active sessions", o.active_sessions.to_string()),
        ("Posts", o.posts.to_string()),
        ("Comments", o.comments.to_string()),
        ("Messages", o.messages.to_string()),
        ("Files", format!("{} ({})", o.files, bytes(o.file_bytes))),
        (
            "Database",
            o.database_bytes.map_or_else(|| "unknown".to_owned(), bytes),
        ),
        ("Backend", o.backend.to_owned()),
    ];
    page(
        "Overview",
        Some(admin),
        Some(Pane::Overview),
        &html! {
            dl.figures {
                @for (label, value) in &figures {
                    div { dt { (label) } dd { (value) } }
                }
            }
            p.muted { "Hearth " (running.version) ", up " (duration(running.uptime_secs)) "." }
            (traffic(running.rates.as_ref()))
            h2 #signups { "Sign-ups per day" }
            (bar_chart(&o.days, "signups"))
            h2 { "New content per day" }
            div.scroll tabindex="0" role="region" aria-label="New content per day" {
                table {
                    thead { tr { th scope="col" { "Day (UTC)" } th scope="col" { "Sign-ups" } th scope="col" { "Posts" } th scope="col" { "Comments" } th scope="col" { "Messages" } } }
                    tbody {
                        @for day in o.days.iter().rev() {
                            tr {
                                th scope="row" { (day.date.map(|d| d.to_string()).unwrap_or_default()) }
                                td { (day.sign_ups) } td { (day.posts) } td { (day.comments) } td { (day.messages) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Sign-ups per day as SVG bars, labelled for screen readers by the
/// heading `labelled_by` and each bar's title.
fn bar_chart(days: &[Day], labelled_by: &str) -> Markup {
    const WIDTH: usize = 700;
    const HEIGHT: i64 = 160;
    let most = days.iter().map(|d| d.sign_ups).max().unwrap_or(0).max(1);
    let slot = WIDTH / days.len().max(1);
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {}", HEIGHT + 24)) role="img" aria-labelledby=(labelled_by) preserveAspectRatio="none" {
            @for (i, day) in days.iter().enumerate() {
                @let height = (day.sign_ups * HEIGHT / most).max(if day.sign_ups > 0 { 2 } else { 0 });
                @let date = day.date.map(|d| d.format("%b %-d").to_string()).unwrap_or_default();
                g {
                    title { (date) ": " (day.sign_ups) }
                    rect.bar x=(i * slot + 4) y=(HEIGHT - height) width=(slot - 8) height=(height) {}
                    text.label x=(i * slot + slot / 2) y=(HEIGHT + 16) text-anchor="middle" { (date) }
                }
            }
            line.axis x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) {}
        }
    }
}

pub(super) fn users(
    admin: &Admin,
    query: &str,
    rows: &[user::Model],
    next: Option<Uuid>,
    done: Option<Result<&str, &str>>,
) -> Markup {
    page(
        "Users",
        Some(admin),
        Some(Pane::Users),
        &html! {
            (notice(done))
            form.search method="get" action="/admin/users" role="search" {
                label for="q" { "Email, username or id" }
                input #q name="q" type="search" value=(query);
                button type="submit" { "Search" }
            }
            @if rows.is_empty() {
                p { "No account matches." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Accounts" {
                    table {
                        thead { tr { th scope="col" { "Username" } th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Status" } th scope="col" { "Joined" } } }
                        tbody {
                            @for user in rows {
                                tr {
                                    td { a href=(format!("/admin/users/{}", user.id)) { (user.username) } }
                                    td { (user.email) }
                                    td { (role(user.role)) }
                                    td { (status(user)) }
                                    td { (when(user.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a rel="next" href=(format!("/admin/users?q={}&after={next}", url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>())) { "Next page" } }
            }
        },
    )
}

pub(super) fn user(
    admin: &Admin,
    page_data: &UserPage,
    sessions: &[session::Model],
    done: Option<Result<&str, &str>>,
) -> Markup {
    let u = &page_data.user;
    let base = format!("/admin/users/{}", u.id);
    let action = |name: &str, label: &str, confirm: Option<&str>| {
        html! {
            form.inline method="post" action=(format!("{base}/{name}")) data-confirm=[confirm] {
                input type="hidden" name="csrf" value=(admin.csrf);
                button type="submit" { (label) }
            }
        }
    };
    page(
        &format!("User {}", u.username),
        Some(admin),
        Some(Pane::Users),
        &html! {
            (notice(done))
            dl.fields {
                div { dt { "Id" } dd { code { (u.id) } } }
                div { dt { "Email" } dd { (u.email) " " span.muted { @if u.email_verified_at.is_some() { "(verified)" } @else { "(not verified)" } } } }
                div { dt { "Display name" } dd { (u.display_name) } }
                div { dt { "Role" } dd { (role(u.role)) } }
                div { dt { "Status" } dd { (status(u)) } }
                div { dt { "Password" } dd { @if u.password_hash.is_empty() { "none (signs in with a provider or an email code)" } @else { "set" } } }
                div { dt { "Joined" } dd { (when(u.created_at)) } }
                div { dt { "Bio" } dd { (u.bio) } }
            }
            h2 { "Actions" }
            div.actions {
                @if u.email_verified_at.is_none() { (action("verify-email", "Mark email verified", None)) }
                (action("send-reset", "Send password reset", None))
                (action("sign-out-everywhere", "Sign out everywhere", Some("End every session of this account?")))
                @if u.disabled_at.is_some() {
                    (action("unban", "Unban", None))
                } @else if u.id != admin.user.id {
                    (action("ban", "Ban", Some("Ban this account? Its sessions end at once and its content is hidden.")))
                }
                @if u.role == UserRole::Admin {
                    @if u.id != admin.user.id { (action("demote", "Demote to user", Some("Take admin rights away from this account?"))) }
                } @else {
                    (action("promote", "Make admin", Some("Give this account admin rights?")))
                }
            }
            h2 { "Sessions" }
            @if sessions.is_empty() {
                p { "No live sessions." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Sessions" {
                    table {
                        thead { tr { th scope="col" { "Device" } th scope="col" { "Signed in" } th scope="col" { "Last used" } th scope="col" { span.sr { "Actions" } } } }
                        tbody {
                            @for s in sessions {
                                tr {
                                    td { (s.device_name) }
                                    td { (when(s.created_at)) }
                                    td { (when(s.last_used_at)) }
                                    td {
                                        form.inline method="post" action=(format!("{base}/revoke-session")) {
                                            input type="hidden" name="csrf" value=(admin.csrf);
                                            input type="hidden" name="session" value=(s.id);
                                            button type="submit" aria-label=(format!("Revoke the session on {}", s.device_name)) { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Sign-in identities" }
            @if page_data.identities.is_empty() { p { "None." } } @else {
                ul { @for i in &page_data.identities { li { (i.provider) ": " (i.email.as_deref().unwrap_or("no email")) " · last used " (when(i.last_used_at)) } } }
            }
            h2 { "Files (" (page_data.file_count) ")" }
            @if page_data.files.is_empty() { p { "None." } } @else {
                ul { @for f in &page_data.files { li { code { (f.id) } " " (f.content_type) ", " (bytes(f.size_bytes)) " · " (when(f.created_at)) } } }
            }
            h2 { "Recent posts" }
            @if page_data.posts.is_empty() { p { "None." } } @else {
                ul.recent { @for p in &page_data.posts { li { (when(p.created_at)) ": " (excerpt(&p.body)) } } }
            }
            h2 { "Recent comments" }
            @if page_data.comments.is_empty() { p { "None." } } @else {
                ul.recent { @for c in &page_data.comments { li { (when(c.created_at)) ": " (excerpt(&c.body)) } } }
            }
            h2 { "Admin actions on this account" }
            (audit_table(&page_data.audit))
            @if u.id != admin.user.id {
                (delete_form(admin, &Deletion {
                    what: "account",
                    action: format!("{base}/delete"),
                    effect: "Deletes the account, its sessions, posts, comments, reactions, messages and files.",
                    key: "username",
                    value: &u.username,
                }))
            }
        },
    )
}

pub(super) struct ContentList<'a> {
    pub(super) kind: Kind,
    pub(super) query: &'a str,
    pub(super) rows: &'a [ContentRow],
    pub(super) next: Option<Uuid>,
    pub(super) done: Option<Result<&'a str, &'a str>>,
}

pub(super) fn content(admin: &Admin, list: &ContentList<'_>) -> Markup {
    let kind = list.kind.name();
    let encoded =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let q = encoded(list.query);
    page(
        "Content",
        Some(admin),
        Some(Pane::Content),
        &html! {
            (notice(list.done))
            (content_tabs(kind, &q))
            form.search method="get" action="/admin/content" role="search" {
                input type="hidden" name="kind" value=(kind);
                label for="q" { "Text contains" }
                input #q name="q" type="search" value=(list.query);
                button type="submit" { "Search" }
            }
            @if list.rows.is_empty() {
                p { "Nothing matches." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label=(format!("The {kind}")) {
                    table {
                        thead { tr { th scope="col" { "Written" } th scope="col" { "Author" } th scope="col" { "Text" } th scope="col" { "Status" } th scope="col" { span.sr { "Actions" } } } }
                        tbody {
                            @for row in list.rows {
                                @let (action, label) = if row.removed_at.is_some() { ("restore", "Restore") } else { ("remove", "Remove") };
                                tr {
                                    td { (when(row.created_at)) }
                                    td { a href=(format!("/admin/users/{}", row.author_id)) { (row.author) } }
                                    td.text { (excerpt(&row.body)) }
                                    td { @if row.removed_at.is_some() { span.badge.danger { "removed" } } @else { "shown" } }
                                    td {
                                        form.inline method="post" action=(format!("/admin/content/{kind}/{}/{action}", row.id)) {
                                            input type="hidden" name="csrf" value=(admin.csrf);
                                            input type="hidden" name="q" value=(list.query);
                                            button type="submit" aria-label=(format!("{label} the {} by {} written {}", &kind[..kind.len() - 1], row.author, row.created_at.format("%Y-%m-%d %H:%M"))) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = list.next {
                p { a rel="next" href=(format!("/admin/content?kind={kind}&q={q}&after={next}")) { "Older" } }
            }
        },
    )
}

/// What a delete form deletes.
struct Deletion<'a> {
    /// "account", "community".
    what: &'a str,
    action: String,
    effect: &'a str,
    /// The field typed again to confirm, and its value.
    key: &'a str,
    value: &'a str,
}

/// A form that deletes for good: the name typed again confirms it (the
/// server checks it; the script's question is only a second chance).
fn delete_form(admin: &Admin, d: &Deletion<'_>) -> Markup {
    let field = format!("confirm-{}", d.key);
    html! {
        h2 #delete { "Delete the " (d.what) }
        form.danger method="post" action=(d.action) data-confirm=(format!("Delete this {}? This cannot be undone.", d.what)) {
            input type="hidden" name="csrf" value=(admin.csrf);
            p { (d.effect) " This cannot be undone." }
            label for=(field) { "Type the " (d.key) ", " strong { (d.value) } ", to confirm" }
            input id=(field) type="text" name="confirm" autocomplete="off" required;
            button type="submit" { "Delete " (d.what) }
        }
    }
}

/// The content pane's tabs; `q` is already URL-encoded.
fn content_tabs(current: &str, q: &str) -> Markup {
    html! {
        nav.tabs aria-label="Kind of content" {
            @for (name, label) in [("posts", "Posts"), ("comments", "Comments"), ("communities", "Communities")] {
                a href=(format!("/admin/content?kind={name}&q={q}")) aria-current=[(name == current).then_some("page")] { (label) }
            }
        }
    }
}

/// One listed upload and, for images, where its preview loads from.
pub(super) struct FileRow {
    pub(super) file: entity::file::Model,
    pub(super) owner: String,
    pub(super) preview: Option<String>,
}

pub(super) fn files(
    admin: &Admin,
    rows: &[FileRow],
    next: Option<Uuid>,
    done: Option<Result<&str, &str>>,
) -> Markup {
    page(
        "Files",
        Some(admin),
        Some(Pane::Files),
        &html! {
            (notice(done))
            form method="post" action="/admin/files/sweep" {
                input type="hidden" name="csrf" value=(admin.csrf);
                button type="submit" { "Remove unused uploads now" }
            }
            p.muted { "Uploads never attached to a post or profile are removed after the grace period (UPLOAD_ORPHAN_GRACE_SECS); this runs the hourly sweep now." }
            @if rows.is_empty() {
                p { "No files." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Files" {
                    table {
                        thead { tr { th scope="col" { "Preview" } th scope="col" { "Name" } th scope="col" { "Owner" } th scope="col" { "Type" } th scope="col" { "Size" } th scope="col" { "Uploaded" } th scope="col" { span.sr { "Actions" } } } }
                        tbody {
                            @for row in rows {
                                @let f = &row.file;
                                @let name = f.original_name.clone().unwrap_or_else(|| f.id.to_string());
                                tr {
                                    td { @if let Some(src) = &row.preview { img.thumb src=(src) alt=(format!("Preview of {name}")) width="64" height="64" loading="lazy"; } }
                                    td.text { (name) }
                                    td { a href=(format!("/admin/users/{}", f.owner_id)) { (row.owner) } }
                                    td { (f.content_type) @if let (Some(w), Some(h)) = (f.width, f.height) { " " span.muted { (w) "×" (h) } } }
                                    td { (bytes(f.size_bytes)) }
                                    td { (when(f.created_at)) }
                                    td {
                                        form.inline method="post" action=(format!("/admin/files/{}/delete", f.id)) data-confirm="Delete this file? Posts lose it as an attachment and profiles as an avatar." {
                                            input type="hidden" name="csrf" value=(admin.csrf);
                                            button type="submit" aria-label=(format!("Delete {name}")) { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a rel="next" href=(format!("/admin/files?after={next}")) { "Older" } }
            }
        },
    )
}

/// One endpoint and its latest deliveries.
pub(super) struct Endpoint {
    pub(super) endpoint: entity::webhook_endpoint::Model,
    pub(super) deliveries: Vec<entity::webhook_delivery::Model>,
}

pub(super) fn webhooks(
    admin: &Admin,
    endpoints: &[Endpoint],
    done: Option<Result<&str, &str>>,
    new_secret: Option<&str>,
) -> Markup {
    page(
        "Webhooks",
        Some(admin),
        Some(Pane::Webhooks),
        &html! {
            (notice(done))
            @if let Some(secret) = new_secret {
                div.card role="status" {
                    p { "The new signing secret, shown this once: give it to the receiver now. Deliveries from now on are signed with it." }
                    pre tabindex="0" { code { (secret) } }
                }
            }
            @if endpoints.is_empty() {
                p { "No webhooks. Register one with the " code { "createWebhook" } " mutation (see the webhooks page of the manual)." }
            }
            @for e in endpoints {
                @let ep = &e.endpoint;
                section.endpoint aria-labelledby=(format!("wh-{}", ep.id)) {
                    h2 #(format!("wh-{}", ep.id)) { (ep.url) }
                    p.muted {
                        @if ep.enabled { "enabled" } @else { "disabled" }
                        " · events: " (ep.kinds.as_array().map(|k| k.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default())
                        @if !ep.description.is_empty() { " · " (ep.description) }
                        " · since " (when(ep.created_at))
                    }
                    form.inline method="post" action=(format!("/admin/webhooks/{}/rotate", ep.id)) data-confirm="Rotate this webhook's secret? Its receiver must switch to the new one." {
                        input type="hidden" name="csrf" value=(admin.csrf);
                        button type="submit" aria-label=(format!("Rotate the secret of {}", ep.url)) { "Rotate secret" }
                    }
                    @if e.deliveries.is_empty() {
                        p { "No deliveries yet." }
                    } @else {
                        div.scroll tabindex="0" role="region" aria-label=(format!("Deliveries to {}", ep.url)) {
                            table {
                                thead { tr { th scope="col" { "Queued" } th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Last answer" } th scope="col" { "Latency" } th scope="col" { span.sr { "Actions" } } } }
                                tbody {
                                    @for d in &e.deliveries {
                                        tr {
                                            td { (when(d.created_at)) }
                                            td { code { (d.kind) } }
                                            td { (d.status) }
                                            td { (d.attempts) }
                                            td {
                                                @if let Some(code) = d.last_status_code { (code) }
                                                @if let Some(error) = &d.last_error { " " span.muted { (excerpt(error)) } }
                                            }
                                            td { @if let Some(ms) = d.last_latency_ms { (ms) " ms" } }
                                            td {
                                                form.inline method="post" action=(format!("/admin/webhooks/deliveries/{}/redeliver", d.id)) {
                                                    input type="hidden" name="csrf" value=(admin.csrf);
                                                    button type="submit" aria-label=(format!("Redeliver the {} event queued {}", d.kind, d.created_at.format("%Y-%m-%d %H:%M:%S"))) { "Redeliver" }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub(super) fn settings(admin: &Admin, rows: &[crate::admin::figures::Setting]) -> Markup {
    page(
        "Settings",
        Some(admin),
        Some(Pane::Settings),
        &html! {
            p { "What this server reads from its environment (and " code { ".env" } "), with secrets hidden. Change a setting by changing the variable and restarting; the configuration page of the manual has the same table." }
            div.scroll tabindex="0" role="region" aria-label="Settings" {
                table {
                    thead { tr { th scope="col" { "Variable" } th scope="col" { "Set to" } th scope="col" { "Default" } th scope="col" { "What it does" } } }
                    tbody {
                        @for row in rows {
                            tr {
                                th scope="row" { code { (row.name) } }
                                td { @match &row.value { Some(v) => code { (v) }, None => span.muted { "default" } } }
                                td { (row.default) }
                                td.text { (row.meaning) }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub(super) fn tables(admin: &Admin, names: &[String]) -> Markup {
    page(
        "Data",
        Some(admin),
        Some(Pane::Data),
        &html! {
            p { "Every table, read-only. Columns holding secrets (password and token hashes, signing secrets) show only " code { "(hidden)" } "." }
            ul.tables { @for name in names { li { a href=(format!("/admin/data/{name}")) { code { (name) } } } } }
        },
    )
}

pub(super) struct TablePage<'a> {
    pub(super) table: &'a crate::admin::data::Table,
    pub(super) query: &'a crate::admin::data::Query,
    pub(super) rows: &'a crate::admin::data::Rows,
    pub(super) next: Option<String>,
}

pub(super) fn table(admin: &Admin, view: &TablePage<'_>) -> Markup {
    let t = view.table;
    // The key's first column links to the rows that share its value (the
    // row alone, for a key of one column).
    let key = t.key.first().map_or("", String::as_str);
    let key_index = t.columns.iter().position(|c| c.name == key).unwrap_or(0);
    let encoded =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    page(
        &format!("Table {}", t.name),
        Some(admin),
        Some(Pane::Data),
        &html! {
            p { a href="/admin/data" { "All tables" } }
            form.search method="get" action=(format!("/admin/data/{}", t.name)) {
                label for="column" { "Column" }
                select #column name="column" {
                    option value="" { "(no filter)" }
                    @for c in t.columns.iter().filter(|c| !c.hidden) {
                        option value=(c.name) selected[c.name == view.query.column] { (c.name) }
                    }
                }
                label for="value" { "is exactly" }
                input #value name="value" type="text" value=(view.query.value);
                button type="submit" { "Filter" }
            }
            @if view.rows.is_empty() {
                p { "No rows." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label=(format!("Rows of {}", t.name)) {
                    table.data {
                        thead { tr { @for c in &t.columns { th scope="col" { (c.name) } } } }
                        tbody {
                            @for row in view.rows {
                                tr {
                                    @for (i, value) in row.iter().enumerate() {
                                        td {
                                            @match (i == key_index, value) {
                                                (_, None) => span.muted { "null" },
                                                (true, Some(v)) => a href=(format!("/admin/data/{}?column={}&value={}", t.name, encoded(key), encoded(v))) { (v) },
                                                (false, Some(v)) => (excerpt(v)),
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if view.rows.len() == 1 {
                    h2 { "The row" }
                    dl.fields {
                        @for (c, value) in t.columns.iter().zip(&view.rows[0]) {
                            div { dt { (c.name) } dd { @match value { Some(v) => (v), None => span.muted { "null" } } } }
                        }
                    }
                }
            }
            @if let Some(next) = &view.next {
                p { a rel="next" href=(format!("/admin/data/{}?column={}&value={}&after={}", t.name, encoded(&view.query.column), encoded(&view.query.value), encoded(next))) { "Next page" } }
            }
        },
    )
}

/// The backups pane: SQLite's snapshots (`Ok`), or on PostgreSQL what to
/// use instead (`Err`).
pub(super) fn backups(
    admin: &Admin,
    list: Result<&[crate::backup::service::Backup], &str>,
    done: Option<Result<&str, &str>>,
) -> Markup {
    page(
        "Backups",
        Some(admin),
        Some(Pane::Backups),
        &html! {
            (notice(done))
            @match list {
                Err(advice) => {
                    p { (advice) }
                    pre tabindex="0" { code { "pg_dump -Fc -d \"$DATABASE_URL\" -f hearth.dump                      # a consistent dump, while the API runs\npg_restore --clean --if-exists --no-owner -d \"$DATABASE_URL\" hearth.dump   # API stopped" } }
                }
                Ok(list) => {
                    form method="post" action="/admin/backups" {
                        input type="hidden" name="csrf" value=(admin.csrf);
                        button type="submit" { "Create a backup now" }
                    }
                    p.muted { "An online snapshot of the SQLite database: the API keeps serving while it is taken." }
                    @if list.is_empty() {
                        p { "No backups yet." }
                    } @else {
                        div.scroll tabindex="0" role="region" aria-label="Backups" {
                            table {
                                thead { tr { th scope="col" { "File" } th scope="col" { "Taken" } th scope="col" { "Size" } th scope="col" { "Off-site copy" } } }
                                tbody {
                                    @for backup in list {
                                        tr {
                                            td { a href=(format!("/admin/backups/{}", backup.name)) download { (backup.name) } }
                                            td { (when(backup.created_at)) }
                                            td { (bytes(i64::try_from(backup.size_bytes).unwrap_or(i64::MAX))) }
                                            td { (backup.object_key.as_deref().unwrap_or("none")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    h2 { "Restoring one" }
                    p { "Stop the API, then restore the file (it is checked first, and the current database is kept beside it):" }
                    pre tabindex="0" { code { "cargo run -p api -- restore data/backups/<file>" } }
                    p { "Then start the API again. The backups page of the manual (docs/backups.md) has the container and by-hand steps." }
                }
            }
        },
    )
}

pub(super) fn audit(
    admin: &Admin,
    filter: &Filter,
    rows: &[audit_entry::Model],
    next: Option<Uuid>,
) -> Markup {
    let next_href = next.map(|next| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("action", &filter.action)
            .append_pair("actor", &filter.actor)
            .append_pair("target", &filter.target)
            .append_pair("after", &next.to_string())
            .finish();
        format!("/admin/audit?{query}")
    });
    page(
        "Audit log",
        Some(admin),
        Some(Pane::Audit),
        &html! {
            form.search method="get" action="/admin/audit" {
                label for="action" { "Action" }
                input #action name="action" type="text" value=(filter.action) placeholder="user.ban";
                label for="actor" { "Admin" }
                input #actor name="actor" type="text" value=(filter.actor) placeholder="username";
                label for="target" { "Target id" }
                input #target name="target" type="text" value=(filter.target);
                button type="submit" { "Filter" }
            }
            (audit_table(rows))
            @if let Some(href) = next_href { p { a rel="next" href=(href) { "Older entries" } } }
        },
    )
}

fn audit_table(rows: &[audit_entry::Model]) -> Markup {
    html! {
        @if rows.is_empty() {
            p { "No entries." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Audit entries" {
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Admin" } th scope="col" { "Action" } th scope="col" { "Target" } th scope="col" { "What" } th scope="col" { "From" } } }
                    tbody {
                        @for e in rows {
                            tr {
                                td { (when(e.created_at)) }
                                td { (e.actor_name) }
                                td { code { (e.action) } }
                                td {
                                    @match (e.target_type.as_deref(), e.target_id.as_deref()) {
                                        (Some("user"), Some(id)) => a href=(format!("/admin/users/{id}")) { "user " (short(id)) },
                                        (Some(kind), Some(id)) => { (kind) " " (short(id)) },
                                        _ => {},
                                    }
                                }
                                td { (e.detail) }
                                td { (e.ip.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn role(role: UserRole) -> &'static str {
    match role {
        UserRole::Admin => "admin",
        UserRole::User => "user",
    }
}

fn status(user: &user::Model) -> Markup {
    html! {
        @if user.disabled_at.is_some() { span.badge.danger { "banned" } } @else { "active" }
    }
}

fn when(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M")) } }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn excerpt(body: &str) -> String {
    let mut text: String = body.chars().take(120).collect();
    if body.chars().count() > 120 {
        text.push('…');
    }
    text
}

fn bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}
