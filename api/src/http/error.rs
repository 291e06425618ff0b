//! The body of every HTTP-level error: GraphQL-shaped JSON.

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// A GraphQL-shaped error body, so every client (Apollo reads non-2xx bodies
/// only as GraphQL JSON) gets the same structure.
pub(super) fn error_response(status: StatusCode, message: &str, code: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })),
    )
        .into_response()
}
