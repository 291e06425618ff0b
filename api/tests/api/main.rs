//! The API's test suite, one binary (linking once is much faster).
//!
//! Backend: SQLite in a temporary directory by default; every test gets its
//! own new PostgreSQL database when `TEST_DATABASE_URL=postgres://...` is set
//! (see `helpers`).

mod auth;
mod backup;
mod config;
mod durability;
mod feed;
mod files;
mod graphql;
mod health;
mod helpers;
mod hostile;
mod lifecycle;
mod messages;
mod metrics;
mod outage;
mod readme;
mod realtime;
mod schema;
mod seed;
mod smtp;
mod social;
mod walk;
