//! From the event log to deliveries: once per event and endpoint, however
//! many API processes run. The fan-out's place in the log is the
//! `webhooks` row of `event_cursors`; each step locks it (on PostgreSQL,
//! `FOR UPDATE`; SQLite has one writer), reads the events after it, adds
//! a delivery for every enabled endpoint that wants each event, and moves
//! it, all in one transaction. A step that fails moves nothing, and a
//! delivery added twice is refused by its unique index. The log keeps its
//! events until the fan-out has passed them (the sweeper respects named
//! cursors).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, sea_query::OnConflict};
use uuid::Uuid;

use super::{payload, service::status};
use crate::{
    db::{Db, now},
    error::AppResult,
    events::{self, Cursor, Scope},
};
use entity::{event_cursor, webhook_delivery, webhook_endpoint};

/// The fan-out's row in `event_cursors`.
const CURSOR: &str = "webhooks";
/// Events per step.
const BATCH: u64 = 500;

/// What one step did.
pub(super) struct Step {
    /// Deliveries added.
    pub added: usize,
    /// It stopped at its batch size: run again.
    pub more: bool,
    /// Whether any endpoint is enabled.
    pub endpoints: bool,
}

/// One step of the fan-out.
pub(super) async fn step(db: &Db) -> AppResult<Step> {
    // Most steps find nothing new: find that out without a write.
    if let Some(row) = event_cursor::Entity::find_by_id(CURSOR).one(db).await? {
        let from = Cursor {
            txid: row.txid,
            position: row.position,
        };
        let ahead = events::read(db, from, Scope::All, 1).await?;
        if ahead.last.is_none() {
            let endpoints = webhook_endpoint::Entity::find()
                .filter(webhook_endpoint::Column::Enabled.eq(true))
                .one(db)
                .await?
                .is_some();
            return Ok(Step {
                added: 0,
                more: false,
                endpoints,
            });
        }
    }
    db.transaction(|tx| {
        Box::pin(async move {
            let locked = event_cursor::Entity::find_by_id(CURSOR)
                .lock_exclusive()
                .one(&tx)
                .await?;
            let Some(row) = locked else {
                // First run: webhooks start from the log's end as it is now.
                let tail = events::tail(&tx).await?;
                event_cursor::Entity::insert(cursor_row(tail))
                    .on_conflict(
                        OnConflict::column(event_cursor::Column::Name)
                            .do_nothing()
                            .to_owned(),
                    )
                    .try_insert()
                    .exec_without_returning(&tx)
                    .await?;
                return Ok(Step {
                    added: 0,
                    more: true,
                    endpoints: true,
                });
            };
            let from = Cursor {
                txid: row.txid,
                position: row.position,
            };
            let endpoints = webhook_endpoint::Entity::find()
                .filter(webhook_endpoint::Column::Enabled.eq(true))
                .all(&tx)
                .await?;
            let batch = events::read(&tx, from, Scope::All, BATCH).await?;
            let Some(last) = batch.last else {
                return Ok(Step {
                    added: 0,
                    more: false,
                    endpoints: !endpoints.is_empty(),
                });
            };
            let at = now();
            let mut deliveries = Vec::new();
            for logged in &batch.events {
                let kind = logged.event.kind();
                // An endpoint gets the events after it was registered.
                let wanting = endpoints
                    .iter()
                    .filter(|e| wants(e, kind) && e.created_at <= logged.at);
                let mut body = None;
                for endpoint in wanting {
                    let payload = body.get_or_insert_with(|| payload::body(logged)).clone();
                    deliveries.push(webhook_delivery::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        endpoint_id: Set(endpoint.id),
                        event_txid: Set(logged.cursor.txid),
                        event_position: Set(logged.cursor.position),
                        kind: Set(kind.to_owned()),
                        payload: Set(payload),
                        status: Set(status::PENDING.to_owned()),
                        attempts: Set(0),
                        next_attempt_at: Set(at),
                        locked_until: Set(None),
                        last_status_code: Set(None),
                        last_latency_ms: Set(None),
                        last_error: Set(None),
                        created_at: Set(at),
                        delivered_at: Set(None),
                    });
                }
            }
            let added = deliveries.len();
            for chunk in deliveries.chunks(100) {
                webhook_delivery::Entity::insert_many(chunk.to_vec())
                    .on_conflict(
                        OnConflict::columns([
                            webhook_delivery::Column::EndpointId,
                            webhook_delivery::Column::EventTxid,
                            webhook_delivery::Column::EventPosition,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .try_insert()
                    .exec_without_returning(&tx)
                    .await?;
            }
            event_cursor::Entity::update(cursor_row(last))
                .exec(&tx)
                .await?;
            Ok(Step {
                added,
                more: batch.full,
                endpoints: !endpoints.is_empty(),
            })
        })
    })
    .await
}

fn cursor_row(cursor: Cursor) -> event_cursor::ActiveModel {
    event_cursor::ActiveModel {
        name: Set(CURSOR.to_owned()),
        txid: Set(cursor.txid),
        position: Set(cursor.position),
        updated_at: Set(now()),
        ..Default::default()
    }
}

fn wants(endpoint: &webhook_endpoint::Model, kind: &str) -> bool {
    endpoint
        .kinds
        .as_array()
        .is_some_and(|kinds| kinds.iter().any(|k| k.as_str() == Some(kind)))
}
