//! `GET /files/{id}`: authorized downloads.
//!
//! Access: a signed link token (`?token=`, from `File.url`) for that file,
//! or the reading rules of `files::service` for the caller of the
//! `Authorization: Bearer` header (or anonymous). A file that does not
//! exist and one the caller may not read both answer 404. A token that is
//! expired or tampered with answers 401, checked before any lookup, so it
//! reveals nothing either.
//!
//! Responses carry the sniffed `Content-Type`, `Content-Length`, the
//! checksum as `ETag` (`If-None-Match` -> 304), `Cache-Control` (public
//! and immutable for avatars, private otherwise), single byte ranges
//! (`Range` -> 206 / 416), `X-Content-Type-Options: nosniff`, a sandboxing
//! CSP, and a `Content-Disposition` whose file name cannot break the
//! header.

use std::collections::HashMap;

use axum::{
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use entity::file;
use sea_orm::EntityTrait;
use uuid::Uuid;

use super::{error::error_response, state::AppState};
use crate::{
    auth::Viewer,
    error::code,
    files::{service, storage::StorageError},
};

/// A single byte range, inclusive, as `Range` asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ByteRange {
    /// No usable `Range` header: the whole file.
    Full,
    Partial {
        start: u64,
        end: u64,
    },
    /// A range that starts past the end: 416.
    Unsatisfiable,
}

/// Parses `Range: bytes=...` for an object of `size` bytes. Anything not
/// understood (other units, bad syntax, several ranges) is ignored, as RFC
/// 9110 allows, and the whole file is sent.
pub(super) fn parse_range(value: &str, size: u64) -> ByteRange {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        (true, true) => ByteRange::Full,
        // The last N bytes.
        (true, false) => match number(last) {
            None => ByteRange::Full,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if size == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Partial {
                start: size.saturating_sub(n),
                end: size - 1,
            },
        },
        (false, _) => {
            let Some(start) = number(first) else {
                return ByteRange::Full;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    _ => return ByteRange::Full,
                }
            };
            if start >= size {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Partial {
                    start,
                    end: end.min(size - 1),
                }
            }
        }
    }
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// `inline; filename="..."; filename*=UTF-8''...`: the plain name keeps
/// only safe ASCII; the encoded one percent-encodes everything else, so no
/// quote, CR or LF can reach the header.
pub(super) fn content_disposition(name: Option<&str>, fallback: &str, inline: bool) -> String {
    let name = name.unwrap_or(fallback);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._-()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "file not found", code::NOT_FOUND)
}

fn internal() -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error",
        code::INTERNAL,
    )
}

pub(super) async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found();
    };
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let files = &state.files;
    let found = match params.get("token") {
        Some(token) => {
            if !files.verify_link_token(id, token) {
                return error_response(
                    StatusCode::UNAUTHORIZED,
                    "this download link has expired or is invalid; query File.url again",
                    code::UNAUTHENTICATED,
                );
            }
            file::Entity::find_by_id(id)
                .one(&state.db)
                .await
                .map_err(Into::into)
        }
        None => {
            let authorization = headers
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap_or_default());
            let viewer = match Viewer::from_authorization(authorization, &state.auth.tokens) {
                Viewer::SignedIn(session) => Some(session.user_id),
                Viewer::Anonymous | Viewer::InvalidToken => None,
            };
            service::find_readable(&state.db, viewer, id).await
        }
    };
    let file = match found {
        Ok(Some(file)) => file,
        Ok(None) => return not_found(),
        Err(err) => {
            let err: async_graphql::Error = err.into();
            tracing::warn!(error = %err.message, "looking up a download failed");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &err.message,
                code::SERVICE_UNAVAILABLE,
            );
        }
    };
    let Ok(public) = service::is_public(&state.db, file.id).await else {
        return internal();
    };
    respond(&state, &file, public, &headers).await
}

async fn respond(
    state: &AppState,
    file: &file::Model,
    public: bool,
    headers: &HeaderMap,
) -> Response {
    let size = u64::try_from(file.size_bytes).unwrap_or_default();
    let etag = format!("\"{}\"", file.checksum_sha256);
    let cache_control = if public {
        // The bytes behind an id never change.
        "public, max-age=31536000, immutable"
    } else {
        "private, max-age=300"
    };
    let content_type = if file.content_type == "text/plain" {
        "text/plain; charset=utf-8"
    } else {
        file.content_type.as_str()
    };
    let inline = ["image/", "video/", "text/plain", "application/pdf"]
        .iter()
        .any(|p| file.content_type.starts_with(p));
    let disposition =
        content_disposition(file.original_name.as_deref(), &file.id.to_string(), inline);

    let mut common = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            common.insert(name, value);
        }
    };
    set(header::ETAG, &etag);
    set(header::CACHE_CONTROL, cache_control);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::ACCEPT_RANGES, "bytes");
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    );
    if !public {
        set(header::VARY, "Authorization");
    }

    if let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && etag_matches(value, &etag)
    {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    set_more(&mut common, header::CONTENT_TYPE, content_type);
    set_more(&mut common, header::CONTENT_DISPOSITION, &disposition);

    // `If-Range` with another validator: the file changed, send it whole.
    let range_applies = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == etag);
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) if range_applies => parse_range(value, size),
        _ => ByteRange::Full,
    };
    let storage = state.files.storage();
    let (status, length, stream) = match range {
        ByteRange::Unsatisfiable => {
            set_more(
                &mut common,
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            common.remove(header::CONTENT_DISPOSITION);
            let mut response = error_response(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "the requested range is outside the file",
                code::BAD_REQUEST,
            );
            for (name, value) in &common {
                if name != header::CONTENT_TYPE {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
            }
            return response;
        }
        ByteRange::Full => (StatusCode::OK, size, storage.get(&file.storage_key).await),
        ByteRange::Partial { start, end } => {
            set_more(
                &mut common,
                header::CONTENT_RANGE,
                &format!("bytes {start}-{end}/{size}"),
            );
            (
                StatusCode::PARTIAL_CONTENT,
                end - start + 1,
                storage.get_range(&file.storage_key, start..end + 1).await,
            )
        }
    };
    let stream = match stream {
        Ok(stream) => stream,
        Err(StorageError::NotFound(key)) => {
            tracing::warn!(file_id = %file.id, key, "a file's bytes are missing from storage");
            return not_found();
        }
        Err(err) => {
            tracing::error!(file_id = %file.id, error = %err, "reading a file from storage failed");
            return internal();
        }
    };
    set_more(&mut common, header::CONTENT_LENGTH, &length.to_string());
    (status, common, Body::from_stream(stream)).into_response()
}

fn set_more(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("bytes=0-9", 100),
            ByteRange::Partial { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range("bytes=90-", 100),
            ByteRange::Partial { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            ByteRange::Partial { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-1000", 100),
            ByteRange::Partial { start: 0, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=50-1000", 100),
            ByteRange::Partial { start: 50, end: 99 }
        );
        assert_eq!(parse_range("bytes=100-", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-2", 100), ByteRange::Full);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), ByteRange::Full);
        assert_eq!(parse_range("items=0-1", 100), ByteRange::Full);
    }

    #[test]
    fn disposition_cannot_inject_headers() {
        let value = content_disposition(Some("a\"b\r\nSet-Cookie: x=1;é.png"), "id", true);
        assert!(!value.contains('\r') && !value.contains('\n'));
        assert!(
            value.starts_with("inline; filename=\"a_b__Set-Cookie_ x_1__.png\""),
            "{value}"
        );
        assert!(HeaderValue::from_str(&value).is_ok());
    }
}
