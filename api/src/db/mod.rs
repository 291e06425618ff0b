//! The API's side of the database: [`Db`], the handle every service reads
//! and writes through (connected by `migration::database`, the connection
//! module every binary shares), with its statements counted; migrations
//! applied at start when configured; readiness; and the time rows store.
//!
//! Reads go to a pool. Writes go through [`Db::transaction`] or
//! [`Db::statement`]: on PostgreSQL straight to the same pool, on SQLite to
//! the one writer ([`writer`]), which commits them in groups. On SQLite the
//! read pool is `query_only`, so a write that bypassed the writer fails
//! loudly instead of racing it.

mod writer;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, SubsecRound, Utc};
use futures_util::future::BoxFuture;
use migration::database;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
    sea_query::{Expr, Query},
};
use tokio::sync::Notify;

use crate::{
    config::Config,
    error::{AppError, AppResult},
};

/// Whether `condition` (built of `EXISTS`es, say) holds: one `SELECT`,
/// one round trip, on either backend (both read the answer as an integer).
pub(crate) async fn holds(db: &impl ConnectionTrait, condition: Expr) -> AppResult<bool> {
    let query = Query::select()
        .expr_as(Expr::case(condition, 1).finally(0), "holds")
        .to_owned();
    let row = db.query_one(&query).await?;
    Ok(row
        .map(|r| r.try_get::<i32>("", "holds"))
        .transpose()?
        .unwrap_or(0)
        == 1)
}

/// The current time at the precision both backends store (microseconds),
/// so a row reads back exactly as it was written and keyset cursors built
/// from either agree.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Counts the SQL statements a pool has run: exported as
/// `db_statements_total` and readable in-process, so tests and benchmarks
/// can check that a request's statement count depends on its shape, not
/// its page size.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The database as the services use it. Reads through it directly (it is
/// a [`ConnectionTrait`] over the read pool); writes through
/// [`Db::transaction`] or [`Db::statement`].
#[derive(Clone)]
pub struct Db {
    reads: DatabaseConnection,
    writes: Writes,
    /// Notified after every write commits: it wakes the event log's reader.
    commits: Arc<Notify>,
    /// Writes committed so far, so the reader knows when this process
    /// wrote something other processes should hear about.
    written: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone)]
enum Writes {
    /// PostgreSQL: many writers, on the same pool as the reads.
    Pool,
    /// SQLite: the one writer, and its connection (to close it).
    Writer(writer::Writer, DatabaseConnection),
}

