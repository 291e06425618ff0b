//! Webhooks: endpoints admins register (a URL, the event kinds it wants,
//! the signing secret), one delivery per endpoint and event (fanned out
//! from the event log; unique, so a fan-out that runs twice adds nothing),
//! and every attempt at a delivery (status code, latency, error) for the
//! delivery log.

use sea_orm_migration::prelude::*;

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn optional_timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(
                        ColumnDef::new(WebhookEndpoints::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WebhookEndpoints::Url).string().not_null())
                    .col(ColumnDef::new(WebhookEndpoints::Kinds).json().not_null())
                    .col(ColumnDef::new(WebhookEndpoints::Secret).string().not_null())
                    .col(
                        ColumnDef::new(WebhookEndpoints::Description)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookEndpoints::Enabled)
                            .boolean()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookEndpoints::CreatedById).uuid().null())
                    .col(timestamp(WebhookEndpoints::CreatedAt))
                    .col(timestamp(WebhookEndpoints::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_webhook_endpoints_created_by_id",
                        (WebhookEndpoints::Table, WebhookEndpoints::CreatedById),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EndpointId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EventTxid)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EventPosition)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::Kind).string().not_null())
                    .col(ColumnDef::new(WebhookDeliveries::Payload).text().not_null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Status)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(timestamp(WebhookDeliveries::NextAttemptAt))
                    .col(optional_timestamp(WebhookDeliveries::LockedUntil))
                    .col(
                        ColumnDef::new(WebhookDeliveries::LastStatusCode)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::LastLatencyMs)
                            .integer()
                            .null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::LastError).string().null())
                    .col(timestamp(WebhookDeliveries::CreatedAt))
                    .col(optional_timestamp(WebhookDeliveries::DeliveredAt))
                    .foreign_key(&mut foreign_key(
                        "fk_webhook_deliveries_endpoint_id",
                        (WebhookDeliveries::Table, WebhookDeliveries::EndpointId),
                        (WebhookEndpoints::Table, WebhookEndpoints::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(
                        ColumnDef::new(WebhookAttempts::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebhookAttempts::DeliveryId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookAttempts::Attempt)
                            .integer()
                            .not_null(),
                    )
                    .col(timestamp(WebhookAttempts::At))
                    .col(ColumnDef::new(WebhookAttempts::StatusCode).integer().null())
                    .col(
                        ColumnDef::new(WebhookAttempts::LatencyMs)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookAttempts::Error).string().null())
                    .foreign_key(&mut foreign_key(
                        "fk_webhook_attempts_delivery_id",
                        (WebhookAttempts::Table, WebhookAttempts::DeliveryId),
                        (WebhookDeliveries::Table, WebhookDeliveries::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                // One delivery per endpoint and event.
                index(
                    "ux_webhook_deliveries_event",
                    WebhookDeliveries::Table,
                    &[
                        WebhookDeliveries::EndpointId,
                        WebhookDeliveries::EventTxid,
                        WebhookDeliveries::EventPosition,
                    ],
                    true,
                ),
                // What is due next.
                index(
                    "ix_webhook_deliveries_due",
                    WebhookDeliveries::Table,
                    &[WebhookDeliveries::Status, WebhookDeliveries::NextAttemptAt],
                    false,
                ),
                index(
                    "ix_webhook_endpoints_created_by_id",
                    WebhookEndpoints::Table,
                    &[WebhookEndpoints::CreatedById],
                    false,
                ),
                index(
                    "ix_webhook_attempts_delivery_id",
                    WebhookAttempts::Table,
                    &[WebhookAttempts::DeliveryId],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                WebhookAttempts::Table.into_iden(),
                WebhookDeliveries::Table.into_iden(),
                WebhookEndpoints::Table.into_iden(),
            ],
        )
        .await
    }
}
