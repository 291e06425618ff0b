//! Request ids: one per request, in every log line and echoed back in
//! `x-request-id`. A client-sent id is kept only if it is short and plain,
//! so nobody can inject log lines or huge values through it.

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderName, Request as HttpRequest},
    middleware::Next,
    response::Response,
};
use tracing::Span;

pub(super) static HEADER: HeaderName = HeaderName::from_static("x-request-id");

const MAX_LEN: usize = 64;

pub(super) async fn discard_unsafe(mut request: Request, next: Next) -> Response {
    let unsafe_id = request.headers().get(&HEADER).is_some_and(|value| {
        let bytes = value.as_bytes();
        bytes.is_empty()
            || bytes.len() > MAX_LEN
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if unsafe_id {
        request.headers_mut().remove(&HEADER);
    }
    next.run(request).await
}

pub(super) fn make_span(request: &HttpRequest<Body>) -> Span {
    let id = request
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
}
