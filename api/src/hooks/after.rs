//! After-commit hooks: each follows the event log from its own row of
//! `event_cursors` (`hook:<name>`), so a restart resumes where it stopped
//! and an event is never skipped. With several API processes, the one
//! holding the row's lease runs the hook; the others wait for the lease to
//! run out (a process that died hands over within [`LEASE`]).
//!
//! A hook sees each event at least once: one that fails (or panics) runs
//! again after a pause, and after [`ATTEMPTS`] tries the event is kept in
//! `hook_failures` with the error and the hook moves on. The position is
//! saved at the end of each batch and at least every [`SAVE_EVERY`] within
//! one, not after every event: a process that dies mid-batch hands the
//! unsaved events to the next holder, which runs them again.

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::FutureExt;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, OnConflict},
};
use tokio::sync::Notify;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

use crate::{
    db::{self, Db, now},
    error::AppResult,
    events::{self, Cursor, Logged, Scope, Tap},
};
use entity::{event_cursor, hook_failure};

/// How long a process holds a hook after its last renewal.
pub const LEASE: Duration = Duration::from_secs(30);
/// Tries per event before it is recorded as failed.
pub const ATTEMPTS: u32 = 4;
/// Pauses between tries.
const BACKOFF: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(500),
    Duration::from_secs(2),
];
/// How often a hook looks at the log without being woken.
const POLL: Duration = Duration::from_secs(5);
/// Events read at a time.
const BATCH: u64 = 100;
/// How often the position is saved while a batch is handled event by
/// event: it also renews the lease, and bounds what a crash repeats.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Reacts to committed events.
#[async_trait::async_trait]
pub trait AfterHook: Send + Sync + 'static {
    /// Called once per event, in log order. An error (or a panic) is
    /// retried; see the module documentation.
    async fn after(&self, event: &Logged, db: &Db) -> anyhow::Result<()>;

    /// Handles a run of events, in log order, all or nothing, for a hook
    /// that can do that more cheaply than one at a time (one transaction,
    /// one read for the whole run). `Ok(false)`, the default, hands the
    /// events to [`AfterHook::after`] one by one; so does an error or a
    /// panic, and each event is then retried on its own.
    async fn after_batch(&self, events: &[Logged], db: &Db) -> anyhow::Result<bool> {
        let _ = (events, db);
        Ok(false)
    }
}

/// The cursor row of the hook named `name`.
pub(crate) fn cursor_name(name: &str) -> String {
    format!("hook:{name}")
}

/// Gives a hook that has no place in the log yet one at the log's end, at
/// start-up, before the server takes requests: so every event committed
/// once it serves reaches the hook, however late its task first runs.
pub(crate) async fn register(db: &Db, name: &str) -> AppResult<()> {
    let row = cursor_name(name);
    db.statement(move |tx| {
        Box::pin(async move {
            let start = events::tail(&tx).await?;
            event_cursor::Entity::insert(event_cursor::ActiveModel {
                name: Set(row),
                txid: Set(start.txid),
                position: Set(start.position),
                updated_at: Set(now()),
                holder: Set(None),
                leased_until: Set(None),
            })
            .on_conflict(
                OnConflict::column(event_cursor::Column::Name)
                    .do_nothing()
                    .to_owned(),
            )
            .try_insert()
            .exec_without_returning(&tx)
            .await?;
            Ok(())
        })
    })
    .await
}

/// Wakes hooks when the process's log reader sees new events.
pub(crate) struct Wake(pub(crate) Arc<Notify>);

impl Tap for Wake {
    fn deliver(&self, _: &Arc<Logged>) {
        self.0.notify_waiters();
    }
}

