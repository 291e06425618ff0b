//! What the reports pane shows: the moderation queue with, for each
//! report, who filed it, whom it is about, and the reported text itself
//! (removed content included, so an admin can judge it). Resolving goes
//! through `reports::service`, as the API's `resolveReport` does.

use std::collections::HashMap;

use entity::{comment, community, enums::ReportTarget, message, post, report};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{audit::next_page, figures::usernames};
use crate::{db::Db, error::AppResult};

/// One report as the queue lists it.
pub(crate) struct ReportRow {
    pub(crate) report: report::Model,
    pub(crate) reporter: String,
    pub(crate) subject: Option<String>,
    pub(crate) resolved_by: Option<String>,
    /// The reported post's, comment's or message's text, the user's name
    /// or the community's slug; `None` once it is deleted.
    pub(crate) reported: Option<String>,
}

/// Open reports oldest first (the order to work through them), or
/// resolved ones newest first; `limit` per page after `after`.
pub(crate) async fn queue(
    db: &Db,
    resolved: bool,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<(Vec<ReportRow>, Option<Uuid>)> {
    let mut select = report::Entity::find();
    select = if resolved {
        let select = select
            .filter(report::Column::Action.is_not_null())
            .order_by_desc(report::Column::Id);
        match after {
            Some(after) => select.filter(report::Column::Id.lt(after)),
            None => select,
        }
    } else {
        let select = select
            .filter(report::Column::Action.is_null())
            .order_by_asc(report::Column::Id);
        match after {
            Some(after) => select.filter(report::Column::Id.gt(after)),
            None => select,
        }
    };
    let mut rows = select.limit(limit + 1).all(db).await?;
    let next = next_page(&mut rows, limit, |r| r.id);
    let people = usernames(
        db,
        rows.iter().flat_map(|r| {
            [Some(r.reporter_id), r.subject_id, r.resolved_by_id]
                .into_iter()
                .flatten()
        }),
    )
    .await?;
    let reported = reported_texts(db, &rows, &people).await?;
    Ok((
        rows.into_iter()
            .map(|report| ReportRow {
                reporter: people.get(&report.reporter_id).cloned().unwrap_or_default(),
                subject: report.subject_id.and_then(|id| people.get(&id).cloned()),
                resolved_by: report
                    .resolved_by_id
                    .and_then(|id| people.get(&id).cloned()),
                reported: reported.get(&report.target_id).cloned(),
                report,
            })
            .collect(),
        next,
    ))
}

/// The text of each reported thing, by its id: one statement per kind.
async fn reported_texts(
    db: &Db,
    rows: &[report::Model],
    people: &HashMap<Uuid, String>,
) -> AppResult<HashMap<Uuid, String>> {
    let ids = |kind: ReportTarget| -> Vec<Uuid> {
        rows.iter()
            .filter(|r| r.target_type == kind)
            .map(|r| r.target_id)
            .collect()
    };
    let mut texts: HashMap<Uuid, String> = HashMap::new();
    texts.extend(
        post::Entity::find()
            .select_only()
            .columns([post::Column::Id, post::Column::Body])
            .filter(post::Column::Id.is_in(ids(ReportTarget::Post)))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?,
    );
    texts.extend(
        comment::Entity::find()
            .select_only()
            .columns([comment::Column::Id, comment::Column::Body])
            .filter(comment::Column::Id.is_in(ids(ReportTarget::Comment)))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?,
    );
    texts.extend(
        message::Entity::find()
            .select_only()
            .columns([message::Column::Id, message::Column::Body])
            .filter(message::Column::Id.is_in(ids(ReportTarget::Message)))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?,
    );
    texts.extend(
        community::Entity::find()
            .select_only()
            .columns([community::Column::Id, community::Column::Slug])
            .filter(community::Column::Id.is_in(ids(ReportTarget::Community)))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?,
    );
    // A reported user's name came with the others'.
    for id in ids(ReportTarget::User) {
        if let Some(name) = people.get(&id) {
            texts.insert(id, name.clone());
        }
    }
    Ok(texts)
}
