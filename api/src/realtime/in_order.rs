//! A subscription's values in the order of its events, each either known
//! at once or still to load, with a few loads running at once.
//!
//! What futures' `buffered` does, without its cost on the hot path: a live
//! event the broker checked is known the moment it arrives, and goes out
//! at once without a boxed future and a task slot of its own, which
//! `buffered` would allocate for each of ten thousand subscribers of one
//! event.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll},
};

use futures_util::{
    FutureExt, Stream,
    future::BoxFuture,
    stream::{Fuse, StreamExt},
};

/// One event's value for a subscriber.
pub(crate) enum Load<V> {
    /// Known now: the broker checked the row, or the event is not for it.
    Now(V),
    /// To be loaded (an event read back from the log, or a row the broker
    /// did not check).
    Later(BoxFuture<'static, V>),
}

impl<V: Send + 'static> Load<V> {
    pub(crate) fn later(load: impl Future<Output = V> + Send + 'static) -> Self {
        Self::Later(Box::pin(load))
    }

    pub(crate) fn map<W>(self, f: impl FnOnce(V) -> W + Send + 'static) -> Load<W> {
        match self {
            Self::Now(value) => Load::Now(f(value)),
            Self::Later(load) => Load::Later(Box::pin(load.map(f))),
        }
    }
}

pin_project_lite::pin_project! {
    /// The values of `loads` in their order, with at most `ahead` of them
    /// loaded or loading before the first is sent.
    pub(crate) struct InOrder<S, V> {
        #[pin]
        loads: Fuse<S>,
        queue: VecDeque<Load<V>>,
        ahead: usize,
    }
}

impl<S: Stream<Item = Load<V>>, V> InOrder<S, V> {
    pub(crate) fn new(loads: S, ahead: usize) -> Self {
        Self {
            loads: loads.fuse(),
            queue: VecDeque::new(),
            ahead: ahead.max(1),
        }
    }
}

impl<S: Stream<Item = Load<V>>, V> Stream for InOrder<S, V> {
    type Item = V;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<V>> {
        let mut this = self.project();
        // Take in loads while there is room; one known at once with none
        // ahead of it goes straight out.
        while this.queue.len() < *this.ahead {
            match this.loads.as_mut().poll_next(cx) {
                Poll::Ready(Some(Load::Now(value))) if this.queue.is_empty() => {
                    return Poll::Ready(Some(value));
                }
                Poll::Ready(Some(load)) => this.queue.push_back(load),
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        // Every load in the queue makes progress; the first goes out once
        // it is done.
        for load in this.queue.iter_mut() {
            if let Load::Later(loading) = load
                && let Poll::Ready(value) = loading.as_mut().poll(cx)
            {
                *load = Load::Now(value);
            }
        }
        match this.queue.pop_front() {
            Some(Load::Now(value)) => Poll::Ready(Some(value)),
            Some(loading) => {
                this.queue.push_front(loading);
                Poll::Pending
            }
            None if this.loads.is_done() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use futures_util::{FutureExt, StreamExt, stream};
    use tokio::sync::oneshot;

    use super::{InOrder, Load};

    #[tokio::test]
    async fn values_keep_their_order_whichever_load_finishes_first() {
        let (first, first_done) = oneshot::channel::<u32>();
        let (third, third_done) = oneshot::channel::<u32>();
        let loads = stream::iter(vec![
            Load::later(async move { first_done.await.unwrap() }),
            Load::Now(2),
            Load::later(async move { third_done.await.unwrap() }),
            Load::Now(4),
        ]);
        let mut values = InOrder::new(loads, 8);
        third.send(3).unwrap();
        // The first is still loading: nothing may go out before it.
        assert!(values.next().now_or_never().is_none());
        first.send(1).unwrap();
        let all: Vec<u32> = values.collect().await;
        assert_eq!(all, [1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn no_more_than_ahead_are_taken_in_at_once() {
        let started = Arc::new(AtomicUsize::new(0));
        let pulled = Arc::new(AtomicUsize::new(0));
        let (release, released) = oneshot::channel::<()>();
        let mut released = Some(released);
        let loads = stream::iter(0..10).map({
            let pulled = pulled.clone();
            let started = started.clone();
            move |n| {
                pulled.fetch_add(1, Ordering::SeqCst);
                let wait = if n == 0 { released.take() } else { None };
                let started = started.clone();
                Load::later(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    if let Some(wait) = wait {
                        wait.await.unwrap();
                    }
                    n
                })
            }
        });
        let mut values = InOrder::new(loads, 3);
        assert!(values.next().now_or_never().is_none());
        assert_eq!(pulled.load(Ordering::SeqCst), 3);
        assert_eq!(started.load(Ordering::SeqCst), 3);
        release.send(()).unwrap();
        let all: Vec<u32> = values.collect().await;
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_value_known_at_once_goes_out_without_waiting() {
        let mut values = InOrder::new(stream::iter(vec![Load::Now(7)]).chain(stream::pending()), 4);
        assert_eq!(values.next().now_or_never(), Some(Some(7)));
        assert!(values.next().now_or_never().is_none());
    }
}
