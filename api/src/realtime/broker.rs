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
//!
//! Before an event goes out, whether each of its subscribers' viewers may
//! read its row is checked once for all of them (see `readers`), so ten
//! thousand subscriptions to one post do not each wait on a loader batch:
//! each is woken once, with its answer in hand.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
};

use futures_util::{StreamExt, stream};
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::readers::Checked;
use crate::{
    events::{Event, Logged, Tap},
    graphql::loader::DbLoader,
};

/// Events checked together at most: those that arrived while the last
/// check ran.
const CHECKED_TOGETHER: usize = 256;
/// Checks running at once. Events still go out in log order.
const CHECKS_AT_ONCE: usize = 4;

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

/// An event on its way to the subscribers of its topics, with its row as
/// each of their viewers may read it.
pub(crate) struct Delivery {
    pub logged: Arc<Logged>,
    pub checked: Checked,
    /// The event's cursor as clients see it, encoded once for all of its
    /// subscribers.
    pub cursor: String,
}

impl Delivery {
    fn new(logged: Arc<Logged>, checked: Checked) -> Self {
        Self {
            cursor: logged.cursor.encode(),
            logged,
            checked,
        }
    }

    /// An event nobody checked ahead (one read back from the log): each
    /// subscriber loads its row itself.
    pub(crate) fn unchecked(logged: Logged) -> Self {
        Self::new(Arc::new(logged), Checked::default())
    }
}

/// One subscriber's queue. Not a channel: tokio's bounded channel sets
/// aside most of a kilobyte per receiver (cache-padded state and a first
/// block of slots) before anything is sent, for each of thousands of idle
/// subscriptions; this is a lock, an empty deque and a waker.
#[derive(Default)]
struct Inbox(Mutex<InboxState>);

#[derive(Default)]
struct InboxState {
    queue: VecDeque<Arc<Delivery>>,
    /// The receiving task, when it found the inbox empty.
    waker: Option<Waker>,
    /// No more deliveries: the broker let it go, or it filled up.
    closed: bool,
    /// It filled up: the subscription fell behind.
    lagged: bool,
}

