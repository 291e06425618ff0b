//! The reports pane: the moderation queue, each report resolved with an
//! action and a note through the same service as `resolveReport`.

use super::*;

#[derive(Deserialize)]
pub(super) struct ReportsQuery {
    /// `1` for the resolved ones.
    resolved: Option<u8>,
    after: Option<Uuid>,
    done: Option<String>,
}

pub(super) async fn reports(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<ReportsQuery>,
) -> Answer {
    let resolved = q.resolved == Some(1);
    let (rows, next) = crate::admin::reports::queue(&state.db, resolved, q.after, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    let done = (q.done.as_deref() == Some("resolved")).then_some(Ok(
        "Resolved: its reporters can see the outcome and your note.",
    ));
    Ok(html(
        StatusCode::OK,
        views::reports::queue(&admin, resolved, &rows, next, done),
    ))
}

#[derive(Deserialize)]
pub(super) struct ResolveForm {
    csrf: String,
    action: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn resolve(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Form(form): Form<ResolveForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let Some(action) = views::reports::ACTIONS
        .iter()
        .find(|(_, name, _)| *name == form.action)
        .map(|(action, _, _)| *action)
    else {
        return Err(refused(
            Some(&admin),
            StatusCode::BAD_REQUEST,
            "no such action",
        ));
    };
    let note = (!form.note.trim().is_empty()).then_some(form.note);
    let report =
        crate::reports::service::resolve(&state.db, &state.auth, &admin.session, id, action, note)
            .await
            .map_err(failed(&admin))?;
    let detail = format!(
        "resolved a report: {}",
        crate::reports::graphql::action_name(action)
    );
    let target = Some(("report", report.id.to_string()));
    done(
        &state,
        &admin,
        "report.resolve",
        target,
        detail,
        "/admin/reports?done=resolved",
    )
    .await
}
