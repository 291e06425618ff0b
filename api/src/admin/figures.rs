//! What the dashboard's pages show: the overview's counts and daily
//! series, and the user search and user page.

use chrono::{NaiveDate, TimeDelta, Utc};
use entity::{audit_entry, comment, enums::UserRole, file, identity, message, post, session, user};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use uuid::Uuid;

use super::audit::next_page;
use crate::{db::Db, error::AppResult};

/// How many days the overview's charts cover, today included.
pub(crate) const DAYS: usize = 14;

pub(crate) struct Overview {
    pub(crate) accounts: u64,
    pub(crate) admins: u64,
    pub(crate) banned: u64,
    pub(crate) active_sessions: u64,
    pub(crate) posts: u64,
    pub(crate) comments: u64,
    pub(crate) messages: u64,
    pub(crate) files: u64,
    pub(crate) file_bytes: i64,
    /// The database's size on disk, as the database reports it.
    pub(crate) database_bytes: Option<i64>,
    pub(crate) backend: &'static str,
    /// Oldest day first, [`DAYS`] of them.
    pub(crate) days: Vec<Day>,
}

/// One day's new rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Day {
    pub(crate) date: Option<NaiveDate>,
    pub(crate) sign_ups: i64,
    pub(crate) posts: i64,
    pub(crate) comments: i64,
    pub(crate) messages: i64,
}

pub(crate) async fn overview(db: &Db) -> AppResult<Overview> {
    let now = Utc::now();
    let accounts = user::Entity::find().count(db).await?;
    let admins = user::Entity::find()
        .filter(user::Column::Role.eq(UserRole::Admin))
        .count(db)
        .await?;
    let banned = user::Entity::find()
        .filter(user::Column::DisabledAt.is_not_null())
        .count(db)
        .await?;
    let active_sessions = session::Entity::find()
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .count(db)
        .await?;
    let backend = db.get_database_backend();
    let size_sql = match backend {
        DbBackend::Postgres => "SELECT pg_database_size(current_database())::bigint AS n",
        _ => "SELECT (page_count * page_size) AS n FROM pragma_page_count(), pragma_page_size()",
    };
    let database_bytes = db
        .query_one_raw(Statement::from_string(backend, size_sql))
        .await?
        .and_then(|row| row.try_get::<i64>("", "n").ok());
    let files_sql = match backend {
        DbBackend::Postgres => {
            "SELECT COUNT(*) AS n, COALESCE(SUM(size_bytes), 0)::bigint AS bytes FROM files"
        }
        _ => "SELECT COUNT(*) AS n, COALESCE(SUM(size_bytes), 0) AS bytes FROM files",
    };
    let (files, file_bytes) = db
        .query_one_raw(Statement::from_string(backend, files_sql))
        .await?
        .and_then(|row| {
            Some((
                row.try_get::<i64>("", "n").ok()?,
                row.try_get::<i64>("", "bytes").ok()?,
            ))
        })
        .unwrap_or_default();
    let today = now.date_naive();
    let first = today - TimeDelta::days(DAYS as i64 - 1);
    let mut days: Vec<Day> = (0..DAYS)
        .map(|i| Day {
            date: Some(first + TimeDelta::days(i as i64)),
            ..Day::default()
        })
        .collect();
    for (table, slot) in [
        ("users", 0usize),
        ("posts", 1),
        ("comments", 2),
        ("messages", 3),
    ] {
        for (date, n) in per_day(db, table, first).await? {
            let Some(day) = days.iter_mut().find(|d| d.date == Some(date)) else {
                continue;
            };
            match slot {
                0 => day.sign_ups = n,
                1 => day.posts = n,
                2 => day.comments = n,
                _ => day.messages = n,
            }
        }
    }
    Ok(Overview {
        accounts,
        admins,
        banned,
        active_sessions,
        posts: post::Entity::find().count(db).await?,
        comments: comment::Entity::find().count(db).await?,
        messages: message::Entity::find().count(db).await?,
        files: u64::try_from(files).unwrap_or_default(),
        file_bytes,
        database_bytes,
        backend: match backend {
            DbBackend::Postgres => "PostgreSQL",
            _ => "SQLite",
        },
        days,
    })
}

