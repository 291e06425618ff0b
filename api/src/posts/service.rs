//! Posts, reactions and the feed: who may read, write, edit, delete and
//! react.
//!
//! Reading rules, applied to every list, the feed and single lookups:
//! a post on a profile or in a public community is public; a post in a
//! private community is for its members; posts an admin removed, and a
//! disabled (banned) author's posts while the ban lasts, are hidden from
//! everyone; a block hides each side's posts from the other. Writing needs an active
//! account; editing is the author's alone; deleting is the author's, the
//! community's owner's and moderators' (in that community only), or an
//! instance admin's.

use chrono::{DateTime, Utc};
use entity::{
    enums::{MembershipRole, ReactionKind},
    post, reaction, user,
};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    QueryFilter, Set,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, OnConflict},
};
use uuid::Uuid;

pub(crate) use super::access::{readable, readable_to};
use crate::{
    auth::AuthSession,
    communities::service as communities,
    db::{Db, now},
    error::{AppError, AppResult},
    events::{self, Event},
    files::service as files,
    idempotency::{self, Done, IdempotencyKey},
    paging::{ListOrder, Page, PageRequest},
    safety::service as safety,
    users::service::{self as users, active_user},
    validate,
};

pub(crate) const MAX_BODY: usize = 10_000;

/// Removes a post from every read (the row stays, so it can be restored)
/// or restores it: an instance admin anywhere, a community's owner and
/// moderators in their community.
pub(crate) async fn set_removed(
    db: &Db,
    viewer: &AuthSession,
    id: Uuid,
    removed: bool,
) -> AppResult<post::Model> {
    let user = active_user(db, viewer).await?;
    let Some(post) = post::Entity::find_by_id(id).one(db).await? else {
        return Err(AppError::NotFound("post"));
    };
    if !can_moderate(db, &user, post.community_id).await? {
        return Err(AppError::Forbidden);
    }
    let actor = viewer.user_id;
    db.transaction(move |tx| {
        Box::pin(async move {
            let Some(post) = post::Entity::find_by_id(id).one(&tx).await? else {
                return Err(AppError::NotFound("post"));
            };
            let mut active: post::ActiveModel = post.into();
            active.removed_at = Set(removed.then(now));
            let post = active.update(&tx).await?;
            let event = Event::PostModerated {
                post: post.id,
                community: post.community_id,
                removed,
            };
            events::record(&tx, Some(actor), &event).await?;
            Ok(post)
        })
    })
    .await
}

/// A post if it exists and the viewer may read it.
pub(crate) async fn find_readable(
    db: &Db,
    viewer: Option<Uuid>,
    id: Uuid,
) -> AppResult<Option<post::Model>> {
    Ok(post::Entity::find_by_id(id)
        .filter(readable(viewer))
        .one(db)
        .await?)
}

/// A post whose reactions `reactor` changed, as `viewer` may see that
/// change: `None` when the post is not readable to them or a block stands
/// between them and whoever reacted.
pub(crate) async fn find_reaction_change(
    db: &Db,
    viewer: Option<Uuid>,
    post: Uuid,
    reactor: Uuid,
) -> AppResult<Option<post::Model>> {
    if safety::is_hidden(db, viewer, reactor).await? {
        return Ok(None);
    }
    find_readable(db, viewer, post).await
}

async fn get_readable(db: &Db, viewer: Option<Uuid>, id: Uuid) -> AppResult<post::Model> {
    find_readable(db, viewer, id)
        .await?
        .ok_or(AppError::NotFound("post"))
}

/// Which posts to list; every part is optional and they combine with AND.
#[derive(Debug, Default, Clone)]
pub(crate) struct PostFilter {
    pub author_id: Option<Uuid>,
    pub community_id: Option<Uuid>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// A `LIKE` pattern (see `validate::like_pattern`) for the lower-cased body.
    pub body_pattern: Option<String>,
    /// Newest first unless told otherwise.
    pub oldest_first: bool,
}

