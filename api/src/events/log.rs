//! Reading the log in order, and the one reader per process that follows
//! it and hands each new event to the process's taps.
//!
//! On PostgreSQL, positions come from a sequence, so a transaction that
//! took position 10 can commit after one that took 11. Reading "after 10"
//! then could skip it forever. So the log is read in `(txid, position)`
//! order and only up to the oldest transaction still running
//! (`pg_snapshot_xmin`): every transaction below it has finished, and any
//! transaction yet to commit has a larger id, so nothing can appear behind
//! a cursor once it moved past. Rows beyond that line are "waiting": the
//! reader looks again shortly. On SQLite there is one writer and `txid`
//! is 0, so positions alone are commit order.
//!
//! A new event wakes the reader at once: in-process, every write's commit
//! does; on PostgreSQL, once a reader has read events its own process
//! wrote, it sends one `NOTIFY` (outside any request), which wakes the
//! readers of the other processes. A lost wake-up costs latency, never an
//! event: the reader polls too, and always reads from its cursor.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use migration::database::{Backend, backend_of};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Order,
    QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
    sqlx,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    cursor::Cursor,
    types::{Event, Logged, kind},
};
use crate::{
    db::Db,
    error::{AppError, AppResult},
};
use entity::{conversation_participant, event, event_cursor, membership, post};

/// The `NOTIFY` channel an insert into `events` signals.
const CHANNEL: &str = "hearth_events";
/// Rows the reader takes at a time.
const BATCH: u64 = 500;
/// How often the reader looks without being woken.
const POLL: Duration = Duration::from_secs(5);
/// The name of the cursor below which the log was pruned.
pub(crate) const PRUNED: &str = "pruned";

/// Which events to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// All of them.
    All,
    /// Events of `kinds` about one post.
    Post(Uuid, &'static [&'static str]),
    /// Events of `kinds` in one community.
    Community(Uuid, &'static [&'static str]),
    /// Messages in the conversations the user takes part in now.
    Conversations(Uuid),
    /// What a signed-in user catches up on: messages in their
    /// conversations, new posts in their communities, and comments and
    /// reactions on their posts.
    Viewer(Uuid),
    /// Events of `kinds` addressed to one user (their notifications).
    User(Uuid, &'static [&'static str]),
}

impl Scope {
    /// The kinds of event in scope, or `None` for any kind.
    pub(crate) fn kinds(self) -> Option<&'static [&'static str]> {
        match self {
            Self::Post(_, kinds) | Self::Community(_, kinds) | Self::User(_, kinds) => Some(kinds),
            Self::Conversations(_) => Some(&[kind::MESSAGE_SENT]),
            Self::All | Self::Viewer(_) => None,
        }
    }

    fn condition(self) -> Condition {
        use event::Column as E;
        let kinds = |kinds: &[&str]| E::Kind.is_in(kinds.iter().copied());
        let conversations = |user: Uuid| {
            E::ConversationId.in_subquery(
                Query::select()
                    .column(conversation_participant::Column::ConversationId)
                    .from(conversation_participant::Entity)
                    .and_where(conversation_participant::Column::UserId.eq(user))
                    .to_owned(),
            )
        };
        match self {
            Self::All => Condition::all(),
            Self::Post(post, k) => Condition::all().add(E::PostId.eq(post)).add(kinds(k)),
            Self::Community(community, k) => Condition::all()
                .add(E::CommunityId.eq(community))
                .add(kinds(k)),
            Self::User(user, k) => Condition::all().add(E::UserId.eq(user)).add(kinds(k)),
            Self::Conversations(user) => Condition::all()
                .add(E::Kind.eq(kind::MESSAGE_SENT))
                .add(conversations(user)),
            Self::Viewer(user) => Condition::any()
                .add(
                    Condition::all()
                        .add(E::Kind.eq(kind::MESSAGE_SENT))
                        .add(conversations(user)),
                )
                .add(
                    Condition::all().add(E::Kind.eq(kind::POST_CREATED)).add(
                        E::CommunityId.in_subquery(
                            Query::select()
                                .column(membership::Column::CommunityId)
                                .from(membership::Entity)
                                .and_where(membership::Column::UserId.eq(user))
                                .to_owned(),
                        ),
                    ),
                )
                .add(
                    Condition::all()
                        .add(kinds(&[kind::COMMENT_CREATED, kind::REACTION_CHANGED]))
                        .add(
                            E::PostId.in_subquery(
                                Query::select()
                                    .column(post::Column::Id)
                                    .from(post::Entity)
                                    .and_where(post::Column::AuthorId.eq(user))
                                    .to_owned(),
                            ),
                        ),
                ),
        }
    }
}

/// What one read found.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The events, in order.
    pub events: Vec<Logged>,
    /// The last row read, even one this version cannot decode (a newer
    /// kind), so the next read starts after it.
    pub last: Option<Cursor>,
    /// The read stopped at its limit: there may be more right away.
    pub full: bool,
    /// Committed rows lie beyond the line of running transactions; they
    /// become readable once those finish.
    pub waiting: bool,
}