/// Rows of `table` created per UTC day since `first`. `table` is one of
/// ours, never input.
async fn per_day(
    db: &Db,
    table: &'static str,
    first: NaiveDate,
) -> AppResult<Vec<(NaiveDate, i64)>> {
    let backend = db.get_database_backend();
    let since = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*) AS n \
             FROM {table} WHERE created_at >= $1 GROUP BY 1"
        ),
        // Timestamps are stored as ISO text, UTC, so the day is its prefix.
        _ => format!(
            "SELECT substr(created_at, 1, 10) AS day, COUNT(*) AS n \
             FROM {table} WHERE created_at >= ? GROUP BY 1"
        ),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [since.into()]))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let day: String = row.try_get("", "day").ok()?;
            let n: i64 = row.try_get("", "n").ok()?;
            Some((day.parse().ok()?, n))
        })
        .collect())
}

/// Accounts matching `query` (an id, or part of an email or username),
/// newest first, `limit` per page after the account `after`.
pub(crate) async fn search_users(
    db: &Db,
    query: &str,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<(Vec<user::Model>, Option<Uuid>)> {
    let query = query.trim().to_lowercase();
    let mut which = Condition::all();
    if let Ok(id) = query.parse::<Uuid>() {
        which = which.add(user::Column::Id.eq(id));
    } else if let Some(pattern) = contains(&query)? {
        let lower = |column: user::Column| Expr::expr(Func::lower(Expr::col(column)));
        which = which.add(
            Condition::any()
                .add(lower(user::Column::Email).like(pattern.clone()))
                .add(lower(user::Column::Username).like(pattern)),
        );
    }
    if let Some(after) = after {
        which = which.add(user::Column::Id.lt(after));
    }
    let mut rows = user::Entity::find()
        .filter(which)
        .order_by_desc(user::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next = next_page(&mut rows, limit, |u| u.id);
    Ok((rows, next))
}

/// Everything the user page shows besides sessions.
pub(crate) struct UserPage {
    pub(crate) user: user::Model,
    pub(crate) identities: Vec<identity::Model>,
    pub(crate) files: Vec<file::Model>,
    pub(crate) file_count: u64,
    pub(crate) posts: Vec<post::Model>,
    pub(crate) comments: Vec<comment::Model>,
    pub(crate) audit: Vec<audit_entry::Model>,
}

/// How many recent rows of each kind the user page lists.
const RECENT: u64 = 10;

pub(crate) async fn user_page(db: &Db, id: Uuid) -> AppResult<Option<UserPage>> {
    let Some(user) = user::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    Ok(Some(UserPage {
        identities: identity::Entity::find()
            .filter(identity::Column::UserId.eq(id))
            .order_by_asc(identity::Column::Provider)
            .all(db)
            .await?,
        files: file::Entity::find()
            .filter(file::Column::OwnerId.eq(id))
            .order_by_desc(file::Column::Id)
            .limit(RECENT)
            .all(db)
            .await?,
        file_count: file::Entity::find()
            .filter(file::Column::OwnerId.eq(id))
            .count(db)
            .await?,
        posts: post::Entity::find()
            .filter(post::Column::AuthorId.eq(id))
            .order_by_desc(post::Column::Id)
            .limit(RECENT)
            .all(db)
            .await?,
        comments: comment::Entity::find()
            .filter(comment::Column::AuthorId.eq(id))
            .order_by_desc(comment::Column::Id)
            .limit(RECENT)
            .all(db)
            .await?,
        audit: audit_entry::Entity::find()
            .filter(audit_entry::Column::TargetId.eq(id.to_string()))
            .order_by_desc(audit_entry::Column::Id)
            .limit(RECENT)
            .all(db)
            .await?,
        user,
    }))
}

/// What the content pane lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Posts,
    Comments,
}

impl Kind {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "posts" => Some(Self::Posts),
            "comments" => Some(Self::Comments),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Posts => "posts",
            Self::Comments => "comments",
        }
    }
}

