//! Blocks and mutes: the rows, and the conditions other features read by.

use entity::{block, community, community_mute, follow, user, user_mute};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, OnConflict, Query, SelectStatement},
};
use uuid::Uuid;

use crate::{
    auth::AuthSession,
    db::{self, Db, now},
    error::{AppError, AppResult},
    paging::{ListOrder, Page, PageRequest},
};

/// Ids of the people `viewer` (an id, or a column of readers) blocked,
/// for `NOT IN`.
fn blocked_by(viewer: impl Into<Expr>) -> SelectStatement {
    Query::select()
        .column(block::Column::BlockedId)
        .from(block::Entity)
        .and_where(block::Column::BlockerId.into_expr().eq(viewer))
        .to_owned()
}

/// Ids of the people who blocked `viewer` (an id, or a column of
/// readers), for `NOT IN`.
fn blockers_of(viewer: impl Into<Expr>) -> SelectStatement {
    Query::select()
        .column(block::Column::BlockerId)
        .from(block::Entity)
        .and_where(block::Column::BlockedId.into_expr().eq(viewer))
        .to_owned()
}

/// Rows whose `person` column (an author, a sender, a follower) is not on
/// either side of a block with `viewer`. Two `NOT IN`s rather than a
/// `UNION`, so each reads one index; anonymous viewers see everyone.
pub(crate) fn visible_to(person: impl ColumnTrait, viewer: Option<Uuid>) -> Condition {
    visible_to_reader(person, viewer.map(Expr::from))
}

/// [`visible_to`] with the viewer as SQL: a bound id, or the column of
/// readers in a query that checks many at once (an event's subscribers).
pub(crate) fn visible_to_reader(person: impl ColumnTrait, reader: Option<Expr>) -> Condition {
    let Some(reader) = reader else {
        return Condition::all();
    };
    Condition::all()
        .add(person.not_in_subquery(blocked_by(reader.clone())))
        .add(person.not_in_subquery(blockers_of(reader)))
}

/// A block between `a` and `b` (ids, or a column of readers), either
/// way, for an `EXISTS`.
pub(crate) fn blocks_between(a: impl Into<Expr>, b: impl Into<Expr>) -> SelectStatement {
    let (a, b) = (a.into(), b.into());
    let pair = |x: &Expr, y: &Expr| {
        Condition::all()
            .add(block::Column::BlockerId.into_expr().eq(x.clone()))
            .add(block::Column::BlockedId.into_expr().eq(y.clone()))
    };
    Query::select()
        .expr(Expr::val(1))
        .from(block::Entity)
        .cond_where(Condition::any().add(pair(&a, &b)).add(pair(&b, &a)))
        .to_owned()
}

/// Whether a block stands between `viewer` and `other`, either way.
pub(crate) async fn is_hidden(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    other: Uuid,
) -> AppResult<bool> {
    let Some(viewer) = viewer else {
        return Ok(false);
    };
    db::holds(db, Expr::exists(blocks_between(viewer, other))).await
}

/// Ids of the people `viewer` muted, for the feed's `NOT IN`.
pub(crate) fn muted_user_ids(viewer: Uuid) -> SelectStatement {
    Query::select()
        .column(user_mute::Column::MutedUserId)
        .from(user_mute::Entity)
        .and_where(user_mute::Column::UserId.eq(viewer))
        .to_owned()
}

/// Ids of the communities `viewer` muted, for the feed's `NOT IN`.
pub(crate) fn muted_community_ids(viewer: Uuid) -> SelectStatement {
    Query::select()
        .column(community_mute::Column::CommunityId)
        .from(community_mute::Entity)
        .and_where(community_mute::Column::UserId.eq(viewer))
        .to_owned()
}

/// `user`'s mute of `other`, for an `EXISTS`: the feed's list, narrowed.
pub(crate) fn user_muted(user: Uuid, other: Uuid) -> SelectStatement {
    muted_user_ids(user)
        .and_where(user_mute::Column::MutedUserId.eq(other))
        .to_owned()
}

/// `user`'s mute of `community`, for an `EXISTS`: the feed's list, narrowed.
pub(crate) fn community_muted(user: Uuid, community: Uuid) -> SelectStatement {
    muted_community_ids(user)
        .and_where(community_mute::Column::CommunityId.eq(community))
        .to_owned()
}

/// Whether `user` muted `other`.
pub(crate) async fn has_muted_user(db: &Db, user: Uuid, other: Uuid) -> AppResult<bool> {
    db::holds(db, Expr::exists(user_muted(user, other))).await
}