impl Inbox {
    fn state(&self) -> std::sync::MutexGuard<'_, InboxState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `delivery` unless `capacity` are waiting already, in which
    /// case the inbox is closed as lagged. Whether it is still open.
    fn push(&self, delivery: Arc<Delivery>, capacity: usize) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        if state.queue.len() >= capacity {
            state.closed = true;
            state.lagged = true;
        } else {
            state.queue.push_back(delivery);
        }
        let open = !state.closed;
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        open
    }

    fn close(&self) {
        let waker = {
            let mut state = self.state();
            state.closed = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Result<Arc<Delivery>, Stopped>> {
        let mut state = self.state();
        if let Some(delivery) = state.queue.pop_front() {
            return Poll::Ready(Ok(delivery));
        }
        if state.closed {
            return Poll::Ready(Err(if state.lagged {
                Stopped::Lagged
            } else {
                Stopped::Closed
            }));
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// One subscriber, as the broker holds it.
struct Subscriber {
    inbox: Arc<Inbox>,
    /// The kinds of event it wants; `None`: all of its topic's.
    kinds: Option<&'static [&'static str]>,
    viewer: Option<Uuid>,
}

impl Subscriber {
    fn wants(&self, event: &Event) -> bool {
        self.kinds.is_none_or(|kinds| kinds.contains(&event.kind()))
    }
}

impl Drop for Subscriber {
    /// Let go by the broker (cut off, unsubscribed, or the broker is
    /// gone): its receiver ends once it has read what is queued.
    fn drop(&mut self) {
        self.inbox.close();
    }
}

#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    topics: Mutex<HashMap<Topic, HashMap<u64, Subscriber>>>,
}

impl Registry {
    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<Topic, HashMap<u64, Subscriber>>> {
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The viewers of the subscribers that want `event`, each once.
    fn viewers_of(&self, event: &Event) -> Vec<Option<Uuid>> {
        let topics = self.topics();
        let mut viewers: Vec<_> = topics_of(event)
            .iter()
            .filter_map(|topic| topics.get(topic))
            .flat_map(HashMap::values)
            .filter(|subscriber| subscriber.wants(event))
            .map(|subscriber| subscriber.viewer)
            .collect();
        viewers.sort_unstable();
        viewers.dedup();
        viewers
    }

    fn deliver(&self, delivery: &Arc<Delivery>, capacity: usize) {
        let event = &delivery.logged.event;
        let mut topics = self.topics();
        for topic in topics_of(event) {
            let Some(subscribers) = topics.get_mut(&topic) else {
                continue;
            };
            subscribers.retain(|_, subscriber| {
                if !subscriber.wants(event) {
                    return true;
                }
                // A full inbox closes as lagged: its stream ends once it
                // has read what is queued, and says why.
                subscriber.inbox.push(delivery.clone(), capacity)
            });
            if subscribers.is_empty() {
                topics.remove(&topic);
            }
        }
    }
}

/// A subscription's end of its queue; leaving it unregisters.
pub struct Receiver {
    inbox: Arc<Inbox>,
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
    pub async fn recv(&mut self) -> Result<Arc<Delivery>, Stopped> {
        std::future::poll_fn(|cx| self.inbox.poll_next(cx)).await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut topics = self.registry.topics();
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
    /// New events, to be checked and then delivered. Unbounded because
    /// the log's reader must never wait or drop one; it reads no faster
    /// than the database answers, and so do the checks.
    incoming: mpsc::UnboundedSender<Arc<Logged>>,
}

impl Broker {
    /// `buffer` is how many events a subscriber may fall behind before it
    /// reads on from the log instead; `reads` is where events' rows are
    /// checked for their subscribers.
    pub fn start(buffer: usize, reads: DatabaseConnection) -> Self {
        let registry = Arc::new(Registry::default());
        let (incoming, events) = mpsc::unbounded_channel();
        tokio::spawn(check_and_deliver(
            registry.clone(),
            DbLoader { db: reads },
            events,
            buffer,
        ));
        Self { registry, incoming }
    }

    /// Starts receiving the events of `topic` (of `kinds`, or all of them),
    /// checked for `viewer`.
    pub fn subscribe(
        &self,
        topic: Topic,
        kinds: Option<&'static [&'static str]>,
        viewer: Option<Uuid>,
    ) -> Receiver {
        let inbox = Arc::new(Inbox::default());
        let id = self.registry.next_id.fetch_add(1, Ordering::Relaxed);
        self.registry.topics().entry(topic).or_default().insert(
            id,
            Subscriber {
                inbox: inbox.clone(),
                kinds,
                viewer,
            },
        );
        Receiver {
            inbox,
            topic,
            id,
            registry: self.registry.clone(),
        }
    }
}

impl Tap for Broker {
    fn deliver(&self, logged: &Arc<Logged>) {
        // Fails only once the checking task is gone, at shutdown.
        let _ = self.incoming.send(logged.clone());
    }
}

/// Checks each event for the viewers subscribed to it, then hands it to
/// them, in log order. The events that arrived together are checked
/// together, so a burst costs a few statements, not a few per event. An
/// event is delivered even if nobody wanted it when it was checked: a
/// subscriber that came meanwhile loads its row itself. Ends when every
/// [`Broker`] is gone.
async fn check_and_deliver(
    registry: Arc<Registry>,
    loader: DbLoader,
    mut events: mpsc::UnboundedReceiver<Arc<Logged>>,
    // How many events a subscriber may have queued.
    buffer: usize,
) {
    let (registry, loader) = (&registry, &loader);
    stream::poll_fn(|cx| events.poll_recv(cx))
        .ready_chunks(CHECKED_TOGETHER)
        .map(|batch| async move {
            let wanted: Vec<_> = batch
                .iter()
                .map(|logged| {
                    let event = &logged.event;
                    let viewers = match Checked::applies(event) {
                        true => registry.viewers_of(event),
                        false => Vec::new(),
                    };
                    (event, viewers)
                })
                .collect();
            let checked = Checked::run(loader, &wanted).await;
            batch
                .into_iter()
                .zip(checked)
                .map(|(logged, checked)| Delivery::new(logged, checked))
                .collect::<Vec<_>>()
        })
        .buffered(CHECKS_AT_ONCE)
        .for_each(|deliveries| {
            for delivery in deliveries {
                registry.deliver(&Arc::new(delivery), buffer);
            }
            std::future::ready(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use std::task::Context;

    use futures_util::task::noop_waker_ref;

    use super::*;
    use crate::events::Cursor;

    fn delivery(position: i64) -> Arc<Delivery> {
        let user = Uuid::now_v7();
        Arc::new(Delivery::unchecked(Logged {
            cursor: Cursor { txid: 1, position },
            event: Event::NotificationCreated {
                notification: Uuid::now_v7(),
                user,
            },
            actor: None,
            at: chrono::Utc::now(),
        }))
    }

    fn next(inbox: &Inbox) -> Poll<Result<i64, &'static str>> {
        let mut cx = Context::from_waker(noop_waker_ref());
        inbox.poll_next(&mut cx).map(|next| match next {
            Ok(delivery) => Ok(delivery.logged.cursor.position),
            Err(Stopped::Lagged) => Err("lagged"),
            Err(Stopped::Closed) => Err("closed"),
        })
    }

    #[test]
    fn an_inbox_hands_out_in_order_then_waits() {
        let inbox = Inbox::default();
        assert_eq!(next(&inbox), Poll::Pending);
        assert!(inbox.push(delivery(1), 4));
        assert!(inbox.push(delivery(2), 4));
        assert_eq!(next(&inbox), Poll::Ready(Ok(1)));
        assert_eq!(next(&inbox), Poll::Ready(Ok(2)));
        assert_eq!(next(&inbox), Poll::Pending);
    }

    #[test]
    fn a_full_inbox_closes_as_lagged_after_what_it_holds() {
        let inbox = Inbox::default();
        assert!(inbox.push(delivery(1), 2));
        assert!(inbox.push(delivery(2), 2));
        assert!(!inbox.push(delivery(3), 2), "the third overflows");
        assert!(!inbox.push(delivery(4), 2), "and nothing more is taken");
        assert_eq!(next(&inbox), Poll::Ready(Ok(1)));
        assert_eq!(next(&inbox), Poll::Ready(Ok(2)));
        assert_eq!(next(&inbox), Poll::Ready(Err("lagged")));
    }

    #[test]
    fn a_closed_inbox_ends_without_lagging() {
        let inbox = Inbox::default();
        assert!(inbox.push(delivery(1), 2));
        inbox.close();
        assert!(!inbox.push(delivery(2), 2));
        assert_eq!(next(&inbox), Poll::Ready(Ok(1)));
        assert_eq!(next(&inbox), Poll::Ready(Err("closed")));
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_a_delivery() {
        let broker_inbox = Arc::new(Inbox::default());
        let inbox = broker_inbox.clone();
        let waiting = tokio::spawn(async move {
            std::future::poll_fn(|cx| inbox.poll_next(cx))
                .await
                .map(|d| d.logged.cursor.position)
                .map_err(|_| ())
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(broker_inbox.push(delivery(7), 4));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("joined");
        assert_eq!(got, Ok(7));
    }
}
