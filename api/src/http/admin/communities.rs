//! The content pane's communities: a community's page, its visibility,
//! its members' roles, and deleting it. The same services as the API's
//! community mutations, where an instance admin acts as the owner.

use entity::enums::{CommunityVisibility, MembershipRole};

use super::*;
use crate::communities::service::{self as communities, CommunityChanges};

#[derive(Deserialize)]
pub(super) struct CommunityQuery {
    after: Option<Uuid>,
    done: Option<String>,
}

/// What a finished action says on the page it returns to.
fn done_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "visibility" => "Visibility saved.",
        "moderator" => "The member is now a moderator.",
        "member" => "The moderator is a member again.",
        "remove" => "The member is removed from the community.",
        _ => return None,
    })
}

/// The community `id`, or the page saying there is none.
async fn existing(
    state: &AppState,
    admin: &Admin,
    id: Uuid,
) -> Result<entity::community::Model, Response> {
    match communities::find(&state.db, id).await {
        Ok(Some(community)) => Ok(community),
        Ok(None) => Err(refused(
            Some(admin),
            StatusCode::NOT_FOUND,
            "no community has this id",
        )),
        Err(err) => Err(error_page(Some(admin), err)),
    }
}

pub(super) async fn community(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Query(q): Query<CommunityQuery>,
) -> Answer {
    let Some(page) = crate::admin::communities::page(&state.db, id, q.after, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?
    else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no community has this id",
        ));
    };
    let done = q.done.as_deref().and_then(done_text).map(Ok);
    Ok(html(
        StatusCode::OK,
        views::communities::community(&admin, &page, done),
    ))
}

#[derive(Deserialize)]
pub(super) struct VisibilityForm {
    csrf: String,
    visibility: String,
}

pub(super) async fn set_visibility(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Form(form): Form<VisibilityForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let visibility = match form.visibility.as_str() {
        "public" => CommunityVisibility::Public,
        "private" => CommunityVisibility::Private,
        _ => {
            let err = AppError::bad_input("visibility", "is public or private");
            return Err(failed(&admin)(err));
        }
    };
    let changes = CommunityChanges {
        visibility: Some(visibility),
        ..CommunityChanges::default()
    };
    let community = communities::update(&state.db, &admin.session, id, changes)
        .await
        .map_err(failed(&admin))?;
    let detail = format!("made the community {} {}", community.slug, form.visibility);
    done(
        &state,
        &admin,
        "community.visibility",
        Some(("community", id.to_string())),
        detail,
        &format!("/admin/communities/{id}?done=visibility"),
    )
    .await
}

pub(super) async fn member_action(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path((id, user_id, action)): Path<(Uuid, Uuid, String)>,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let db = &state.db;
    let community = existing(&state, &admin, id).await?;
    let name = crate::users::service::find_by_id(db, user_id)
        .await
        .map_err(failed(&admin))?
        .map_or_else(|| user_id.to_string(), |u| u.username);
    let slug = &community.slug;
    let (what, detail) = match action.as_str() {
        "moderator" | "member" => {
            let role = if action == "moderator" {
                MembershipRole::Moderator
            } else {
                MembershipRole::Member
            };
            communities::set_role(db, &admin.session, id, user_id, role)
                .await
                .map_err(failed(&admin))?;
            (
                "community.set_role",
                format!("made {name} a {action} of {slug}"),
            )
        }
        "remove" => {
            communities::remove_member(db, &admin.session, id, user_id)
                .await
                .map_err(failed(&admin))?;
            (
                "community.remove_member",
                format!("removed {name} from {slug}"),
            )
        }
        _ => {
            return Err(refused(
                Some(&admin),
                StatusCode::NOT_FOUND,
                "no such action",
            ));
        }
    };
    done(
        &state,
        &admin,
        what,
        Some(("community", id.to_string())),
        detail,
        &format!("/admin/communities/{id}?done={action}"),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct DeleteForm {
    csrf: String,
    #[serde(default)]
    confirm: String,
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Form(form): Form<DeleteForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let db = &state.db;
    let community = existing(&state, &admin, id).await?;
    if form.confirm.trim() != community.slug {
        let err = AppError::bad_input("confirm", "type the community's slug to delete it");
        return Err(failed(&admin)(err));
    }
    communities::delete(db, &admin.session, id)
        .await
        .map_err(failed(&admin))?;
    done(
        &state,
        &admin,
        "community.delete",
        Some(("community", id.to_string())),
        format!(
            "deleted the community {} ({})",
            community.slug, community.name
        ),
        "/admin/content?kind=communities&done=delete",
    )
    .await
}
