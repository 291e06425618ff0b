//! Users: profiles, the directory and follows. Rules and SQL live here;
//! resolvers stay thin.

use chrono::{DateTime, Utc};
use entity::{enums::UserRole, follow, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func, Query, SelectStatement},
};
use uuid::Uuid;

use crate::{
    auth::AuthSession,
    db::{Db, now},
    error::{AppError, AppResult},
    events::{self, Event},
    paging::{ListOrder, Page, PageRequest},
    safety::service as safety,
    validate,
};

/// The longest display name and bio a profile may have.
pub(crate) const MAX_DISPLAY_NAME: usize = 64;
pub(crate) const MAX_BIO: usize = 500;

pub(crate) async fn find_by_id(db: &Db, id: Uuid) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// A user's public columns only, for showing a profile; `None` when a
/// block stands between them and `viewer`.
pub(crate) async fn find_profile(
    db: &Db,
    viewer: Option<Uuid>,
    id: Uuid,
) -> AppResult<Option<user::Profile>> {
    Ok(user::Entity::find_by_id(id)
        .filter(safety::visible_to(user::Column::Id, viewer))
        .into_partial_model::<user::Profile>()
        .one(db)
        .await?)
}

/// Usernames are unique case-insensitively, so lookups are too; `None`
/// when a block stands between them and `viewer`.
pub(crate) async fn find_visible_by_username(
    db: &Db,
    viewer: Option<Uuid>,
    username: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(user::Column::Username))).eq(username.to_lowercase()),
        )
        .filter(safety::visible_to(user::Column::Id, viewer))
        .one(db)
        .await?)
}

