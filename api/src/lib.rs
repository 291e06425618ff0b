//! The Hearth server: GraphQL over HTTP on axum, over sea-orm.
//!
//! A request flows one way, down the layers (docs/ARCHITECTURE.md draws
//! them): `http` (router, middleware and every handler: GraphQL over HTTP
//! and WebSocket, downloads, health, metrics, playground) -> `schema` (the
//! roots merged from every feature, and the pipeline around execution) ->
//! a feature's resolvers (`posts::graphql`) and loaders -> that feature's
//! service (`posts::service`: rules, authorization and SQL) -> the
//! database. The features stand side by side: [`auth`], `users`,
//! `communities`, `posts`, `comments`, `messages`, [`realtime`], [`files`],
//! `backup`, [`webhooks`], `safety` (blocks and mutes, whose read rules
//! the others apply), `reports` and `notifications`. Below them: the event log ([`events`]: every change others
//! react to, written in the change's transaction), the GraphQL kit
//! ([`graphql`]: ids, Relay connections, loaders), `paging`, `error`,
//! [`db`] and [`config`].
//! [`app::Application`] wires it together.
//!
//! `main.rs` only runs [`extend::Hearth`] with nothing added, so tests
//! drive the same code the binary runs. [`extend`] is Hearth as a library: an application adds its
//! own routes, GraphQL fields, tables and [`hooks`] to the same server.

pub mod admin;
pub mod app;
pub mod auth;
pub(crate) mod backup;
pub(crate) mod cli;
pub(crate) mod comments;
pub(crate) mod communities;
pub mod config;
pub mod db;
pub(crate) mod error;
pub mod events;
pub mod extend;
pub mod files;
pub mod graphql;
pub mod hooks;
pub(crate) mod http;
pub(crate) mod idempotency;
pub(crate) mod mail;
pub(crate) mod messages;
pub(crate) mod metrics;
pub(crate) mod notifications;
pub(crate) mod paging;
pub(crate) mod posts;
pub mod push;
pub mod realtime;
pub(crate) mod reports;
pub(crate) mod safety;
pub(crate) mod schema;
pub(crate) mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub(crate) mod users;
pub(crate) mod validate;
pub mod webhooks;
