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
//! - [`with_hearth`] and [`History`]: an application built on Hearth adds
//!   its own migrations to Hearth's, in one history ordered by name.

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
mod m20261206_000013_hooks;
mod m20261206_000014_event_wakeups;
mod m20261206_000015_social_sign_in;
mod m20261206_000016_admin_dashboard;
mod m20261206_000017_blocks_and_mutes;
mod m20261206_000018_reports;
mod m20261206_000019_notifications;
mod m20261206_000020_push_tokens;
mod m20261206_000021_push_deliveries;
mod m20261206_000022_replies_index;
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
            Box::new(m20261206_000013_hooks::Migration),
            Box::new(m20261206_000014_event_wakeups::Migration),
            Box::new(m20261206_000015_social_sign_in::Migration),
            Box::new(m20261206_000016_admin_dashboard::Migration),
            Box::new(m20261206_000017_blocks_and_mutes::Migration),
            Box::new(m20261206_000018_reports::Migration),
            Box::new(m20261206_000019_notifications::Migration),
            Box::new(m20261206_000020_push_tokens::Migration),
            Box::new(m20261206_000021_push_deliveries::Migration),
            Box::new(m20261206_000022_replies_index::Migration),
        ]
    }
}

/// Hearth's migrations and `own` (an application's), in one list ordered by
/// name, for an application's [`MigratorTrait::migrations`]. Name them as
/// sea-orm-migration does (`mYYYYMMDD_HHMMSS_what`) so they fall after the
/// Hearth migrations they build on; [`History::check`] refuses a name
/// that is already taken.
pub fn with_hearth(own: Vec<Box<dyn MigrationTrait>>) -> Vec<Box<dyn MigrationTrait>> {
    let mut all = Migrator::migrations();
    all.extend(own);
    // Stable: two migrations with one name stay in order for `check`.
    all.sort_by(|a, b| a.name().cmp(b.name()));
    all
}

type Boxed<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, DbErr>> + Send + 'a>>;

/// A migrator chosen at run time: Hearth's own ([`History::hearth`]), or an
/// application's that adds to it ([`History::of`]).
#[derive(Clone, Copy)]
pub struct History {
    migrations: fn() -> Vec<Box<dyn MigrationTrait>>,
    pending: for<'a> fn(&'a sea_orm::DatabaseConnection) -> Boxed<'a, usize>,
    up: for<'a> fn(&'a sea_orm::DatabaseConnection) -> Boxed<'a, ()>,
    pending_read_only: for<'a> fn(&'a sea_orm::DatabaseConnection) -> Boxed<'a, usize>,
}

impl History {
    pub fn hearth() -> Self {
        Self::of::<Migrator>()
    }

    pub fn of<M: MigratorTrait + 'static>() -> Self {
        Self {
            migrations: M::migrations,
            pending: |db| Box::pin(async move { Ok(M::get_pending_migrations(db).await?.len()) }),
            up: |db| Box::pin(M::up(db, None)),
            pending_read_only: |db| {
                Box::pin(async move { Ok(M::get_pending_migrations_read_only(db).await?.len()) })
            },
        }
    }

    /// Every name once: two migrations with one name would apply only the
    /// first and record it as both.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for migration in (self.migrations)() {
            let name = migration.name().to_owned();
            if !seen.insert(name.clone()) {
                let whose = if Migrator::migrations().iter().any(|m| m.name() == name) {
                    " (one of Hearth's migrations has this name; rename yours)"
                } else {
                    ""
                };
                return Err(format!("migration {name} is listed twice{whose}"));
            }
        }
        Ok(())
    }

    /// How many migrations are not applied yet.
    pub async fn pending(&self, db: &sea_orm::DatabaseConnection) -> Result<usize, DbErr> {
        (self.pending)(db).await
    }

    /// [`History::pending`] without creating the migrations table.
    pub async fn pending_read_only(
        &self,
        db: &sea_orm::DatabaseConnection,
    ) -> Result<usize, DbErr> {
        (self.pending_read_only)(db).await
    }

    /// Applies every pending migration.
    pub async fn up(&self, db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
        (self.up)(db).await
    }
}
