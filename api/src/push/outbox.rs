//! The push outbox: a row per device and notification waits in
//! `push_deliveries` until its push is sent. Rows are queued in the same
//! transaction as their notification, so a push is never lost between the
//! two; each process claims due rows (on PostgreSQL with `FOR UPDATE SKIP
//! LOCKED`, so replicas share the work), checks they are still wanted,
//! sends them, and deletes them, or retries them on the schedule.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{
    enums::{NotificationKind, PushProvider},
    notification, notification_preference as preference, push_delivery, push_token, session, user,
};
use rand::Rng;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, LockBehavior, LockType, OnConflict, Query, SelectStatement},
};
use uuid::Uuid;

use super::{provider::Sent, service::live_session};
use crate::{
    db::{Db, now},
    error::AppResult,
    safety::service as safety,
};

/// Deliveries claimed (and sent at once) per round.
const CLAIM: u64 = 32;

/// Queues a push of `n` to each live device of its recipient registered
/// with one of `providers`, unless the recipient turned push off for its
/// kind. A push of `n` still waiting for a device is rewritten instead (a
/// burst of reactions leaves one push, with the latest count).
pub(crate) async fn enqueue(
    db: &impl ConnectionTrait,
    providers: &[PushProvider],
    n: &notification::Model,
    title: &str,
    body: &str,
) -> AppResult<usize> {
    if providers.is_empty() {
        return Ok(0);
    }
    // Most people have no device registered: look for devices first.
    let tokens: Vec<Uuid> = push_token::Entity::find()
        .select_only()
        .column(push_token::Column::Id)
        .filter(push_token::Column::UserId.eq(n.user_id))
        .filter(push_token::Column::Provider.is_in(providers.iter().copied()))
        .filter(push_token::Column::SessionId.in_subquery(live_sessions(n.user_id)))
        .into_tuple()
        .all(db)
        .await?;
    if tokens.is_empty() || !push_on(db, n.user_id, n.kind).await? {
        return Ok(0);
    }
    let at = now();
    let rows = tokens.iter().map(|token| push_delivery::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_id: Set(*token),
        notification_id: Set(n.id),
        title: Set(title.to_owned()),
        body: Set(body.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(at),
    });
    push_delivery::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                push_delivery::Column::TokenId,
                push_delivery::Column::NotificationId,
            ])
            .update_columns([push_delivery::Column::Title, push_delivery::Column::Body])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(tokens.len())
}

/// Whether `user` wants pushes of `kind` (on unless switched off).
async fn push_on(db: &impl ConnectionTrait, user: Uuid, kind: NotificationKind) -> AppResult<bool> {
    let off = preference::Entity::find()
        .filter(preference::Column::UserId.eq(user))
        .filter(preference::Column::Kind.eq(kind))
        .filter(preference::Column::Push.eq(false))
        .count(db)
        .await?;
    Ok(off == 0)
}

/// The ids of `user`'s sessions that are neither revoked nor expired.
fn live_sessions(user: Uuid) -> SelectStatement {
    Query::select()
        .column(session::Column::Id)
        .from(session::Entity)
        .and_where(session::Column::UserId.eq(user))
        .cond_where(live_session())
        .to_owned()
}

/// Claims due deliveries until `until`.
pub(super) async fn claim(db: &Db, hold: Duration) -> AppResult<Vec<push_delivery::Model>> {
    use push_delivery::Column as D;
    let at = Utc::now();
    let until = at + hold;
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    db.statement(move |tx| {
        Box::pin(async move {
            let mut due = Query::select();
            due.column(D::Id)
                .from(push_delivery::Entity)
                .and_where(D::NextAttemptAt.lte(at))
                .cond_where(
                    Condition::any()
                        .add(D::LockedUntil.is_null())
                        .add(D::LockedUntil.lt(at)),
                )
                .order_by(D::NextAttemptAt, Order::Asc)
                .limit(CLAIM);
            if postgres {
                due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
            }
            Ok(push_delivery::Entity::update_many()
                .col_expr(D::LockedUntil, Expr::value(until))
                .filter(D::Id.in_subquery(due))
                .exec_with_returning(&tx)
                .await?)
        })
    })
    .await
}

/// When the next delivery is due, if any.
pub(super) async fn next_due(db: &Db) -> AppResult<Option<DateTime<Utc>>> {
    Ok(push_delivery::Entity::find()
        .select_only()
        .column(push_delivery::Column::NextAttemptAt)
        .order_by(push_delivery::Column::NextAttemptAt, Order::Asc)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?)
}

