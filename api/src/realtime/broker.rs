//! Where events travel between the mutation that causes them and the
//! subscriptions that want them.
//!
//! On SQLite (one process) an in-process broadcast channel is the whole
//! story. On PostgreSQL every event goes through `NOTIFY`, and each API
//! process `LISTEN`s and re-broadcasts what arrives to its own subscribers,
//! so a mutation on one replica reaches subscribers on all of them. The
//! payload is ids only: every subscriber loads the row itself, through the
//! same visibility rules as a query, so an event can never leak a row.

use std::time::Duration;

use migration::database::{Backend, backend_of};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, sqlx};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The `NOTIFY` channel every API process listens on.
const CHANNEL: &str = "hearth_events";

/// Something that happened, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    CommentAdded { post: Uuid, comment: Uuid },
    PostAdded { community: Option<Uuid>, post: Uuid },
    MessageReceived { conversation: Uuid, message: Uuid },
    ReactionChanged { post: Uuid },
}

/// Publishes events and hands out receivers. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    local: broadcast::Sender<Event>,
    /// Set on PostgreSQL: events are published with `pg_notify` through it.
    postgres: Option<DatabaseConnection>,
}

impl Broker {
    /// Starts the broker for the database behind `database_url`; on
    /// PostgreSQL this spawns the listener, which runs until `shutdown`.
    /// `buffer` is how many events a subscriber may fall behind.
    pub fn start(
        db: &DatabaseConnection,
        database_url: &str,
        buffer: usize,
        shutdown: CancellationToken,
    ) -> Self {
        let (local, _) = broadcast::channel(buffer);
        let postgres = matches!(backend_of(database_url), Ok(Backend::Postgres));
        if postgres {
            tokio::spawn(listen(database_url.to_owned(), local.clone(), shutdown));
        }
        Self {
            local,
            postgres: postgres.then(|| db.clone()),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.local.subscribe()
    }

    /// Sends `event` to every subscriber. Called after the change committed;
    /// a failure is logged, never turned into an error for the mutation that
    /// already succeeded.
    pub async fn publish(&self, event: Event) {
        metrics::counter!("realtime_events_published_total").increment(1);
        let Some(db) = &self.postgres else {
            // No receivers is not an error: nobody is subscribed.
            let _ = self.local.send(event);
            return;
        };
        let payload = match serde_json::to_string(&event) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(error = %err, "cannot encode an event");
                return;
            }
        };
        let notify = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        );
        if let Err(err) = db.execute_raw(notify).await {
            tracing::warn!(error = %err, ?event, "cannot publish an event; subscribers miss it");
        }
    }
}

/// Listens on PostgreSQL and re-broadcasts to this process's subscribers.
/// A lost connection (database restart, terminated backend) is reopened
/// with a growing pause; events sent while it was down are missed.
async fn listen(url: String, local: broadcast::Sender<Event>, shutdown: CancellationToken) {
    let mut pause = Duration::from_millis(100);
    loop {
        match listen_once(&url, &local, &shutdown).await {
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
    local: &broadcast::Sender<Event>,
    shutdown: &CancellationToken,
) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    tracing::info!("listening for events on PostgreSQL");
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            received = listener.try_recv() => received?,
        };
        // `None`: the connection dropped and was reopened; treat it like an
        // error so the pause and the log line happen once per outage.
        let Some(notification) = received else {
            return Err(sqlx::Error::Protocol("connection lost".into()));
        };
        match serde_json::from_str::<Event>(notification.payload()) {
            Ok(event) => {
                let _ = local.send(event);
            }
            Err(err) => tracing::warn!(error = %err, "ignoring a malformed event"),
        }
    }
}
