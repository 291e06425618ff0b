//! `createBackup` and `backups`: admin-only, thin over [`super::service`].

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::service::{self, BackupError, Backups};
use crate::{
    auth::{AdminOnly, graphql::auth, viewer::signed_in},
    error::{AppError, code},
    graphql::id::{NodeType, to_global_key},
};

/// A snapshot of the database on the server's disk (in `BACKUP_DIR`).
#[derive(SimpleObject)]
pub(crate) struct Backup {
    /// Derived from the file name: a backup is known by its name.
    pub id: ID,
    /// The file name, e.g. `hearth-20261123T161000Z.db`.
    pub name: String,
    /// Size of the file in bytes (a JSON number; past 2 GiB it exceeds
    /// GraphQL's 32-bit `Int`, which JavaScript and Dart clients read fine).
    pub size_bytes: u64,
    /// When the snapshot was taken (UTC).
    pub created_at: DateTime<Utc>,
    /// Where `createBackup` copied it in file storage (with
    /// `BACKUP_UPLOAD=true`); null otherwise and in `backups`.
    pub object_key: Option<String>,
}

impl From<service::Backup> for Backup {
    fn from(backup: service::Backup) -> Self {
        Self {
            id: to_global_key(NodeType::Backup, &backup.name),
            name: backup.name,
            size_bytes: backup.size_bytes,
            created_at: backup.created_at,
            object_key: backup.object_key,
        }
    }
}

/// PostgreSQL gets `BAD_REQUEST` with what to use instead; anything else
/// is an internal error (logged, with the path; the client sees no path).
fn to_graphql(err: BackupError) -> async_graphql::Error {
    match err {
        BackupError::Unsupported => async_graphql::Error::new(err.to_string())
            .extend_with(|_, ext| ext.set("code", code::BAD_REQUEST)),
        other => AppError::Internal(anyhow::Error::new(other)).into(),
    }
}

fn backups<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Backups>, AppError> {
    ctx.data::<Arc<Backups>>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("backups missing from schema data")))
}

/// Confirms the caller is an admin now, in the database (the guard only
/// read the token).
async fn require_admin(ctx: &Context<'_>) -> async_graphql::Result<()> {
    auth(ctx)?.require_admin(&signed_in(ctx)?).await?;
    Ok(())
}

#[derive(Default)]
pub(crate) struct BackupQuery;

#[Object]
impl BackupQuery {
    /// Admin: the backups in `BACKUP_DIR`, newest first. SQLite only; on
    /// PostgreSQL this answers `BAD_REQUEST` (use pg_dump or PITR).
    #[graphql(guard = "AdminOnly")]
    async fn backups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Backup>> {
        require_admin(ctx).await?;
        let list = backups(ctx)?.list().await.map_err(to_graphql)?;
        Ok(list.into_iter().map(Backup::from).collect())
    }
}

#[derive(Default)]
pub(crate) struct BackupMutation;

#[Object]
impl BackupMutation {
    /// Admin: takes an online snapshot of the SQLite database into
    /// `BACKUP_DIR` while the API keeps serving (writes are not blocked),
    /// then keeps the newest `BACKUP_KEEP`. One runs at a time; a second
    /// call waits for the first. On PostgreSQL this answers `BAD_REQUEST`
    /// (use pg_dump or PITR).
    #[graphql(guard = "AdminOnly")]
    async fn create_backup(&self, ctx: &Context<'_>) -> async_graphql::Result<Backup> {
        require_admin(ctx).await?;
        let backup = backups(ctx)?.create().await.map_err(to_graphql)?;
        let detail = format!("took backup {} ({} bytes)", backup.name, backup.size_bytes);
        let target = Some(("backup", backup.name.clone()));
        crate::graphql::context::audit(ctx, "backup.create", target, detail).await?;
        Ok(backup.into())
    }
}
