//! Typed access to what every resolver may need from the request context.

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::error::AppError;

/// The database pool, put into the schema's data at start-up.
pub fn db<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection, AppError> {
    ctx.data::<DatabaseConnection>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("database missing from schema data")))
}
