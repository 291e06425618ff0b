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

/// Writes an admin's action through the API to the audit log, the same log
/// the dashboard writes, so an action is there whichever way it was taken:
/// who from the signed-in account, where from the request. Call it after
/// the change has committed.
pub(crate) async fn audit(
    ctx: &Context<'_>,
    action: &'static str,
    target: Option<(&'static str, String)>,
    detail: String,
) -> Result<(), AppError> {
    let info = crate::auth::viewer::request_info(ctx);
    let session = crate::auth::viewer::signed_in(ctx)?;
    let name = crate::users::service::find_by_id(db(ctx)?, session.user_id)
        .await?
        .map_or_else(String::new, |user| user.username);
    let entry = crate::admin::audit::Entry {
        actor: Some((session.user_id, name)),
        action,
        target,
        detail,
        ip: info.client_ip,
    };
    crate::admin::audit::record(db(ctx)?, entry).await
}
