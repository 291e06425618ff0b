//! Who is asking: read once per request from the access token, then
//! checked by guards that every feature reuses.

use std::net::IpAddr;

use async_graphql::{Context, Guard};
use entity::enums::UserRole;
use serde_json::Value;
use uuid::Uuid;

use super::tokens::AccessTokens;
use crate::error::{AppError, AppResult};

/// A verified access token's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSession {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// The role when the token was issued; admin operations recheck it in
    /// the database.
    pub role: UserRole,
}

/// The caller of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    /// A token was sent but is expired, forged or malformed. Public fields
    /// still work (a client with a stale token can still sign in or
    /// refresh); anything needing a user answers `UNAUTHENTICATED`.
    InvalidToken,
    SignedIn(AuthSession),
}

impl Viewer {
    /// From an `Authorization` header value (`Bearer <token>`).
    pub fn from_authorization(header: Option<&str>, tokens: &AccessTokens) -> Self {
        Self::expiring_from_authorization(header, tokens).0
    }

    /// As [`Viewer::from_authorization`], with the token's expiry (Unix
    /// seconds) when it is valid.
    fn expiring_from_authorization(
        header: Option<&str>,
        tokens: &AccessTokens,
    ) -> (Self, Option<i64>) {
        let Some(header) = header else {
            return (Self::Anonymous, None);
        };
        match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Self::from_token(token.trim(), tokens)
            }
            _ => (Self::InvalidToken, None),
        }
    }

    /// From a WebSocket `connection_init` payload: `{"Authorization":
    /// "Bearer <token>"}` (graphql-ws clients' convention; any case of the
    /// key), or `{"accessToken": "<token>"}`.
    pub fn from_connection_init(payload: &Value, tokens: &AccessTokens) -> Self {
        Self::expiring_from_connection_init(payload, tokens).0
    }

    /// As [`Viewer::from_connection_init`], with the token's expiry (Unix
    /// seconds) when it is valid: a socket closes when its token expires.
    pub fn expiring_from_connection_init(
        payload: &Value,
        tokens: &AccessTokens,
    ) -> (Self, Option<i64>) {
        let Some(object) = payload.as_object() else {
            return (Self::Anonymous, None);
        };
        if let Some(token) = object.get("accessToken").and_then(Value::as_str) {
            return Self::from_token(token, tokens);
        }
        let header = object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value.as_str());
        match header {
            None => (Self::Anonymous, None),
            Some(value) => {
                Self::expiring_from_authorization(Some(value.unwrap_or_default()), tokens)
            }
        }
    }

    fn from_token(token: &str, tokens: &AccessTokens) -> (Self, Option<i64>) {
        match tokens.verify(token) {
            Ok(claims) => (
                Self::SignedIn(AuthSession {
                    user_id: claims.sub,
                    session_id: claims.sid,
                    role: claims.role,
                }),
                Some(claims.exp),
            ),
            Err(err) => {
                tracing::debug!(error = %err, "rejected access token");
                (Self::InvalidToken, None)
            }
        }
    }

    /// The signed-in session, or the reason there is none.
    pub fn require(&self) -> AppResult<AuthSession> {
        match self {
            Self::SignedIn(session) => Ok(*session),
            Self::Anonymous => Err(AppError::Unauthenticated("sign in first")),
            Self::InvalidToken => Err(AppError::Unauthenticated(
                "the access token is invalid or expired; refresh the session",
            )),
        }
    }
}

/// Per-request facts the HTTP layer puts into each GraphQL request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo {
    pub viewer: Viewer,
    pub client_ip: IpAddr,
}

/// The request's info; absent only when executing outside HTTP (then
/// anonymous, from an unspecified address).
pub fn request_info(ctx: &Context<'_>) -> RequestInfo {
    ctx.data_opt::<RequestInfo>()
        .copied()
        .unwrap_or(RequestInfo {
            viewer: Viewer::Anonymous,
            client_ip: IpAddr::from([0, 0, 0, 0]),
        })
}

/// The signed-in caller, or `UNAUTHENTICATED`.
pub fn signed_in(ctx: &Context<'_>) -> AppResult<AuthSession> {
    request_info(ctx).viewer.require()
}

/// The signed-in user's id, `None` for anonymous callers. A token that
/// fails verification is `UNAUTHENTICATED` rather than anonymous, so a
/// client with an expired token learns to refresh instead of silently
/// seeing less.
pub fn viewer_id(ctx: &Context<'_>) -> AppResult<Option<Uuid>> {
    match request_info(ctx).viewer {
        Viewer::Anonymous => Ok(None),
        viewer => viewer.require().map(|s| Some(s.user_id)),
    }
}

/// `UNAUTHENTICATED` unless signed in. Use on fields:
/// `#[graphql(guard = "SignedIn")]`.
pub struct SignedIn;

impl Guard for SignedIn {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        signed_in(ctx)?;
        Ok(())
    }
}

/// `FORBIDDEN` unless the token says admin. Admin operations must still
/// confirm it against the database (`service::require_admin`): a demoted
/// admin's token keeps its claim until it expires.
pub struct AdminOnly;

impl Guard for AdminOnly {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if signed_in(ctx)?.role != UserRole::Admin {
            return Err(AppError::Forbidden.into());
        }
        Ok(())
    }
}

/// `FORBIDDEN` unless the caller owns the row (`owner_id`).
pub fn require_owner(viewer: &AuthSession, owner_id: Uuid) -> AppResult<()> {
    if viewer.user_id == owner_id {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Config;

    #[test]
    fn connection_init_payloads_carry_the_token() {
        let config = Config::from_lookup(|name| {
            (name == "JWT_SECRET").then(|| "0123456789abcdef0123456789abcdef".to_owned())
        })
        .unwrap();
        let tokens = AccessTokens::new(&config.auth, std::path::Path::new("unused")).unwrap();
        let (user_id, session_id) = (Uuid::now_v7(), Uuid::now_v7());
        let (token, _) = tokens.issue(user_id, session_id, UserRole::User).unwrap();
        let signed_in = Viewer::SignedIn(AuthSession {
            user_id,
            session_id,
            role: UserRole::User,
        });
        for payload in [
            json!({ "Authorization": format!("Bearer {token}") }),
            json!({ "authorization": format!("bearer {token}") }),
            json!({ "accessToken": token }),
        ] {
            assert_eq!(Viewer::from_connection_init(&payload, &tokens), signed_in);
        }
        assert_eq!(
            Viewer::from_connection_init(&json!({}), &tokens),
            Viewer::Anonymous
        );
        assert_eq!(
            Viewer::from_connection_init(&Value::Null, &tokens),
            Viewer::Anonymous
        );
        for bad in [
            json!({ "Authorization": "Bearer nope" }),
            json!({ "Authorization": token }),
            json!({ "Authorization": 42 }),
        ] {
            assert_eq!(
                Viewer::from_connection_init(&bad, &tokens),
                Viewer::InvalidToken,
                "{bad}"
            );
        }
    }
}
