//! The webhooks pane: endpoints, their deliveries, redelivery, secrets.

use super::*;

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

pub(super) async fn webhooks(
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

pub(super) async fn rotate_webhook_secret(
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

pub(super) async fn redeliver(
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