/// The user directory, oldest account first, without anyone on either
/// side of a block with `viewer`.
pub(crate) async fn list(
    db: &Db,
    viewer: Option<Uuid>,
    page: &PageRequest,
) -> AppResult<Page<user::Model>> {
    let rows = page
        .apply(
            user::Entity::find().filter(safety::visible_to(user::Column::Id, viewer)),
            user::Column::CreatedAt,
            user::Column::Id,
            ListOrder::OldestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

pub(crate) async fn count(db: &Db) -> AppResult<u64> {
    Ok(user::Entity::find().count(db).await?)
}

/// The ids of disabled (banned) accounts, for `NOT IN`: their posts and
/// comments disappear from every list while the ban lasts. A partial index
/// keeps this as small as the number of bans.
pub(crate) fn disabled_user_ids() -> SelectStatement {
    Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .and_where(user::Column::DisabledAt.is_not_null())
        .to_owned()
}

/// The viewer's account, if it may still write. An access token outlives
/// the account (deleted) and its good standing (disabled by an admin), so
/// both are checked in the database, not trusted from the token.
pub(crate) async fn active_user(db: &Db, viewer: &AuthSession) -> AppResult<user::Model> {
    match user::Entity::find_by_id(viewer.user_id).one(db).await? {
        Some(user) if user.disabled_at.is_none() => Ok(user),
        found => Err(cannot_write(found.is_some())),
    }
}

/// [`active_user`] reading one column, for a check alone: every mutation
/// passes here before it runs (see `schema::pipeline`).
pub(crate) async fn require_standing(db: &Db, viewer: &AuthSession) -> AppResult<()> {
    let disabled_at: Option<Option<DateTime<Utc>>> = user::Entity::find_by_id(viewer.user_id)
        .select_only()
        .column(user::Column::DisabledAt)
        .into_tuple()
        .one(db)
        .await?;
    match disabled_at {
        Some(None) => Ok(()),
        found => Err(cannot_write(found.is_some())),
    }
}

/// Why an account that is not active cannot write.
fn cannot_write(exists: bool) -> AppError {
    if exists {
        AppError::Refused("this account is disabled")
    } else {
        AppError::Unauthenticated("this account no longer exists")
    }
}

/// Whether the viewer is an instance admin, checked in the database.
pub(crate) fn is_admin(user: &user::Model) -> bool {
    user.role == UserRole::Admin
}

/// The viewer's account if it is an enabled admin now (in the database,
/// not as the token says).
pub(crate) async fn require_admin(db: &Db, viewer: &AuthSession) -> AppResult<user::Model> {
    let user = active_user(db, viewer).await?;
    if is_admin(&user) {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

/// What `updateProfile` may change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub(crate) struct ProfileChanges {
    pub display_name: Option<String>,
    pub bio: Option<String>,
}

pub(crate) async fn update_profile(
    db: &Db,
    viewer: &AuthSession,
    changes: ProfileChanges,
) -> AppResult<user::Model> {
    let user = active_user(db, viewer).await?;
    let mut active: user::ActiveModel = user.into();
    if let Some(name) = changes.display_name {
        let name = validate::required_text("input.displayName", &name, MAX_DISPLAY_NAME)?;
        active.display_name = Set(name);
    }
    if let Some(bio) = changes.bio {
        active.bio = Set(validate::optional_text("input.bio", &bio, MAX_BIO)?);
    }
    active.updated_at = Set(now());
    db.statement(move |tx| Box::pin(async move { Ok(active.update(&tx).await?) }))
        .await
}

/// The viewer follows `followee_id`. Following twice is `CONFLICT`;
/// following across a block is `NOT_FOUND`, as if the user did not exist.
pub(crate) async fn follow(
    db: &Db,
    viewer: &AuthSession,
    followee_id: Uuid,
) -> AppResult<user::Model> {
    if followee_id == viewer.user_id {
        return Err(AppError::bad_input("userId", "you cannot follow yourself"));
    }
    let followee = find_by_id(db, followee_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if safety::is_hidden(db, Some(viewer.user_id), followee_id).await? {
        return Err(AppError::NotFound("user"));
    }
    let row = follow::ActiveModel {
        id: Set(Uuid::now_v7()),
        follower_id: Set(viewer.user_id),
        followee_id: Set(followee_id),
        created_at: Set(now()),
    };
    let event = Event::UserFollowed {
        follower: viewer.user_id,
        followee: followee_id,
    };
    let actor = viewer.user_id;
    db.transaction(move |tx| {
        Box::pin(async move {
            row.insert(&tx).await.map_err(|e| {
                AppError::on_unique_violation(e, |_| {
                    AppError::conflict("userId", "you already follow this user")
                })
            })?;
            events::record(&tx, Some(actor), &event).await
        })
    })
    .await?;
    Ok(followee)
}

/// The viewer stops following `followee_id`; `NOT_FOUND` if they did not.
pub(crate) async fn unfollow(
    db: &Db,
    viewer: &AuthSession,
    followee_id: Uuid,
) -> AppResult<user::Model> {
    let followee = find_by_id(db, followee_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let follower = viewer.user_id;
    let deleted = db
        .statement(move |tx| {
            Box::pin(async move {
                Ok(follow::Entity::delete_many()
                    .filter(follow::Column::FollowerId.eq(follower))
                    .filter(follow::Column::FolloweeId.eq(followee_id))
                    .exec(&tx)
                    .await?)
            })
        })
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound("follow"));
    }
    Ok(followee)
}

/// Which side of the follow graph to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowList {
    /// Who follows this user.
    Followers(Uuid),
    /// Whom this user follows.
    Following(Uuid),
}

/// One page of follows, newest first, without anyone on either side of a
/// block with `viewer`. The rows are follow edges (their time is the
/// cursor); the users on the other end are loaded in a batch.
pub(crate) async fn follows(
    db: &Db,
    viewer: Option<Uuid>,
    list: FollowList,
    page: &PageRequest,
) -> AppResult<Page<follow::Model>> {
    let select = match list {
        FollowList::Followers(id) => follow::Entity::find()
            .filter(follow::Column::FolloweeId.eq(id))
            .filter(safety::visible_to(follow::Column::FollowerId, viewer)),
        FollowList::Following(id) => follow::Entity::find()
            .filter(follow::Column::FollowerId.eq(id))
            .filter(safety::visible_to(follow::Column::FolloweeId, viewer)),
    };
    let rows = page
        .apply(
            select,
            follow::Column::CreatedAt,
            follow::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// The ids a user follows, for the feed's `IN`.
pub(crate) fn followee_ids(user_id: Uuid) -> SelectStatement {
    Query::select()
        .column(follow::Column::FolloweeId)
        .from(follow::Entity)
        .and_where(follow::Column::FollowerId.eq(user_id))
        .to_owned()
}
