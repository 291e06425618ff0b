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

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::NotSet, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Set, Statement,
    Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use cursor::Cursor;
pub(crate) use log::{EventLog, Scope, Tap, adopt_restored, check_resumable, read, tail};

use crate::{
    db::{Db, now},
    error::{AppError, AppResult},
};
use entity::event;

/// Something that happened, by id. Stored as JSON in `events.data` with
/// its kind (`post.created`, ...) as `kind`; the names are stable, since
/// webhooks and older cursors carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Event {
    #[serde(rename = "post.created")]
    PostCreated {
        post: Uuid,
        community: Option<Uuid>,
        author: Uuid,
    },
    #[serde(rename = "post.deleted")]
    PostDeleted { post: Uuid, community: Option<Uuid> },
    #[serde(rename = "comment.created")]
    CommentCreated {
        comment: Uuid,
        post: Uuid,
        author: Uuid,
    },
    /// `recipients` are the conversation's participants (at most 51),
    /// the sender included (their other devices show it too).
    #[serde(rename = "message.sent")]
    MessageSent {
        message: Uuid,
        conversation: Uuid,
        sender: Uuid,
        recipients: Vec<Uuid>,
    },
    /// `reaction` is the new one, or `None` when it was taken back.
    #[serde(rename = "reaction.changed")]
    ReactionChanged {
        post: Uuid,
        user: Uuid,
        reaction: Option<String>,
    },
    /// `role` is the new one, or `None` when the member left or was removed.
    #[serde(rename = "membership.changed")]
    MembershipChanged {
        community: Uuid,
        user: Uuid,
        role: Option<String>,
    },
    /// Sessions that ended (signed out, revoked, a password change, a ban):
    /// their access tokens stop working on every API process.
    #[serde(rename = "session.revoked")]
    SessionRevoked { user: Uuid, sessions: Vec<Uuid> },
    #[serde(rename = "account.banned")]
    AccountBanned { user: Uuid },
    #[serde(rename = "account.deleted")]
    AccountDeleted { user: Uuid },
    /// An application's own event ([`publish`]): a kind that is not one of
    /// Hearth's, with its data as given. Subscriptions and the `events`
    /// query never show these; after-commit hooks and webhooks see them.
    #[serde(skip)]
    App {
        kind: String,
        data: serde_json::Value,
    },
}

/// The kinds, by their stored names.
pub(crate) mod kind {
    pub(crate) const POST_CREATED: &str = "post.created";
    pub(crate) const POST_DELETED: &str = "post.deleted";
    pub(crate) const COMMENT_CREATED: &str = "comment.created";
    pub(crate) const MESSAGE_SENT: &str = "message.sent";
    pub(crate) const REACTION_CHANGED: &str = "reaction.changed";
    pub(crate) const MEMBERSHIP_CHANGED: &str = "membership.changed";
    pub(crate) const SESSION_REVOKED: &str = "session.revoked";
    pub(crate) const ACCOUNT_BANNED: &str = "account.banned";
    pub(crate) const ACCOUNT_DELETED: &str = "account.deleted";

    /// Every kind, for webhook registrations to check against.
    pub(crate) const ALL: [&str; 9] = [
        POST_CREATED,
        POST_DELETED,
        COMMENT_CREATED,
        MESSAGE_SENT,
        REACTION_CHANGED,
        MEMBERSHIP_CHANGED,
        SESSION_REVOKED,
        ACCOUNT_BANNED,
        ACCOUNT_DELETED,
    ];
}

/// The ids a reader filters on, each in a column of its own.
#[derive(Default)]
struct Routing {
    community: Option<Uuid>,
    post: Option<Uuid>,
    conversation: Option<Uuid>,
    user: Option<Uuid>,
}

impl Event {
    pub fn kind(&self) -> &str {
        match self {
            Self::App { kind, .. } => kind,
            Self::PostCreated { .. } => kind::POST_CREATED,
            Self::PostDeleted { .. } => kind::POST_DELETED,
            Self::CommentCreated { .. } => kind::COMMENT_CREATED,
            Self::MessageSent { .. } => kind::MESSAGE_SENT,
            Self::ReactionChanged { .. } => kind::REACTION_CHANGED,
            Self::MembershipChanged { .. } => kind::MEMBERSHIP_CHANGED,
            Self::SessionRevoked { .. } => kind::SESSION_REVOKED,
            Self::AccountBanned { .. } => kind::ACCOUNT_BANNED,
            Self::AccountDeleted { .. } => kind::ACCOUNT_DELETED,
        }
    }

    /// Back from a row: Hearth's kinds by their fields, any other as an
    /// application's event.
    pub(crate) fn decode(kind: String, data: serde_json::Value) -> serde_json::Result<Self> {
        if kind::ALL.contains(&kind.as_str()) {
            serde_json::from_value(data)
        } else {
            Ok(Self::App { kind, data })
        }
    }

    fn routing(&self) -> Routing {
        match *self {
            Self::App { .. } => Routing::default(),
            Self::PostCreated {
                post, community, ..
            }
            | Self::PostDeleted { post, community } => Routing {
                community,
                post: Some(post),
                ..Routing::default()
            },
            Self::CommentCreated { post, .. } | Self::ReactionChanged { post, .. } => Routing {
                post: Some(post),
                ..Routing::default()
            },
            Self::MessageSent { conversation, .. } => Routing {
                conversation: Some(conversation),
                ..Routing::default()
            },
            Self::MembershipChanged {
                community, user, ..
            } => Routing {
                community: Some(community),
                user: Some(user),
                ..Routing::default()
            },
            Self::SessionRevoked { user, .. }
            | Self::AccountBanned { user }
            | Self::AccountDeleted { user } => Routing {
                user: Some(user),
                ..Routing::default()
            },
        }
    }
}

/// An event as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub cursor: Cursor,
    pub event: Event,
    /// The account whose request caused it, if any.
    pub actor: Option<Uuid>,
    pub at: DateTime<Utc>,
}

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
