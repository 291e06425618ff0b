//! Realtime: the events behind GraphQL subscriptions, fanned out across API
//! processes through PostgreSQL (or in-process on SQLite), and the
//! Subscription root. The WebSocket protocol itself is `http::ws`.

mod broker;
pub mod graphql;
pub mod settings;

pub use broker::{Broker, Event};

/// Publishes `event` to subscribers, from a resolver whose change committed.
pub fn publish(ctx: &async_graphql::Context<'_>, event: Event) {
    match ctx.data::<Broker>() {
        Ok(broker) => broker.publish(event),
        Err(_) => tracing::error!("broker missing from schema data; event dropped"),
    }
}
