//! Typed access to what every resolver may need from the request context.

use std::sync::Arc;

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::{auth::Auth, error::AppError};

/// The database pool, put into the schema's data at start-up.
pub fn db<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection, AppError> {
    ctx.data::<DatabaseConnection>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("database missing from schema data")))
}

/// Accounts and sessions, put into the schema's data at start-up.
pub fn auth<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Auth>, AppError> {
    ctx.data::<Arc<Auth>>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("auth missing from schema data")))
}
