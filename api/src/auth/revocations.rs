//! Sessions that ended while their access tokens are still within their
//! lifetime. An access token is checked by its signature alone, so without
//! this a signed-out session's token would keep working until it expired.
//! Every API process learns of an ending from the event log
//! (`session.revoked`, `account.deleted`), usually within milliseconds,
//! and refuses the token from then on; open WebSockets of the session are
//! told through [`Revocations::watch`] and closed.
//!
//! Entries are kept for one access token lifetime (plus the clock leeway),
//! after which the token has expired anyway. At start the process reads
//! that much of the log, so a restart forgets nothing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{
    error::AppResult,
    events::{Event, Logged, Tap, kind},
};
use entity::event;

/// What ended: some sessions, or every session of a deleted account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Sessions(Vec<Uuid>),
    Account(Uuid),
}

impl Ended {
    /// Whether this ending covers `session` of `user`.
    pub fn covers(&self, user: Uuid, session: Uuid) -> bool {
        match self {
            Self::Sessions(sessions) => sessions.contains(&session),
            Self::Account(account) => *account == user,
        }
    }
}

#[derive(Default)]
struct Table {
    sessions: HashMap<Uuid, DateTime<Utc>>,
    accounts: HashMap<Uuid, DateTime<Utc>>,
}

/// The recently ended sessions and accounts. Cheap to clone.
#[derive(Clone)]
pub struct Revocations {
    ended: Arc<Mutex<Table>>,
    /// How long an entry matters: as long as a token issued before it
    /// could still be accepted.
    keep: Duration,
    watchers: broadcast::Sender<Ended>,
}

impl Revocations {
    /// `keep`: the longest a token is accepted (its lifetime and the
    /// clock leeway).
    pub fn new(keep: Duration) -> Self {
        Self {
            ended: Arc::default(),
            keep,
            watchers: broadcast::channel(256).0,
        }
    }

    /// Reads the endings still within a token's lifetime from the log.
    pub(crate) async fn load(&self, db: &impl ConnectionTrait) -> AppResult<()> {
        let since = Utc::now() - self.keep;
        let rows = event::Entity::find()
            .filter(event::Column::Kind.is_in([kind::SESSION_REVOKED, kind::ACCOUNT_DELETED]))
            .filter(event::Column::CreatedAt.gt(since))
            .order_by_asc(event::Column::Position)
            .all(db)
            .await?;
        for row in rows {
            if let Some(ended) = serde_json::from_value::<Event>(row.data)
                .ok()
                .as_ref()
                .and_then(ending)
            {
                self.note(ended, row.created_at);
            }
        }
        Ok(())
    }

    /// Whether a token of `session` of `user` must be refused.
    pub fn is_revoked(&self, user: Uuid, session: Uuid) -> bool {
        let ended = self
            .ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ended.sessions.contains_key(&session) || ended.accounts.contains_key(&user)
    }

    /// Endings from now on, for open connections to close themselves.
    pub fn watch(&self) -> broadcast::Receiver<Ended> {
        self.watchers.subscribe()
    }

    /// Records an ending this process caused, at once: its own requests
    /// refuse the tokens before the event comes back through the log (which
    /// then changes nothing).
    pub(crate) fn end(&self, ended: Ended) {
        self.note(ended.clone(), Utc::now());
        let _ = self.watchers.send(ended);
    }

    fn note(&self, ended: Ended, at: DateTime<Utc>) {
        let mut table = self
            .ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match ended {
            Ended::Sessions(sessions) => {
                table.sessions.extend(sessions.into_iter().map(|s| (s, at)));
            }
            Ended::Account(user) => {
                table.accounts.insert(user, at);
            }
        }
        // Forget what no unexpired token can name any more.
        let cutoff = Utc::now() - self.keep;
        table.sessions.retain(|_, at| *at > cutoff);
        table.accounts.retain(|_, at| *at > cutoff);
    }
}

/// What `event` ends, if anything.
fn ending(event: &Event) -> Option<Ended> {
    match event {
        Event::SessionRevoked { sessions, .. } => Some(Ended::Sessions(sessions.clone())),
        Event::AccountDeleted { user } => Some(Ended::Account(*user)),
        _ => None,
    }
}

impl Tap for Revocations {
    fn deliver(&self, logged: &Arc<Logged>) {
        if let Some(ended) = ending(&logged.event) {
            self.note(ended.clone(), logged.at);
            // No receiver (no open socket) is fine.
            let _ = self.watchers.send(ended);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_sessions_and_accounts_are_refused_until_their_tokens_expire() {
        let revocations = Revocations::new(Duration::from_secs(60));
        let (ann, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (s1, s2, s3) = (
            Uuid::from_u128(11),
            Uuid::from_u128(12),
            Uuid::from_u128(13),
        );
        let mut watch = revocations.watch();
        let revoked = Event::SessionRevoked {
            user: ann,
            sessions: vec![s1],
        };
        revocations.deliver(&Arc::new(Logged {
            cursor: Default::default(),
            event: revoked,
            actor: Some(ann),
            at: Utc::now(),
        }));
        assert!(revocations.is_revoked(ann, s1));
        assert!(!revocations.is_revoked(ann, s2));
        assert_eq!(watch.try_recv().unwrap(), Ended::Sessions(vec![s1]));
        revocations.end(Ended::Account(bob));
        assert!(revocations.is_revoked(bob, s3));
        // An ending older than a token's lifetime is forgotten.
        revocations.note(
            Ended::Sessions(vec![s2]),
            Utc::now() - chrono::Duration::hours(1),
        );
        assert!(!revocations.is_revoked(ann, s2));
        assert!(Ended::Account(bob).covers(bob, s3));
        assert!(!Ended::Sessions(vec![s1]).covers(ann, s2));
    }
}
