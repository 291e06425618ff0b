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
pub mod backup;
pub mod cli;
pub mod comments;
pub mod communities;
pub mod config;
pub mod db;
pub mod error;
pub mod files;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod messages;
pub mod metrics;
pub mod paging;
pub mod posts;
pub mod realtime;
pub mod schema;
pub mod telemetry;
pub mod users;
pub mod validate;
