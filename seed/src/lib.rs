//! Deterministic demo and benchmark data for Hearth.
//!
//! [`run`] applies pending migrations, refuses a database that already holds
//! data (unless [`SeedOptions::reset`] wipes it first), then fills every
//! domain table in one transaction: a failed seed leaves nothing behind.
//!
//! The same [`SeedOptions::seed`] and [`Scale`] give the same rows, byte for
//! byte, on SQLite and PostgreSQL alike: every value comes from a seeded
//! ChaCha stream, timestamps are whole milliseconds before a fixed anchor
//! (2026-01-01T00:00:00Z) rather than the clock, and ids are UUIDv7 built
//! from each row's `created_at`.
//!
//! - [`Scale::Small`]: ~50 users, 5 communities, ~300 posts, ~1,500
//!   comments: a demo you can click through.
//! - [`Scale::Bench`]: ~10k users, 100 communities, ~100k posts, ~1M
//!   comments: data to measure queries against.
//!
//! Every seeded account, the demo one ([`DEMO_EMAIL`], [`DEMO_PASSWORD`])
//! included, shares one precomputed argon2id hash of [`DEMO_PASSWORD`]:
//! hashing 10,000 passwords would take minutes. Never seed a production
//! database. Files, sessions and tokens stay empty.
//!
//! `generate` makes the rows; `insert` writes them in batches.

use std::{fmt, time::Duration, time::Instant};

use entity::prelude::*;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, EntityName, TransactionTrait,
    sea_query::{Alias, Expr, Query},
};

mod generate;
mod insert;

use generate::Generator;
use insert::Loader;

/// The demo account's sign-in email.
pub const DEMO_EMAIL: &str = "demo@hearth.dev";
/// The demo account's username.
pub const DEMO_USERNAME: &str = "demo";
/// The password of the demo account and of every other seeded account.
pub const DEMO_PASSWORD: &str = "hearth-demo";
/// argon2id (19 MiB, t=2, p=1: the API's parameters) of [`DEMO_PASSWORD`].
const DEMO_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$oB+2jDAvDWbFGBMy3h9Klw$9bVB5e99hd53d9czAZhlQmHnTs+zw0BCexyXqtJ6mwc";

/// How much data to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// A browsable demo: ~50 users, ~300 posts, ~1,500 comments.
    Small,
    /// Benchmark volume: ~10k users, ~100k posts, ~1M comments.
    Bench,
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Small => "small",
            Self::Bench => "bench",
        })
    }
}

/// What [`run`] does.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub scale: Scale,
    /// Same seed, same rows.
    pub seed: u64,
    /// Wipe the database (drop and re-migrate) before seeding, instead of
    /// refusing one that has data.
    pub reset: bool,
}

/// Why seeding failed.
#[derive(Debug)]
pub enum SeedError {
    /// The database already has data and `reset` was not asked for.
    NotEmpty { table: &'static str },
    /// A migration, query or insert failed; nothing was seeded.
    Database(DbErr),
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEmpty { table } => write!(
                f,
                "the database is not empty (table `{table}` has rows); \
                 pass --reset to wipe it and seed again"
            ),
            Self::Database(err) => write!(f, "database error: {err}"),
        }
    }
}

impl std::error::Error for SeedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NotEmpty { .. } => None,
            Self::Database(err) => Some(err),
        }
    }
}

impl From<DbErr> for SeedError {
    fn from(err: DbErr) -> Self {
        Self::Database(err)
    }
}

/// What [`run`] wrote.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub scale: Scale,
    pub seed: u64,
    /// Rows inserted per table, in insertion order (parents first).
    pub tables: Vec<(&'static str, u64)>,
    /// Wall time of the whole run, migrations and reset included.
    pub elapsed: Duration,
}

impl SeedReport {
    /// Rows inserted in all tables.
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|(_, rows)| rows).sum()
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seeded scale {} with seed {}", self.scale, self.seed)?;
        writeln!(f, "{:<26} {:>12}", "table", "rows")?;
        for (table, rows) in &self.tables {
            writeln!(f, "{table:<26} {:>12}", thousands(*rows))?;
        }
        writeln!(f, "{:<26} {:>12}", "total", thousands(self.total_rows()))?;
        write!(f, "in {:.1} s", self.elapsed.as_secs_f64())
    }
}

/// `1234567` -> `"1,234,567"`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Migrates, checks (or wipes) and seeds `db`. See the crate docs.
pub async fn run(db: &DatabaseConnection, opts: &SeedOptions) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    if opts.reset {
        // Rolls every migration back (dropping the tables, children first)
        // and applies them again. Unlike `fresh`, this needs no PRAGMA that
        // would only hold on one of the pool's SQLite connections.
        Migrator::refresh(db).await?;
    } else {
        Migrator::up(db, None).await?;
        if let Some(table) = first_table_with_rows(db).await? {
            return Err(SeedError::NotEmpty { table });
        }
    }

    let txn = db.begin().await?;
    // On error `txn` is dropped unfinished, which rolls everything back.
    let tables = seed(&txn, opts).await?;
    txn.commit().await?;

    Ok(SeedReport {
        scale: opts.scale,
        seed: opts.seed,
        tables,
        elapsed: started.elapsed(),
    })
}

/// Generates and inserts every table, parents before children.
async fn seed(
    db: &impl ConnectionTrait,
    opts: &SeedOptions,
) -> Result<Vec<(&'static str, u64)>, DbErr> {
    let generator = Generator::new(opts.seed, opts.scale);
    let mut loader = Loader::new(db);

    let users = generator.users();
    loader.load::<User, _>(users.iter().cloned()).await?;

    let communities = generator.communities(&users);
    loader
        .load::<Community, _>(communities.iter().cloned())
        .await?;

    let (memberships, roster) = generator.memberships(&users, &communities);
    loader.load::<Membership, _>(memberships).await?;

    loader.load::<Follow, _>(generator.follows(&users)).await?;

    let posts = generator.posts(&users, &communities, &roster);
    loader
        .load::<Post, _>(posts.iter().map(|p| p.row.clone()))
        .await?;
    loader
        .load::<Comment, _>(generator.comments(&users, &posts, &roster))
        .await?;
    loader
        .load::<Reaction, _>(generator.reactions(&users, &posts, &roster))
        .await?;

    let dms = generator.conversations(&users);
    loader.load::<Conversation, _>(dms.conversations).await?;
    loader
        .load::<ConversationParticipant, _>(dms.participants)
        .await?;
    loader.load::<Message, _>(dms.messages).await?;

    Ok(loader.into_counts())
}

/// The first domain table that has a row, if any.
async fn first_table_with_rows(db: &DatabaseConnection) -> Result<Option<&'static str>, DbErr> {
    // Parents first: a child row needs its parent, so a seeded or used
    // database is usually recognised by the first query.
    let tables = [
        User.table_name(),
        File.table_name(),
        Session.table_name(),
        RefreshToken.table_name(),
        OneTimeToken.table_name(),
        Community.table_name(),
        Membership.table_name(),
        Post.table_name(),
        Comment.table_name(),
        Reaction.table_name(),
        Follow.table_name(),
        Conversation.table_name(),
        ConversationParticipant.table_name(),
        Message.table_name(),
    ];
    for table in tables {
        let probe = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new(table))
            .limit(1)
            .to_owned();
        if db.query_one(&probe).await?.is_some() {
            return Ok(Some(table));
        }
    }
    Ok(None)
}
