//! Webhook endpoints and their delivery log in GraphQL: admins only,
//! thin over [`super::service`].

use std::sync::Arc;

use async_graphql::{
    Context, Enum, ID, InputObject, Object, SimpleObject,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint};

use super::{
    Webhooks,
    service::{self, EndpointChanges, status},
};
use crate::{
    auth::{AdminOnly, graphql::auth, viewer::signed_in},
    error::AppError,
    graphql::{
        context::{self, audit},
        id::{NodeType, expect_global_id, to_global_id},
        relay::{IntoConnection, page_complexity},
    },
    paging::{KeysetCursor, PageArgs, PageRequest},
};

/// A URL Hearth posts events to, signed with its secret.
pub(crate) struct Webhook(webhook_endpoint::Model);

#[Object]
impl Webhook {
    async fn id(&self) -> ID {
        to_global_id(NodeType::Webhook, self.0.id)
    }

    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The event kinds it receives (`post.created`, `message.sent`, ...).
    async fn events(&self) -> Vec<String> {
        self.0
            .kinds
            .as_array()
            .map(|kinds| {
                kinds
                    .iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// A disabled webhook's deliveries wait until it is enabled again.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Its deliveries, newest first; `status` keeps one kind (`FAILED`:
    /// the dead letters).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        status: Option<WebhookDeliveryStatus>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Connection<String, WebhookDelivery, EmptyFields>> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let status = status.map(WebhookDeliveryStatus::stored);
        let page = service::deliveries(context::db(ctx)?, self.0.id, status, &request).await?;
        Ok(page.into_connection(
            EmptyFields,
            |d| KeysetCursor {
                created_at: d.created_at,
                id: d.id,
            },
            WebhookDelivery,
        ))
    }
}

/// Where a delivery stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookDeliveryStatus {
    /// Waiting for its first attempt or its next retry.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; `redeliverWebhook` tries again.
    Failed,
}

impl WebhookDeliveryStatus {
    fn stored(self) -> &'static str {
        match self {
            Self::Pending => status::PENDING,
            Self::Delivered => status::DELIVERED,
            Self::Failed => status::FAILED,
        }
    }
}

/// One event on its way to one webhook.
pub(crate) struct WebhookDelivery(webhook_delivery::Model);

#[Object]
impl WebhookDelivery {
    /// Also the `webhook-id` header of every attempt.
    async fn id(&self) -> ID {
        to_global_id(NodeType::WebhookDelivery, self.0.id)
    }

    /// The event kind (`post.created`, ...).
    async fn event(&self) -> &str {
        &self.0.kind
    }

    /// The JSON body posted, the same on every attempt.
    async fn payload(&self) -> &str {
        &self.0.payload
    }

    async fn status(&self) -> WebhookDeliveryStatus {
        match self.0.status.as_str() {
            status::DELIVERED => WebhookDeliveryStatus::Delivered,
            status::FAILED => WebhookDeliveryStatus::Failed,
            _ => WebhookDeliveryStatus::Pending,
        }
    }

    /// Attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When a pending delivery is tried next.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == status::PENDING).then_some(self.0.next_attempt_at)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }

    /// The last attempt's HTTP status, if the receiver answered.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }

    async fn last_latency_ms(&self) -> Option<i32> {
        self.0.last_latency_ms
    }

    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// Every attempt, first first.
    async fn attempt_log(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WebhookAttempt>> {
        let attempts = service::attempts(context::db(ctx)?, self.0.id).await?;
        Ok(attempts.into_iter().map(WebhookAttempt::from).collect())
    }
}

/// One try at a delivery.
#[derive(SimpleObject)]
pub(crate) struct WebhookAttempt {
    /// 1 for the first try.
    attempt: i32,
    at: DateTime<Utc>,
    /// The receiver's HTTP status; null if none came (refused, timed out).
    status_code: Option<i32>,
    latency_ms: i32,
    error: Option<String>,
}

impl From<webhook_attempt::Model> for WebhookAttempt {
    fn from(row: webhook_attempt::Model) -> Self {
        Self {
            attempt: row.attempt,
            at: row.at,
            status_code: row.status_code,
            latency_ms: row.latency_ms,
            error: row.error,
        }
    }
}

#[derive(InputObject)]
pub(crate) struct CreateWebhookInput {
    /// http or https; a public address unless
    /// `WEBHOOK_ALLOW_PRIVATE_ADDRESSES` is set.
    url: String,
    /// The event kinds to send: `post.created`, `post.deleted`,
    /// `post.moderated`, `comment.created`, `comment.moderated`,
    /// `message.sent`, `reaction.changed`, `membership.changed`,
    /// `session.revoked`, `account.banned`, `account.deleted`.
    events: Vec<String>,
    description: Option<String>,
}

#[derive(InputObject)]
pub(crate) struct UpdateWebhookInput {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    enabled: Option<bool>,
}

/// A new webhook and its signing secret.
#[derive(SimpleObject)]
pub(crate) struct CreateWebhookPayload {
    webhook: Webhook,
    /// `whsec_...`: verify each delivery's `webhook-signature` with it
    /// (Standard Webhooks). Shown this once; it cannot be read again.
    secret: String,
}

fn webhooks<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Webhooks>, AppError> {
    context::data(ctx)
}

/// Confirms the caller is an admin now, in the database (the guard only
/// read the token); returns their id.
async fn require_admin(ctx: &Context<'_>) -> async_graphql::Result<uuid::Uuid> {
    Ok(auth(ctx)?.require_admin(&signed_in(ctx)?).await?.id)
}

#[derive(Default)]
pub(crate) struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// Admin: every webhook, oldest first.
    #[graphql(guard = "AdminOnly")]
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Webhook>> {
        require_admin(ctx).await?;
        let list = service::list(context::db(ctx)?).await?;
        Ok(list.into_iter().map(Webhook).collect())
    }