/// Someone the viewer acts on: not themselves, and existing.
async fn other_user(db: &Db, viewer: &AuthSession, id: Uuid) -> AppResult<user::Model> {
    if id == viewer.user_id {
        return Err(AppError::bad_input("userId", "that is your own account"));
    }
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// The viewer blocks `id`: follows between the two end, both ways, and
/// neither sees the other's content from now on (open subscriptions
/// included, since each event is read through the same rules). Blocking
/// again changes nothing.
pub(crate) async fn block(db: &Db, viewer: &AuthSession, id: Uuid) -> AppResult<user::Model> {
    let other = other_user(db, viewer, id).await?;
    let me = viewer.user_id;
    let row = block::ActiveModel {
        id: Set(Uuid::now_v7()),
        blocker_id: Set(me),
        blocked_id: Set(id),
        created_at: Set(now()),
    };
    db.transaction(move |tx| {
        Box::pin(async move {
            block::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([block::Column::BlockerId, block::Column::BlockedId])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&tx)
                .await?;
            let pair = |a: Uuid, b: Uuid| {
                Condition::all()
                    .add(follow::Column::FollowerId.eq(a))
                    .add(follow::Column::FolloweeId.eq(b))
            };
            follow::Entity::delete_many()
                .filter(Condition::any().add(pair(me, id)).add(pair(id, me)))
                .exec(&tx)
                .await?;
            Ok(())
        })
    })
    .await?;
    Ok(other)
}

/// The viewer lifts their block on `id` (a block the other made stays).
/// Unblocking someone not blocked changes nothing.
pub(crate) async fn unblock(db: &Db, viewer: &AuthSession, id: Uuid) -> AppResult<user::Model> {
    let other = other_user(db, viewer, id).await?;
    let me = viewer.user_id;
    db.statement(move |tx| {
        Box::pin(async move {
            block::Entity::delete_many()
                .filter(block::Column::BlockerId.eq(me))
                .filter(block::Column::BlockedId.eq(id))
                .exec(&tx)
                .await?;
            Ok(())
        })
    })
    .await?;
    Ok(other)
}

/// The viewer mutes (`muted: true`) or unmutes `id`. Either is idempotent.
pub(crate) async fn set_user_muted(
    db: &Db,
    viewer: &AuthSession,
    id: Uuid,
    muted: bool,
) -> AppResult<user::Model> {
    let other = other_user(db, viewer, id).await?;
    let me = viewer.user_id;
    db.statement(move |tx| {
        Box::pin(async move {
            if muted {
                let row = user_mute::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(me),
                    muted_user_id: Set(id),
                    created_at: Set(now()),
                };
                user_mute::Entity::insert(row)
                    .on_conflict(
                        OnConflict::columns([
                            user_mute::Column::UserId,
                            user_mute::Column::MutedUserId,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .exec_without_returning(&tx)
                    .await?;
            } else {
                user_mute::Entity::delete_many()
                    .filter(user_mute::Column::UserId.eq(me))
                    .filter(user_mute::Column::MutedUserId.eq(id))
                    .exec(&tx)
                    .await?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(other)
}

/// The viewer mutes (`muted: true`) or unmutes community `id`. Either is
/// idempotent. Muting does not leave the community.
pub(crate) async fn set_community_muted(
    db: &Db,
    viewer: &AuthSession,
    id: Uuid,
    muted: bool,
) -> AppResult<community::Model> {
    let found = community::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("community"))?;
    let me = viewer.user_id;
    db.statement(move |tx| {
        Box::pin(async move {
            if muted {
                let row = community_mute::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(me),
                    community_id: Set(id),
                    created_at: Set(now()),
                };
                community_mute::Entity::insert(row)
                    .on_conflict(
                        OnConflict::columns([
                            community_mute::Column::UserId,
                            community_mute::Column::CommunityId,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .exec_without_returning(&tx)
                    .await?;
            } else {
                community_mute::Entity::delete_many()
                    .filter(community_mute::Column::UserId.eq(me))
                    .filter(community_mute::Column::CommunityId.eq(id))
                    .exec(&tx)
                    .await?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(found)
}

/// Whom the viewer blocked, newest first.
pub(crate) async fn blocked(
    db: &Db,
    viewer: Uuid,
    page: &PageRequest,
) -> AppResult<Page<block::Model>> {
    let select = block::Entity::find().filter(block::Column::BlockerId.eq(viewer));
    let rows = page
        .apply(
            select,
            block::Column::CreatedAt,
            block::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// Whom the viewer muted, newest first.
pub(crate) async fn muted_users(
    db: &Db,
    viewer: Uuid,
    page: &PageRequest,
) -> AppResult<Page<user_mute::Model>> {
    let select = user_mute::Entity::find().filter(user_mute::Column::UserId.eq(viewer));
    let rows = page
        .apply(
            select,
            user_mute::Column::CreatedAt,
            user_mute::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// The communities the viewer muted, newest first.
pub(crate) async fn muted_communities(
    db: &Db,
    viewer: Uuid,
    page: &PageRequest,
) -> AppResult<Page<community_mute::Model>> {
    let select = community_mute::Entity::find().filter(community_mute::Column::UserId.eq(viewer));
    let rows = page
        .apply(
            select,
            community_mute::Column::CreatedAt,
            community_mute::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// How many people the viewer blocked.
pub(crate) async fn count_blocked(db: &Db, viewer: Uuid) -> AppResult<u64> {
    Ok(block::Entity::find()
        .filter(block::Column::BlockerId.eq(viewer))
        .count(db)
        .await?)
}

/// How many people the viewer muted.
pub(crate) async fn count_muted_users(db: &Db, viewer: Uuid) -> AppResult<u64> {
    Ok(user_mute::Entity::find()
        .filter(user_mute::Column::UserId.eq(viewer))
        .count(db)
        .await?)
}
