//! Hearth's schema history and the way every binary connects to a database.
//!
//! - [`Migrator`] lists the migrations, oldest first. They are code
//!   (sea-orm-migration), reversible, and the same history runs on SQLite and
//!   PostgreSQL; where the two differ (expression indexes, a circular foreign
//!   key) the migration says so.
//! - [`database`] turns a `DATABASE_URL` into a connection with the settings
//!   Hearth relies on (SQLite WAL, foreign keys, busy timeout; bounded pool
//!   acquire time), and the embedded default URL shared by all binaries.
//! - [`settings`] reads settings from the environment, one way for every
//!   binary, naming the variable in every error.
//! - [`cli`] is the `migration` binary: sea-orm-migration's commands with a
//!   clear one-line error instead of a panic for a bad URL.

pub use sea_orm_migration::prelude::*;

pub mod cli;
pub mod database;
mod m20261123_000001_accounts;
mod m20261123_000002_communities;
mod m20261123_000003_posts;
mod m20261123_000004_messages;
mod m20261123_000005_account_status;
mod m20261123_000006_banned_authors_index;
mod m20261123_000007_post_attachments;
mod m20261206_000008_direct_conversation_key;
mod m20261206_000009_event_log;
mod m20261206_000010_idempotency_keys;
mod m20261206_000011_webhooks;
mod m20261206_000012_rate_limits;
pub mod settings;
mod tables;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_accounts::Migration),
            Box::new(m20261123_000002_communities::Migration),
            Box::new(m20261123_000003_posts::Migration),
            Box::new(m20261123_000004_messages::Migration),
            Box::new(m20261123_000005_account_status::Migration),
            Box::new(m20261123_000006_banned_authors_index::Migration),
            Box::new(m20261123_000007_post_attachments::Migration),
            Box::new(m20261206_000008_direct_conversation_key::Migration),
            Box::new(m20261206_000009_event_log::Migration),
            Box::new(m20261206_000010_idempotency_keys::Migration),
            Box::new(m20261206_000011_webhooks::Migration),
            Box::new(m20261206_000012_rate_limits::Migration),
        ]
    }
}
