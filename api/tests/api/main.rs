//! The API's test suite, one binary (linking once is much faster).
//!
//! One file per area of the API, mirroring the source: accounts and
//! sessions (`auth`), social sign-in and email codes (`social`), profiles and follows (`users`), `communities`, `posts`
//! (with comments, reactions and the feed), direct `messages`, `files`,
//! subscriptions (`realtime`) and the event log behind them (`events`),
//! Hearth as a library (`extend`), the GraphQL handler (`graphql`, and `hostile`
//! documents and requests), operations (`backup`, `config`, `durability`,
//! `health`, `lifecycle`, `metrics`, `outage`), the database (`schema`,
//! `seed`), and the README's examples (`readme`). What they share lives in
//! `helpers` (test users and their requests, the WebSocket client, a fake
//! SMTP server, the schema walker); no test file uses another.
//!
//! Backend: SQLite in a temporary directory by default; every test gets its
//! own new PostgreSQL database when `TEST_DATABASE_URL=postgres://...` is set
//! (see `helpers`).

mod admin;
mod auth;
mod backup;
mod communities;
mod config;
mod docs;
mod durability;
mod events;
mod extend;
mod files;
mod graphql;
mod health;
mod helpers;
mod hostile;
mod lifecycle;
mod messages;
mod metrics;
mod notifications;
mod outage;
mod posts;
mod push;
mod realtime;
mod reports;
mod safety;
mod schema;
mod seed;
mod social;
mod users;
mod webhooks;
mod writes;
