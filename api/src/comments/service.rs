//! Comments: readable where their post is readable (unless an admin
//! removed them, their author is banned, or a block stands between their
//! author and the reader); written by anyone who can read the post; deleted by their
//! author, by the post's community's owner and moderators, or by an admin.

use entity::{comment, post, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QuerySelect, Set,
    sea_query::{Expr, Query},
};
use uuid::Uuid;

use crate::{
    auth::AuthSession,
    communities::bans,
    db::{Db, now},
    error::{AppError, AppResult},
    events::{self, Event},
    idempotency::{self, Done, IdempotencyKey},
    paging::{ListOrder, Page, PageRequest},
    posts::service as posts,
    safety::service as safety,
    users::service::{self as users, active_user},
    validate,
};

pub(crate) const MAX_BODY: usize = 5_000;

/// Removes a comment from every read (the row stays, so it can be
/// restored) or restores it: an instance admin anywhere, a community's
/// owner and moderators in their community.
pub(crate) async fn set_removed(
    db: &Db,
    viewer: &AuthSession,
    id: Uuid,
    removed: bool,
) -> AppResult<comment::Model> {
    let user = active_user(db, viewer).await?;
    let Some(comment) = comment::Entity::find_by_id(id).one(db).await? else {
        return Err(AppError::NotFound("comment"));
    };
    if !posts::can_moderate(db, &user, community_of(db, comment.post_id).await?).await? {
        return Err(AppError::Forbidden);
    }
    let actor = viewer.user_id;
    db.transaction(move |tx| {
        Box::pin(async move {
            let Some(comment) = comment::Entity::find_by_id(id).one(&tx).await? else {
                return Err(AppError::NotFound("comment"));
            };
            let mut active: comment::ActiveModel = comment.into();
            active.removed_at = Set(removed.then(now));
            let comment = active.update(&tx).await?;
            let event = Event::CommentModerated {
                comment: comment.id,
                post: comment.post_id,
                removed,
            };
            events::record(&tx, Some(actor), &event).await?;
            Ok(comment)
        })
    })
    .await
}

/// The comments `viewer` may read.
pub(crate) fn readable(viewer: Option<Uuid>) -> Condition {
    readable_to(viewer.map(Expr::from))
}

/// [`readable`] with the viewer as SQL: a bound id, or the column of
/// readers in a query that checks many at once (an event's subscribers).
pub(crate) fn readable_to(reader: Option<Expr>) -> Condition {
    let readable_posts = Query::select()
        .column(post::Column::Id)
        .from(post::Entity)
        .cond_where(posts::readable_to(reader.clone()))
        .to_owned();
    Condition::all()
        .add(comment::Column::PostId.in_subquery(readable_posts))
        .add(shown())
        .add(safety::visible_to_reader(comment::Column::AuthorId, reader))
}

/// The comments `viewer` may see where their post is readable: [`shown`],
/// and not by someone on either side of a block with the viewer.
pub(crate) fn shown_to(viewer: Option<Uuid>) -> Condition {
    shown().add(safety::visible_to(comment::Column::AuthorId, viewer))
}

/// The comments anyone may see where their post is readable: not removed
/// by a moderator, and not by a disabled (banned) author while the ban
/// lasts.
pub(crate) fn shown() -> Condition {
    Condition::all()
        .add(comment::Column::RemovedAt.is_null())
        .add(comment::Column::AuthorId.not_in_subquery(users::disabled_user_ids()))
}

pub(crate) async fn find_readable(
    db: &Db,
    viewer: Option<Uuid>,
    id: Uuid,
) -> AppResult<Option<comment::Model>> {
    Ok(comment::Entity::find_by_id(id)
        .filter(readable(viewer))
        .one(db)
        .await?)
}

/// A list of comments: a post's top-level comments, or one comment's
/// direct replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Thread {
    Post(Uuid),
    Replies(Uuid),
}

/// The comments of a thread `viewer` may see, once they may see its
/// post: removed ones, a banned author's and those across a block are
/// held back.
pub(crate) fn thread_condition(thread: Thread, viewer: Option<Uuid>) -> Condition {
    let place = match thread {
        Thread::Post(post_id) => Condition::all()
            .add(comment::Column::PostId.eq(post_id))
            .add(comment::Column::ParentId.is_null()),
        Thread::Replies(parent_id) => Condition::all().add(comment::Column::ParentId.eq(parent_id)),
    };
    place.add(shown_to(viewer))
}

