//! Reports: filing one, the queue, and resolving.

use entity::{
    enums::{MembershipRole, ReportAction, ReportReason, ReportTarget},
    membership, report,
};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set,
    sea_query::Query,
};
use uuid::Uuid;

use crate::{
    auth::{Auth, AuthSession},
    comments::service as comments,
    communities::service as communities,
    db::{Db, now},
    error::{AppError, AppResult},
    events::{self, Event},
    messages::service as messages,
    paging::{ListOrder, Page, PageRequest},
    posts::service as posts,
    users::service::{self as users, active_user},
    validate,
};

/// The longest note a reporter or moderator may add.
pub(crate) const MAX_NOTE: usize = 1_000;

/// What is reported, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Post(Uuid),
    Comment(Uuid),
    Message(Uuid),
    User(Uuid),
    Community(Uuid),
}

impl Target {
    fn parts(self) -> (ReportTarget, Uuid) {
        match self {
            Self::Post(id) => (ReportTarget::Post, id),
            Self::Comment(id) => (ReportTarget::Comment, id),
            Self::Message(id) => (ReportTarget::Message, id),
            Self::User(id) => (ReportTarget::User, id),
            Self::Community(id) => (ReportTarget::Community, id),
        }
    }
}

/// Who wrote the reported thing (or who is reported) and the community
/// whose moderators handle it, after checking the reporter can see it and
/// did not write it. Reports about a community itself, and about messages
/// and users, go to instance admins.
async fn place(db: &Db, reporter: Uuid, target: Target) -> AppResult<(Option<Uuid>, Option<Uuid>)> {
    let me = Some(reporter);
    let (subject, community) = match target {
        Target::Post(id) => {
            let post = posts::find_readable(db, me, id)
                .await?
                .ok_or(AppError::NotFound("post"))?;
            (Some(post.author_id), post.community_id)
        }
        Target::Comment(id) => {
            let comment = comments::find_readable(db, me, id)
                .await?
                .ok_or(AppError::NotFound("comment"))?;
            let community = comments::community_of(db, comment.post_id).await?;
            (Some(comment.author_id), community)
        }
        Target::Message(id) => {
            let message = messages::find_message_for(db, reporter, id)
                .await?
                .ok_or(AppError::NotFound("message"))?;
            (Some(message.sender_id), None)
        }
        Target::User(id) => {
            users::find_profile(db, me, id)
                .await?
                .ok_or(AppError::NotFound("user"))?;
            (Some(id), None)
        }
        Target::Community(id) => {
            communities::find(db, id)
                .await?
                .ok_or(AppError::NotFound("community"))?;
            (None, None)
        }
    };
    if subject == Some(reporter) {
        return Err(AppError::bad_input(
            "input.targetId",
            "you cannot report yourself",
        ));
    }
    Ok((subject, community))
}

/// Files a report. One open report per reporter and target: a second is
/// `CONFLICT` until the first is resolved.
pub(crate) async fn create(
    db: &Db,
    viewer: &AuthSession,
    target: Target,
    reason: ReportReason,
    note: Option<String>,
) -> AppResult<report::Model> {
    active_user(db, viewer).await?;
    let note =
        validate::optional_text("input.note", note.as_deref().unwrap_or_default(), MAX_NOTE)?;
    let (subject, community) = place(db, viewer.user_id, target).await?;
    let (target_type, target_id) = target.parts();
    let row = report::ActiveModel {
        id: Set(Uuid::now_v7()),
        reporter_id: Set(viewer.user_id),
        target_type: Set(target_type),
        target_id: Set(target_id),
        subject_id: Set(subject),
        community_id: Set(community),
        reason: Set(reason),
        note: Set(note),
        created_at: Set(now()),
        action: Set(None),
        resolved_by_id: Set(None),
        resolution_note: Set(None),
        resolved_at: Set(None),
    };
    db.transaction(move |tx| {
        Box::pin(async move {
            let report = row.insert(&tx).await.map_err(|e| {
                AppError::on_unique_violation(e, |_| {
                    AppError::conflict(
                        "input.targetId",
                        "you reported this already; it is being looked at",
                    )
                })
            })?;
            let event = Event::ReportCreated {
                report: report.id,
                reporter: report.reporter_id,
                community: report.community_id,
            };
            events::record(&tx, Some(report.reporter_id), &event).await?;
            Ok(report)
        })
    })
    .await
}

