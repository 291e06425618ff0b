//! The activity log a route opts into: each request it answers becomes an
//! event of the log (kind [`ACTIVITY`]), with who asked, what, the status
//! and the time taken, written before the response leaves, so it is there
//! for after-commit hooks, webhooks and audits. Add it to routes with
//! `.route_layer(axum::middleware::from_fn(activity))`.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use serde_json::json;

use crate::{
    auth::Viewer,
    events::{self, Event},
    http::Extras,
};

/// The kind of the events [`activity`] records.
pub const ACTIVITY: &str = "activity.request";

/// Records the request as an [`ACTIVITY`] event (see the module docs). A
/// record that cannot be written is logged; the response still goes out.
pub async fn activity(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let extras = request.extensions().get::<Extras>().cloned();
    let actor = extras.as_ref().and_then(|extras| {
        let header = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match Viewer::from_authorization(header, &extras.auth.tokens) {
            Viewer::SignedIn(session) => Some(session.user_id),
            _ => None,
        }
    });
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let Some(extras) = extras else {
        return response;
    };
    let event = Event::App {
        kind: ACTIVITY.to_owned(),
        data: json!({
            "method": method,
            "path": path,
            "status": response.status().as_u16(),
            "ms": started.elapsed().as_secs_f64() * 1000.0,
            "requestId": request_id,
        }),
    };
    let written = extras
        .db
        .statement(move |tx| Box::pin(async move { events::record(&tx, actor, &event).await }))
        .await;
    if let Err(err) = written {
        tracing::warn!(error = ?err, "could not record the request's activity");
    }
    response
}
