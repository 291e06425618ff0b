//! The GraphQL playground page: our own small HTML page, compiled into the
//! binary so it works with no internet.

use axum::{
    http::header,
    response::{Html, IntoResponse, Response},
};

const PAGE: &str = include_str!("playground.html");

/// Inline script and style only; it talks to its own origin and nothing else.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

pub(super) fn page() -> Response {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(PAGE),
    )
        .into_response()
}