#[derive(FromQueryResult)]
struct Row {
    position: i64,
    txid: i64,
    kind: String,
    actor_id: Option<Uuid>,
    data: serde_json::Value,
    created_at: DateTime<Utc>,
    settled: bool,
}

/// True for rows no running transaction can still precede.
pub(super) fn settled(backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Postgres => {
            Expr::cust("txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        }
        _ => Expr::cust("1 = 1"),
    }
}

fn order_key() -> Expr {
    Expr::tuple([
        Expr::col(event::Column::Txid),
        Expr::col(event::Column::Position),
    ])
}

fn cursor_key(cursor: Cursor) -> Expr {
    Expr::tuple([Expr::val(cursor.txid), Expr::val(cursor.position)])
}

/// Events after `cursor`, in log order.
fn after_cursor(cursor: Cursor) -> Expr {
    order_key().gt(cursor_key(cursor))
}

/// Events up to and including `cursor`, in log order.
pub(super) fn up_to(cursor: Cursor) -> Expr {
    order_key().lte(cursor_key(cursor))
}

/// Reads up to `limit` events of `scope` after `after`, in order, stopping
/// at the first row that is not settled yet.
pub(crate) async fn read(
    db: &impl ConnectionTrait,
    after: Cursor,
    scope: Scope,
    limit: u64,
) -> AppResult<Batch> {
    use event::Column as E;
    let rows = event::Entity::find()
        .select_only()
        .columns([
            E::Position,
            E::Txid,
            E::Kind,
            E::ActorId,
            E::Data,
            E::CreatedAt,
        ])
        .column_as(settled(db.get_database_backend()), "settled")
        .filter(after_cursor(after))
        .filter(scope.condition())
        .order_by(E::Txid, Order::Asc)
        .order_by(E::Position, Order::Asc)
        .limit(limit)
        .into_model::<Row>()
        .all(db)
        .await?;
    let mut batch = Batch {
        full: rows.len() as u64 == limit,
        ..Batch::default()
    };
    for row in rows {
        if !row.settled {
            batch.waiting = true;
            batch.full = false;
            break;
        }
        let cursor = Cursor {
            txid: row.txid,
            position: row.position,
        };
        batch.last = Some(cursor);
        match Event::decode(row.kind, row.data) {
            Ok(event) => batch.events.push(Logged {
                cursor,
                event,
                actor: row.actor_id,
                at: row.created_at,
            }),
            Err(err) => {
                tracing::debug!(error = %err, position = row.position, "skipping an event this version does not know");
            }
        }
    }
    Ok(batch)
}

/// The cursor of the newest settled event (the start of the log if none):
/// where a reader starting now begins.
pub(crate) async fn tail(db: &impl ConnectionTrait) -> AppResult<Cursor> {
    use event::Column as E;
    let last: Option<(i64, i64)> = event::Entity::find()
        .select_only()
        .columns([E::Txid, E::Position])
        .filter(settled(db.get_database_backend()))
        .order_by(E::Txid, Order::Desc)
        .order_by(E::Position, Order::Desc)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(
        last.map_or_else(Cursor::default, |(txid, position)| Cursor {
            txid,
            position,
        }),
    )
}

/// On PostgreSQL, rows whose transaction id this server has not reached
/// yet came from another cluster (a restored dump). They would wait forever
/// behind the line of running transactions, so they move before every
/// current row instead, in their order. Run at start.
pub(crate) async fn adopt_restored(db: &Db) -> AppResult<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        let moved = db
            .statement(|tx| {
                Box::pin(async move {
                    Ok(tx
                        .execute_unprepared(
                            "UPDATE events SET txid = 0 \
                             WHERE txid >= pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
                        )
                        .await?
                        .rows_affected())
                })
            })
            .await?;
        if moved > 0 {
            tracing::info!(
                moved,
                "events from another cluster moved to the start of the log"
            );
        }
    }
    Ok(())
}

/// Refuses a client's cursor the log can no longer honour: one older than
/// what was pruned, or one this database never handed out (from another
/// database, or from before a restore). The client refetches instead.
pub(crate) async fn check_resumable(db: &impl ConnectionTrait, cursor: Cursor) -> AppResult<()> {
    let pruned = event_cursor::Entity::find_by_id(PRUNED).one(db).await?;
    if let Some(pruned) = pruned
        && cursor
            < (Cursor {
                txid: pruned.txid,
                position: pruned.position,
            })
    {
        return Err(AppError::ResyncRequired);
    }
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS txid, \
             COALESCE((SELECT last_value FROM events_position_seq), 0) AS position"
        }
        _ => {
            "SELECT 0 AS txid, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0) AS position"
        }
    };
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no row for the log's end")))?;
    let (txid, position): (i64, i64) = (row.try_get("", "txid")?, row.try_get("", "position")?);
    if cursor.txid > txid || cursor.position > position {
        return Err(AppError::ResyncRequired);
    }
    Ok(())
}

