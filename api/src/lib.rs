//! The Hearth server: GraphQL over HTTP on axum, over sea-orm.
//!
//! A request flows one way: [`http`] (router, middleware, GraphQL-over-HTTP
//! handler, health, playground) -> [`graphql`] (schema, limits, Relay
//! pagination and global ids, DataLoaders) -> a feature's resolvers
//! (`posts::graphql`) -> that feature's service (`posts::service`, rules,
//! authorization and SQL) -> the database. The features: [`auth`],
//! [`users`] (profiles, follows), [`communities`], [`posts`] (with
//! reactions and the feed), [`comments`], [`messages`], [`realtime`]
//! (subscriptions), [`files`] (uploads, storage, downloads), [`backup`]
//! (SQLite snapshots and restore). [`app::Application`] wires it together;
//! [`config::Config`] is
//! read once from the environment; [`error::AppError`] carries the stable
//! error codes clients see.
//!
//! `main.rs` only calls [`cli::run`], so tests drive the same code the
//! binary runs.

pub mod app;
pub mod auth;
pub(crate) mod backup;
pub mod cli;
pub(crate) mod comments;
pub(crate) mod communities;
pub mod config;
pub mod db;
pub(crate) mod error;
pub mod files;
pub mod graphql;
pub(crate) mod http;
pub(crate) mod mail;
pub(crate) mod messages;
pub(crate) mod metrics;
pub(crate) mod paging;
pub(crate) mod posts;
pub mod realtime;
pub(crate) mod schema;
pub(crate) mod telemetry;
pub(crate) mod users;
pub(crate) mod validate;