/// The viewer's own reports, newest first, with what came of them.
pub(crate) async fn mine(
    db: &Db,
    viewer: Uuid,
    page: &PageRequest,
) -> AppResult<Page<report::Model>> {
    let select = report::Entity::find().filter(report::Column::ReporterId.eq(viewer));
    let rows = page
        .apply(
            select,
            report::Column::CreatedAt,
            report::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// Which reports the queue shows.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct QueueFilter {
    /// Open ones only (the default), or resolved ones only.
    pub resolved: bool,
    /// One community's.
    pub community_id: Option<Uuid>,
}

/// The reports the viewer moderates, oldest first: every report for an
/// instance admin; for anyone else, those about content in the
/// communities they own or moderate. Asking for a community one does not
/// moderate is `FORBIDDEN`.
pub(crate) async fn queue(
    db: &Db,
    viewer: &AuthSession,
    filter: QueueFilter,
    page: &PageRequest,
) -> AppResult<Page<report::Model>> {
    let user = active_user(db, viewer).await?;
    let mut select = report::Entity::find().filter(if filter.resolved {
        report::Column::Action.is_not_null()
    } else {
        report::Column::Action.is_null()
    });
    if let Some(community) = filter.community_id {
        if !posts::can_moderate(db, &user, Some(community)).await? {
            return Err(AppError::Forbidden);
        }
        select = select.filter(report::Column::CommunityId.eq(community));
    } else if !users::is_admin(&user) {
        let moderated = Query::select()
            .column(membership::Column::CommunityId)
            .from(membership::Entity)
            .and_where(membership::Column::UserId.eq(user.id))
            .and_where(membership::Column::Role.is_in([
                MembershipRole::Owner.to_value(),
                MembershipRole::Moderator.to_value(),
            ]))
            .to_owned();
        select = select.filter(report::Column::CommunityId.in_subquery(moderated));
    }
    let rows = page
        .apply(
            select,
            report::Column::CreatedAt,
            report::Column::Id,
            ListOrder::OldestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// Deals with a report, and with every other open report about the same
/// thing: each reporter learns the outcome. Dismissing, removing a post or
/// comment and banning its author from the community are for the
/// community's owner and moderators (and admins); deleting a message and
/// banning an account are for admins. Resolving twice is `CONFLICT`.
pub(crate) async fn resolve(
    db: &Db,
    auth: &Auth,
    viewer: &AuthSession,
    id: Uuid,
    action: ReportAction,
    note: Option<String>,
) -> AppResult<report::Model> {
    let note = validate::optional_text("note", note.as_deref().unwrap_or_default(), MAX_NOTE)?;
    let user = active_user(db, viewer).await?;
    let report = report::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("report"))?;
    // To anyone who does not moderate it, a report does not exist.
    if !posts::can_moderate(db, &user, report.community_id).await? {
        return Err(AppError::NotFound("report"));
    }
    if report.action.is_some() {
        return Err(AppError::conflict("id", "this report was resolved already"));
    }
    let admin = users::is_admin(&user);
    let nothing_to_remove = || {
        AppError::bad_input(
            "action",
            "there is no content to remove; ban the account instead",
        )
    };
    match (action, report.target_type) {
        (ReportAction::Dismissed, _) => {}
        (ReportAction::ContentRemoved, ReportTarget::Post) => {
            posts::set_removed(db, viewer, report.target_id, true).await?;
        }
        (ReportAction::ContentRemoved, ReportTarget::Comment) => {
            comments::set_removed(db, viewer, report.target_id, true).await?;
        }
        (ReportAction::ContentRemoved, ReportTarget::Message) if admin => {
            messages::remove(db, report.target_id).await?;
        }
        (ReportAction::ContentRemoved, ReportTarget::Message) => return Err(AppError::Forbidden),
        (ReportAction::ContentRemoved, _) => return Err(nothing_to_remove()),
        (ReportAction::CommunityBan, _) => {
            let (Some(community), Some(subject)) = (report.community_id, report.subject_id) else {
                return Err(AppError::bad_input(
                    "action",
                    "this report is not about a community's content",
                ));
            };
            communities::ban(db, viewer, community, subject).await?;
        }
        (ReportAction::AccountBan, _) => {
            let subject = report
                .subject_id
                .ok_or_else(|| AppError::bad_input("action", "no account to ban"))?;
            auth.set_disabled(viewer, subject, true).await?;
        }
    }
    let (moderator, target_type, target_id) = (user.id, report.target_type, report.target_id);
    db.transaction(move |tx| {
        Box::pin(async move {
            let same_thing = Condition::all()
                .add(report::Column::TargetType.eq(target_type))
                .add(report::Column::TargetId.eq(target_id))
                .add(report::Column::Action.is_null());
            let open = report::Entity::find().filter(same_thing).all(&tx).await?;
            let mut resolved = None;
            for open in open {
                let mut active: report::ActiveModel = open.into();
                active.action = Set(Some(action));
                active.resolved_by_id = Set(Some(moderator));
                active.resolution_note = Set(Some(note.clone()));
                active.resolved_at = Set(Some(now()));
                let done = active.update(&tx).await?;
                let event = Event::ReportResolved {
                    report: done.id,
                    reporter: done.reporter_id,
                    community: done.community_id,
                    action: action.to_value(),
                };
                events::record(&tx, Some(moderator), &event).await?;
                if done.id == id {
                    resolved = Some(done);
                }
            }
            resolved.ok_or_else(|| AppError::conflict("id", "this report was resolved already"))
        })
    })
    .await
}