/// One page of a thread, oldest first, after checking the viewer may read
/// the post it belongs to.
pub(crate) async fn list(
    db: &Db,
    viewer: Option<Uuid>,
    thread: Thread,
    page: &PageRequest,
) -> AppResult<Page<comment::Model>> {
    let visible = match thread {
        Thread::Post(post_id) => posts::find_readable(db, viewer, post_id).await?.is_some(),
        Thread::Replies(parent_id) => find_readable(db, viewer, parent_id).await?.is_some(),
    };
    if !visible {
        return Err(AppError::NotFound(match thread {
            Thread::Post(_) => "post",
            Thread::Replies(_) => "comment",
        }));
    }
    let rows = page
        .apply(
            comment::Entity::find().filter(thread_condition(thread, viewer)),
            comment::Column::CreatedAt,
            comment::Column::Id,
            ListOrder::OldestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

pub(crate) struct NewComment {
    pub post_id: Uuid,
    /// The comment this one replies to, on the same post.
    pub parent_id: Option<Uuid>,
    pub body: String,
    /// Names this write, so a retry does not comment twice.
    pub idempotency_key: Option<String>,
}

pub(crate) async fn create(
    db: &Db,
    viewer: &AuthSession,
    input: NewComment,
) -> AppResult<comment::Model> {
    let body = validate::required_text("input.body", &input.body, MAX_BODY)?;
    let key = IdempotencyKey::new(
        viewer.user_id,
        input.idempotency_key.clone(),
        "createComment",
        &serde_json::json!([input.post_id, input.parent_id, body]),
    )?;
    match insert_if_allowed(db, viewer, &input, body, key).await? {
        Done::New(created) => return Ok(created),
        Done::Repeat(first) => {
            return find_readable(db, Some(viewer.user_id), first)
                .await?
                .ok_or(AppError::NotFound("comment"));
        }
        Done::Refused => {}
    }
    // Nothing was written: one of the checks failed; find which, to say so.
    active_user(db, viewer).await?;
    let post = posts::find_readable(db, Some(viewer.user_id), input.post_id)
        .await?
        .ok_or_else(|| AppError::bad_input("input.postId", "no such post"))?;
    if input.parent_id.is_some() {
        return Err(AppError::bad_input(
            "input.parentId",
            "no such comment on this post",
        ));
    }
    // The checks pass now but did not a moment ago (a concurrent change).
    Err(AppError::bad_input(
        "input.postId",
        format!("post {} changed meanwhile; try again", post.id),
    ))
}

/// Writes the comment in one statement, `INSERT … SELECT … WHERE`, that
/// inserts only when the author is active, the post readable to them and
/// the parent (if any) on that post and visible to them (so nobody replies
/// across a block), and they are not banned from the post's community: one round trip and one commit on the
/// hot path instead of a query per check; its event is written with it.
/// With an idempotency key it runs in a transaction with the key's claim.
async fn insert_if_allowed(
    db: &Db,
    viewer: &AuthSession,
    input: &NewComment,
    body: String,
    key: Option<IdempotencyKey>,
) -> AppResult<Done<comment::Model>> {
    use comment::Column as C;
    let at = now();
    let active_author = Query::select()
        .expr(Expr::val(1))
        .from(user::Entity)
        .and_where(user::Column::Id.eq(viewer.user_id))
        .and_where(user::Column::DisabledAt.is_null())
        .to_owned();
    let mut row = Query::select();
    let id = Uuid::now_v7();
    row.exprs([
        Expr::val(id),
        Expr::val(input.post_id),
        Expr::val(viewer.user_id),
        Expr::val(input.parent_id),
        Expr::val(body),
        Expr::val(at),
        Expr::val(at),
    ])
    .from(post::Entity)
    .and_where(post::Column::Id.eq(input.post_id))
    .cond_where(posts::readable(Some(viewer.user_id)))
    .cond_where(
        Condition::any()
            .add(post::Column::CommunityId.is_null())
            .add(
                post::Column::CommunityId
                    .not_in_subquery(bans::banned_community_ids(viewer.user_id)),
            ),
    )
    .and_where(Expr::exists(active_author));
    if let Some(parent_id) = input.parent_id {
        let parent_on_post = Query::select()
            .expr(Expr::val(1))
            .from(comment::Entity)
            .and_where(C::Id.eq(parent_id))
            .and_where(C::PostId.eq(input.post_id))
            .cond_where(shown_to(Some(viewer.user_id)))
            .to_owned();
        row.and_where(Expr::exists(parent_on_post));
    }
    let insert = Query::insert()
        .into_table(comment::Entity)
        .columns([
            C::Id,
            C::PostId,
            C::AuthorId,
            C::ParentId,
            C::Body,
            C::CreatedAt,
            C::UpdatedAt,
        ])
        .select_from(row)
        .map_err(|e| AppError::Internal(e.into()))?
        .returning_all()
        .to_owned();
    let statement = db.get_database_backend().build(&insert);
    let event = Event::CommentCreated {
        comment: id,
        post: input.post_id,
        author: viewer.user_id,
    };
    let actor = Some(viewer.user_id);
    if key.is_none() {
        let written = events::write_with_event(db, statement, actor, event).await?;
        return Ok(written.map_or(Done::Refused, Done::New));
    }
    idempotency::write_once(db, key, id, move |tx| {
        Box::pin(async move {
            let written = comment::Model::find_by_statement(statement).one(tx).await?;
            if written.is_some() {
                events::record(tx, actor, &event).await?;
            }
            Ok(written)
        })
    })
    .await
}

/// Deletes a comment and, with it, its replies.
pub(crate) async fn delete(db: &Db, viewer: &AuthSession, id: Uuid) -> AppResult<Uuid> {
    let user = active_user(db, viewer).await?;
    let comment = find_readable(db, Some(user.id), id)
        .await?
        .ok_or(AppError::NotFound("comment"))?;
    if comment.author_id != user.id {
        let community_id = community_of(db, comment.post_id).await?;
        if !posts::can_moderate(db, &user, community_id).await? {
            return Err(AppError::Forbidden);
        }
    }
    let id = comment.id;
    db.statement(move |tx| {
        Box::pin(async move { Ok(comment::Entity::delete_by_id(id).exec(&tx).await?) })
    })
    .await?;
    Ok(id)
}

/// The community a post is in; `None` for a profile post (or none at all).
pub(crate) async fn community_of(db: &Db, post_id: Uuid) -> AppResult<Option<Uuid>> {
    Ok(post::Entity::find_by_id(post_id)
        .select_only()
        .column(post::Column::CommunityId)
        .into_tuple::<Option<Uuid>>()
        .one(db)
        .await?
        .flatten())
}
