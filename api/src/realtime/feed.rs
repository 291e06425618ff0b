//! One subscription's events: those after its cursor, read from the log,
//! then live ones from the broker, in log order and each once.
//!
//! The subscription registers with the broker before it reads the log, so
//! an event that commits meanwhile is either read or received; received
//! events at or before the last one read are dropped. A subscriber whose
//! queue overflowed reads on from the log after the last event it got,
//! so a slow client is never sent a gap.

use std::{collections::VecDeque, sync::Arc};

use futures_util::{Stream, stream};
use uuid::Uuid;

use super::broker::{Broker, Delivery, Receiver, Stopped, Topic};
use crate::{
    db::Db,
    error::AppResult,
    events::{self, Cursor, Logged, Scope},
};

/// Events read from the log per query while catching up.
const PAGE: u64 = 256;

enum Mode {
    /// Reading the log after `after`; `pending` are read, not yet sent.
    CatchingUp {
        after: Cursor,
        pending: VecDeque<Logged>,
    },
    /// Receiving from the broker; `seen` is the last event sent.
    Live { seen: Option<Cursor> },
}

struct Feed {
    broker: Broker,
    db: Db,
    topic: Topic,
    scope: Scope,
    viewer: Option<Uuid>,
    receiver: Receiver,
    mode: Mode,
}

/// The events of `topic` (matching `scope` in the log), after `after` if
/// given, then as they commit, live ones checked for `viewer`. Ends with an
/// error if the log cannot be read, and when the broker closes (shutdown).
pub(crate) fn follow(
    broker: &Broker,
    db: Db,
    topic: Topic,
    scope: Scope,
    viewer: Option<Uuid>,
    after: Option<Cursor>,
) -> impl Stream<Item = AppResult<Arc<Delivery>>> + use<> {
    let feed = Feed {
        receiver: broker.subscribe(topic, scope.kinds(), viewer),
        broker: broker.clone(),
        db,
        topic,
        scope,
        viewer,
        mode: match after {
            Some(after) => Mode::CatchingUp {
                after,
                pending: VecDeque::new(),
            },
            None => Mode::Live { seen: None },
        },
    };
    stream::unfold(Some(feed), |feed| async move {
        let mut feed = feed?;
        match feed.next().await {
            Ok(Some(logged)) => Some((Ok(logged), Some(feed))),
            Ok(None) => None,
            Err(err) => Some((Err(err), None)),
        }
    })
}

impl Feed {
    async fn next(&mut self) -> AppResult<Option<Arc<Delivery>>> {
        loop {
            match &mut self.mode {
                Mode::CatchingUp { after, pending } => {
                    if let Some(logged) = pending.pop_front() {
                        return Ok(Some(Arc::new(Delivery::unchecked(logged))));
                    }
                    // Boxed: the query's state would otherwise sit in every
                    // idle subscription.
                    let batch = Box::pin(events::read(&self.db, *after, self.scope, PAGE)).await?;
                    if let Some(last) = batch.last {
                        *after = last;
                    }
                    pending.extend(batch.events);
                    if pending.is_empty() && !batch.full {
                        self.mode = Mode::Live { seen: Some(*after) };
                    }
                }
                Mode::Live { seen } => match self.receiver.recv().await {
                    Ok(delivery) => {
                        let cursor = delivery.logged.cursor;
                        if seen.is_some_and(|seen| cursor <= seen) {
                            continue;
                        }
                        *seen = Some(cursor);
                        return Ok(Some(delivery));
                    }
                    Err(Stopped::Lagged) => {
                        metrics::counter!("realtime_subscriptions_lagged_total").increment(1);
                        // Everything queued was sent, so `seen` is set: the
                        // queue only overflows once it held events.
                        let after = seen.unwrap_or_default();
                        self.receiver =
                            self.broker
                                .subscribe(self.topic, self.scope.kinds(), self.viewer);
                        self.mode = Mode::CatchingUp {
                            after,
                            pending: VecDeque::new(),
                        };
                    }
                    Err(Stopped::Closed) => return Ok(None),
                },
            }
        }
    }
}
