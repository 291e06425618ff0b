//! Admins' side of webhooks: registering endpoints, reading the delivery
//! log, redelivering. Callers have checked the caller is an admin.

use std::net::IpAddr;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, Set,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{guard, settings::WebhookConfig, signature};
use crate::{
    db::{Db, now},
    error::{AppError, AppResult},
    events::kind,
    paging::{ListOrder, Page, PageRequest},
    validate,
};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint};

/// Where a delivery stands.
pub(crate) mod status {
    pub(crate) const PENDING: &str = "pending";
    pub(crate) const DELIVERED: &str = "delivered";
    /// Every attempt failed: the dead-letter state, until redelivered.
    pub(crate) const FAILED: &str = "failed";
}

const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 500;

/// What `createWebhook` and `updateWebhook` set; `None` keeps a field.
#[derive(Debug, Default)]
pub(crate) struct EndpointChanges {
    pub url: Option<String>,
    pub kinds: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// Registers an endpoint; returns it and its secret (shown this once).
pub(crate) async fn create(
    db: &Db,
    config: &WebhookConfig,
    admin: Uuid,
    input: EndpointChanges,
) -> AppResult<(webhook_endpoint::Model, String)> {
    let url = check_url(config, input.url.as_deref().unwrap_or_default()).await?;
    let kinds = check_kinds(input.kinds.unwrap_or_default())?;
    let description = validate::optional_text(
        "input.description",
        input.description.as_deref().unwrap_or_default(),
        MAX_DESCRIPTION,
    )?;
    let secret = signature::new_secret();
    let at = now();
    let row = webhook_endpoint::ActiveModel {
        id: Set(Uuid::now_v7()),
        url: Set(url),
        kinds: Set(kinds.into()),
        secret: Set(secret.clone()),
        description: Set(description),
        enabled: Set(input.enabled.unwrap_or(true)),
        created_by_id: Set(Some(admin)),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let endpoint = db
        .statement(move |tx| Box::pin(async move { Ok(row.insert(&tx).await?) }))
        .await?;
    Ok((endpoint, secret))
}

/// Changes an endpoint's URL, kinds, description or whether it is enabled
/// (a disabled endpoint's deliveries wait until it is enabled again).
pub(crate) async fn update(
    db: &Db,
    config: &WebhookConfig,
    id: Uuid,
    changes: EndpointChanges,
) -> AppResult<webhook_endpoint::Model> {
    let endpoint = get(db, id).await?;
    let mut active: webhook_endpoint::ActiveModel = endpoint.into();
    if let Some(url) = changes.url {
        active.url = Set(check_url(config, &url).await?);
    }
    if let Some(kinds) = changes.kinds {
        active.kinds = Set(check_kinds(kinds)?.into());
    }
    if let Some(description) = changes.description {
        active.description = Set(validate::optional_text(
            "input.description",
            &description,
            MAX_DESCRIPTION,
        )?);
    }
    if let Some(enabled) = changes.enabled {
        active.enabled = Set(enabled);
    }
    active.updated_at = Set(now());
    db.statement(move |tx| Box::pin(async move { Ok(active.update(&tx).await?) }))
        .await
}

/// Gives an endpoint a new signing secret (returned, shown this once);
/// deliveries signed from now on use it. The receiver must switch to it.
pub(crate) async fn rotate_secret(
    db: &Db,
    id: Uuid,
) -> AppResult<(webhook_endpoint::Model, String)> {
    let endpoint = get(db, id).await?;
    let secret = signature::new_secret();
    let mut active: webhook_endpoint::ActiveModel = endpoint.into();
    active.secret = Set(secret.clone());
    active.updated_at = Set(now());
    let endpoint = db
        .statement(move |tx| Box::pin(async move { Ok(active.update(&tx).await?) }))
        .await?;
    Ok((endpoint, secret))
}

/// Deletes an endpoint with its deliveries and their log.
pub(crate) async fn delete(db: &Db, id: Uuid) -> AppResult<Uuid> {
    let deleted = db
        .statement(move |tx| {
            Box::pin(async move {
                Ok(webhook_endpoint::Entity::delete_by_id(id)
                    .exec(&tx)
                    .await?
                    .rows_affected)
            })
        })
        .await?;
    if deleted == 0 {
        return Err(AppError::NotFound("webhook"));
    }
    Ok(id)
}

pub(crate) async fn get(db: &Db, id: Uuid) -> AppResult<webhook_endpoint::Model> {
    webhook_endpoint::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("webhook"))
}

/// Every endpoint, oldest first.
pub(crate) async fn list(db: &Db) -> AppResult<Vec<webhook_endpoint::Model>> {
    Ok(webhook_endpoint::Entity::find()
        .order_by(webhook_endpoint::Column::CreatedAt, Order::Asc)
        .all(db)
        .await?)
}

/// An endpoint's deliveries, newest first, optionally of one status.
pub(crate) async fn deliveries(
    db: &Db,
    endpoint: Uuid,
    status: Option<&'static str>,
    page: &PageRequest,
) -> AppResult<Page<webhook_delivery::Model>> {
    let mut query =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::EndpointId.eq(endpoint));
    if let Some(status) = status {
        query = query.filter(webhook_delivery::Column::Status.eq(status));
    }
    let rows = page
        .apply(
            query,
            webhook_delivery::Column::CreatedAt,
            webhook_delivery::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// A delivery's attempts, first first.
pub(crate) async fn attempts(db: &Db, delivery: Uuid) -> AppResult<Vec<webhook_attempt::Model>> {
    Ok(webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.eq(delivery))
        .order_by(webhook_attempt::Column::Attempt, Order::Asc)
        .all(db)
        .await?)
}

/// Sends a delivery again now, with a fresh set of retries: after a
/// failure is fixed at the receiver, or to replay one it lost.
pub(crate) async fn redeliver(db: &Db, id: Uuid) -> AppResult<webhook_delivery::Model> {
    let updated = db
        .statement(move |tx| {
            Box::pin(async move {
                Ok(webhook_delivery::Entity::update_many()
                    .col_expr(
                        webhook_delivery::Column::Status,
                        Expr::value(status::PENDING),
                    )
                    .col_expr(webhook_delivery::Column::Attempts, Expr::value(0))
                    .col_expr(
                        webhook_delivery::Column::NextAttemptAt,
                        Expr::value(Utc::now()),
                    )
                    .col_expr(
                        webhook_delivery::Column::LockedUntil,
                        Expr::value(Option::<chrono::DateTime<Utc>>::None),
                    )
                    .filter(webhook_delivery::Column::Id.eq(id))
                    .exec_with_returning(&tx)
                    .await?)
            })
        })
        .await?;
    updated
        .into_iter()
        .next()
        .ok_or(AppError::NotFound("webhook delivery"))
}

/// An endpoint URL: http or https, with a host, without credentials; a
/// literal address (or a name resolving to one) on the server's own
/// networks is refused unless configured otherwise.
async fn check_url(config: &WebhookConfig, url: &str) -> AppResult<String> {
    let field = "input.url";
    let url = url.trim();
    let invalid = |why: &str| AppError::bad_input(field, why.to_owned());
    if url.len() > MAX_URL {
        return Err(invalid("the URL is longer than 2048 characters"));
    }
    let parsed = url::Url::parse(url).map_err(|_| invalid("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("webhooks are sent over http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "put no credentials in the URL; check the signature instead",
        ));
    }
    let Some(host) = parsed.host() else {
        return Err(invalid("the URL has no host"));
    };
    if !config.allow_private_addresses {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addresses: Vec<IpAddr> = match host {
            url::Host::Ipv4(ip) => vec![ip.into()],
            url::Host::Ipv6(ip) => vec![ip.into()],
            // A name that does not resolve now may later; delivery checks
            // again either way.
            url::Host::Domain(name) => tokio::net::lookup_host((name, port))
                .await
                .map(|found| found.map(|a| a.ip()).collect())
                .unwrap_or_default(),
        };
        if let Some((ip, why)) = addresses
            .into_iter()
            .find_map(|ip| guard::forbidden(ip).map(|why| (ip, why)))
        {
            return Err(invalid(&format!(
                "{ip} is {why}: webhooks go to public addresses \
                 (WEBHOOK_ALLOW_PRIVATE_ADDRESSES allows others, for development)"
            )));
        }
    }
    Ok(parsed.to_string())
}

/// The event kinds an endpoint receives: at least one, each Hearth's or
/// shaped like an application's own (which the log carries as well).
fn check_kinds(kinds: Vec<String>) -> AppResult<Vec<String>> {
    if kinds.is_empty() {
        return Err(AppError::bad_input(
            "input.events",
            format!("name the event kinds to send: {}", kind::ALL.join(", ")),
        ));
    }
    let known =
        |k: &String| kind::ALL.contains(&k.as_str()) || crate::events::check_app_kind(k).is_ok();
    if let Some(unknown) = kinds.iter().find(|k| !known(k)) {
        return Err(AppError::bad_input(
            "input.events",
            format!(
                "`{unknown}` is not an event kind; known: {}",
                kind::ALL.join(", ")
            ),
        ));
    }
    let mut kinds = kinds;
    kinds.sort();
    kinds.dedup();
    Ok(kinds)
}
