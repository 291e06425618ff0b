//! The reports pane: the open queue (oldest first) with a form per report,
//! and the resolved ones with who did what.

use entity::enums::{ReportAction, ReportReason, ReportTarget};
use maud::{Markup, html};
use uuid::Uuid;

use super::{Pane, excerpt, notice, page, when};
use crate::admin::{Admin, reports::ReportRow};

/// Each action: its value, its form name and what the dashboard calls it.
pub(in super::super) const ACTIONS: [(ReportAction, &str, &str); 4] = [
    (ReportAction::Dismissed, "dismiss", "Dismiss"),
    (ReportAction::ContentRemoved, "remove", "Remove the content"),
    (
        ReportAction::CommunityBan,
        "community-ban",
        "Ban from the community",
    ),
    (ReportAction::AccountBan, "account-ban", "Ban the account"),
];

fn reason(r: ReportReason) -> &'static str {
    match r {
        ReportReason::Spam => "spam",
        ReportReason::Harassment => "harassment",
        ReportReason::Hate => "hate",
        ReportReason::Violence => "violence",
        ReportReason::Sexual => "sexual content",
        ReportReason::SelfHarm => "self-harm",
        ReportReason::Illegal => "illegal",
        ReportReason::Other => "other",
    }
}

fn target(t: ReportTarget) -> &'static str {
    match t {
        ReportTarget::Post => "post",
        ReportTarget::Comment => "comment",
        ReportTarget::Message => "message",
        ReportTarget::User => "user",
        ReportTarget::Community => "community",
    }
}

pub(in super::super) fn queue(
    admin: &Admin,
    resolved: bool,
    rows: &[ReportRow],
    next: Option<Uuid>,
    done: Option<Result<&str, &str>>,
) -> Markup {
    let tab = |on: bool, href: &str, label: &str| {
        html! { a href=(href) aria-current=[on.then_some("page")] { (label) } }
    };
    page(
        "Reports",
        Some(admin),
        Some(Pane::Reports),
        &html! {
            (notice(done))
            nav.tabs aria-label="Which reports" {
                (tab(!resolved, "/admin/reports", "Open"))
                (tab(resolved, "/admin/reports?resolved=1", "Resolved"))
            }
            @if rows.is_empty() {
                p { @if resolved { "Nothing resolved yet." } @else { "No open reports." } }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="The reports" {
                    table {
                        thead { tr {
                            th scope="col" { "Filed" } th scope="col" { "What" } th scope="col" { "Reported" }
                            th scope="col" { "Whose" } th scope="col" { "Reason" } th scope="col" { "By" }
                            th scope="col" { @if resolved { "Outcome" } @else { span.sr { "Actions" } } }
                        } }
                        tbody {
                            @for row in rows {
                                @let r = &row.report;
                                tr {
                                    td { (when(r.created_at)) }
                                    td { (target(r.target_type)) }
                                    td.text {
                                        @match &row.reported {
                                            Some(text) => (excerpt(text)),
                                            None => span.muted { "deleted" },
                                        }
                                    }
                                    td {
                                        @match (&row.subject, r.subject_id) {
                                            (Some(name), Some(id)) => a href=(format!("/admin/users/{id}")) { (name) },
                                            _ => span.muted { "none" },
                                        }
                                    }
                                    td { (reason(r.reason)) @if !r.note.is_empty() { br; span.muted { (excerpt(&r.note)) } } }
                                    td { a href=(format!("/admin/users/{}", r.reporter_id)) { (row.reporter) } }
                                    td {
                                        @if resolved {
                                            @let action = ACTIONS.iter().find(|(a, _, _)| Some(*a) == r.action).map_or("", |(_, _, label)| *label);
                                            (action)
                                            @if let Some(by) = &row.resolved_by { br; span.muted { "by " (by) } }
                                            @if let Some(note) = r.resolution_note.as_deref().filter(|n| !n.is_empty()) { br; span.muted { (excerpt(note)) } }
                                        } @else {
                                            (resolve_form(admin, r.id))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                @let which = if resolved { "resolved=1&" } else { "" };
                p { a rel="next" href=(format!("/admin/reports?{which}after={next}")) { "More" } }
            }
        },
    )
}

/// One report's form: an action, a note for the reporters, and a button.
fn resolve_form(admin: &Admin, id: Uuid) -> Markup {
    let field = |name: &str| format!("{name}-{id}");
    html! {
        form.resolve method="post" action=(format!("/admin/reports/{id}/resolve")) {
            input type="hidden" name="csrf" value=(admin.csrf);
            label for=(field("action")) { "Action" }
            select id=(field("action")) name="action" {
                @for (_, name, label) in ACTIONS { option value=(name) { (label) } }
            }
            label for=(field("note")) { "Note to the reporters" }
            input id=(field("note")) name="note" type="text" maxlength="1000";
            button type="submit" { "Resolve" }
        }
    }
}
