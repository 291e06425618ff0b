//! The inbox: listing, counting, marking read, and preferences.

use entity::{enums::NotificationKind, notification, notification_preference as preference};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use uuid::Uuid;

use crate::{
    comments::service as comments,
    db::{Db, now},
    error::{AppError, AppResult},
    paging::{KeysetCursor, ListOrder, Page, PageRequest},
    posts::service as posts,
    safety::service as safety,
};

/// Every kind, in the order preferences list them.
pub(crate) const KINDS: [NotificationKind; 6] = [
    NotificationKind::Reply,
    NotificationKind::Mention,
    NotificationKind::Reaction,
    NotificationKind::Follow,
    NotificationKind::Message,
    NotificationKind::Moderation,
];

/// The notifications `viewer` sees: theirs, and only while what they are
/// about is still theirs to see: not from someone on either side of a
/// block with them, not about a post or comment they can no longer read.
fn visible(viewer: Uuid) -> Condition {
    use entity::{comment, post};
    use notification::Column as N;
    // Correlated `EXISTS`, so each listed row looks up its own post or
    // comment by key instead of the database listing every readable one.
    let readable_post = Query::select()
        .expr(Expr::val(1))
        .from(post::Entity)
        .and_where(
            Expr::col((post::Entity, post::Column::Id)).equals((notification::Entity, N::PostId)),
        )
        .cond_where(posts::readable(Some(viewer)))
        .to_owned();
    let readable_comment = Query::select()
        .expr(Expr::val(1))
        .from(comment::Entity)
        .and_where(
            Expr::col((comment::Entity, comment::Column::Id))
                .equals((notification::Entity, N::CommentId)),
        )
        .cond_where(comments::readable(Some(viewer)))
        .to_owned();
    Condition::all()
        .add(N::UserId.eq(viewer))
        .add(
            Condition::any()
                .add(N::ActorId.is_null())
                .add(safety::visible_to(N::ActorId, Some(viewer))),
        )
        .add(
            Condition::any()
                .add(N::PostId.is_null())
                .add(Expr::exists(readable_post)),
        )
        .add(
            Condition::any()
                .add(N::CommentId.is_null())
                .add(Expr::exists(readable_comment)),
        )
}