/// Where a write's statements go: a transaction, or (a single statement on
/// PostgreSQL) the pool itself.
pub enum Tx<'a> {
    Transaction(&'a DatabaseTransaction),
    Pool(&'a DatabaseConnection),
}

impl Db {
    /// The read pool, for what needs a plain connection (the batch loader).
    pub fn reads(&self) -> &DatabaseConnection {
        &self.reads
    }

    /// Runs `work` atomically: all its statements commit, or none. `work`
    /// is database work only; anything slow (hashing, storage) happens
    /// before. Written as `db.transaction(move |tx| Box::pin(async move {
    /// ... }))`.
    pub async fn transaction<T, F>(&self, work: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(Tx<'t>) -> BoxFuture<'t, AppResult<T>> + Send + 'static,
    {
        let value = match &self.writes {
            Writes::Pool => {
                let txn = self.reads.begin().await?;
                let value = work(Tx::Transaction(&txn)).await?;
                txn.commit().await?;
                value
            }
            Writes::Writer(writer, _) => {
                let value = writer
                    .write(Box::new(move |txn| {
                        Box::pin(async move {
                            let value = work(Tx::Transaction(txn)).await?;
                            Ok(Box::new(value) as Box<dyn std::any::Any + Send>)
                        })
                    }))
                    .await?;
                *value.downcast::<T>().map_err(|_| {
                    AppError::Internal(anyhow::anyhow!("a write answered with the wrong type"))
                })?
            }
        };
        self.committed();
        Ok(value)
    }

    /// Runs `work`, one write statement, which needs no transaction of its
    /// own on PostgreSQL (it saves the `BEGIN` and `COMMIT` round trips);
    /// on SQLite it joins the writer's next batch like any write.
    pub async fn statement<T, F>(&self, work: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(Tx<'t>) -> BoxFuture<'t, AppResult<T>> + Send + 'static,
    {
        match &self.writes {
            Writes::Pool => {
                let value = work(Tx::Pool(&self.reads)).await?;
                self.committed();
                Ok(value)
            }
            Writes::Writer(..) => self.transaction(work).await,
        }
    }

    /// Notified (one permit at a time) whenever a write has committed.
    fn committed(&self) {
        self.written
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.commits.notify_one();
    }

    /// How many writes this process has committed.
    pub(crate) fn writes_committed(&self) -> u64 {
        self.written.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn commits(&self) -> Arc<Notify> {
        self.commits.clone()
    }

    /// SQLite's writer so far: batches committed and the writes they held
    /// (their ratio is the mean batch size); `None` on PostgreSQL.
    pub fn write_stats(&self) -> Option<(u64, u64)> {
        match &self.writes {
            Writes::Pool => None,
            Writes::Writer(writer, _) => Some(writer.stats()),
        }
    }

    /// Closes the pools (at shutdown, once requests have drained).
    pub async fn close(&self) {
        let _ = self.reads.clone().close().await;
        if let Writes::Writer(_, connection) = &self.writes {
            let _ = connection.clone().close().await;
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.reads.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.reads.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.reads.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.reads.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.reads.query_all_raw(stmt).await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Tx<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Transaction(txn) => txn.get_database_backend(),
            Self::Pool(pool) => pool.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Transaction(txn) => txn.execute_raw(stmt).await,
            Self::Pool(pool) => pool.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Transaction(txn) => txn.execute_unprepared(sql).await,
            Self::Pool(pool) => pool.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Transaction(txn) => txn.query_one_raw(stmt).await,
            Self::Pool(pool) => pool.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Transaction(txn) => txn.query_all_raw(stmt).await,
            Self::Pool(pool) => pool.query_all_raw(stmt).await,
        }
    }
}

/// Opens the connections (on SQLite, starting the writer), counts their
/// statements, and applies pending migrations when the config says so.
pub async fn connect(
    config: &Config,
    history: &migration::History,
) -> anyhow::Result<(Db, StatementCounter)> {
    let connections = database::connect_server(&config.database.url, &config.database.pool).await?;
    let counter = StatementCounter::default();
    let mut reads = connections.reads;
    count_statements(&mut reads, &counter);
    // Migrations write: on SQLite through the writer's connection, before
    // its task starts.
    let migrate = |db: DatabaseConnection| async move {
        if config.auto_migrate {
            let pending = history.pending(&db).await?;
            if pending > 0 {
                tracing::info!(pending, "applying migrations");
                history.up(&db).await?;
            }
        }
        anyhow::Ok(db)
    };
    let writes = match connections.writer {
        None => {
            reads = migrate(reads).await?;
            Writes::Pool
        }
        Some(mut connection) => {
            count_statements(&mut connection, &counter);
            let connection = migrate(connection).await?;
            Writes::Writer(writer::Writer::start(connection.clone()), connection)
        }
    };
    let db = Db {
        reads,
        writes,
        commits: Arc::new(Notify::new()),
        written: Arc::default(),
    };
    Ok((db, counter))
}

tokio::task_local! {
    /// Set while background work (the event log's reader, sweepers,
    /// webhooks) runs, whose statements the in-process count leaves out.
    static BACKGROUND: ();
}

/// Runs `work` as background work: its statements still reach
/// `db_statements_total`, but not [`StatementCounter`], so what a request
/// costs can be counted while the server's own upkeep goes on.
pub(crate) async fn in_background<F: std::future::Future>(work: F) -> F::Output {
    BACKGROUND.scope((), work).await
}

fn count_statements(db: &mut DatabaseConnection, counter: &StatementCounter) {
    let count = counter.0.clone();
    db.set_metric_callback(move |info| {
        // `RUST_LOG=hearth::sql=trace` lists every statement: the way to
        // find an N+1.
        tracing::trace!(target: "hearth::sql", elapsed = ?info.elapsed, sql = %info.statement.sql);
        if BACKGROUND.try_with(|()| ()).is_err() {
            count.fetch_add(1, Ordering::Relaxed);
        }
        metrics::counter!("db_statements_total").increment(1);
    });
}

/// What readiness found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// The database did not answer in time or refused us.
    DatabaseUnavailable,
    /// Reachable, but the schema is behind the code.
    PendingMigrations(usize),
}

/// Pings the database and counts pending migrations, within `timeout`.
/// Read-only: it never creates the migrations table.
pub async fn readiness(
    db: &DatabaseConnection,
    history: &migration::History,
    timeout: Duration,
) -> Readiness {
    let check = async {
        db.ping().await?;
        history.pending_read_only(db).await
    };
    match tokio::time::timeout(timeout, check).await {
        Ok(Ok(0)) => Readiness::Ready,
        Ok(Ok(pending)) => Readiness::PendingMigrations(pending),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: database check failed");
            Readiness::DatabaseUnavailable
        }
        Err(_) => {
            tracing::warn!(?timeout, "readiness: database check timed out");
            Readiness::DatabaseUnavailable
        }
    }
}
