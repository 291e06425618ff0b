//! The audit log: what admins did, newest first. Entries are only added;
//! nothing here (or anywhere in Hearth) changes or deletes one.

use std::net::IpAddr;

use entity::audit_entry;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use uuid::Uuid;

use crate::{db::Db, error::AppResult};

/// One thing done.
pub(crate) struct Entry {
    /// The admin's id and username; `None` for the setup link.
    pub(crate) actor: Option<(Uuid, String)>,
    /// `area.verb`: `user.ban`, `session.revoke`, `admin.sign_in`.
    pub(crate) action: &'static str,
    /// The kind and id of the row acted on.
    pub(crate) target: Option<(&'static str, String)>,
    /// A sentence for people, naming the target as it was.
    pub(crate) detail: String,
    pub(crate) ip: IpAddr,
}

pub(crate) async fn record(db: &Db, entry: Entry) -> AppResult<()> {
    let (actor_id, actor_name) = entry
        .actor
        .map_or((None, "setup link".to_owned()), |(id, name)| {
            (Some(id), name)
        });
    let (target_type, target_id) = entry
        .target
        .map_or((None, None), |(kind, id)| (Some(kind.to_owned()), Some(id)));
    let row = audit_entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        actor_id: Set(actor_id),
        actor_name: Set(actor_name),
        action: Set(entry.action.to_owned()),
        target_type: Set(target_type),
        target_id: Set(target_id),
        detail: Set(entry.detail),
        ip: Set(Some(entry.ip.to_string())),
        created_at: Set(crate::db::now()),
    };
    db.statement(move |tx| {
        Box::pin(async move {
            row.insert(&tx).await?;
            Ok(())
        })
    })
    .await
}

/// Which entries to list: each field narrows, exactly.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub(crate) struct Filter {
    #[serde(default)]
    pub(crate) action: String,
    /// The admin's username.
    #[serde(default)]
    pub(crate) actor: String,
    /// The target row's id.
    #[serde(default)]
    pub(crate) target: String,
    /// Entries older than this one (the next page).
    pub(crate) after: Option<Uuid>,
}

/// Up to `limit` entries matching `filter`, newest first, and the cursor
/// of the next page when there is one.
pub(crate) async fn list(
    db: &Db,
    filter: &Filter,
    limit: u64,
) -> AppResult<(Vec<audit_entry::Model>, Option<Uuid>)> {
    let mut which = Condition::all();
    if !filter.action.trim().is_empty() {
        which = which.add(audit_entry::Column::Action.eq(filter.action.trim()));
    }
    if !filter.actor.trim().is_empty() {
        which = which.add(audit_entry::Column::ActorName.eq(filter.actor.trim()));
    }
    if !filter.target.trim().is_empty() {
        which = which.add(audit_entry::Column::TargetId.eq(filter.target.trim()));
    }
    if let Some(after) = filter.after {
        which = which.add(audit_entry::Column::Id.lt(after));
    }
    let mut rows = audit_entry::Entity::find()
        .filter(which)
        .order_by_desc(audit_entry::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next = next_page(&mut rows, limit, |r| r.id);
    Ok((rows, next))
}

/// Trims a `limit + 1` fetch to `limit` rows; the last kept row's key when
/// more followed.
pub(crate) fn next_page<T>(
    rows: &mut Vec<T>,
    limit: u64,
    key: impl Fn(&T) -> Uuid,
) -> Option<Uuid> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(key)
    } else {
        None
    }
}
