//! Communities and memberships: the rules of who may read, join, manage
//! and moderate.
//!
//! A community's name and description are public, so it can be found and
//! asked about; a private community's posts and member list are for its
//! members only, and joining it takes an owner or moderator adding you.

use entity::{
    community, community_ban,
    enums::{CommunityVisibility, MembershipRole},
    membership,
};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, Func, OnConflict, Query, SelectStatement},
};
use uuid::Uuid;

use super::bans;
use crate::{
    auth::AuthSession,
    db::{Db, now},
    error::{AppError, AppResult},
    events::{self, Event},
    paging::{ListOrder, Page, PageRequest},
    safety::service as safety,
    users::service::active_user,
    validate,
};

pub(crate) const MAX_NAME: usize = 100;
pub(crate) const MAX_DESCRIPTION: usize = 2000;

pub(crate) async fn find(db: &Db, id: Uuid) -> AppResult<Option<community::Model>> {
    Ok(community::Entity::find_by_id(id).one(db).await?)
}

async fn get(db: &Db, id: Uuid) -> AppResult<community::Model> {
    find(db, id).await?.ok_or(AppError::NotFound("community"))
}

pub(crate) async fn find_by_slug(db: &Db, slug: &str) -> AppResult<Option<community::Model>> {
    Ok(community::Entity::find()
        .filter(community::Column::Slug.eq(slug.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// The viewer's role in a community, if they are a member.
pub(crate) async fn role_of(
    db: &Db,
    community_id: Uuid,
    user_id: Uuid,
) -> AppResult<Option<MembershipRole>> {
    Ok(membership::Entity::find()
        .filter(membership::Column::CommunityId.eq(community_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .map(|m| m.role))
}

/// Whether the viewer may read the community's posts and members: anyone
/// for a public community, members only for a private one.
pub(crate) async fn can_read(
    db: &Db,
    viewer: Option<Uuid>,
    community: &community::Model,
) -> AppResult<bool> {
    if community.visibility == CommunityVisibility::Public {
        return Ok(true);
    }
    match viewer {
        None => Ok(false),
        Some(user_id) => Ok(role_of(db, community.id, user_id).await?.is_some()),
    }
}

/// `FORBIDDEN` unless the viewer may read the community's content.
pub(crate) async fn require_readable(
    db: &Db,
    viewer: Option<Uuid>,
    community_id: Uuid,
) -> AppResult<community::Model> {
    let community = get(db, community_id).await?;
    if can_read(db, viewer, &community).await? {
        Ok(community)
    } else {
        Err(AppError::Forbidden)
    }
}

/// Ids of private communities, for `NOT IN` in post lists.
pub(crate) fn private_community_ids() -> SelectStatement {
    Query::select()
        .column(community::Column::Id)
        .from(community::Entity)
        .and_where(community::Column::Visibility.eq(CommunityVisibility::Private))
        .to_owned()
}

/// Ids of the communities a user (an id, or a column of readers) belongs
/// to, for `IN`.
pub(crate) fn member_community_ids(user: impl Into<Expr>) -> SelectStatement {
    Query::select()
        .column(membership::Column::CommunityId)
        .from(membership::Entity)
        .and_where(membership::Column::UserId.into_expr().eq(user))
        .to_owned()
}

/// Which communities to list.
#[derive(Debug, Default)]
pub(crate) struct CommunityFilter {
    /// Only those the viewer belongs to.
    pub joined: bool,
    /// `LIKE` pattern matched against the lower-cased name and slug.
    pub search: Option<String>,
}

/// Every community (metadata is public), newest first.
pub(crate) async fn list(
    db: &Db,
    viewer: Option<Uuid>,
    filter: CommunityFilter,
    page: &PageRequest,
) -> AppResult<Page<community::Model>> {
    let mut select = community::Entity::find();
    if filter.joined {
        let user_id = viewer.ok_or(AppError::Unauthenticated("sign in first"))?;
        select = select.filter(community::Column::Id.in_subquery(member_community_ids(user_id)));
    }
    if let Some(pattern) = filter.search {
        select = select.filter(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(community::Column::Name)))
                        .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    Expr::col(community::Column::Slug)
                        .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
                ),
        );
    }
    let rows = page
        .apply(
            select,
            community::Column::CreatedAt,
            community::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

pub(crate) struct NewCommunity {
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub visibility: CommunityVisibility,
}

/// Creates a community owned by the viewer.
pub(crate) async fn create(
    db: &Db,
    viewer: &AuthSession,
    input: NewCommunity,
) -> AppResult<community::Model> {
    let slug = validate::slug("input.slug", &input.slug)?;
    let name = validate::required_text("input.name", &input.name, MAX_NAME)?;
    let description = validate::optional_text(
        "input.description",
        input.description.as_deref().unwrap_or_default(),
        MAX_DESCRIPTION,
    )?;
    let at = now();
    let owner = viewer.user_id;
    let row = community::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(slug),
        name: Set(name),
        description: Set(description),
        visibility: Set(input.visibility),
        created_by_id: Set(Some(owner)),
        created_at: Set(at),
        updated_at: Set(at),
    };
    db.transaction(move |tx| {
        Box::pin(async move {
            let community = row.insert(&tx).await.map_err(|e| {
                AppError::on_unique_violation(e, |_| {
                    AppError::conflict("input.slug", "this slug is already taken")
                })
            })?;
            insert_membership(&tx, community.id, owner, MembershipRole::Owner, owner).await?;
            Ok(community)
        })
    })
    .await
}

/// Adds a member, and the `membership.changed` event; `actor` is who did.
async fn insert_membership(
    db: &impl sea_orm::ConnectionTrait,
    community_id: Uuid,
    user_id: Uuid,
    role: MembershipRole,
    actor: Uuid,
) -> AppResult<membership::Model> {
    let membership = membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        community_id: Set(community_id),
        user_id: Set(user_id),
        role: Set(role),
        created_at: Set(now()),
    }
    .insert(db)
    .await
    .map_err(|e| {
        AppError::on_unique_violation(e, |_| {
            AppError::conflict("userId", "already a member of this community")
        })
    })?;
    record_membership(db, &membership, actor).await?;
    Ok(membership)
}

async fn record_membership(
    db: &impl sea_orm::ConnectionTrait,
    membership: &membership::Model,
    actor: Uuid,
) -> AppResult<()> {
    let event = Event::MembershipChanged {
        community: membership.community_id,
        user: membership.user_id,
        role: Some(membership.role.to_value()),
    };
    events::record(db, Some(actor), &event).await
}

#[derive(Debug, Default)]
pub(crate) struct CommunityChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<CommunityVisibility>,
}

/// Owners and moderators edit the name and description; only the owner
/// changes who can see the community. Instance admins count as owners.
pub(crate) async fn update(
    db: &Db,
    viewer: &AuthSession,
    id: Uuid,
    changes: CommunityChanges,
) -> AppResult<community::Model> {
    let community = get(db, id).await?;
    let role = authority(db, viewer, id).await?;
    if !matches!(
        role,
        Some(MembershipRole::Owner | MembershipRole::Moderator)
    ) {
        return Err(AppError::Forbidden);
    }
    if changes.visibility.is_some() && role != Some(MembershipRole::Owner) {
        return Err(AppError::Forbidden);
    }
    let mut active: community::ActiveModel = community.into();
    if let Some(name) = changes.name {
        active.name = Set(validate::required_text("input.name", &name, MAX_NAME)?);
    }
    if let Some(description) = changes.description {
        active.description = Set(validate::optional_text(
            "input.description",
            &description,
            MAX_DESCRIPTION,
        )?);
    }
    if let Some(visibility) = changes.visibility {
        active.visibility = Set(visibility);
    }
    active.updated_at = Set(now());
    db.statement(move |tx| Box::pin(async move { Ok(active.update(&tx).await?) }))
        .await
}

/// Deletes a community with its memberships, posts and their comments:
/// its owner's or an instance admin's decision. Returns it as it was.
pub(crate) async fn delete(db: &Db, viewer: &AuthSession, id: Uuid) -> AppResult<community::Model> {
    let user = active_user(db, viewer).await?;
    let community = get(db, id).await?;
    let owner = role_of(db, id, viewer.user_id).await? == Some(MembershipRole::Owner);
    if !owner && !crate::users::service::is_admin(&user) {
        return Err(AppError::Forbidden);
    }
    db.statement(move |tx| {
        Box::pin(async move { Ok(community::Entity::delete_by_id(id).exec(&tx).await?) })
    })
    .await?;
    Ok(community)
}

/// Joins a public community. Private ones are invite-only, and people
/// banned from it stay out (`FORBIDDEN`); joining twice is `CONFLICT`.
pub(crate) async fn join(db: &Db, viewer: &AuthSession, id: Uuid) -> AppResult<community::Model> {
    let community = get(db, id).await?;
    if community.visibility == CommunityVisibility::Private
        || bans::is_banned(db, id, viewer.user_id).await?
    {
        return Err(AppError::Forbidden);
    }
    let member = viewer.user_id;
    db.transaction(move |tx| {
        Box::pin(
            async move { insert_membership(&tx, id, member, MembershipRole::Member, member).await },
        )
    })
    .await
    .map_err(|e| match e {
        AppError::Conflict { .. } => AppError::conflict("id", "already a member of this community"),
        e => e,
    })?;
    Ok(community)
}

/// Leaves a community. The owner cannot leave (a community always has one).
pub(crate) async fn leave(db: &Db, viewer: &AuthSession, id: Uuid) -> AppResult<community::Model> {
    let community = get(db, id).await?;
    match role_of(db, id, viewer.user_id).await? {
        None => Err(AppError::NotFound("membership")),
        Some(MembershipRole::Owner) => Err(AppError::bad_input(
            "id",
            "the owner cannot leave their community",
        )),
        Some(_) => {
            delete_membership(db, id, viewer.user_id, viewer.user_id).await?;
            Ok(community)
        }
    }
}

/// Ends a membership, with its `membership.changed` event; `actor` is who
/// ended it.
async fn delete_membership(
    db: &Db,
    community_id: Uuid,
    user_id: Uuid,
    actor: Uuid,
) -> AppResult<()> {
    db.transaction(move |tx| {
        Box::pin(async move { end_membership(&tx, community_id, user_id, actor).await })
    })
    .await
}

/// [`delete_membership`] inside a transaction already open.
async fn end_membership(
    tx: &impl sea_orm::ConnectionTrait,
    community_id: Uuid,
    user_id: Uuid,
    actor: Uuid,
) -> AppResult<()> {
    let deleted = membership::Entity::delete_many()
        .filter(membership::Column::CommunityId.eq(community_id))
        .filter(membership::Column::UserId.eq(user_id))
        .exec(tx)
        .await?
        .rows_affected;
    if deleted > 0 {
        let event = Event::MembershipChanged {
            community: community_id,
            user: user_id,
            role: None,
        };
        events::record(tx, Some(actor), &event).await?;
    }
    Ok(())
}

/// Bans someone from a community: their membership ends, and they may not
/// join again or comment there. Owners and moderators ban members (and
/// anyone who is not a member); only the owner bans a moderator; nobody
/// bans the owner. Banning twice changes nothing.
pub(crate) async fn ban(
    db: &Db,
    viewer: &AuthSession,
    community_id: Uuid,
    user_id: Uuid,
) -> AppResult<()> {
    let my_role = require_manager(db, viewer, community_id).await?;
    crate::users::service::find_by_id(db, user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let allowed = match role_of(db, community_id, user_id).await? {
        Some(MembershipRole::Owner) => false,
        Some(MembershipRole::Moderator) => my_role == MembershipRole::Owner,
        Some(MembershipRole::Member) | None => true,
    };
    if !allowed || user_id == viewer.user_id {
        return Err(AppError::Forbidden);
    }
    let actor = viewer.user_id;
    let row = community_ban::ActiveModel {
        id: Set(Uuid::now_v7()),
        community_id: Set(community_id),
        user_id: Set(user_id),
        banned_by_id: Set(Some(actor)),
        created_at: Set(now()),
    };
    db.transaction(move |tx| {
        Box::pin(async move {
            community_ban::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        community_ban::Column::CommunityId,
                        community_ban::Column::UserId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&tx)
                .await?;
            end_membership(&tx, community_id, user_id, actor).await
        })
    })
    .await
}

/// Lifts a ban (owners and moderators); they may join again. `NOT_FOUND`
/// if there was none.
pub(crate) async fn unban(
    db: &Db,
    viewer: &AuthSession,
    community_id: Uuid,
    user_id: Uuid,
) -> AppResult<()> {
    require_manager(db, viewer, community_id).await?;
    let deleted = db
        .statement(move |tx| {
            Box::pin(async move {
                Ok(community_ban::Entity::delete_many()
                    .filter(community_ban::Column::CommunityId.eq(community_id))
                    .filter(community_ban::Column::UserId.eq(user_id))
                    .exec(&tx)
                    .await?)
            })
        })
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound("ban"));
    }
    Ok(())
}