/// Posts, newest first by default. Asking for a private community's posts as a
/// non-member is `FORBIDDEN`; elsewhere unreadable posts are left out.
pub(crate) async fn list(
    db: &Db,
    viewer: Option<Uuid>,
    filter: PostFilter,
    page: &PageRequest,
) -> AppResult<Page<post::Model>> {
    let mut select = post::Entity::find().filter(readable(viewer));
    if let Some(community_id) = filter.community_id {
        communities::require_readable(db, viewer, community_id).await?;
        select = select.filter(post::Column::CommunityId.eq(community_id));
    }
    if let Some(author_id) = filter.author_id {
        select = select.filter(post::Column::AuthorId.eq(author_id));
    }
    if let Some(after) = filter.created_after {
        select = select.filter(post::Column::CreatedAt.gt(after));
    }
    if let Some(before) = filter.created_before {
        select = select.filter(post::Column::CreatedAt.lt(before));
    }
    if let Some(pattern) = filter.body_pattern {
        select = select.filter(
            Expr::expr(Func::lower(Expr::col(post::Column::Body)))
                .like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    let order = if filter.oldest_first {
        ListOrder::OldestFirst
    } else {
        ListOrder::NewestFirst
    };
    let rows = page
        .apply(select, post::Column::CreatedAt, post::Column::Id, order)
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// The viewer's home timeline, newest first: their own posts, posts by
/// people they follow, and posts in communities they belong to; without
/// posts by people they muted or in communities they muted.
pub(crate) async fn feed(
    db: &Db,
    viewer: &AuthSession,
    page: &PageRequest,
) -> AppResult<Page<post::Model>> {
    let me = viewer.user_id;
    // On SQLite the sources' columns are wrapped in a unary `+`, which
    // keeps SQLite from serving the `OR` through the author and community
    // indexes: it would gather every post of every source (the whole
    // history of each community the viewer belongs to) and sort them all
    // for one page. Without them it walks the newest-first index and stops
    // at a page: 0.2 ms instead of 55 ms at a hundred thousand posts.
    // PostgreSQL weighs both plans by its statistics.
    let (author, community) = if db.get_database_backend() == DbBackend::Sqlite {
        (
            Expr::cust(r#"+"posts"."author_id""#),
            Expr::cust(r#"+"posts"."community_id""#),
        )
    } else {
        (
            Expr::col((post::Entity, post::Column::AuthorId)),
            Expr::col((post::Entity, post::Column::CommunityId)),
        )
    };
    let sources = Condition::any()
        .add(author.clone().eq(me))
        .add(author.in_subquery(users::followee_ids(me)))
        .add(community.in_subquery(communities::member_community_ids(me)));
    let muted = Condition::all()
        .add(post::Column::AuthorId.not_in_subquery(safety::muted_user_ids(me)))
        .add(
            Condition::any()
                .add(post::Column::CommunityId.is_null())
                .add(post::Column::CommunityId.not_in_subquery(safety::muted_community_ids(me))),
        );
    let select = post::Entity::find()
        .filter(sources)
        .filter(muted)
        .filter(readable(Some(me)));
    let rows = page
        .apply(
            select,
            post::Column::CreatedAt,
            post::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

pub(crate) struct NewPost {
    pub body: String,
    /// `None` posts on the author's profile.
    pub community_id: Option<Uuid>,
    /// The viewer's own unattached uploads, in display order.
    pub attachment_ids: Vec<Uuid>,
    /// Names this write, so a retry does not post twice.
    pub idempotency_key: Option<String>,
}

/// Writes a post. Posting in a community takes membership.
pub(crate) async fn create(
    db: &Db,
    viewer: &AuthSession,
    input: NewPost,
) -> AppResult<post::Model> {
    let body = validate::required_text("input.body", &input.body, MAX_BODY)?;
    if let Some(community_id) = input.community_id {
        communities::find(db, community_id)
            .await?
            .ok_or_else(|| AppError::bad_input("input.communityId", "no such community"))?;
        if communities::role_of(db, community_id, viewer.user_id)
            .await?
            .is_none()
        {
            return Err(AppError::Forbidden);
        }
    }
    let key = IdempotencyKey::new(
        viewer.user_id,
        input.idempotency_key,
        "createPost",
        &serde_json::json!([body, input.community_id, input.attachment_ids]),
    )?;
    let at = now();
    let author = viewer.user_id;
    let id = Uuid::now_v7();
    let row = post::ActiveModel {
        id: Set(id),
        author_id: Set(author),
        community_id: Set(input.community_id),
        body: Set(body),
        created_at: Set(at),
        updated_at: Set(at),
        removed_at: Set(None),
    };
    let attachments = input.attachment_ids;
    let done = idempotency::write_once(db, key, id, move |tx| {
        Box::pin(async move {
            let post = row.insert(tx).await?;
            files::attach_to_post(tx, author, post.id, &attachments).await?;
            let event = Event::PostCreated {
                post: post.id,
                community: post.community_id,
                author,
            };
            events::record(tx, Some(author), &event).await?;
            Ok(Some(post))
        })
    })
    .await?;
    first_or_new(db, viewer, done).await
}

/// The post a keyed write made or, for a repeated key, the first one.
async fn first_or_new(
    db: &Db,
    viewer: &AuthSession,
    done: Done<post::Model>,
) -> AppResult<post::Model> {
    match done {
        Done::New(post) => Ok(post),
        Done::Repeat(first) => get_readable(db, Some(viewer.user_id), first).await,
        Done::Refused => Err(AppError::Internal(anyhow::anyhow!(
            "a post write wrote nothing"
        ))),
    }
}

/// The author edits their post's body.
pub(crate) async fn update(
    db: &Db,
    viewer: &AuthSession,
    id: Uuid,
    body: &str,
) -> AppResult<post::Model> {
    let post = get_readable(db, Some(viewer.user_id), id).await?;
    if post.author_id != viewer.user_id {
        return Err(AppError::Forbidden);
    }
    let body = validate::required_text("body", body, MAX_BODY)?;
    let mut active: post::ActiveModel = post.into();
    active.body = Set(body);
    active.updated_at = Set(now());
    db.statement(move |tx| Box::pin(async move { Ok(active.update(&tx).await?) }))
        .await
}

/// Whether `user` moderates content in `community_id`: an instance admin
/// anywhere, a community's owner or moderator in that community only.
pub(crate) async fn can_moderate(
    db: &Db,
    user: &user::Model,
    community_id: Option<Uuid>,
) -> AppResult<bool> {
    if users::is_admin(user) {
        return Ok(true);
    }
    let Some(community_id) = community_id else {
        return Ok(false);
    };
    Ok(matches!(
        communities::role_of(db, community_id, user.id).await?,
        Some(MembershipRole::Owner | MembershipRole::Moderator)
    ))
}

/// Deletes a post (its comments, reactions and attached files' rows go
/// with it). Returns its id and the storage keys of its files, to delete
/// once this has committed.
pub(crate) async fn delete(
    db: &Db,
    viewer: &AuthSession,
    id: Uuid,
) -> AppResult<(Uuid, Vec<String>)> {
    let user = active_user(db, viewer).await?;
    let post = get_readable(db, Some(viewer.user_id), id).await?;
    if post.author_id != user.id && !can_moderate(db, &user, post.community_id).await? {
        return Err(AppError::Forbidden);
    }
    let (id, community, actor) = (post.id, post.community_id, user.id);
    let keys = db
        .transaction(move |tx| {
            Box::pin(async move {
                let keys = files::delete_post_files(&tx, id).await?;
                post::Entity::delete_by_id(id).exec(&tx).await?;
                let event = Event::PostDeleted {
                    post: id,
                    community,
                };
                events::record(&tx, Some(actor), &event).await?;
                Ok(keys)
            })
        })
        .await?;
    Ok((id, keys))
}

/// Sets the viewer's reaction to a post, replacing any earlier one.
pub(crate) async fn react(
    db: &Db,
    viewer: &AuthSession,
    post_id: Uuid,
    kind: ReactionKind,
    idempotency_key: Option<String>,
) -> AppResult<post::Model> {
    let key = IdempotencyKey::new(
        viewer.user_id,
        idempotency_key,
        "react",
        &serde_json::json!([post_id, kind.to_value()]),
    )?;
    if let Some(first) = repeated(db, key.as_ref()).await? {
        return get_readable(db, Some(viewer.user_id), first).await;
    }
    let post = get_readable(db, Some(viewer.user_id), post_id).await?;
    let row = reaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        post_id: Set(post.id),
        user_id: Set(viewer.user_id),
        kind: Set(kind),
        created_at: Set(now()),
    };
    let event = Event::ReactionChanged {
        post: post.id,
        user: viewer.user_id,
        reaction: Some(kind.to_value()),
    };
    let actor = viewer.user_id;
    let done = idempotency::write_once(db, key, post.id, move |tx| {
        Box::pin(async move {
            reaction::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([reaction::Column::PostId, reaction::Column::UserId])
                        .update_column(reaction::Column::Kind)
                        .to_owned(),
                )
                .exec_without_returning(tx)
                .await?;
            events::record(tx, Some(actor), &event).await?;
            Ok(Some(()))
        })
    })
    .await?;
    match done {
        Done::Repeat(first) => get_readable(db, Some(viewer.user_id), first).await,
        Done::New(()) | Done::Refused => Ok(post),
    }
}

/// The first result of an idempotency key already used, checked before
/// the work that would repeat it.
async fn repeated(db: &Db, key: Option<&IdempotencyKey>) -> AppResult<Option<Uuid>> {
    match key {
        Some(key) => key.find(db).await,
        None => Ok(None),
    }
}

/// Removes the viewer's reaction; `NOT_FOUND` if there was none (unless
/// this repeats an earlier request's idempotency key).
pub(crate) async fn unreact(
    db: &Db,
    viewer: &AuthSession,
    post_id: Uuid,
    idempotency_key: Option<String>,
) -> AppResult<post::Model> {
    let key = IdempotencyKey::new(
        viewer.user_id,
        idempotency_key,
        "unreact",
        &serde_json::json!([post_id]),
    )?;
    let post = get_readable(db, Some(viewer.user_id), post_id).await?;
    let (id, user) = (post.id, viewer.user_id);
    let done = idempotency::write_once(db, key, id, move |tx| {
        Box::pin(async move {
            let deleted = reaction::Entity::delete_many()
                .filter(reaction::Column::PostId.eq(id))
                .filter(reaction::Column::UserId.eq(user))
                .exec(tx)
                .await?
                .rows_affected;
            if deleted == 0 {
                return Ok(None);
            }
            let event = Event::ReactionChanged {
                post: id,
                user,
                reaction: None,
            };
            events::record(tx, Some(user), &event).await?;
            Ok(Some(()))
        })
    })
    .await?;
    match done {
        Done::New(()) | Done::Repeat(_) => Ok(post),
        Done::Refused => Err(AppError::NotFound("reaction")),
    }
}
