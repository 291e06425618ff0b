//! GraphQL over HTTP, following the GraphQL-over-HTTP spec where the stock
//! async-graphql-axum handler does not:
//!
//! - `Accept` is negotiated: `application/graphql-response+json` (request
//!   errors answer 400) or `application/json` (always 200); 406 otherwise.
//! - GET runs queries only: a mutation answers 405 with `Allow: POST`, so a
//!   link or `<img>` can never change data.
//! - POST takes `application/json` (415 otherwise), which also keeps
//!   simple cross-site form posts (CSRF) out; bodies over the limit get 413.
//! - File uploads follow the GraphQL multipart request spec
//!   (`multipart/form-data`). A browser can send that cross-site without a
//!   preflight, so, like Apollo Server, such a request must carry a
//!   non-empty `Apollo-Require-Preflight` or `X-Apollo-Operation-Name`
//!   header (a custom header forces a CORS preflight); without one it gets
//!   400. Multipart bodies have their own limits: `UPLOAD_MAX_BYTES` per
//!   file (413), `UPLOAD_MAX_FILES` files (400), and at most
//!   files x size + `BODY_LIMIT_BYTES` in all (413).
//! - Every error, transport ones included, is a GraphQL JSON body.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{
    BatchRequest, BatchResponse, ParseRequestError, Request, Variables,
    http::{MultipartOptions, receive_batch_body},
    parser::{
        parse_query,
        types::{BaseType, DocumentOperations, OperationType, Type},
    },
};
use axum::{
    Extension,
    body::{Body, to_bytes},
    extract::{
        ConnectInfo, RawQuery, State,
        ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use futures_util::{StreamExt, TryStreamExt};

use super::{error::error_response, playground, state::AppState};
use crate::{
    auth::{RequestInfo, Viewer},
    error::code,
    schema::pipeline::{Prepared, carries_nul},
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";
const MULTIPART: &str = "multipart/form-data";

/// The response media type chosen from `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `application/graphql-response+json`: status codes carry meaning.
    GraphqlResponse,
    /// Legacy `application/json`: 200 for anything GraphQL answered.
    Json,
}

impl Mode {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response type from `Accept`; `None` means 406. Clients that
/// name `application/graphql-response+json` get it; a missing header, `*/*`
/// or `application/json` get the legacy type, as the spec recommends (and
/// graphql_flutter's link sends `*/*`).
fn negotiate(headers: &HeaderMap) -> Option<Mode> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Mode::Json);
    };
    let mut best: Option<Mode> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let refused = parts.any(|p| p.replace(' ', "") == "q=0");
        if refused {
            continue;
        }
        match media.as_str() {
            GRAPHQL_RESPONSE_JSON => return Some(Mode::GraphqlResponse),
            JSON | "application/*" | "*/*" => best = Some(Mode::Json),
            _ => {}
        }
    }
    best
}

fn not_acceptable() -> Response {
    error_response(
        StatusCode::NOT_ACCEPTABLE,
        "accept application/graphql-response+json or application/json",
        code::BAD_REQUEST,
    )
}

