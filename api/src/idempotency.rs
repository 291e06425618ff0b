//! Idempotent writes. A mutation that creates something takes an
//! `idempotencyKey` of the client's choosing; the same account repeating a
//! key within a day gets the first result back and nothing is written
//! again, also when both requests race. The same key with different input
//! is a `CONFLICT`. A request that fails saves nothing, so it can be
//! retried with its key.
//!
//! The key is claimed inside the write's own transaction, with the id of
//! what the write creates: the claim and the write commit together. Two
//! racing requests both try to insert the key's row; its primary key makes
//! the second wait for the first and then find its row.

use std::time::Duration;

use chrono::Utc;
use futures_util::future::BoxFuture;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::OnConflict};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    db::{Db, Tx, now},
    error::{AppError, AppResult},
};
use entity::idempotency_key;

/// How long a key is remembered.
const KEPT: Duration = Duration::from_secs(24 * 3600);
/// Longest key accepted.
const MAX_KEY: usize = 255;

/// A key given with one request, with what identifies the request.
#[derive(Debug, Clone)]
pub(crate) struct IdempotencyKey {
    account: Uuid,
    key: String,
    operation: &'static str,
    fingerprint: String,
}

/// How a keyed write went.
pub(crate) enum Done<T> {
    /// It ran now.
    New(T),
    /// The key was used before: the id the first request created.
    Repeat(Uuid),
    /// It wrote nothing (a check inside the write failed); the key stays
    /// free.
    Refused,
}

impl IdempotencyKey {
    /// `key` as `account` gave it for `operation` with `input` (anything
    /// that tells two requests apart); `None` when no key was given.
    pub(crate) fn new(
        account: Uuid,
        key: Option<String>,
        operation: &'static str,
        input: &serde_json::Value,
    ) -> AppResult<Option<Self>> {
        let Some(key) = key else {
            return Ok(None);
        };
        if key.is_empty() || key.chars().count() > MAX_KEY || key.chars().any(char::is_control) {
            return Err(AppError::bad_input(
                "idempotencyKey",
                format!(
                    "an idempotency key is 1 to {MAX_KEY} characters, without control characters"
                ),
            ));
        }
        let fingerprint = hex::encode(Sha256::digest(format!("{operation}\n{input}")));
        Ok(Some(Self {
            account,
            key,
            operation,
            fingerprint,
        }))
    }

    /// The first result of this key, if it was used (before doing slow
    /// work, such as storing an upload, for nothing); `CONFLICT` if it was
    /// used for another request.
    pub(crate) async fn find(&self, db: &impl ConnectionTrait) -> AppResult<Option<Uuid>> {
        let row = idempotency_key::Entity::find_by_id((self.account, self.key.clone()))
            .one(db)
            .await?;
        match row {
            Some(row) if row.created_at > Utc::now() - KEPT => self.same_request(&row).map(Some),
            _ => Ok(None),
        }
    }

    /// Claims the key for `result` inside the write's transaction: `None`
    /// if it is this request's, or the first request's result.
    async fn claim(&self, tx: &impl ConnectionTrait, result: Uuid) -> AppResult<Option<Uuid>> {
        let row = idempotency_key::ActiveModel {
            account_id: Set(self.account),
            key: Set(self.key.clone()),
            operation: Set(self.operation.to_owned()),
            fingerprint: Set(self.fingerprint.clone()),
            result_id: Set(result),
            created_at: Set(now()),
        };
        let inserted = idempotency_key::Entity::insert(row.clone())
            .on_conflict(
                OnConflict::columns([
                    idempotency_key::Column::AccountId,
                    idempotency_key::Column::Key,
                ])
                .do_nothing()
                .to_owned(),
            )
            .try_insert()
            .exec_without_returning(tx)
            .await?;
        if matches!(inserted, sea_orm::TryInsertResult::Inserted(1)) {
            return Ok(None);
        }
        let existing = idempotency_key::Entity::find_by_id((self.account, self.key.clone()))
            .one(tx)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("an idempotency key vanished")))?;
        if existing.created_at <= Utc::now() - KEPT {
            // Expired but not yet swept: this request takes the key over.
            idempotency_key::Entity::update(row).exec(tx).await?;
            return Ok(None);
        }
        self.same_request(&existing).map(Some)
    }

    fn same_request(&self, row: &idempotency_key::Model) -> AppResult<Uuid> {
        if row.operation == self.operation && row.fingerprint == self.fingerprint {
            Ok(row.result_id)
        } else {
            Err(AppError::conflict(
                "idempotencyKey",
                "this idempotency key was used for a different request",
            ))
        }
    }

    /// Gives the key back within the transaction that claimed it.
    async fn release(&self, tx: &impl ConnectionTrait) -> AppResult<()> {
        idempotency_key::Entity::delete_by_id((self.account, self.key.clone()))
            .exec(tx)
            .await?;
        Ok(())
    }
}

/// Runs `write` (which creates `result`) in a transaction, once per key:
/// with a key already used, writes nothing and answers the first result.
/// `write` answers `None` when it wrote nothing; the key is released then.
pub(crate) async fn write_once<T, F>(
    db: &Db,
    key: Option<IdempotencyKey>,
    result: Uuid,
    write: F,
) -> AppResult<Done<T>>
where
    T: Send + 'static,
    F: for<'t> FnOnce(&'t Tx<'t>) -> BoxFuture<'t, AppResult<Option<T>>> + Send + 'static,
{
    db.transaction(move |tx| {
        Box::pin(async move {
            if let Some(key) = &key
                && let Some(first) = key.claim(&tx, result).await?
            {
                return Ok(Done::Repeat(first));
            }
            match write(&tx).await? {
                Some(value) => Ok(Done::New(value)),
                None => {
                    if let Some(key) = &key {
                        key.release(&tx).await?;
                    }
                    Ok(Done::Refused)
                }
            }
        })
    })
    .await
}

/// Deletes keys older than a day, every hour until `shutdown`.
pub(crate) fn spawn_sweeper(db: Db, shutdown: CancellationToken) {
    tokio::spawn(crate::db::in_background(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let cutoff = Utc::now() - KEPT;
            let swept = db
                .statement(move |tx| {
                    Box::pin(async move {
                        Ok(idempotency_key::Entity::delete_many()
                            .filter(idempotency_key::Column::CreatedAt.lt(cutoff))
                            .exec(&tx)
                            .await?
                            .rows_affected)
                    })
                })
                .await;
            if let Err(err) = swept {
                tracing::warn!(error = ?err, "cannot sweep idempotency keys");
            }
        }
    }));
}
