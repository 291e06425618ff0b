//! The content pane's communities: the list, and one community's page with
//! its visibility, members and roles.

use entity::enums::{CommunityVisibility, MembershipRole};
use maud::{Markup, html};
use uuid::Uuid;

use super::{Deletion, Pane, content_tabs, delete_form, notice, page, when};
use crate::admin::{
    Admin,
    communities::{CommunityPage, CommunityRow},
};

fn visibility(v: CommunityVisibility) -> &'static str {
    match v {
        CommunityVisibility::Public => "public",
        CommunityVisibility::Private => "private",
    }
}

fn role(r: MembershipRole) -> &'static str {
    match r {
        MembershipRole::Owner => "owner",
        MembershipRole::Moderator => "moderator",
        MembershipRole::Member => "member",
    }
}

pub(in super::super) fn list(
    admin: &Admin,
    query: &str,
    rows: &[CommunityRow],
    next: Option<Uuid>,
    done: Option<Result<&str, &str>>,
) -> Markup {
    let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    page(
        "Content",
        Some(admin),
        Some(Pane::Content),
        &html! {
            (notice(done))
            (content_tabs("communities", &q))
            form.search method="get" action="/admin/content" role="search" {
                input type="hidden" name="kind" value="communities";
                label for="q" { "Name or slug contains" }
                input #q name="q" type="search" value=(query);
                button type="submit" { "Search" }
            }
            @if rows.is_empty() {
                p { "Nothing matches." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="The communities" {
                    table {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Slug" } th scope="col" { "Visibility" } th scope="col" { "Members" } th scope="col" { "Created" } } }
                        tbody {
                            @for row in rows {
                                @let c = &row.community;
                                tr {
                                    td { a href=(format!("/admin/communities/{}", c.id)) { (c.name) } }
                                    td { code { (c.slug) } }
                                    td { (visibility(c.visibility)) }
                                    td { (row.members) }
                                    td { (when(c.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a rel="next" href=(format!("/admin/content?kind=communities&q={q}&after={next}")) { "Older" } }
            }
        },
    )
}

pub(in super::super) fn community(
    admin: &Admin,
    data: &CommunityPage,
    done: Option<Result<&str, &str>>,
) -> Markup {
    let c = &data.community;
    let base = format!("/admin/communities/{}", c.id);
    let member_action = |user: Uuid, action: &str, label: &str, name: &str| {
        html! {
            form.inline method="post" action=(format!("{base}/members/{user}/{action}")) {
                input type="hidden" name="csrf" value=(admin.csrf);
                button type="submit" aria-label=(format!("{label}: {name}")) { (label) }
            }
        }
    };
    page(
        &format!("Community {}", c.name),
        Some(admin),
        Some(Pane::Content),
        &html! {
            (notice(done))
            dl.fields {
                div { dt { "Id" } dd { code { (c.id) } } }
                div { dt { "Slug" } dd { code { (c.slug) } } }
                div { dt { "Description" } dd { (c.description) } }
                div { dt { "Visibility" } dd { (visibility(c.visibility)) } }
                div { dt { "Created by" } dd {
                    @match &data.creator {
                        Some(u) => a href=(format!("/admin/users/{}", u.id)) { (u.username) },
                        None => span.muted { "an account since deleted" },
                    }
                } }
                div { dt { "Created" } dd { (when(c.created_at)) } }
                div { dt { "Members" } dd { (data.member_count) } }
                div { dt { "Posts" } dd { (data.post_count) } }
            }
            h2 { "Visibility" }
            form.search method="post" action=(format!("{base}/visibility")) {
                input type="hidden" name="csrf" value=(admin.csrf);
                label for="visibility" { "Who can see it" }
                select #visibility name="visibility" {
                    @for v in [CommunityVisibility::Public, CommunityVisibility::Private] {
                        option value=(visibility(v)) selected[v == c.visibility] { (visibility(v)) }
                    }
                }
                button type="submit" { "Save" }
            }
            h2 { "Members" }
            @if data.members.is_empty() {
                p { "No members." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Members" {
                    table {
                        thead { tr { th scope="col" { "Username" } th scope="col" { "Role" } th scope="col" { "Joined" } th scope="col" { span.sr { "Actions" } } } }
                        tbody {
                            @for m in &data.members {
                                @let user = m.membership.user_id;
                                tr {
                                    td { a href=(format!("/admin/users/{user}")) { (m.username) } }
                                    td { (role(m.membership.role)) }
                                    td { (when(m.membership.created_at)) }
                                    td {
                                        div.actions {
                                            @match m.membership.role {
                                                MembershipRole::Owner => span.muted { "the owner" },
                                                MembershipRole::Moderator => {
                                                    (member_action(user, "member", "Make member", &m.username))
                                                    (member_action(user, "remove", "Remove", &m.username))
                                                }
                                                MembershipRole::Member => {
                                                    (member_action(user, "moderator", "Make moderator", &m.username))
                                                    (member_action(user, "remove", "Remove", &m.username))
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
            @if let Some(next) = data.next {
                p { a rel="next" href=(format!("{base}?after={next}")) { "More members" } }
            }
            (delete_form(admin, &Deletion {
                what: "community",
                action: format!("{base}/delete"),
                effect: "Deletes the community, its memberships, and every post in it with their comments.",
                key: "slug",
                value: &c.slug,
            }))
        },
    )
}
