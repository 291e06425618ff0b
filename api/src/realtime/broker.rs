//! Where new events go from the event log to the subscriptions that want
//! them, inside one API process.
//!
//! The process's log reader hands the broker every event once it has
//! committed (from any process: the log is the shared part). Subscribers
//! register for a topic (a post, a community, a user), so an event wakes
//! only the subscriptions it concerns, however many idle ones the process
//! holds; each has its own bounded queue, and one that is full is cut off
//! (told it lagged) instead of slowing the reader or the others. A lagged
//! subscription is not lost: it knows its cursor and reads on from the log.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::events::{Event, Logged, Tap};

/// What a subscription listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Comments and reactions on a post.
    Post(Uuid),
    /// New posts in a community.
    Community(Uuid),
    /// Messages and notifications to a user.
    User(Uuid),
}

/// The topics an event concerns.
fn topics_of(event: &Event) -> Vec<Topic> {
    match event {
        Event::CommentCreated { post, .. } | Event::ReactionChanged { post, .. } => {
            vec![Topic::Post(*post)]
        }
        Event::PostCreated { community, .. } => {
            community.map(Topic::Community).into_iter().collect()
        }
        Event::MessageSent { recipients, .. } => {
            recipients.iter().copied().map(Topic::User).collect()
        }
        Event::NotificationCreated { user, .. } => vec![Topic::User(*user)],
        _ => Vec::new(),
    }
}

/// One subscriber's queue, as the broker holds it.
struct Subscriber {
    queue: mpsc::Sender<Arc<Logged>>,
    lagged: Arc<AtomicBool>,
}

#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    topics: Mutex<HashMap<Topic, HashMap<u64, Subscriber>>>,
}

impl Registry {
    fn deliver(&self, logged: &Arc<Logged>) {
        let mut topics = self
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for topic in topics_of(&logged.event) {
            let Some(subscribers) = topics.get_mut(&topic) else {
                continue;
            };
            subscribers.retain(
                |_, subscriber| match subscriber.queue.try_send(logged.clone()) {
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
    queue: mpsc::Receiver<Arc<Logged>>,
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
    pub async fn recv(&mut self) -> Result<Arc<Logged>, Stopped> {
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

/// Hands out receivers and delivers the log's events to them. Cheap to
/// clone.
#[derive(Clone)]
pub struct Broker {
    registry: Arc<Registry>,
    /// How many events a subscriber may have queued.
    buffer: usize,
}

impl Broker {
    /// `buffer` is how many events a subscriber may fall behind before it
    /// reads on from the log instead.
    pub fn new(buffer: usize) -> Self {
        Self {
            registry: Arc::new(Registry::default()),
            buffer,
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
}

impl Tap for Broker {
    fn deliver(&self, logged: &Arc<Logged>) {
        self.registry.deliver(logged);
    }
}
