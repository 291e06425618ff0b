//! The API's side of the database: the pool (connected through
//! `migration::database`, the connection module every binary shares) with
//! its statements counted, migrations applied at start when configured,
//! readiness, and the time the rows store.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, SubsecRound, Utc};
use migration::{Migrator, MigratorTrait, database};
use sea_orm::DatabaseConnection;

use crate::config::Config;

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

/// Opens the pool, and applies pending migrations when the config says so.
pub async fn connect(config: &Config) -> anyhow::Result<(DatabaseConnection, StatementCounter)> {
    let mut db = database::connect_with(&config.database.url, &config.database.pool).await?;
    let counter = StatementCounter::default();
    let count = counter.0.clone();
    db.set_metric_callback(move |info| {
        // `RUST_LOG=hearth::sql=trace` lists every statement: the way to
        // find an N+1.
        tracing::trace!(target: "hearth::sql", elapsed = ?info.elapsed, sql = %info.statement.sql);
        count.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("db_statements_total").increment(1);
    });
    if config.auto_migrate {
        let pending = Migrator::get_pending_migrations(&db).await?.len();
        if pending > 0 {
            tracing::info!(pending, "applying migrations");
            Migrator::up(&db, None).await?;
        }
    }
    Ok((db, counter))
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
pub async fn readiness(db: &DatabaseConnection, timeout: Duration) -> Readiness {
    let check = async {
        db.ping().await?;
        Migrator::get_pending_migrations_read_only(db)
            .await
            .map(|p| p.len())
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
