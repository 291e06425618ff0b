//! Where events travel between the mutation that causes them and the
//! subscriptions that want them.
//!
//! On SQLite (one process) events go straight to this process's
//! subscribers. On PostgreSQL every event goes through `NOTIFY`, and each
//! API process `LISTEN`s and hands what arrives to its own subscribers, so a
//! mutation on one replica reaches subscribers on all of them. The payload
//! is ids only: every subscriber loads the row itself, through the same
//! visibility rules as a query, so an event can never leak a row.
//!
//! Subscribers register for a topic (a post, a community, a user), so an
//! event wakes only the subscriptions it concerns, however many idle ones
//! the process holds; each has its own bounded queue, and one that is full
//! is cut off (told it lagged) instead of slowing the sender or the others.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use migration::database::{Backend, backend_of};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, sqlx};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The `NOTIFY` channel every API process listens on.
const CHANNEL: &str = "hearth_events";

/// Something that happened, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    CommentAdded {
        post: Uuid,
        comment: Uuid,
    },
    PostAdded {
        community: Option<Uuid>,
        post: Uuid,
    },
    /// `recipients` are the conversation's participants (at most 51).
    MessageReceived {
        conversation: Uuid,
        message: Uuid,
        recipients: Vec<Uuid>,
    },
    ReactionChanged {
        post: Uuid,
    },
}

/// What a subscription listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Comments and reactions on a post.
    Post(Uuid),
    /// New posts in a community.
    Community(Uuid),
    /// Messages to a user.
    User(Uuid),
}

impl Event {
    fn topics(&self) -> Vec<Topic> {
        match self {
            Self::CommentAdded { post, .. } | Self::ReactionChanged { post } => {
                vec![Topic::Post(*post)]
            }
            Self::PostAdded { community, .. } => {
                community.map(Topic::Community).into_iter().collect()
            }
            Self::MessageReceived { recipients, .. } => {
                recipients.iter().copied().map(Topic::User).collect()
            }
        }
    }
}

/// One subscriber's queue, as the broker holds it.
struct Subscriber {
    queue: mpsc::Sender<Event>,
    lagged: Arc<AtomicBool>,
}

#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    topics: Mutex<HashMap<Topic, HashMap<u64, Subscriber>>>,
}

impl Registry {
    fn deliver(&self, event: &Event) {
        let mut topics = self
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for topic in event.topics() {
            let Some(subscribers) = topics.get_mut(&topic) else {
                continue;
            };
            subscribers.retain(
                |_, subscriber| match subscriber.queue.try_send(event.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        // Dropping the sender ends its stream; the flag says why.
                        subscriber.lagged.store(true, Ordering::Relaxed);
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                },
            );
            if subscribers.is_empty() {
                topics.remove(&topic);
            }
        }
    }
}

/// A subscription's end of its queue; leaving it unregisters.
pub struct Receiver {
    queue: mpsc::Receiver<Event>,
    lagged: Arc<AtomicBool>,
    topic: Topic,
    id: u64,
    registry: Arc<Registry>,
}

/// Why a receiver's events stopped.
pub enum Stopped {
    /// Its queue filled up: events were dropped.
    Lagged,
    /// The broker is gone (shutting down).
    Closed,
}

impl Receiver {
    pub async fn recv(&mut self) -> Result<Event, Stopped> {
        match self.queue.recv().await {
            Some(event) => Ok(event),
            None if self.lagged.load(Ordering::Relaxed) => Err(Stopped::Lagged),
            None => Err(Stopped::Closed),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut topics = self
            .registry
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(subscribers) = topics.get_mut(&self.topic) {
            subscribers.remove(&self.id);
            if subscribers.is_empty() {
                topics.remove(&self.topic);
            }
        }
    }
}

/// Publishes events and hands out receivers. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    registry: Arc<Registry>,
    /// How many events a subscriber may have queued.
    buffer: usize,
    /// Set on PostgreSQL: the queue of events the sender task `NOTIFY`s.
    outbox: Option<mpsc::Sender<Event>>,
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
        let registry = Arc::new(Registry::default());
        let postgres = matches!(backend_of(database_url), Ok(Backend::Postgres));
        let outbox = postgres.then(|| {
            let (outbox, queue) = mpsc::channel(OUTBOX_CAPACITY);
            tokio::spawn(send(db.clone(), queue));
            tokio::spawn(listen(database_url.to_owned(), registry.clone(), shutdown));
            outbox
        });
        Self {
            registry,
            buffer,
            outbox,
        }
    }

    /// Starts receiving the events of `topic`.
    pub fn subscribe(&self, topic: Topic) -> Receiver {
        let (queue, receiver) = mpsc::channel(self.buffer);
        let lagged = Arc::new(AtomicBool::new(false));
        let id = self.registry.next_id.fetch_add(1, Ordering::Relaxed);
        self.registry
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(topic)
            .or_default()
            .insert(
                id,
                Subscriber {
                    queue,
                    lagged: lagged.clone(),
                },
            );
        Receiver {
            queue: receiver,
            lagged,
            topic,
            id,
            registry: self.registry.clone(),
        }
    }

    /// Sends `event` to every subscriber. Called after the change committed;
    /// never waits and never fails the mutation that already succeeded. On
    /// PostgreSQL the event is queued for the sender task, which `NOTIFY`s
    /// whatever has queued up in one statement: a mutation does not pay for
    /// a second transaction, and a burst of events costs a few commits.
    pub fn publish(&self, event: Event) {
        metrics::counter!("realtime_events_published_total").increment(1);
        let Some(outbox) = &self.outbox else {
            self.registry.deliver(&event);
            return;
        };
        if let Err(err) = outbox.try_send(event) {
            // Full only while PostgreSQL is unreachable for a long time.
            tracing::warn!(event = ?err.into_inner(), "event queue full; subscribers miss an event");
        }
    }
}

