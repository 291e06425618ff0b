//! Push: each signed-in device may register one push token (FCM or APNs),
//! bound to its session, so that signing out, a revoked session, a
//! password change or a ban (all of which end sessions) stop its pushes.
//! Notifications queue a push per device in the same transaction as the
//! notification ([`outbox`]); the sender here sends them through FCM
//! ([`fcm`]) or APNs ([`apns`]), retries a provider that is down on a
//! schedule, and forgets tokens a provider reports dead.

mod apns;
mod fcm;
pub(crate) mod graphql;
pub(crate) mod outbox;
mod provider;
pub(crate) mod service;
pub mod settings;

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entity::{enums::PushProvider, notification, push_delivery, push_token};
use futures_util::future::join_all;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    db::{self, Db},
    graphql::id::{NodeType, to_global_id},
};
use provider::{Message, Sent};
use settings::PushConfig;

/// The longest the sender sleeps without looking (another process may
/// have queued pushes, and lapsed claims come back).
const IDLE: Duration = Duration::from_secs(15);

/// The running push sender of this process.
pub(crate) struct Push {
    db: Db,
    config: PushConfig,
    fcm: Option<fcm::Fcm>,
    apns: Option<apns::Apns>,
    /// Pushes were queued: time to send.
    queued: Notify,
}

impl Push {
    /// Starts the sender until `shutdown`; `None` when no provider is
    /// configured (then nothing is queued either).
    pub(crate) fn start(
        db: Db,
        config: PushConfig,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        if config.providers().is_empty() {
            return Ok(None);
        }
        let fcm = config
            .fcm
            .clone()
            .map(|c| fcm::Fcm::new(c, config.timeout))
            .transpose()?;
        let apns = config
            .apns
            .clone()
            .map(|c| apns::Apns::new(c, config.timeout))
            .transpose()?;
        let push = Arc::new(Self {
            db,
            config,
            fcm,
            apns,
            queued: Notify::new(),
        });
        tokio::spawn(db::in_background(push.clone().send(shutdown.clone())));
        Ok(Some(push))
    }

    /// The providers pushes are queued for.
    pub(crate) fn providers(&self) -> Vec<PushProvider> {
        self.config.providers()
    }

    /// Pushes were queued: send them now.
    pub(crate) fn wake(&self) {
        self.queued.notify_one();
    }

    async fn send(self: Arc<Self>, shutdown: CancellationToken) {
        // Long enough for one request to finish; then the claim lapses.
        let hold = self.config.timeout * 3;
        loop {
            let pause = match outbox::claim(&self.db, hold).await {
                Ok(claimed) if !claimed.is_empty() => {
                    join_all(claimed.into_iter().map(|d| self.deliver(d))).await;
                    continue;
                }
                Ok(_) => match outbox::next_due(&self.db).await {
                    Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or_default().min(IDLE),
                    Ok(None) => IDLE,
                    Err(_) => Duration::from_secs(1),
                },
                Err(err) => {
                    tracing::warn!(error = ?err, "cannot claim pushes; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.queued.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Sends one claimed push, if it is still wanted, and records the outcome.
    async fn deliver(&self, delivery: push_delivery::Model) {
        let sent = match outbox::still_wanted(&self.db, &delivery).await {
            Ok(Some((token, n))) => Some(self.send_one(&delivery, &token, &n).await),
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(error = ?err, "cannot check a push; it will be tried again");
                return;
            }
        };
        let schedule = &self.config.retry_schedule;
        if let Err(err) = outbox::finish(&self.db, delivery, sent, schedule).await {
            tracing::warn!(error = ?err, "cannot record a push; it will be tried again");
        }
    }

    async fn send_one(
        &self,
        delivery: &push_delivery::Model,
        token: &push_token::Model,
        n: &notification::Model,
    ) -> Sent {
        let thread = thread(n);
        let message = Message {
            token: &token.token,
            title: &delivery.title,
            body: &delivery.body,
            collapse_id: n.id.to_string(),
            thread: thread.as_deref(),
            data: data(n),
        };
        let (provider, sent) = match (token.provider, &self.fcm, &self.apns) {
            (PushProvider::Fcm, Some(fcm), _) => ("fcm", fcm.send(&message).await),
            (PushProvider::Apns, _, Some(apns)) => ("apns", apns.send(&message).await),
            (PushProvider::Fcm, None, _) => ("fcm", Sent::Rejected("FCM is not configured".into())),
            (PushProvider::Apns, _, None) => {
                ("apns", Sent::Rejected("APNs is not configured".into()))
            }
        };
        metrics::counter!("push_sends_total", "provider" => provider, "outcome" => sent.outcome())
            .increment(1);
        sent
    }
}

/// What a device groups the push with: its conversation, or its post.
fn thread(n: &notification::Model) -> Option<String> {
    n.conversation_id
        .map(|c| to_global_id(NodeType::Conversation, c).0)
        .or_else(|| n.post_id.map(|p| to_global_id(NodeType::Post, p).0))
}

/// The app's data: the notification and what it is about, as global ids.
fn data(n: &notification::Model) -> std::collections::BTreeMap<&'static str, String> {
    use entity::enums::NotificationKind as K;
    let kind = match n.kind {
        K::Reply => "REPLY",
        K::Mention => "MENTION",
        K::Reaction => "REACTION",
        K::Follow => "FOLLOW",
        K::Message => "MESSAGE",
        K::Moderation => "MODERATION",
    };
    let mut data = std::collections::BTreeMap::from([
        (
            "notificationId",
            to_global_id(NodeType::Notification, n.id).0,
        ),
        ("kind", kind.to_owned()),
    ]);
    let ids = [
        ("postId", NodeType::Post, n.post_id),
        ("commentId", NodeType::Comment, n.comment_id),
        ("conversationId", NodeType::Conversation, n.conversation_id),
    ];
    for (key, node, id) in ids {
        if let Some(id) = id {
            data.insert(key, to_global_id(node, id).0);
        }
    }
    data
}
