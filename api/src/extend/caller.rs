//! Extractors for an application's handlers: who is calling, the
//! database and the event log. They read what Hearth's router puts into
//! every request (`Extras`), so application routers need no state.

use axum::{extract::FromRequestParts, http::request::Parts};
use uuid::Uuid;

use crate::{
    auth::{AuthSession, Viewer},
    db::Db,
    error::{AppError, AppResult},
    events::{self, Cursor, Logged, Scope},
    http::Extras,
    users::service::require_standing,
};

fn extras(parts: &Parts) -> AppResult<&Extras> {
    parts
        .extensions
        .get::<Extras>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a route outside Hearth's router")))
}

fn viewer(parts: &Parts, extras: &Extras) -> Viewer {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    Viewer::from_authorization(header, &extras.auth.tokens)
}

/// The signed-in caller, whose account may write: `401 UNAUTHENTICATED`
/// without a valid access token (or when the account was deleted), `403
/// FORBIDDEN` when it is disabled (banned), in the error body of every
/// other HTTP error.
#[derive(Debug, Clone, Copy)]
pub struct SignedIn(pub AuthSession);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let extras = extras(parts)?;
        let session = viewer(parts, extras).require()?;
        require_standing(&extras.db, &session).await?;
        Ok(Self(session))
    }
}

/// The caller if signed in, `None` if anonymous; a token that is sent but
/// invalid or expired is `401` (so the client refreshes instead of silently
/// seeing less), as in GraphQL.
#[derive(Debug, Clone, Copy)]
pub struct MaybeSignedIn(pub Option<AuthSession>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeSignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let extras = extras(parts)?;
        match viewer(parts, extras) {
            Viewer::Anonymous => Ok(Self(None)),
            other => other.require().map(|s| Self(Some(s))),
        }
    }
}

/// A signed-in instance admin, checked in the database (a demoted admin's
/// token is refused at once): `401` or `403 FORBIDDEN` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Admin(pub AuthSession);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let extras = extras(parts)?;
        let session = viewer(parts, extras).require()?;
        extras.auth.require_admin(&session).await?;
        Ok(Self(session))
    }
}

/// Hearth's database: read through it, write with
/// [`Db::transaction`] (on SQLite through its one writer).
#[derive(Clone)]
pub struct Database(pub Db);

impl<S: Send + Sync> FromRequestParts<S> for Database {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(Self(extras(parts)?.db.clone()))
    }
}

/// The event log: publish the application's events in the transaction of
/// the change they report, and read it back.
#[derive(Clone)]
pub struct Events(Db);

impl<S: Send + Sync> FromRequestParts<S> for Events {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(Self(extras(parts)?.db.clone()))
    }
}

impl Events {
    /// Records an application event inside `tx` (see [`events::publish`]).
    pub async fn publish(
        &self,
        tx: &crate::db::Tx<'_>,
        actor: Option<Uuid>,
        kind: &str,
        data: serde_json::Value,
    ) -> AppResult<()> {
        events::publish(tx, actor, kind, data).await
    }

    /// The position of the newest committed event: read from here on.
    pub async fn tail(&self) -> AppResult<Cursor> {
        events::tail(&self.0).await
    }

    /// Up to `limit` committed events after `after`, in order.
    pub async fn after(&self, after: Cursor, limit: u64) -> AppResult<Vec<Logged>> {
        Ok(events::read(&self.0, after, Scope::All, limit)
            .await?
            .events)
    }
}