/// One post or comment as the content pane shows it.
pub(crate) struct ContentRow {
    pub(crate) id: Uuid,
    pub(crate) author_id: Uuid,
    pub(crate) author: String,
    pub(crate) body: String,
    pub(crate) created_at: chrono::DateTime<Utc>,
    pub(crate) removed_at: Option<chrono::DateTime<Utc>>,
}

/// Posts or comments whose text contains `query` (any case), removed ones
/// included, newest first, `limit` per page after `after`.
pub(crate) async fn content(
    db: &Db,
    kind: Kind,
    query: &str,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<(Vec<ContentRow>, Option<Uuid>)> {
    let pattern = contains(query)?;
    let mut rows: Vec<ContentRow> = match kind {
        Kind::Posts => {
            let mut which = Condition::all();
            if let Some(pattern) = pattern {
                which =
                    which.add(Expr::expr(Func::lower(Expr::col(post::Column::Body))).like(pattern));
            }
            if let Some(after) = after {
                which = which.add(post::Column::Id.lt(after));
            }
            post::Entity::find()
                .filter(which)
                .order_by_desc(post::Column::Id)
                .limit(limit + 1)
                .all(db)
                .await?
                .into_iter()
                .map(|p| ContentRow {
                    id: p.id,
                    author_id: p.author_id,
                    author: String::new(),
                    body: p.body,
                    created_at: p.created_at,
                    removed_at: p.removed_at,
                })
                .collect()
        }
        Kind::Comments => {
            let mut which = Condition::all();
            if let Some(pattern) = pattern {
                which = which
                    .add(Expr::expr(Func::lower(Expr::col(comment::Column::Body))).like(pattern));
            }
            if let Some(after) = after {
                which = which.add(comment::Column::Id.lt(after));
            }
            comment::Entity::find()
                .filter(which)
                .order_by_desc(comment::Column::Id)
                .limit(limit + 1)
                .all(db)
                .await?
                .into_iter()
                .map(|c| ContentRow {
                    id: c.id,
                    author_id: c.author_id,
                    author: String::new(),
                    body: c.body,
                    created_at: c.created_at,
                    removed_at: c.removed_at,
                })
                .collect()
        }
    };
    let next = next_page(&mut rows, limit, |r| r.id);
    let authors = usernames(db, rows.iter().map(|r| r.author_id)).await?;
    for row in &mut rows {
        row.author = authors.get(&row.author_id).cloned().unwrap_or_default();
    }
    Ok((rows, next))
}

/// A LIKE pattern matching text that contains `query` in any case, with
/// LIKE's own wildcards in it taken literally (the API's searches' rule);
/// `None` for an empty query.
pub(super) fn contains(query: &str) -> AppResult<Option<LikeExpr>> {
    if query.trim().is_empty() {
        return Ok(None);
    }
    let pattern = crate::validate::like_pattern("q", query)?;
    Ok(Some(LikeExpr::new(pattern).escape('\\')))
}

/// Uploads, newest first, `limit` per page after `after`, each with its
/// owner's username.
pub(crate) async fn files(
    db: &Db,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<(Vec<(file::Model, String)>, Option<Uuid>)> {
    let mut which = Condition::all();
    if let Some(after) = after {
        which = which.add(file::Column::Id.lt(after));
    }
    let mut rows = file::Entity::find()
        .filter(which)
        .order_by_desc(file::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next = next_page(&mut rows, limit, |f| f.id);
    let owners = usernames(db, rows.iter().map(|f| f.owner_id)).await?;
    Ok((
        rows.into_iter()
            .map(|f| {
                let owner = owners.get(&f.owner_id).cloned().unwrap_or_default();
                (f, owner)
            })
            .collect(),
        next,
    ))
}

/// Usernames by account id, in one statement.
pub(super) async fn usernames(
    db: &Db,
    ids: impl Iterator<Item = Uuid>,
) -> AppResult<std::collections::HashMap<Uuid, String>> {
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Username)
        .filter(user::Column::Id.is_in(ids))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// One setting as the settings pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    pub(crate) name: String,
    /// What the environment sets, masked where secret; `None` when unset
    /// (the default applies).
    pub(crate) value: Option<String>,
    pub(crate) default: String,
    pub(crate) meaning: String,
}

/// The manual's table of settings (the configuration test keeps it equal
/// to what the server reads), with each one's value from `lookup`.
const SETTINGS_TABLE: &str = include_str!("../../../docs/configuration.md");

/// Every setting the server reads, what it is set to (secrets masked) and
/// what it does. `AUTH_<NAME>_*` rows appear once per configured provider.
pub(crate) fn settings(lookup: impl Fn(&str) -> Option<String>) -> Vec<Setting> {
    let providers: Vec<String> = lookup("AUTH_PROVIDERS")
        .unwrap_or_default()
        .split(',')
        .map(|p| p.trim().to_uppercase())
        .filter(|p| !p.is_empty())
        .collect();
    let mut out = Vec::new();
    for line in SETTINGS_TABLE.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let [names, default, meaning] = cells[..] else {
            continue;
        };
        for name in names.split(", ").map(|n| n.trim_matches('`')) {
            let names: Vec<String> = if name.contains("<NAME>") {
                providers
                    .iter()
                    .map(|p| name.replace("<NAME>", p))
                    .collect()
            } else {
                vec![name.to_owned()]
            };
            for name in names {
                let value = lookup(&name).map(|v| masked(&name, &v));
                out.push(Setting {
                    name,
                    value,
                    default: plain(default),
                    meaning: plain(meaning),
                });
            }
        }
    }
    out
}

/// A value fit to show: secrets hidden, passwords in URLs replaced.
fn masked(name: &str, value: &str) -> String {
    let secret = ["SECRET", "PASSWORD", "TOKEN"]
        .iter()
        .any(|s| name.contains(s));
    if value.is_empty() {
        String::new()
    } else if secret {
        "set (hidden)".to_owned()
    } else if value.contains("://") {
        migration::database::mask_password(value)
    } else {
        value.to_owned()
    }
}

/// Markdown's code spans and links as plain text.
fn plain(markdown: &str) -> String {
    let mut text = markdown.replace('`', "");
    while let (Some(open), Some(mid)) = (text.find('['), text.find("](")) {
        let Some(close) = text[mid..].find(')').map(|c| c + mid) else {
            break;
        };
        if open > mid {
            break;
        }
        text = format!(
            "{}{}{}",
            &text[..open],
            &text[open + 1..mid],
            &text[close + 1..]
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_mask_secrets_and_expand_providers() {
        let env = |name: &str| match name {
            "JWT_SECRET" => Some("a-very-secret-value-0123456789".to_owned()),
            "DATABASE_URL" => Some("postgres://hearth:pw@db/hearth".to_owned()),
            "AUTH_PROVIDERS" => Some("google".to_owned()),
            "AUTH_GOOGLE_CLIENT_SECRET" => Some("shh".to_owned()),
            "PORT" => Some("9000".to_owned()),
            _ => None,
        };
        let all = settings(env);
        let get = |n: &str| {
            all.iter()
                .find(|s| s.name == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(get("JWT_SECRET").value.as_deref(), Some("set (hidden)"));
        assert_eq!(
            get("AUTH_GOOGLE_CLIENT_SECRET").value.as_deref(),
            Some("set (hidden)")
        );
        let url = get("DATABASE_URL").value.clone().unwrap();
        assert!(!url.contains("pw"), "{url}");
        assert_eq!(get("PORT").value.as_deref(), Some("9000"));
        assert_eq!(get("HOST").value, None);
        assert!(
            !get("METRICS_ENABLED").meaning.contains("]("),
            "links become text"
        );
        assert!(all.iter().all(|s| !s.name.contains('<')));
        assert!(all.len() > 60, "{}", all.len());
    }
}
