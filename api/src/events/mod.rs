//! The event log: every change that subscribers, webhooks and other API
//! processes react to is a row of `events`, written by the service in the
//! same transaction as the change itself ([`record`]). A change that rolls
//! back leaves no event; a committed one is never skipped, because readers
//! follow the table from their last [`Cursor`] instead of trusting a
//! message to arrive.
//!
//! - [`Event`]: what happened, by id (rows are loaded by whoever receives
//!   it, through the same read rules as a query).
//! - [`log`]: reading the table in order ([`read`]), and the one reader
//!   per process ([`EventLog`]) that hands new events to its taps (the
//!   subscription broker, session revocations) as soon as they commit.
//! - [`sweeper`]: retention by age and count.

mod cursor;
pub(crate) mod log;
pub mod settings;
pub mod sweeper;
mod types;

use sea_orm::{
    ActiveValue::NotSet, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Set, Statement,
    Value,
};
use uuid::Uuid;

pub use cursor::Cursor;
pub(crate) use log::{EventLog, Scope, Tap, adopt_restored, check_resumable, read, tail};
pub(crate) use types::kind;
pub use types::{Event, Logged};

use crate::{
    db::{Db, now},
    error::{AppError, AppResult},
};
use entity::event;

/// Writes `event` into the log, inside the transaction `tx` that makes the
/// change, so the two commit (or roll back) together. `actor` is the
/// account whose request caused it.
pub(crate) async fn record(
    tx: &impl ConnectionTrait,
    actor: Option<Uuid>,
    event: &Event,
) -> AppResult<()> {
    let routing = event.routing();
    let data = encode(event)?;
    let row = event::ActiveModel {
        position: NotSet,
        txid: NotSet,
        kind: Set(event.kind().to_owned()),
        actor_id: Set(actor),
        community_id: Set(routing.community),
        post_id: Set(routing.post),
        conversation_id: Set(routing.conversation),
        user_id: Set(routing.user),
        data: Set(data),
        created_at: Set(now()),
    };
    event::Entity::insert(row)
        .exec_without_returning(tx)
        .await?;
    Ok(())
}

/// Runs `statement`, one `INSERT`, `UPDATE` or `DELETE … RETURNING`, and
/// records `event` if it returned a row: atomically, and on PostgreSQL in
/// one statement (a data-modifying `WITH`), so a hot write keeps its single
/// round trip and pays no `BEGIN`/`COMMIT`. Returns the first row.
pub(crate) async fn write_with_event<M>(
    db: &Db,
    statement: Statement,
    actor: Option<Uuid>,
    event: Event,
) -> AppResult<Option<M>>
where
    M: FromQueryResult + Send + 'static,
{
    if db.get_database_backend() != DbBackend::Postgres {
        return db
            .transaction(move |tx| {
                Box::pin(async move {
                    let row = M::find_by_statement(statement).one(&tx).await?;
                    if row.is_some() {
                        record(&tx, actor, &event).await?;
                    }
                    Ok(row)
                })
            })
            .await;
    }
    let routing = event.routing();
    let data = encode(&event)?;
    let Statement { sql, values, .. } = statement;
    let mut values = values.map(|v| v.0).unwrap_or_default();
    let first = values.len() + 1;
    values.extend([
        Value::from(event.kind()),
        Value::from(actor),
        Value::from(routing.community),
        Value::from(routing.post),
        Value::from(routing.conversation),
        Value::from(routing.user),
        Value::from(data),
        Value::from(now()),
    ]);
    let placeholders: Vec<String> = (first..first + 8).map(|i| format!("${i}")).collect();
    let sql = format!(
        "WITH written AS ({sql}), logged AS (INSERT INTO events \
         (kind, actor_id, community_id, post_id, conversation_id, user_id, data, created_at) \
         SELECT {} FROM (SELECT 1 FROM written LIMIT 1) AS one) SELECT * FROM written",
        placeholders.join(", ")
    );
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    db.statement(move |tx| {
        Box::pin(async move { Ok(M::find_by_statement(statement).one(&tx).await?) })
    })
    .await
}

/// Publishes an application's event through the log, in the transaction
/// `tx` of the change it reports (so both commit or neither), for its
/// after-commit hooks and webhooks. `kind` is the application's own,
/// dotted and lowercase (`page_comment.created`), never one of Hearth's.
pub async fn publish(
    tx: &impl ConnectionTrait,
    actor: Option<Uuid>,
    kind: &str,
    data: serde_json::Value,
) -> AppResult<()> {
    check_app_kind(kind)?;
    let event = Event::App {
        kind: kind.to_owned(),
        data,
    };
    record(tx, actor, &event).await
}

/// An application's event kind: `word.word`, lowercase ASCII letters,
/// digits and `_`, at most 64 bytes, outside Hearth's namespaces (`post.`,
/// `comment.`, ...: so a misspelt Hearth kind is refused, not taken for an
/// application's).
pub(crate) fn check_app_kind(kind: &str) -> AppResult<()> {
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let shaped = kind.len() <= 64 && kind.contains('.') && kind.split('.').all(word);
    if !shaped {
        return Err(AppError::bad_input(
            "kind",
            format!(
                "event kind {kind:?} must be lowercase words joined by dots, like page_comment.created"
            ),
        ));
    }
    let namespace = kind.split('.').next().unwrap_or_default();
    if kind::ALL
        .iter()
        .any(|k| k.split('.').next() == Some(namespace))
    {
        return Err(AppError::bad_input(
            "kind",
            format!(
                "event kind {kind:?} is in Hearth's `{namespace}.` namespace; Hearth's kinds are {}",
                kind::ALL.join(", ")
            ),
        ));
    }
    Ok(())
}

fn encode(event: &Event) -> AppResult<serde_json::Value> {
    if let Event::App { data, .. } = event {
        return Ok(data.clone());
    }
    serde_json::to_value(event)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("encoding an event: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_kinds_stay_out_of_hearths_namespaces() {
        assert!(check_app_kind("guestbook.signed").is_ok());
        assert!(check_app_kind("activity.request").is_ok());
        for refused in [
            "post.created",
            "post.creatd",
            "guestbook",
            "Guest.book",
            "a..b",
            "",
        ] {
            assert!(check_app_kind(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn events_keep_their_stored_names() {
        let event = Event::ReactionChanged {
            post: Uuid::from_u128(1),
            user: Uuid::from_u128(2),
            reaction: None,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "reaction.changed");
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }
}
