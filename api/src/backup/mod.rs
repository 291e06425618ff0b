//! Backups of the embedded SQLite database.
//!
//! [`service`] takes online snapshots with `VACUUM INTO` while the API keeps
//! writing (WAL mode: the snapshot is one read transaction, writers are not
//! blocked), publishes them under a UTC-timestamped name only once complete,
//! keeps the newest `BACKUP_KEEP`, and verifies and restores snapshots for
//! `api restore`. [`graphql`] exposes the admin-only `createBackup` mutation
//! and `backups` query. On PostgreSQL both answer `BAD_REQUEST` pointing at
//! `pg_dump` and point-in-time recovery instead.

pub(crate) mod graphql;
pub(crate) mod service;
pub(crate) mod settings;

pub(crate) use service::{Backups, Destination};