/// Something in this process that wants every new event, in order.
pub(crate) trait Tap: Send + Sync {
    fn deliver(&self, logged: &Arc<Logged>);
}

/// The process's reader of the log.
pub(crate) struct EventLog;

impl EventLog {
    /// Starts following the log after `from` (see [`tail`]), handing every
    /// event to `taps`, until `shutdown`. On PostgreSQL it also listens for
    /// other processes' events.
    pub(crate) fn start(
        db: Db,
        database_url: &str,
        from: Cursor,
        taps: Vec<Arc<dyn Tap>>,
        shutdown: CancellationToken,
    ) {
        let wake = db.commits();
        // On PostgreSQL, other processes hear of this one's events through
        // `NOTIFY`, with this id as the payload so it skips its own.
        let announce = matches!(backend_of(database_url), Ok(Backend::Postgres))
            .then(|| Uuid::new_v4().to_string());
        if let Some(me) = &announce {
            tokio::spawn(listen(
                database_url.to_owned(),
                me.clone(),
                wake.clone(),
                shutdown.clone(),
            ));
        }
        tokio::spawn(crate::db::in_background(follow(
            db, wake, announce, from, taps, shutdown,
        )));
    }
}

async fn follow(
    db: Db,
    wake: Arc<Notify>,
    announce: Option<String>,
    mut cursor: Cursor,
    taps: Vec<Arc<dyn Tap>>,
    shutdown: CancellationToken,
) {
    let mut retry = Duration::from_millis(2);
    // Writes of this process already announced to the others.
    let mut announced = db.writes_committed();
    loop {
        // Counted before the read: a write committed after it is announced
        // on a later turn.
        let written = db.writes_committed();
        let pause = match read(&db, cursor, Scope::All, BATCH).await {
            Ok(batch) => {
                if let Some(me) = &announce
                    && written != announced
                    && !batch.events.is_empty()
                {
                    match notify(&db, me).await {
                        Ok(()) => announced = written,
                        Err(err) => {
                            tracing::warn!(error = ?err, "cannot tell other processes of new events");
                        }
                    }
                }
                for logged in batch.events {
                    metrics::histogram!("event_delivery_seconds").record(
                        (Utc::now() - logged.at)
                            .to_std()
                            .unwrap_or_default()
                            .as_secs_f64(),
                    );
                    let logged = Arc::new(logged);
                    for tap in &taps {
                        tap.deliver(&logged);
                    }
                }
                if let Some(last) = batch.last {
                    cursor = last;
                }
                if batch.full {
                    continue;
                }
                if batch.waiting {
                    // A transaction older than the waiting rows is still
                    // running; look again soon, then less often.
                    retry = (retry * 2).min(Duration::from_millis(200));
                    Some(retry)
                } else {
                    retry = Duration::from_millis(2);
                    None
                }
            }
            Err(err) => {
                tracing::warn!(error = ?err, "cannot read the event log; retrying");
                Some(Duration::from_secs(1))
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = wake.notified(), if pause.is_none() => {}
            () = tokio::time::sleep(pause.unwrap_or(POLL)) => {}
        }
    }
}

/// One `NOTIFY` for whatever this process wrote since the last: outside
/// any request's transaction, so writes never wait on `NOTIFY`'s
/// server-wide commit lock.
async fn notify(db: &Db, me: &str) -> AppResult<()> {
    db.query_one_raw(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), me.into()],
    ))
    .await?;
    Ok(())
}

/// Wakes the reader whenever another process commits events. A lost
/// connection is reopened with a growing pause; each (re)connection wakes
/// the reader too, so what was committed meanwhile is read then.
async fn listen(url: String, me: String, wake: Arc<Notify>, shutdown: CancellationToken) {
    let mut pause = Duration::from_millis(100);
    loop {
        match listen_once(&url, &me, &wake, &shutdown, &mut pause).await {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(error = %err, retry_in = ?pause, "event listener lost PostgreSQL; reconnecting");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// One listening connection; `Ok` only when shutting down.
async fn listen_once(
    url: &str,
    me: &str,
    wake: &Notify,
    shutdown: &CancellationToken,
    pause: &mut Duration,
) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    tracing::info!("listening for events on PostgreSQL");
    *pause = Duration::from_millis(100);
    wake.notify_one();
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            received = listener.try_recv() => received?,
        };
        // `None`: the connection dropped and was reopened; treat it like an
        // error so the pause and the log line happen once per outage.
        match received {
            None => return Err(sqlx::Error::Protocol("connection lost".into())),
            // This process's own announcement: its reader has read those.
            Some(n) if n.payload() == me => {}
            Some(_) => wake.notify_one(),
        }
    }
}