/// The viewer's notifications, newest activity first.
pub(crate) async fn list(
    db: &Db,
    viewer: Uuid,
    unread_only: bool,
    page: &PageRequest,
) -> AppResult<Page<notification::Model>> {
    let mut select = notification::Entity::find().filter(visible(viewer));
    if unread_only {
        select = select.filter(notification::Column::ReadAt.is_null());
    }
    let rows = page
        .apply(
            select,
            notification::Column::UpdatedAt,
            notification::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// One of the viewer's notifications, if they may see it.
pub(crate) async fn find_for(
    db: &Db,
    viewer: Uuid,
    id: Uuid,
) -> AppResult<Option<notification::Model>> {
    Ok(notification::Entity::find_by_id(id)
        .filter(visible(viewer))
        .one(db)
        .await?)
}

pub(crate) async fn unread_count(db: &Db, viewer: Uuid) -> AppResult<u64> {
    Ok(notification::Entity::find()
        .filter(visible(viewer))
        .filter(notification::Column::ReadAt.is_null())
        .count(db)
        .await?)
}

/// Marks one notification read (reading it again changes nothing).
pub(crate) async fn mark_read(db: &Db, viewer: Uuid, id: Uuid) -> AppResult<notification::Model> {
    find_for(db, viewer, id)
        .await?
        .ok_or(AppError::NotFound("notification"))?;
    db.statement(move |tx| {
        Box::pin(async move {
            notification::Entity::update_many()
                .col_expr(notification::Column::ReadAt, Expr::value(now()))
                .filter(notification::Column::Id.eq(id))
                .filter(notification::Column::ReadAt.is_null())
                .exec(&tx)
                .await?;
            Ok(())
        })
    })
    .await?;
    find_for(db, viewer, id)
        .await?
        .ok_or(AppError::NotFound("notification"))
}

/// Marks every unread notification read, or (with `up_to`, a cursor from
/// the list) those at it and older: what the viewer has scrolled past.
/// Returns how many it marked.
pub(crate) async fn mark_all_read(
    db: &Db,
    viewer: Uuid,
    up_to: Option<KeysetCursor>,
) -> AppResult<u64> {
    use notification::Column as N;
    let mut which = Condition::all()
        .add(N::UserId.eq(viewer))
        .add(N::ReadAt.is_null());
    if let Some(c) = up_to {
        which = which.add(
            Condition::any().add(N::UpdatedAt.lt(c.created_at)).add(
                Condition::all()
                    .add(N::UpdatedAt.eq(c.created_at))
                    .add(N::Id.lte(c.id)),
            ),
        );
    }
    let done = db
        .statement(move |tx| {
            Box::pin(async move {
                Ok(notification::Entity::update_many()
                    .col_expr(N::ReadAt, Expr::value(now()))
                    .filter(which)
                    .exec(&tx)
                    .await?)
            })
        })
        .await?;
    Ok(done.rows_affected)
}

/// The sentence a notification reads as, with `actor`'s display name.
pub(crate) fn summary(n: &notification::Model, actor: &str) -> String {
    use entity::enums::NotificationKind as K;
    let who = match n.actor_count {
        ..=1 => actor.to_owned(),
        2 => format!("{actor} and 1 other"),
        n => format!("{actor} and {} others", n - 1),
    };
    match n.kind {
        K::Reply => format!("{who} replied to you."),
        K::Mention => format!("{who} mentioned you."),
        K::Reaction => format!("{who} reacted to your post."),
        K::Follow => format!("{who} followed you."),
        K::Message => format!("New messages from {who}."),
        K::Moderation => "A moderator dealt with your report.".to_owned(),
    }
}

/// The title of a notification's push.
pub(crate) fn headline(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Reply => "New reply",
        NotificationKind::Mention => "You were mentioned",
        NotificationKind::Reaction => "New reactions",
        NotificationKind::Follow => "New followers",
        NotificationKind::Message => "New messages",
        NotificationKind::Moderation => "Your report",
    }
}

/// One kind's settings for an account: `(inbox, push)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Preference {
    pub kind: NotificationKind,
    pub inbox: bool,
    pub push: bool,
}

/// The viewer's preferences for every kind (both on unless changed).
pub(crate) async fn preferences(db: &Db, viewer: Uuid) -> AppResult<Vec<Preference>> {
    let rows = preference::Entity::find()
        .filter(preference::Column::UserId.eq(viewer))
        .all(db)
        .await?;
    Ok(KINDS
        .iter()
        .map(|kind| {
            let row = rows.iter().find(|r| r.kind == *kind);
            Preference {
                kind: *kind,
                inbox: row.is_none_or(|r| r.inbox),
                push: row.is_none_or(|r| r.push),
            }
        })
        .collect())
}

/// Changes the viewer's settings for one kind; `None` keeps a setting.
pub(crate) async fn set_preference(
    db: &Db,
    viewer: Uuid,
    kind: NotificationKind,
    inbox: Option<bool>,
    push: Option<bool>,
) -> AppResult<Preference> {
    let current = preferences(db, viewer)
        .await?
        .into_iter()
        .find(|p| p.kind == kind)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a notification kind is not listed")))?;
    let wanted = Preference {
        kind,
        inbox: inbox.unwrap_or(current.inbox),
        push: push.unwrap_or(current.push),
    };
    let row = preference::ActiveModel {
        user_id: Set(viewer),
        kind: Set(kind),
        inbox: Set(wanted.inbox),
        push: Set(wanted.push),
        updated_at: Set(now()),
    };
    db.statement(move |tx| {
        Box::pin(async move {
            preference::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([preference::Column::UserId, preference::Column::Kind])
                        .update_columns([
                            preference::Column::Inbox,
                            preference::Column::Push,
                            preference::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&tx)
                .await?;
            Ok(())
        })
    })
    .await?;
    Ok(wanted)
}