/// What a claimed delivery goes to, if it is still wanted: the token's
/// session is live, its account not disabled, the notification unread,
/// its actor neither blocked nor muted since, and push still on for its
/// kind. Anything else drops it unsent.
pub(super) async fn still_wanted(
    db: &Db,
    delivery: &push_delivery::Model,
) -> AppResult<Option<(push_token::Model, notification::Model)>> {
    let Some(token) = push_token::Entity::find_by_id(delivery.token_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let live = session::Entity::find_by_id(token.session_id)
        .filter(live_session())
        .count(db)
        .await?;
    let enabled = user::Entity::find_by_id(token.user_id)
        .filter(user::Column::DisabledAt.is_null())
        .count(db)
        .await?;
    if live == 0 || enabled == 0 {
        return Ok(None);
    }
    let Some(n) = notification::Entity::find_by_id(delivery.notification_id)
        .filter(notification::Column::ReadAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if let Some(actor) = n.actor_id
        && (safety::is_hidden(db, Some(n.user_id), actor).await?
            || safety::has_muted_user(db, n.user_id, actor).await?)
    {
        return Ok(None);
    }
    if !push_on(db, n.user_id, n.kind).await? {
        return Ok(None);
    }
    Ok(Some((token, n)))
}

/// Records what came of a claimed delivery.
pub(super) async fn finish(
    db: &Db,
    delivery: push_delivery::Model,
    sent: Option<Sent>,
    schedule: &[Duration],
) -> AppResult<()> {
    use push_delivery::Column as D;
    let attempts = delivery.attempts + 1;
    // The pause before the next attempt, when there is one.
    let retry = match &sent {
        Some(Sent::Retry { after, .. }) => usize::try_from(attempts - 1)
            .ok()
            .and_then(|i| schedule.get(i))
            .map(|pause| {
                let jitter = rand::rng().random_range(0.8..1.2);
                pause.mul_f64(jitter).max(after.unwrap_or_default())
            }),
        _ => None,
    };
    match &sent {
        Some(Sent::Retry { error, .. }) if retry.is_none() => tracing::warn!(
            delivery = %delivery.id, error, "push given up after its last retry"
        ),
        Some(Sent::Rejected(error)) => {
            tracing::warn!(delivery = %delivery.id, error, "push refused by its provider");
        }
        Some(Sent::DeadToken(error)) => {
            tracing::info!(token = %delivery.token_id, error, "push token dead; forgotten");
        }
        _ => {}
    }
    db.transaction(move |tx| {
        Box::pin(async move {
            match (sent, retry) {
                (Some(Sent::DeadToken(_)), _) => {
                    push_delivery::Entity::delete_many()
                        .filter(D::TokenId.eq(delivery.token_id))
                        .exec(&tx)
                        .await?;
                    push_token::Entity::delete_by_id(delivery.token_id)
                        .exec(&tx)
                        .await?;
                }
                (Some(Sent::Retry { error, .. }), Some(pause)) => {
                    push_delivery::Entity::update_many()
                        .col_expr(D::Attempts, Expr::value(attempts))
                        .col_expr(D::NextAttemptAt, Expr::value(now() + pause))
                        .col_expr(D::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
                        .col_expr(D::LastError, Expr::value(error))
                        .filter(D::Id.eq(delivery.id))
                        .exec(&tx)
                        .await?;
                }
                (Some(Sent::Delivered), _) => {
                    // Unless the burst rewrote it while it was in flight:
                    // then the newer text goes out too.
                    let gone = push_delivery::Entity::delete_many()
                        .filter(D::Id.eq(delivery.id))
                        .filter(D::Title.eq(delivery.title))
                        .filter(D::Body.eq(delivery.body))
                        .exec(&tx)
                        .await?;
                    if gone.rows_affected == 0 {
                        push_delivery::Entity::update_many()
                            .col_expr(D::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
                            .filter(D::Id.eq(delivery.id))
                            .exec(&tx)
                            .await?;
                    }
                }
                // Given up, refused, or no longer wanted.
                _ => {
                    push_delivery::Entity::delete_by_id(delivery.id)
                        .exec(&tx)
                        .await?;
                }
            }
            Ok(())
        })
    })
    .await
}