/// A request-level failure in the negotiated type.
fn request_error(mode: Mode, status: StatusCode, message: &str) -> Response {
    let mut response = error_response(status, message, code::BAD_REQUEST);
    if let Ok(value) = HeaderValue::from_str(mode.content_type()) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// Who is calling and from where: the bearer token and the client address
/// for rate limits.
fn request_info(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> RequestInfo {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let viewer = Viewer::from_authorization(authorization, &state.auth.tokens);
    RequestInfo {
        viewer,
        client_ip: state.client_ip(headers, peer.map(|Extension(ConnectInfo(addr))| addr)),
    }
}

/// GET /graphql: subscriptions for WebSocket upgrades, the playground for
/// browsers, queries for everyone else.
pub(super) async fn get(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    websocket: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let wants_websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_websocket {
        let client_ip = request_info(&state, &headers, peer).client_ip;
        return match websocket {
            Ok(upgrade) => super::ws::upgrade(state, &headers, client_ip, upgrade),
            Err(rejection) => rejection.into_response(),
        };
    }
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !params.contains_key("query") {
        return playground::page();
    }
    let Some(mode) = negotiate(&headers) else {
        return not_acceptable();
    };
    let Some(query) = params.get("query").filter(|q| !q.trim().is_empty()) else {
        return request_error(mode, StatusCode::BAD_REQUEST, "missing `query` parameter");
    };
    let operation_name = params
        .get("operationName")
        .filter(|n| !n.is_empty())
        .cloned();
    let info = request_info(&state, &headers, peer);
    if info.viewer == Viewer::InvalidToken {
        return invalid_token(mode);
    }
    let mut request = Request::new(query.clone()).data(info);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    if let Some(raw) = params.get("variables").filter(|v| !v.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(json @ serde_json::Value::Object(_)) => {
                request = request.variables(Variables::from_json(json));
            }
            Ok(serde_json::Value::Null) => {}
            _ => {
                return request_error(
                    mode,
                    StatusCode::BAD_REQUEST,
                    "`variables` must be a JSON object",
                );
            }
        }
    }
    if carries_nul(&request) {
        return nul_refused(mode);
    }
    let mut prepared = state.pipeline.prepare(request);
    match prepared.operation() {
        Some(OperationType::Subscription) => {
            return request_error(mode, StatusCode::BAD_REQUEST, SUBSCRIPTIONS_ON_WEBSOCKET);
        }
        Some(OperationType::Mutation) => {
            let mut response = request_error(
                mode,
                StatusCode::METHOD_NOT_ALLOWED,
                "only queries may be sent with GET; use POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        // A query, or a document that did not parse or names no operation
        // it has: the pipeline answers those.
        Some(OperationType::Query) | None => {}
    }
    state
        .pipeline
        .admit(&mut prepared, info.viewer, &state.db)
        .await;
    let response = state.pipeline.execute(&state.schema, prepared).await;
    respond(mode, BatchResponse::Single(response))
}

fn nul_refused(mode: Mode) -> Response {
    request_error(
        mode,
        StatusCode::BAD_REQUEST,
        "text must not contain NUL (\\u0000) characters",
    )
}

/// A request whose bearer token does not verify (expired, forged, from
/// another server, a revoked key) is refused whole, whatever it asks for:
/// served as anonymous, a client would silently see less and never learn
/// to refresh. 401 in `graphql-response+json` mode (Apollo Client and urql
/// read the body as GraphQL); the classic 200 otherwise. `refreshSession`
/// is sent without the stale header.
fn invalid_token(mode: Mode) -> Response {
    let status = match mode {
        Mode::GraphqlResponse => StatusCode::UNAUTHORIZED,
        Mode::Json => StatusCode::OK,
    };
    let mut response = error_response(
        status,
        "the access token is invalid or expired: refresh the session (send refreshSession without the Authorization header) or sign in again",
        code::UNAUTHENTICATED,
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(mode.content_type()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

const SUBSCRIPTIONS_ON_WEBSOCKET: &str =
    "subscriptions run over a WebSocket to /graphql (graphql-transport-ws), not over POST";

/// POST /graphql: one operation, or a batch of up to `GRAPHQL_MAX_BATCH`.
pub(super) async fn post(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some(mode) = negotiate(&headers) else {
        return refuse_unread(&state, &media, body, not_acceptable()).await;
    };
    let batch = match media.as_str() {
        JSON => match json_body(&state, mode, body).await {
            Ok(batch) => batch,
            Err(response) => return response,
        },
        MULTIPART => {
            if !preflighted(&headers) {
                let refused = request_error(
                    mode,
                    StatusCode::BAD_REQUEST,
                    "multipart requests must send a non-empty Apollo-Require-Preflight (or X-Apollo-Operation-Name) header, which keeps cross-site form posts (CSRF) out",
                );
                return refuse_unread(&state, &media, body, refused).await;
            }
            match multipart_body(&state, mode, content_type, body).await {
                Ok(batch) => batch,
                Err(response) => return response,
            }
        }
        _ => {
            let refused = request_error(
                mode,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the request as Content-Type: application/json (multipart/form-data for file uploads)",
            );
            return refuse_unread(&state, &media, body, refused).await;
        }
    };
    execute(&state, mode, &headers, peer, batch).await
}

/// Answers a request refused before its body was read, after reading the
/// body (within the size a valid request could have) and throwing it away.
/// Answering first and closing the connection would leave a client that is
/// still sending (Node's fetch, uploading a photo) with a broken pipe
/// instead of the coded error, and cost it the connection.
async fn refuse_unread(state: &AppState, media: &str, body: Body, refused: Response) -> Response {
    let limit = if media == MULTIPART {
        multipart_limit(state)
    } else {
        state.config.body_limit_bytes
    };
    let mut chunks = body.into_data_stream();
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = chunks.next().await {
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            break;
        }
    }
    refused
}

/// The largest multipart body: every file at its limit, plus the rest.
fn multipart_limit(state: &AppState) -> usize {
    let limits = &state.config.files;
    limits
        .max_bytes
        .saturating_mul(limits.max_files)
        .saturating_add(state.config.body_limit_bytes)
}

/// Whether a multipart request carries a header a cross-site HTML form
/// cannot send without a CORS preflight.
fn preflighted(headers: &HeaderMap) -> bool {
    ["apollo-require-preflight", "x-apollo-operation-name"]
        .iter()
        .any(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| !v.trim().is_empty())
        })
}

/// A GraphQL multipart request: files go to temporary files as they
/// stream in, within the upload limits.
async fn multipart_body(
    state: &AppState,
    mode: Mode,
    content_type: &str,
    body: Body,
) -> Result<BatchRequest, Response> {
    let limits = &state.config.files;
    let total = multipart_limit(state);
    let too_large = Arc::new(AtomicBool::new(false));
    let flag = too_large.clone();
    let mut seen = 0usize;
    let reader = body
        .into_data_stream()
        .map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            seen = seen.saturating_add(chunk.len());
            if seen > total {
                flag.store(true, Ordering::Relaxed);
                return Err(std::io::Error::other("request body too large"));
            }
            Ok(chunk)
        })
        .boxed()
        .into_async_read();
    let options = MultipartOptions::default().max_file_size(limits.max_bytes);
    let batch = match receive_batch_body(Some(content_type), reader, options).await {
        Ok(batch) => batch,
        Err(_) if too_large.load(Ordering::Relaxed) => {
            return Err(request_error(
                mode,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is larger than {total} bytes"),
            ));
        }
        Err(ParseRequestError::PayloadTooLarge) => {
            return Err(request_error(
                mode,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "a file is larger than the upload limit of {} bytes",
                    limits.max_bytes
                ),
            ));
        }
        Err(err) => {
            let message = match err {
                ParseRequestError::InvalidMultipart(_) | ParseRequestError::Io(_) => {
                    "the body is not valid multipart/form-data".to_owned()
                }
                other => format!("not a GraphQL multipart request: {other}"),
            };
            return Err(request_error(mode, StatusCode::BAD_REQUEST, &message));
        }
    };
    let requests = match &batch {
        BatchRequest::Single(request) => std::slice::from_ref(request),
        BatchRequest::Batch(requests) => requests.as_slice(),
    };
    if let Some(variable) = requests.iter().find_map(misplaced_upload) {
        let body = serde_json::json!({ "errors": [{
            "message": format!("a file is mapped onto `${variable}`, which is not an Upload variable: map files only onto variables of type Upload (or lists of them)"),
            "extensions": { "code": code::BAD_USER_INPUT, "field": variable },
        }] });
        return Err((
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, mode.content_type())],
            body.to_string(),
        )
            .into_response());
    }
    let files: usize = requests.iter().map(|r| r.uploads.len()).sum();
    if files > limits.max_files {
        return Err(request_error(
            mode,
            StatusCode::BAD_REQUEST,
            &format!(
                "at most {} files may be sent in one request",
                limits.max_files
            ),
        ));
    }
    Ok(batch)
}

