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

/// An [`AppError`] as an HTTP response, for routes outside GraphQL (an
/// application's own): the status its code implies, the same body.
impl IntoResponse for crate::error::AppError {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        // Logged (and hidden) the way GraphQL errors are.
        let error = async_graphql::Error::from(self);
        let mut body = json!({ "message": error.message });
        if let Some(extensions) = &error.extensions {
            body["extensions"] = json!(extensions);
        }
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            Json(json!({ "errors": [body] })),
        )
            .into_response()
    }
}

/// The HTTP status an error's code implies.
pub(super) fn status_of(err: &crate::error::AppError) -> StatusCode {
    use crate::error::AppError as E;
    match err {
        E::Unauthenticated(_) | E::Denied { .. } => StatusCode::UNAUTHORIZED,
        E::Forbidden | E::Refused(_) => StatusCode::FORBIDDEN,
        E::NotFound(_) => StatusCode::NOT_FOUND,
        E::BadUserInput { .. } => StatusCode::BAD_REQUEST,
        E::Conflict { .. } | E::ResyncRequired => StatusCode::CONFLICT,
        E::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        E::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
