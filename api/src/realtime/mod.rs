//! Realtime: GraphQL subscriptions over the event log, resumable from a
//! cursor, and the `events` query that catches up over plain HTTP. The
//! WebSocket protocol itself is `http::ws`.

mod broker;
pub(crate) mod catch_up;
mod feed;
pub mod graphql;
mod in_order;
mod readers;
pub mod settings;

pub(crate) use broker::Broker;