/// `FORBIDDEN` unless the viewer owns or moderates the community; returns
/// their role.
async fn require_manager(
    db: &Db,
    viewer: &AuthSession,
    community_id: Uuid,
) -> AppResult<MembershipRole> {
    get(db, community_id).await?;
    match authority(db, viewer, community_id).await? {
        Some(role @ (MembershipRole::Owner | MembershipRole::Moderator)) => Ok(role),
        _ => Err(AppError::Forbidden),
    }
}

/// What the viewer may do in a community: their own role there, or the
/// owner's for an instance admin, who moderates every community.
async fn authority(
    db: &Db,
    viewer: &AuthSession,
    community_id: Uuid,
) -> AppResult<Option<MembershipRole>> {
    let role = role_of(db, community_id, viewer.user_id).await?;
    if role == Some(MembershipRole::Owner) {
        return Ok(role);
    }
    let user = active_user(db, viewer).await?;
    Ok(if crate::users::service::is_admin(&user) {
        Some(MembershipRole::Owner)
    } else {
        role
    })
}

/// Owners and moderators add members (the way into a private community).
pub(crate) async fn add_member(
    db: &Db,
    viewer: &AuthSession,
    community_id: Uuid,
    user_id: Uuid,
) -> AppResult<membership::Model> {
    require_manager(db, viewer, community_id).await?;
    crate::users::service::find_by_id(db, user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    if bans::is_banned(db, community_id, user_id).await? {
        return Err(AppError::bad_input(
            "userId",
            "banned from this community; lift the ban first",
        ));
    }
    let actor = viewer.user_id;
    db.transaction(move |tx| {
        Box::pin(async move {
            insert_membership(&tx, community_id, user_id, MembershipRole::Member, actor).await
        })
    })
    .await
}

/// Owners remove moderators and members; moderators remove members only.
/// Nobody removes the owner.
pub(crate) async fn remove_member(
    db: &Db,
    viewer: &AuthSession,
    community_id: Uuid,
    user_id: Uuid,
) -> AppResult<()> {
    let my_role = require_manager(db, viewer, community_id).await?;
    let their_role = role_of(db, community_id, user_id)
        .await?
        .ok_or(AppError::NotFound("membership"))?;
    let allowed = match their_role {
        MembershipRole::Owner => false,
        MembershipRole::Moderator => my_role == MembershipRole::Owner,
        MembershipRole::Member => true,
    };
    if !allowed {
        return Err(AppError::Forbidden);
    }
    delete_membership(db, community_id, user_id, viewer.user_id).await
}

/// The owner (or an instance admin) promotes members to moderator or
/// demotes them back.
pub(crate) async fn set_role(
    db: &Db,
    viewer: &AuthSession,
    community_id: Uuid,
    user_id: Uuid,
    role: MembershipRole,
) -> AppResult<membership::Model> {
    if require_manager(db, viewer, community_id).await? != MembershipRole::Owner {
        return Err(AppError::Forbidden);
    }
    if role == MembershipRole::Owner {
        return Err(AppError::bad_input(
            "role",
            "ownership cannot be given this way",
        ));
    }
    let membership = membership::Entity::find()
        .filter(membership::Column::CommunityId.eq(community_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("membership"))?;
    if membership.role == MembershipRole::Owner {
        return Err(AppError::bad_input(
            "userId",
            "the owner's role cannot change",
        ));
    }
    let mut active: membership::ActiveModel = membership.into();
    active.role = Set(role);
    let actor = viewer.user_id;
    db.transaction(move |tx| {
        Box::pin(async move {
            let membership = active.update(&tx).await?;
            record_membership(&tx, &membership, actor).await?;
            Ok(membership)
        })
    })
    .await
}

/// Members, oldest first, without anyone on either side of a block with
/// `viewer`; members only for a private community.
pub(crate) async fn members(
    db: &Db,
    viewer: Option<Uuid>,
    community_id: Uuid,
    page: &PageRequest,
) -> AppResult<Page<membership::Model>> {
    require_readable(db, viewer, community_id).await?;
    let rows = page
        .apply(
            membership::Entity::find()
                .filter(membership::Column::CommunityId.eq(community_id))
                .filter(safety::visible_to(membership::Column::UserId, viewer)),
            membership::Column::CreatedAt,
            membership::Column::Id,
            ListOrder::OldestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}
