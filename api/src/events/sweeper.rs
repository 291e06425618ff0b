//! Retention: the oldest events go once they pass the age or count limit.
//!
//! Pruning takes a prefix of the log, in log order, and records where it
//! ended (the `pruned` cursor), so a client resuming from before it is told
//! to resync instead of silently missing events. It never passes a named
//! consumer's cursor (webhook fan-out keeps its place in `event_cursors`),
//! so events not yet handed on stay.

use std::time::Duration;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::OnConflict,
};
use tokio_util::sync::CancellationToken;

use super::{Cursor, log::PRUNED, settings::EventsConfig};
use crate::{
    db::{Db, now},
    error::AppResult,
};
use entity::{event, event_cursor};

/// Rows looked at, and at most deleted, per statement.
const CHUNK: u64 = 1_000;
/// Chunks per sweep, so one sweep stays short; the next continues.
const MAX_CHUNKS: usize = 100;

#[derive(FromQueryResult)]
struct Head {
    txid: i64,
    position: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    settled: bool,
}

/// Prunes what the settings no longer keep; returns how many events went.
pub async fn prune(db: &Db, config: &EventsConfig) -> AppResult<u64> {
    let cutoff = now() - config.retention;
    let mut excess = event::Entity::find()
        .count(db)
        .await?
        .saturating_sub(config.max_events);
    let keep = event_cursor::Entity::find()
        .filter(event_cursor::Column::Name.ne(PRUNED))
        .all(db)
        .await?
        .into_iter()
        .map(|c| Cursor {
            txid: c.txid,
            position: c.position,
        })
        .min();
    let mut pruned = 0;
    for _ in 0..MAX_CHUNKS {
        let head = event::Entity::find()
            .select_only()
            .columns([
                event::Column::Txid,
                event::Column::Position,
                event::Column::CreatedAt,
            ])
            .column_as(super::log::settled(db.get_database_backend()), "settled")
            .order_by(event::Column::Txid, Order::Asc)
            .order_by(event::Column::Position, Order::Asc)
            .limit(CHUNK)
            .into_model::<Head>()
            .all(db)
            .await?;
        let mut end = None;
        for row in &head {
            let cursor = Cursor {
                txid: row.txid,
                position: row.position,
            };
            let expired = excess > 0 || row.created_at < cutoff;
            if !expired || !row.settled || keep.is_some_and(|keep| cursor > keep) {
                break;
            }
            excess = excess.saturating_sub(1);
            end = Some(cursor);
        }
        let Some(end) = end else { break };
        pruned += db
            .transaction(move |tx| {
                Box::pin(async move {
                    let deleted = event::Entity::delete_many()
                        .filter(super::log::up_to(end))
                        .exec(&tx)
                        .await?
                        .rows_affected;
                    event_cursor::Entity::insert(event_cursor::ActiveModel {
                        name: Set(PRUNED.to_owned()),
                        txid: Set(end.txid),
                        position: Set(end.position),
                        updated_at: Set(now()),
                        ..Default::default()
                    })
                    .on_conflict(
                        OnConflict::column(event_cursor::Column::Name)
                            .update_columns([
                                event_cursor::Column::Txid,
                                event_cursor::Column::Position,
                                event_cursor::Column::UpdatedAt,
                            ])
                            .to_owned(),
                    )
                    .exec_without_returning(&tx)
                    .await?;
                    Ok(deleted)
                })
            })
            .await?;
        if (head.len() as u64) < CHUNK {
            break;
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, "pruned the event log");
    }
    Ok(pruned)
}

/// Prunes every minute until `shutdown`.
pub(crate) fn spawn(db: Db, config: EventsConfig, shutdown: CancellationToken) {
    tokio::spawn(crate::db::in_background(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(err) = prune(&db, &config).await {
                tracing::warn!(error = ?err, "cannot prune the event log");
            }
        }
    }));
}
