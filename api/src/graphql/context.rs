//! Typed access to what the schema's data holds (put there at start-up by
//! `schema::build_schema`): a missing value is a bug, reported as an
//! internal error rather than a panic.

use std::any::type_name;

use crate::{db::Db, error::AppError};
use async_graphql::Context;

/// A value of type `T` from the schema's data.
pub fn data<'a, T: std::any::Any + Send + Sync>(ctx: &Context<'a>) -> Result<&'a T, AppError> {
    ctx.data::<T>().map_err(|_| {
        AppError::Internal(anyhow::anyhow!(
            "{} missing from schema data",
            type_name::<T>()
        ))
    })
}

/// The database.
pub fn db<'a>(ctx: &Context<'a>) -> Result<&'a Db, AppError> {
    data(ctx)
}