/// Runs `hook` until `shutdown`.
pub(crate) fn spawn(
    db: Db,
    name: String,
    hook: Arc<dyn AfterHook>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) {
    let me = Uuid::new_v4();
    tasks.spawn(db::in_background(async move {
        let row = cursor_name(&name);
        loop {
            let woken = wake.notified();
            let pause = match step(&db, &row, me, &name, hook.as_ref(), &shutdown).await {
                Ok(true) => continue,
                Ok(false) => POLL,
                Err(err) => {
                    tracing::warn!(hook = %name, error = ?err, "after-commit hook could not read the log");
                    POLL
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => {
                    // Hand the hook over now rather than when the lease
                    // runs out.
                    if let Err(err) = release(&db, &row, me).await {
                        tracing::debug!(hook = %name, error = ?err, "could not release the hook's lease");
                    }
                    return;
                }
                () = woken => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }));
}

/// Takes (or renews) the lease and handles one batch. True when there may
/// be more to read at once.
async fn step(
    db: &Db,
    row: &str,
    me: Uuid,
    name: &str,
    hook: &dyn AfterHook,
    shutdown: &CancellationToken,
) -> AppResult<bool> {
    let Some(from) = lease(db, row, me).await? else {
        return Ok(false);
    };
    let batch = events::read(db, from, Scope::All, BATCH).await?;
    if !batch.events.is_empty() && !together(name, hook, &batch.events, db).await {
        let mut saved = Instant::now();
        let mut done = None;
        for logged in &batch.events {
            if shutdown.is_cancelled() {
                break;
            }
            handle(db, name, hook, logged).await?;
            done = Some(logged.cursor);
            if saved.elapsed() >= SAVE_EVERY {
                if !save(db, row, me, logged.cursor).await? {
                    // Another process took the hook over: stop here.
                    return Ok(false);
                }
                saved = Instant::now();
            }
        }
        if shutdown.is_cancelled() {
            if let Some(done) = done {
                save(db, row, me, done).await?;
            }
            return Ok(false);
        }
    }
    if let Some(last) = batch.last {
        save(db, row, me, last).await?;
    }
    Ok(batch.full)
}

/// Offers a whole batch to the hook at once; false when it declined, failed
/// or panicked, and the events are to be handled one by one.
async fn together(name: &str, hook: &dyn AfterHook, events: &[Logged], db: &Db) -> bool {
    match AssertUnwindSafe(hook.after_batch(events, db))
        .catch_unwind()
        .await
    {
        Ok(Ok(handled)) => handled,
        Ok(Err(err)) => {
            tracing::warn!(hook = %name, events = events.len(), error = %format!("{err:#}"), "after-commit hook failed on a batch; trying its events one at a time");
            false
        }
        Err(_) => {
            tracing::warn!(hook = %name, events = events.len(), "after-commit hook panicked on a batch; trying its events one at a time");
            false
        }
    }
}

/// Runs the hook on one event, retrying; records it when every try failed.
async fn handle(db: &Db, name: &str, hook: &dyn AfterHook, logged: &Logged) -> AppResult<()> {
    let mut error = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(BACKOFF[(attempt as usize - 1).min(BACKOFF.len() - 1)]).await;
        }
        match AssertUnwindSafe(hook.after(logged, db))
            .catch_unwind()
            .await
        {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(err)) => error = format!("{err:#}"),
            Err(_) => error = "the hook panicked".to_owned(),
        }
        tracing::warn!(hook = %name, kind = logged.event.kind(), attempt = attempt + 1, error = %error, "after-commit hook failed");
    }
    let failure = hook_failure::ActiveModel {
        id: Set(Uuid::new_v4()),
        hook: Set(name.to_owned()),
        txid: Set(logged.cursor.txid),
        position: Set(logged.cursor.position),
        kind: Set(logged.event.kind().to_owned()),
        error: Set(error),
        attempts: Set(ATTEMPTS as i32),
        failed_at: Set(now()),
    };
    db.statement(move |tx| {
        Box::pin(async move {
            hook_failure::Entity::insert(failure)
                .exec_without_returning(&tx)
                .await?;
            Ok(())
        })
    })
    .await?;
    tracing::error!(hook = %name, kind = logged.event.kind(), "after-commit hook gave up on an event; it is kept in hook_failures");
    Ok(())
}

/// The hook's position if this process holds (or now took) its lease.
async fn lease(db: &Db, row: &str, me: Uuid) -> AppResult<Option<Cursor>> {
    use event_cursor::Column as C;
    let row_name = row.to_owned();
    let taken = db
        .statement(move |tx| {
            Box::pin(async move {
                // The row exists: `register` made it at start-up.
                let at = now();
                let claimed = event_cursor::Entity::update_many()
                    .col_expr(C::Holder, Expr::value(me))
                    .col_expr(C::LeasedUntil, Expr::value(at + lease_length()))
                    .filter(C::Name.eq(row_name))
                    .filter(
                        Condition::any()
                            .add(C::Holder.is_null())
                            .add(C::Holder.eq(me))
                            .add(C::LeasedUntil.lt(at)),
                    )
                    .exec(&tx)
                    .await?;
                Ok(claimed.rows_affected > 0)
            })
        })
        .await?;
    if !taken {
        return Ok(None);
    }
    let found = event_cursor::Entity::find_by_id(row.to_owned())
        .one(db)
        .await?;
    Ok(found.map(|r| Cursor {
        txid: r.txid,
        position: r.position,
    }))
}

/// Moves the hook's position on (and renews its lease), if this process
/// still holds it.
async fn save(db: &Db, row: &str, me: Uuid, to: Cursor) -> AppResult<bool> {
    use event_cursor::Column as C;
    let row = row.to_owned();
    db.statement(move |tx| {
        Box::pin(async move {
            let at = now();
            let updated = event_cursor::Entity::update_many()
                .col_expr(C::Txid, Expr::value(to.txid))
                .col_expr(C::Position, Expr::value(to.position))
                .col_expr(C::UpdatedAt, Expr::value(at))
                .col_expr(C::LeasedUntil, Expr::value(at + lease_length()))
                .filter(C::Name.eq(row))
                .filter(C::Holder.eq(me))
                .exec(&tx)
                .await?;
            Ok(updated.rows_affected > 0)
        })
    })
    .await
}

/// Gives the lease up, if this process holds it.
async fn release(db: &Db, row: &str, me: Uuid) -> AppResult<()> {
    use event_cursor::Column as C;
    let row = row.to_owned();
    db.statement(move |tx| {
        Box::pin(async move {
            event_cursor::Entity::update_many()
                .col_expr(C::Holder, Expr::value(Option::<Uuid>::None))
                .col_expr(
                    C::LeasedUntil,
                    Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
                )
                .filter(C::Name.eq(row))
                .filter(C::Holder.eq(me))
                .exec(&tx)
                .await?;
            Ok(())
        })
    })
    .await
}

fn lease_length() -> chrono::Duration {
    chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::seconds(30))
}
