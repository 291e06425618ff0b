//! Registering and forgetting a device's push token.

use chrono::Utc;
use entity::{enums::PushProvider, push_token, session};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Set, sea_query::OnConflict};
use uuid::Uuid;

use crate::{
    auth::AuthSession,
    db::{Db, now},
    error::{AppError, AppResult},
};

/// The longest token a provider hands out, with room to spare (FCM's are
/// about 160 characters, APNs' 64 hex digits).
pub(crate) const MAX_TOKEN: usize = 512;

/// A session that can still be pushed to: neither revoked nor expired.
pub(crate) fn live_session() -> Condition {
    Condition::all()
        .add(session::Column::RevokedAt.is_null())
        .add(session::Column::ExpiresAt.gt(Utc::now()))
}

/// Binds `token` to the viewer's session, replacing the session's earlier
/// token. A token registered by another session moves here: the device
/// changed hands (another account signed in on it), and the old session
/// must not push to it any more.
pub(crate) async fn register(
    db: &Db,
    viewer: &AuthSession,
    provider: PushProvider,
    token: &str,
) -> AppResult<push_token::Model> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN || token.chars().any(char::is_whitespace) {
        return Err(AppError::bad_input(
            "token",
            format!("a push token is 1 to {MAX_TOKEN} characters without spaces"),
        ));
    }
    let live = session::Entity::find_by_id(viewer.session_id)
        .filter(live_session())
        .one(db)
        .await?;
    if live.is_none() {
        return Err(AppError::Unauthenticated(
            "this session has ended; sign in again",
        ));
    }
    let at = now();
    let row = push_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(viewer.session_id),
        user_id: Set(viewer.user_id),
        provider: Set(provider),
        token: Set(token.to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let (session_id, token) = (viewer.session_id, token.to_owned());
    db.transaction(move |tx| {
        Box::pin(async move {
            push_token::Entity::delete_many()
                .filter(push_token::Column::Token.eq(token.clone()))
                .filter(push_token::Column::SessionId.ne(session_id))
                .exec(&tx)
                .await?;
            push_token::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(push_token::Column::SessionId)
                        .update_columns([
                            push_token::Column::Provider,
                            push_token::Column::Token,
                            push_token::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&tx)
                .await?;
            push_token::Entity::find()
                .filter(push_token::Column::SessionId.eq(session_id))
                .one(&tx)
                .await?
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a push token vanished")))
        })
    })
    .await
}

/// Forgets the viewer's session's token; whether there was one.
pub(crate) async fn unregister(db: &Db, viewer: &AuthSession) -> AppResult<bool> {
    let session_id = viewer.session_id;
    let done = db
        .statement(move |tx| {
            Box::pin(async move {
                Ok(push_token::Entity::delete_many()
                    .filter(push_token::Column::SessionId.eq(session_id))
                    .exec(&tx)
                    .await?)
            })
        })
        .await?;
    Ok(done.rows_affected > 0)
}

/// The viewer's session's token, if it registered one.
pub(crate) async fn current(db: &Db, viewer: &AuthSession) -> AppResult<Option<push_token::Model>> {
    Ok(push_token::Entity::find()
        .filter(push_token::Column::SessionId.eq(viewer.session_id))
        .one(db)
        .await?)
}
