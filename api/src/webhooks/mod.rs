//! Webhooks: admins register endpoints (a URL, the event kinds it wants; a
//! secret shown once), and every such event in the event log is posted to
//! them, signed per the Standard Webhooks specification, at least once,
//! with retries over more than a day, a failed (dead-letter) state after
//! the last, manual redelivery, and a log of every attempt.
//!
//! - [`fanout`]: from the log to one delivery per endpoint and event.
//! - [`sender`]: claims due deliveries, posts them, records attempts.
//! - [`guard`]: the addresses webhooks may not reach.
//! - [`signature`], [`payload`]: what is sent.
//! - [`service`], [`graphql`]: the admin API.

mod fanout;
pub(crate) mod graphql;
mod guard;
mod payload;
mod sender;
pub(crate) mod service;
pub mod settings;
mod signature;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    db::{self, Db},
    events::{Logged, Tap},
};
use settings::WebhookConfig;

/// The longest the sender sleeps without looking (other processes may
/// have scheduled retries, and lapsed claims come back).
const IDLE: Duration = Duration::from_secs(30);
/// How often the fan-out looks without being woken.
const FAN_OUT_POLL: Duration = Duration::from_secs(5);

/// The running webhook machinery of this process.
pub(crate) struct Webhooks {
    db: Db,
    config: WebhookConfig,
    /// New events in the log: time to fan out.
    events: Notify,
    /// New deliveries: time to send.
    deliveries: Notify,
    /// Whether any endpoint is enabled, as last seen. Without one, new
    /// events do not wake the fan-out (it would only move its cursor, a
    /// write per event); the periodic step still moves it, so the log can
    /// be pruned.
    endpoints: AtomicBool,
}

impl Webhooks {
    /// Starts the fan-out and the sender, until `shutdown`.
    pub(crate) fn start(
        db: Db,
        config: WebhookConfig,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
        let client = sender::client(&config)?;
        let webhooks = Arc::new(Self {
            db,
            config,
            events: Notify::new(),
            deliveries: Notify::new(),
            endpoints: AtomicBool::new(true),
        });
        tokio::spawn(db::in_background(
            webhooks.clone().fan_out(shutdown.clone()),
        ));
        tokio::spawn(db::in_background(
            webhooks.clone().send(client, shutdown.clone()),
        ));
        Ok(webhooks)
    }

    pub(crate) fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// An endpoint was added or changed, or a delivery queued again: fan
    /// out and send now.
    pub(crate) fn poke(&self) {
        self.endpoints.store(true, Ordering::Relaxed);
        self.events.notify_one();
        self.deliveries.notify_one();
    }

    async fn fan_out(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            match fanout::step(&self.db).await {
                Ok(step) => {
                    self.endpoints.store(step.endpoints, Ordering::Relaxed);
                    if step.added > 0 {
                        self.deliveries.notify_one();
                    }
                    if step.more {
                        continue;
                    }
                }
                Err(err) => tracing::warn!(error = ?err, "webhook fan-out failed; retrying"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.events.notified() => {}
                () = tokio::time::sleep(FAN_OUT_POLL) => {}
            }
        }
    }

    async fn send(self: Arc<Self>, client: reqwest::Client, shutdown: CancellationToken) {
        loop {
            let pause = match sender::claim(&self.db, &self.config).await {
                Ok(claimed) if !claimed.is_empty() => {
                    sender::send_all(&self.db, &self.config, &client, claimed).await;
                    continue;
                }
                Ok(_) => match sender::next_due(&self.db).await {
                    Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or_default().min(IDLE),
                    Ok(None) => IDLE,
                    Err(_) => Duration::from_secs(1),
                },
                Err(err) => {
                    tracing::warn!(error = ?err, "cannot claim webhook deliveries; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.deliveries.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

impl Tap for Webhooks {
    fn deliver(&self, _: &Arc<Logged>) {
        if self.endpoints.load(Ordering::Relaxed) {
            self.events.notify_one();
        }
    }
}
