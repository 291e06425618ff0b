//! Sending deliveries: each process claims due ones (on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so replicas share the work without sending
//! one twice), posts them, and records every attempt. A failed attempt is
//! retried after the next pause of the schedule, varied by up to a fifth
//! either way so retries to a recovering receiver do not arrive in step;
//! after the last, the delivery has failed (the dead-letter state) until an
//! admin redelivers it. A claim expires, so deliveries of a process that
//! died mid-send are sent again by another: at least once.

use std::{sync::Arc, time::Instant};

use chrono::Utc;
use futures_util::future::join_all;
use rand::Rng;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, LockBehavior, LockType, Query},
};
use uuid::Uuid;

use super::{guard, service::status, settings::WebhookConfig, signature};
use crate::{
    db::{Db, now},
    error::{AppResult, describe_request_error},
};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint};

/// Deliveries claimed (and sent at once) per round.
const CLAIM: u64 = 16;

/// The HTTP client webhooks go out through: no redirects (a redirect could
/// lead anywhere), no proxy from the environment (it would resolve names
/// itself), and unless private addresses are allowed, names resolved
/// through the check in [`guard`].
pub(super) fn client(config: &WebhookConfig) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(config.timeout)
        .user_agent(concat!("Hearth-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !config.allow_private_addresses {
        builder = builder.dns_resolver(Arc::new(guard::CheckedResolver));
    }
    builder.build()
}

/// Claims due deliveries of enabled endpoints, with their endpoints.
pub(super) async fn claim(
    db: &Db,
    config: &WebhookConfig,
) -> AppResult<Vec<(webhook_delivery::Model, webhook_endpoint::Model)>> {
    use webhook_delivery::Column as D;
    let at = Utc::now();
    // Long enough for one attempt to finish; then the claim lapses.
    let until = at + config.timeout * 2;
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let claimed = db
        .statement(move |tx| {
            Box::pin(async move {
                let mut due = Query::select();
                due.column(D::Id)
                    .from(webhook_delivery::Entity)
                    .and_where(D::Status.eq(status::PENDING))
                    .and_where(D::NextAttemptAt.lte(at))
                    .cond_where(
                        Condition::any()
                            .add(D::LockedUntil.is_null())
                            .add(D::LockedUntil.lt(at)),
                    )
                    .and_where(
                        D::EndpointId.in_subquery(
                            Query::select()
                                .column(webhook_endpoint::Column::Id)
                                .from(webhook_endpoint::Entity)
                                .and_where(webhook_endpoint::Column::Enabled.eq(true))
                                .to_owned(),
                        ),
                    )
                    .order_by(D::NextAttemptAt, Order::Asc)
                    .limit(CLAIM);
                if postgres {
                    due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
                }
                Ok(webhook_delivery::Entity::update_many()
                    .col_expr(D::LockedUntil, Expr::value(until))
                    .filter(D::Id.in_subquery(due))
                    .exec_with_returning(&tx)
                    .await?)
            })
        })
        .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(claimed.iter().map(|d| d.endpoint_id)))
        .all(db)
        .await?;
    Ok(claimed
        .into_iter()
        .filter_map(|delivery| {
            let endpoint = endpoints.iter().find(|e| e.id == delivery.endpoint_id)?;
            Some((delivery, endpoint.clone()))
        })
        .collect())
}

/// When the next pending delivery is due, if any.
pub(super) async fn next_due(db: &Db) -> AppResult<Option<chrono::DateTime<Utc>>> {
    Ok(webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::NextAttemptAt)
        .filter(webhook_delivery::Column::Status.eq(status::PENDING))
        .order_by(webhook_delivery::Column::NextAttemptAt, Order::Asc)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?)
}