    /// Admin: one webhook.
    #[graphql(guard = "AdminOnly")]
    async fn webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Webhook> {
        require_admin(ctx).await?;
        let id = expect_global_id(&id, NodeType::Webhook, "id")?;
        Ok(Webhook(service::get(context::db(ctx)?, id).await?))
    }
}

#[derive(Default)]
pub(crate) struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Admin: registers a webhook. Events committed from now on that it
    /// wants are posted to it, signed with the secret returned here.
    #[graphql(guard = "AdminOnly")]
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> async_graphql::Result<CreateWebhookPayload> {
        let admin = require_admin(ctx).await?;
        let changes = EndpointChanges {
            url: Some(input.url),
            kinds: Some(input.events),
            description: input.description,
            enabled: Some(true),
        };
        let endpoints = webhooks(ctx)?;
        let (endpoint, secret) =
            service::create(context::db(ctx)?, endpoints.config(), admin, changes).await?;
        endpoints.poke();
        let detail = format!("registered a webhook to {}", endpoint.url);
        let target = Some(("webhook", endpoint.id.to_string()));
        audit(ctx, "webhook.create", target, detail).await?;
        Ok(CreateWebhookPayload {
            webhook: Webhook(endpoint),
            secret,
        })
    }

    /// Admin: changes a webhook (fields left out stay as they are).
    #[graphql(guard = "AdminOnly")]
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookInput,
    ) -> async_graphql::Result<Webhook> {
        require_admin(ctx).await?;
        let id = expect_global_id(&id, NodeType::Webhook, "id")?;
        let changes = EndpointChanges {
            url: input.url,
            kinds: input.events,
            description: input.description,
            enabled: input.enabled,
        };
        let endpoints = webhooks(ctx)?;
        let endpoint = service::update(context::db(ctx)?, endpoints.config(), id, changes).await?;
        endpoints.poke();
        let detail = format!("changed the webhook to {}", endpoint.url);
        audit(
            ctx,
            "webhook.update",
            Some(("webhook", id.to_string())),
            detail,
        )
        .await?;
        Ok(Webhook(endpoint))
    }

    /// Admin: deletes a webhook and its delivery log. Returns its id.
    #[graphql(guard = "AdminOnly")]
    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        require_admin(ctx).await?;
        let id = expect_global_id(&id, NodeType::Webhook, "id")?;
        let db = context::db(ctx)?;
        let url = service::get(db, id).await?.url;
        service::delete(db, id).await?;
        let detail = format!("deleted the webhook to {url}");
        audit(
            ctx,
            "webhook.delete",
            Some(("webhook", id.to_string())),
            detail,
        )
        .await?;
        Ok(to_global_id(NodeType::Webhook, id))
    }

    /// Admin: sends a delivery again now, with a fresh set of retries.
    #[graphql(guard = "AdminOnly")]
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> async_graphql::Result<WebhookDelivery> {
        require_admin(ctx).await?;
        let id = expect_global_id(&delivery_id, NodeType::WebhookDelivery, "deliveryId")?;
        let delivery = service::redeliver(context::db(ctx)?, id).await?;
        webhooks(ctx)?.poke();
        let detail = format!("queued the {} delivery again", delivery.kind);
        let target = Some(("delivery", id.to_string()));
        audit(ctx, "webhook.redeliver", target, detail).await?;
        Ok(WebhookDelivery(delivery))
    }
}