/// Events queued for `NOTIFY` before new ones are dropped.
const OUTBOX_CAPACITY: usize = 10_000;
/// Events sent by one statement at most.
const BATCH_EVENTS: usize = 256;
/// PostgreSQL refuses `NOTIFY` payloads of 8000 bytes or more.
const MAX_PAYLOAD_BYTES: usize = 7_000;

/// What one `NOTIFY` carries: a JSON array of events (a lone object, as
/// older versions sent, is read too).
#[derive(Deserialize)]
#[serde(untagged)]
enum Payload {
    Many(Vec<Event>),
    One(Event),
}

/// Sends queued events with `pg_notify`, as many per statement as have
/// queued up; stops when every `Broker` is gone.
async fn send(db: DatabaseConnection, mut queue: mpsc::Receiver<Event>) {
    let mut batch = Vec::with_capacity(BATCH_EVENTS);
    while queue.recv_many(&mut batch, BATCH_EVENTS).await > 0 {
        let payloads = encode(&batch);
        let calls: Vec<String> = (0..payloads.len())
            .map(|i| format!("pg_notify($1, ${})", i + 2))
            .collect();
        let values = std::iter::once(CHANNEL.into()).chain(payloads.into_iter().map(Into::into));
        let notify = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            format!("SELECT {}", calls.join(", ")),
            values,
        );
        if let Err(err) = db.execute_raw(notify).await {
            tracing::warn!(error = %err, events = batch.len(), "cannot publish events; subscribers miss them");
        }
        batch.clear();
    }
}

/// Packs events into JSON arrays that each fit one `NOTIFY` payload.
fn encode(events: &[Event]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::from("[");
    for event in events {
        let Ok(json) = serde_json::to_string(event) else {
            tracing::error!(?event, "cannot encode an event");
            continue;
        };
        if current.len() > 1 && current.len() + json.len() + 2 > MAX_PAYLOAD_BYTES {
            current.push(']');
            payloads.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&json);
    }
    if current.len() > 1 {
        current.push(']');
        payloads.push(current);
    }
    payloads
}

/// Listens on PostgreSQL and re-broadcasts to this process's subscribers.
/// A lost connection (database restart, terminated backend) is reopened
/// with a growing pause; events sent while it was down are missed.
async fn listen(url: String, registry: Arc<Registry>, shutdown: CancellationToken) {
    let mut pause = Duration::from_millis(100);
    loop {
        match listen_once(&url, &registry, &shutdown, &mut pause).await {
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
    registry: &Registry,
    shutdown: &CancellationToken,
    pause: &mut Duration,
) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    tracing::info!("listening for events on PostgreSQL");
    *pause = Duration::from_millis(100);
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
        match serde_json::from_str::<Payload>(notification.payload()) {
            Ok(Payload::Many(events)) => events.iter().for_each(|e| registry.deliver(e)),
            Ok(Payload::One(event)) => registry.deliver(&event),
            Err(err) => tracing::warn!(error = %err, "ignoring a malformed event"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u128) -> Event {
        Event::MessageReceived {
            conversation: Uuid::from_u128(n),
            message: Uuid::from_u128(n + 1),
            recipients: (0..51).map(Uuid::from_u128).collect(),
        }
    }

    #[test]
    fn batches_fit_notify_payloads_and_decode_in_order() {
        let events: Vec<Event> = (0..BATCH_EVENTS as u128).map(message).collect();
        let payloads = encode(&events);
        assert!(payloads.len() > 1, "2,000-byte events must split");
        let mut decoded = Vec::new();
        for payload in &payloads {
            assert!(payload.len() < MAX_PAYLOAD_BYTES, "{} bytes", payload.len());
            match serde_json::from_str::<Payload>(payload).unwrap() {
                Payload::Many(events) => decoded.extend(events),
                Payload::One(_) => panic!("arrays expected"),
            }
        }
        assert_eq!(decoded, events);
    }

    #[test]
    fn a_single_object_payload_is_still_read() {
        let event = Event::ReactionChanged {
            post: Uuid::from_u128(7),
        };
        let payload = serde_json::to_string(&event).unwrap();
        assert!(matches!(
            serde_json::from_str::<Payload>(&payload).unwrap(),
            Payload::One(e) if e == event
        ));
        assert!(encode(&[]).is_empty());
    }
}
