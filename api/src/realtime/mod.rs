//! Realtime: GraphQL subscriptions over WebSocket, with events fanned out
//! across API processes through PostgreSQL (or in-process on SQLite).

mod broker;
pub mod graphql;
pub mod ws;

pub use broker::{Broker, Event};
use tokio_util::task::TaskTracker;

/// What the WebSocket side of the server shares.
#[derive(Clone)]
pub struct Realtime {
    pub broker: Broker,
    pub connections: ws::Connections,
    /// Every open socket's task, so shutdown can wait for their close frames.
    pub tasks: TaskTracker,
}

/// Publishes `event` to subscribers, from a resolver whose change committed.
pub fn publish(ctx: &async_graphql::Context<'_>, event: Event) {
    match ctx.data::<Broker>() {
        Ok(broker) => broker.publish(event),
        Err(_) => tracing::error!("broker missing from schema data; event dropped"),
    }
}