/// The first variable of a multipart request that a file was mapped onto
/// although its declared type is not `Upload` (or a list of them). Left
/// alone, async-graphql would hand such a variable its internal placeholder
/// text (`#__graphql_file__:0`) as a string, and that would be stored.
fn misplaced_upload(request: &Request) -> Option<String> {
    const PLACEHOLDER: &str = "#__graphql_file__:";
    fn holds_file(value: &async_graphql::Value) -> bool {
        match value {
            async_graphql::Value::String(s) => s.starts_with(PLACEHOLDER),
            async_graphql::Value::List(items) => items.iter().any(holds_file),
            async_graphql::Value::Object(fields) => fields.values().any(holds_file),
            _ => false,
        }
    }
    /// Whether every file in `value` sits where `ty` says `Upload`.
    fn fits(ty: &Type, value: &async_graphql::Value) -> bool {
        match (value, &ty.base) {
            (async_graphql::Value::String(_), BaseType::Named(name)) if holds_file(value) => {
                name.as_str() == "Upload"
            }
            (async_graphql::Value::List(items), BaseType::List(item)) => {
                items.iter().all(|v| fits(item, v))
            }
            _ => !holds_file(value),
        }
    }
    let holders: Vec<_> = request
        .variables
        .iter()
        .filter(|(_, value)| holds_file(value))
        .collect();
    if holders.is_empty() {
        return None;
    }
    // A document that does not parse is refused later, with its own error.
    let document = parse_query(&request.query).ok()?;
    let operation = match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) => ops.values().next()?,
    };
    holders.into_iter().find_map(|(name, value)| {
        let declared = operation
            .node
            .variable_definitions
            .iter()
            .find(|d| d.node.name.node == *name)?;
        (!fits(&declared.node.var_type.node, value)).then(|| name.to_string())
    })
}

