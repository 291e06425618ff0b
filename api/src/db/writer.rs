//! SQLite's one writer, with group commit.
//!
//! SQLite lets one connection write at a time. With a pool of writers,
//! the ones that lose the race for the lock sleep in its busy handler, in
//! growing steps, holding their pool connection: a few concurrent writers
//! made p99 latency climb to a second. Here every write goes to one task
//! that owns the one writing connection, so nothing ever waits on the lock.
//!
//! While a batch commits, writes keep arriving; the task then runs all
//! that are waiting (up to [`MAX_BATCH`]) in one transaction, each in its
//! own `SAVEPOINT` so a failing write rolls back alone and gets its own
//! error, and commits them together: one `COMMIT`, one WAL sync
//! (`synchronous=FULL` stays, so an answered write survives power loss).
//! Every caller is answered only after that commit. The task never waits
//! for more writes to arrive: a lone write is committed at once.

use std::{
    any::Any,
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use futures_util::{FutureExt, future::BoxFuture};
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::BACKGROUND;
use crate::error::{AppError, AppResult};

/// The most writes committed together. A bound keeps one commit's latency
/// (and what a failed commit takes down with it) small.
pub(crate) const MAX_BATCH: usize = 64;

/// Writes waiting for the writer; beyond this, callers wait to queue.
const QUEUE: usize = 4096;

/// A write is database work only (hashing and the like happen before it is
/// queued), so it finishes in milliseconds; one that does not would hold
/// every other write back, and is failed instead.
const WORK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One write: the work, run in its own savepoint, and where its outcome
/// goes.
pub(crate) type Work = Box<
    dyn for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, AppResult<Box<dyn Any + Send>>>
        + Send,
>;

struct Job {
    work: Work,
    done: oneshot::Sender<AppResult<Box<dyn Any + Send>>>,
    /// Queued by background work: its statements are not counted.
    background: bool,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

/// What the writer has done so far.
#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    writes: AtomicU64,
}

impl Writer {
    /// Starts the task that owns `connection` (a pool of one). It runs
    /// until every handle is dropped.
    pub(crate) fn start(connection: DatabaseConnection) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let stats = Arc::new(Stats::default());
        tokio::spawn(run(connection, queue, stats.clone()));
        Self { jobs, stats }
    }

    /// Batches committed (or failed) so far, and the writes they held.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.stats.batches.load(Ordering::Relaxed),
            self.stats.writes.load(Ordering::Relaxed),
        )
    }

    /// Runs `work` in the next batch and answers once the batch commits.
    pub(crate) async fn write(&self, work: Work) -> AppResult<Box<dyn Any + Send>> {
        let (done, answer) = oneshot::channel();
        let background = BACKGROUND.try_with(|()| ()).is_ok();
        self.jobs
            .send(Job {
                work,
                done,
                background,
            })
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("the database writer has stopped")))?;
        answer.await.map_err(|_| {
            AppError::Internal(anyhow::anyhow!("the database writer dropped a write"))
        })?
    }
}

async fn run(connection: DatabaseConnection, mut queue: mpsc::Receiver<Job>, stats: Arc<Stats>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("db_write_batch_size").record(batch.len() as f64);
        let size = batch.len() as u64;
        if batch.iter().all(|job| job.background) {
            BACKGROUND
                .scope((), commit_batch(&connection, &mut batch))
                .await;
        } else {
            commit_batch(&connection, &mut batch).await;
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.writes.fetch_add(size, Ordering::Relaxed);
    }
}

/// Runs every job of `batch` in one transaction, each in a savepoint, then
/// commits and answers them all.
async fn commit_batch(connection: &DatabaseConnection, batch: &mut Vec<Job>) {
    // IMMEDIATE: the write lock is taken at BEGIN, not half-way through.
    let options = TransactionOptions {
        isolation_level: None,
        access_mode: None,
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
    };
    let txn = match connection.begin_with_options(options).await {
        Ok(txn) => txn,
        Err(err) => {
            let message = format!("cannot begin a write: {err}");
            for job in batch.drain(..) {
                let _ = job
                    .done
                    .send(Err(AppError::from(sea_orm::DbErr::Custom(message.clone()))));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        let outcome = if job.background {
            BACKGROUND.scope((), run_one(&txn, job.work)).await
        } else {
            run_one(&txn, job.work).await
        };
        outcomes.push((job.done, outcome));
    }
    match txn.commit().await {
        Ok(()) => {
            for (done, outcome) in outcomes {
                let _ = done.send(outcome);
            }
        }
        Err(err) => {
            // Nothing of the batch is stored: every write failed.
            tracing::error!(error = %err, "committing a batch of writes failed");
            let message = err.to_string();
            for (done, _) in outcomes {
                let _ = done.send(Err(AppError::from(sea_orm::DbErr::Custom(message.clone()))));
            }
        }
    }
}

/// One write in its own savepoint: kept when it succeeds, rolled back alone
/// when it fails or panics.
async fn run_one(txn: &DatabaseTransaction, work: Work) -> AppResult<Box<dyn Any + Send>> {
    let savepoint = txn.begin().await?;
    let outcome = tokio::time::timeout(
        WORK_TIMEOUT,
        AssertUnwindSafe(work(&savepoint)).catch_unwind(),
    )
    .await
    .unwrap_or_else(|_| {
        Ok(Err(AppError::Internal(anyhow::anyhow!(
            "a write took longer than {WORK_TIMEOUT:?}"
        ))))
    });
    match outcome {
        Ok(Ok(value)) => {
            savepoint.commit().await?;
            Ok(value)
        }
        Ok(Err(err)) => {
            let _ = savepoint.rollback().await;
            Err(err)
        }
        Err(_) => {
            let _ = savepoint.rollback().await;
            Err(AppError::Internal(anyhow::anyhow!("a write panicked")))
        }
    }
}