/// What one attempt got.
struct Outcome {
    status_code: Option<u16>,
    latency_ms: i32,
    error: Option<String>,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// Sends the claimed deliveries at once and records each attempt.
pub(super) async fn send_all(
    db: &Db,
    config: &WebhookConfig,
    client: &reqwest::Client,
    claimed: Vec<(webhook_delivery::Model, webhook_endpoint::Model)>,
) {
    let sends = claimed.into_iter().map(|(delivery, endpoint)| async move {
        let outcome = attempt(config, client, &delivery, &endpoint).await;
        if let Err(err) = record(db, config, delivery, outcome).await {
            tracing::warn!(error = ?err, "cannot record a webhook attempt; it will be retried");
        }
    });
    join_all(sends).await;
}

async fn attempt(
    config: &WebhookConfig,
    client: &reqwest::Client,
    delivery: &webhook_delivery::Model,
    endpoint: &webhook_endpoint::Model,
) -> Outcome {
    let started = Instant::now();
    let outcome = |status_code, error| Outcome {
        status_code,
        latency_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
        error,
    };
    if let Some(why) = refused_literal(config, &endpoint.url) {
        return outcome(None, Some(why));
    }
    let id = format!("msg_{}", delivery.id.simple());
    let timestamp = Utc::now().timestamp();
    let Some(signature) = signature::sign(&endpoint.secret, &id, timestamp, &delivery.payload)
    else {
        return outcome(
            None,
            Some("the endpoint's secret is not a valid whsec_ secret".into()),
        );
    };
    let sent = client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let code = response.status().as_u16();
            let error = (!response.status().is_success())
                .then(|| format!("the receiver answered {}", response.status()));
            outcome(Some(code), error)
        }
        Err(err) => outcome(None, Some(describe_request_error(&err))),
    }
}

/// A URL whose host is a literal address the guard refuses (names are
/// checked by the client's resolver).
fn refused_literal(config: &WebhookConfig, url: &str) -> Option<String> {
    if config.allow_private_addresses {
        return None;
    }
    let host = url::Url::parse(url).ok()?.host()?.to_owned();
    let ip: std::net::IpAddr = match host {
        url::Host::Ipv4(ip) => ip.into(),
        url::Host::Ipv6(ip) => ip.into(),
        url::Host::Domain(_) => return None,
    };
    guard::forbidden(ip).map(|why| format!("refused: {ip} is {why}"))
}

/// Records an attempt and what follows: delivered, retried later, or
/// failed for good.
async fn record(
    db: &Db,
    config: &WebhookConfig,
    delivery: webhook_delivery::Model,
    outcome: Outcome,
) -> AppResult<()> {
    let attempts = delivery.attempts + 1;
    let at = now();
    let succeeded = outcome.succeeded();
    let mut changed = webhook_delivery::ActiveModel {
        id: Set(delivery.id),
        attempts: Set(attempts),
        locked_until: Set(None),
        last_status_code: Set(outcome.status_code.map(i32::from)),
        last_latency_ms: Set(Some(outcome.latency_ms)),
        last_error: Set(outcome.error.clone()),
        ..Default::default()
    };
    if succeeded {
        changed.status = Set(status::DELIVERED.to_owned());
        changed.delivered_at = Set(Some(at));
    } else {
        let retry = usize::try_from(attempts - 1)
            .ok()
            .and_then(|i| config.retry_schedule.get(i));
        match retry {
            Some(pause) => {
                let jitter = rand::rng().random_range(0.8..1.2);
                changed.next_attempt_at = Set(at + pause.mul_f64(jitter));
            }
            None => changed.status = Set(status::FAILED.to_owned()),
        }
    }
    let log = webhook_attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        delivery_id: Set(delivery.id),
        attempt: Set(attempts),
        at: Set(at),
        status_code: Set(outcome.status_code.map(i32::from)),
        latency_ms: Set(outcome.latency_ms),
        error: Set(outcome.error),
    };
    metrics::counter!(
        "webhook_attempts_total",
        "outcome" => if succeeded { "delivered" } else { "failed" }
    )
    .increment(1);
    db.transaction(move |tx| {
        Box::pin(async move {
            webhook_attempt::Entity::insert(log)
                .exec_without_returning(&tx)
                .await?;
            webhook_delivery::Entity::update(changed).exec(&tx).await?;
            Ok(())
        })
    })
    .await
}