/// An `application/json` body, within `BODY_LIMIT_BYTES`.
async fn json_body(state: &AppState, mode: Mode, body: Body) -> Result<BatchRequest, Response> {
    let Ok(bytes) = to_bytes(body, state.config.body_limit_bytes).await else {
        return Err(request_error(
            mode,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "request body is larger than {} bytes",
                state.config.body_limit_bytes
            ),
        ));
    };
    serde_json::from_slice(&bytes).map_err(|err| {
        request_error(
            mode,
            StatusCode::BAD_REQUEST,
            &format!("body is not a GraphQL request: {err}"),
        )
    })
}

/// Runs a parsed POST body: batch size, empty query and NUL checks, then
/// execution.
async fn execute(
    state: &AppState,
    mode: Mode,
    headers: &HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    batch: BatchRequest,
) -> Response {
    let size = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(requests) => requests.len(),
    };
    if size == 0 || size > state.config.graphql.max_batch {
        return request_error(
            mode,
            StatusCode::BAD_REQUEST,
            &format!(
                "a batch must hold 1 to {} operations",
                state.config.graphql.max_batch
            ),
        );
    }
    if let BatchRequest::Single(request) = &batch
        && request.query.trim().is_empty()
    {
        return request_error(mode, StatusCode::BAD_REQUEST, "missing `query`");
    }
    let requests = match &batch {
        BatchRequest::Single(request) => std::slice::from_ref(request),
        BatchRequest::Batch(requests) => requests.as_slice(),
    };
    if requests.iter().any(carries_nul) {
        return nul_refused(mode);
    }
    let (single, requests) = match batch {
        BatchRequest::Single(request) => (true, vec![request]),
        BatchRequest::Batch(requests) => (false, requests),
    };
    let prepared: Vec<Prepared> = requests
        .into_iter()
        .map(|request| state.pipeline.prepare(request))
        .collect();
    if prepared
        .iter()
        .any(|p| p.operation() == Some(OperationType::Subscription))
    {
        return request_error(mode, StatusCode::BAD_REQUEST, SUBSCRIPTIONS_ON_WEBSOCKET);
    }
    let info = request_info(state, headers, peer);
    if info.viewer == Viewer::InvalidToken {
        return invalid_token(mode);
    }
    // One after another, as async-graphql's own batch execution does.
    let mut responses = Vec::with_capacity(prepared.len());
    for mut one in prepared {
        one.request_mut().data.insert(info);
        state.pipeline.admit(&mut one, info.viewer, &state.db).await;
        responses.push(state.pipeline.execute(&state.schema, one).await);
    }
    let response = if single {
        BatchResponse::Single(responses.remove(0))
    } else {
        BatchResponse::Batch(responses)
    };
    respond(mode, response)
}

/// Whether a response is a *request error*: the document never reached
/// execution (it did not parse or validate), so there is no `data` at all.
/// An execution error that nulls out `data` is different: that is still 200.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|c| {
                *c == async_graphql::Value::from(code::GRAPHQL_PARSE_FAILED)
                    || *c == async_graphql::Value::from(code::GRAPHQL_VALIDATION_FAILED)
            })
    })
}

/// Appends one response as JSON, without the `data` key when it was a
/// request error (async-graphql would print `"data": null`, which means
/// something else); returns whether it was one. Serialized straight to
/// bytes: going through a `serde_json::Value` first would build and free a
/// second copy of every response tree.
fn write_json(out: &mut Vec<u8>, response: &async_graphql::Response) -> bool {
    let start = out.len();
    let request_error = is_request_error(response);
    let written = if request_error {
        serde_json::to_value(response).and_then(|mut json| {
            if let Some(object) = json.as_object_mut() {
                object.remove("data");
            }
            serde_json::to_writer(&mut *out, &json)
        })
    } else {
        serde_json::to_writer(&mut *out, response)
    };
    if let Err(err) = written {
        tracing::error!(error = %err, "serializing a GraphQL response failed");
        let internal = serde_json::json!({ "errors": [{ "message": "internal error", "extensions": { "code": code::INTERNAL } }] });
        out.truncate(start);
        out.extend_from_slice(internal.to_string().as_bytes());
    }
    request_error
}

fn respond(mode: Mode, response: BatchResponse) -> Response {
    let mut body = Vec::with_capacity(1024);
    let status = match response {
        BatchResponse::Single(single) => {
            let request_error = write_json(&mut body, &single);
            // In graphql-response+json mode a request error is the client's
            // fault: 400. Legacy application/json answers 200 regardless.
            if mode == Mode::GraphqlResponse && request_error {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            }
        }
        BatchResponse::Batch(responses) => {
            body.push(b'[');
            for (i, one) in responses.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                write_json(&mut body, one);
            }
            body.push(b']');
            StatusCode::OK
        }
    };
    (status, [(header::CONTENT_TYPE, mode.content_type())], body).into_response()
}
