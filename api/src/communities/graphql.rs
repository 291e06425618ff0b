//! GraphQL for communities and memberships.

use async_graphql::{
    Context, Enum, ID, InputObject, Object,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::{community, membership};
use uuid::Uuid;

use super::{
    loaders::{MemberCountKey, ViewerRoleKey},
    service::{self, CommunityChanges, CommunityFilter, NewCommunity},
};
use crate::{
    auth::{SignedIn, viewer::signed_in, viewer_id},
    graphql::{
        context,
        id::{NodeType, expect_global_id, to_global_id},
        loader::load_one,
        relay::{IntoConnection, page_complexity},
    },
    hooks::{self, Change},
    paging::{KeysetCursor, PageArgs, PageRequest},
    posts::graphql::{PostConnection, PostFilterInput, list_posts},
    safety::loaders::Relation,
    users::graphql::{User, load_user, viewer_relation},
    validate,
};

/// Who can read a community's posts and members.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::CommunityVisibility")]
pub enum CommunityVisibility {
    /// Anyone can read; anyone signed in can join.
    Public,
    /// Only members read; owners and moderators add members.
    Private,
}

/// A member's powers inside one community.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::MembershipRole")]
pub enum MembershipRole {
    /// Manages everything; there is exactly one.
    Owner,
    /// Edits the description, adds and removes members, deletes posts and
    /// comments in this community.
    Moderator,
    Member,
}

#[derive(Clone)]
pub(crate) struct Community(pub community::Model);

#[Object]
impl Community {
    pub async fn id(&self) -> ID {
        to_global_id(NodeType::Community, self.0.id)
    }

    /// Unique, lower-case handle for URLs.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn visibility(&self) -> CommunityVisibility {
        self.0.visibility.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn member_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(load_one(ctx, MemberCountKey(self.0.id)).await?.unwrap_or(0))
    }

    /// The viewer's role here; null when not a member or anonymous.
    async fn viewer_role(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<MembershipRole>> {
        let Some(viewer) = viewer_id(ctx)? else {
            return Ok(None);
        };
        let key = ViewerRoleKey {
            viewer,
            community: self.0.id,
        };
        Ok(load_one(ctx, key).await?.map(Into::into))
    }

    /// Whether the signed-in viewer muted this community (false when
    /// anonymous).
    async fn viewer_has_muted(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        viewer_relation(ctx, Relation::MutedCommunity, self.0.id).await
    }

    /// Members, oldest first, without anyone the viewer blocked or who
    /// blocked them. `FORBIDDEN` for non-members of a private community.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<MemberConnection> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let page =
            service::members(context::db(ctx)?, viewer_id(ctx)?, self.0.id, &request).await?;
        Ok(page.into_connection(
            MemberConnectionFields(self.0.id),
            |m| KeysetCursor {
                created_at: m.created_at,
                id: m.id,
            },
            CommunityMember,
        ))
    }

    /// Posts here, newest first. `FORBIDDEN` for non-members of a private
    /// community.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        filter: Option<PostFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<PostConnection> {
        let mut filter = filter.unwrap_or_default().into_filter()?;
        filter.community_id = Some(self.0.id);
        list_posts(
            ctx,
            filter,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }
}

/// One person's membership of a community.
pub(crate) struct CommunityMember(pub membership::Model);

#[Object]
impl CommunityMember {
    /// The membership's id (not the member's: see `user`).
    async fn id(&self) -> ID {
        to_global_id(NodeType::CommunityMember, self.0.id)
    }

    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        load_user(ctx, self.0.user_id).await
    }

    async fn role(&self) -> MembershipRole {
        self.0.role.into()
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub(crate) struct MemberConnectionFields(Uuid);

#[Object]
impl MemberConnectionFields {
    /// How many members the community has.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(load_one(ctx, MemberCountKey(self.0)).await?.unwrap_or(0))
    }
}

pub(crate) type MemberConnection =
    Connection<String, CommunityMember, MemberConnectionFields, EmptyFields>;
pub(crate) type CommunityConnection = Connection<String, Community, EmptyFields, EmptyFields>;

#[derive(InputObject)]
pub(crate) struct CreateCommunityInput {
    /// 3 to 64 letters, digits or inner dashes; stored lower-case, unique.
    slug: String,
    /// 1 to 100 characters.
    name: String,
    /// Up to 2,000 characters.
    description: Option<String>,
    /// `PUBLIC` when omitted.
    visibility: Option<CommunityVisibility>,
}

#[derive(InputObject)]
pub(crate) struct UpdateCommunityInput {
    name: Option<String>,
    description: Option<String>,
    /// Only the owner may change it.
    visibility: Option<CommunityVisibility>,
}

/// Roles the owner can give.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AssignableRole {
    Moderator,
    Member,
}

fn community_id(id: &ID, field: &str) -> Result<Uuid, crate::error::AppError> {
    expect_global_id(id, NodeType::Community, field)
}

#[derive(Default)]
pub(crate) struct CommunitiesQuery;

#[Object]
impl CommunitiesQuery {
    /// A community by global id; null if there is none. Its name and
    /// description are public even when its posts are not.
    async fn community(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Community>> {
        let id = community_id(&id, "id")?;
        Ok(service::find(context::db(ctx)?, id).await?.map(Community))
    }

    async fn community_by_slug(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<Community>> {
        Ok(service::find_by_slug(context::db(ctx)?, &slug)
            .await?
            .map(Community))
    }

    /// Communities, newest first. `joined: true` lists only the viewer's
    /// (default false);
    /// `search` matches name or slug, case-insensitively.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn communities(
        &self,
        ctx: &Context<'_>,
        joined: Option<bool>,
        search: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<CommunityConnection> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let filter = CommunityFilter {
            joined: joined.unwrap_or(false),
            search: search
                .map(|s| validate::like_pattern("search", &s))
                .transpose()?,
        };
        let page = service::list(context::db(ctx)?, viewer_id(ctx)?, filter, &request).await?;
        Ok(page.into_connection(
            EmptyFields,
            |c| KeysetCursor {
                created_at: c.created_at,
                id: c.id,
            },
            Community,
        ))
    }
}

#[derive(Default)]
pub(crate) struct CommunitiesMutation;

#[Object]
impl CommunitiesMutation {
    /// Creates a community; you become its owner.
    #[graphql(guard = "SignedIn")]
    async fn create_community(
        &self,
        ctx: &Context<'_>,
        input: CreateCommunityInput,
    ) -> async_graphql::Result<Community> {
        let new = NewCommunity {
            slug: input.slug,
            name: input.name,
            description: input.description,
            visibility: input
                .visibility
                .unwrap_or(CommunityVisibility::Public)
                .into(),
        };
        let community = service::create(context::db(ctx)?, &signed_in(ctx)?, new).await?;
        Ok(Community(community))
    }

    /// Owners and moderators edit name and description; the owner alone
    /// changes visibility. Instance admins count as the owner.
    #[graphql(guard = "SignedIn")]
    async fn update_community(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCommunityInput,
    ) -> async_graphql::Result<Community> {
        let id = community_id(&id, "id")?;
        let changes = CommunityChanges {
            name: input.name,
            description: input.description,
            visibility: input.visibility.map(Into::into),
        };
        let community = service::update(context::db(ctx)?, &signed_in(ctx)?, id, changes).await?;
        let slug = &community.slug;
        audit_if_admin(ctx, "community.update", id, async || {
            Ok(format!("changed the community {slug}"))
        })
        .await?;
        Ok(Community(community))
    }

    /// Deletes a community and everything posted in it (owner or admin).
    /// Returns its id.
    #[graphql(guard = "SignedIn")]
    async fn delete_community(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let id = community_id(&id, "id")?;
        let deleted = service::delete(context::db(ctx)?, &signed_in(ctx)?, id).await?;
        let slug = &deleted.slug;
        audit_if_admin(ctx, "community.delete", id, async || {
            Ok(format!("deleted the community {slug}"))
        })
        .await?;
        Ok(to_global_id(NodeType::Community, deleted.id))
    }

    /// Joins a public community (`FORBIDDEN` for private ones: a moderator
    /// adds you).
    #[graphql(guard = "SignedIn")]
    async fn join_community(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Community> {
        let id = community_id(&id, "id")?;
        let viewer = signed_in(ctx)?;
        hooks::before(
            ctx,
            Change::Membership {
                actor: viewer.user_id,
                community: id,
            },
        )
        .await?;
        Ok(Community(
            service::join(context::db(ctx)?, &viewer, id).await?,
        ))
    }

    /// Leaves a community. The owner cannot.
    #[graphql(guard = "SignedIn")]
    async fn leave_community(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Community> {
        let id = community_id(&id, "id")?;
        Ok(Community(
            service::leave(context::db(ctx)?, &signed_in(ctx)?, id).await?,
        ))
    }

    /// Owners and moderators add a member (the way into a private
    /// community). Instance admins count as the owner.
    #[graphql(guard = "SignedIn")]
    async fn add_community_member(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<CommunityMember> {
        let community = self::community_id(&community_id, "communityId")?;
        let user = expect_global_id(&user_id, NodeType::User, "userId")?;
        let membership =
            service::add_member(context::db(ctx)?, &signed_in(ctx)?, community, user).await?;
        audit_if_admin(ctx, "community.add_member", community, async || {
            Ok(format!(
                "added {} to the community",
                username(ctx, user).await?
            ))
        })
        .await?;
        Ok(CommunityMember(membership))
    }

    /// Owners remove moderators and members; moderators remove members.
    /// Instance admins count as the owner. Returns the community.
    #[graphql(guard = "SignedIn")]
    async fn remove_community_member(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<Community> {
        let community = self::community_id(&community_id, "communityId")?;
        let user = expect_global_id(&user_id, NodeType::User, "userId")?;
        let db = context::db(ctx)?;
        service::remove_member(db, &signed_in(ctx)?, community, user).await?;
        audit_if_admin(ctx, "community.remove_member", community, async || {
            Ok(format!(
                "removed {} from the community",
                username(ctx, user).await?
            ))
        })
        .await?;
        let community = service::find(db, community)
            .await?
            .ok_or(crate::error::AppError::NotFound("community"))?;
        Ok(Community(community))
    }

    /// Bans someone from the community: their membership ends and they may
    /// not join again or comment here. Owners and moderators ban members
    /// (and people who are not members); only the owner bans a moderator;
    /// nobody bans the owner. Returns the community.
    #[graphql(guard = "SignedIn")]
    async fn ban_from_community(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<Community> {
        self.set_banned(ctx, community_id, user_id, true).await
    }

    /// Lifts a ban (`NOT_FOUND` if there is none); they may join again.
    /// Returns the community.
    #[graphql(guard = "SignedIn")]
    async fn unban_from_community(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
        user_id: ID,
    ) -> async_graphql::Result<Community> {
        self.set_banned(ctx, community_id, user_id, false).await
    }

    /// The owner (or an instance admin) makes a member a moderator, or a
    /// moderator a member again.
    #[graphql(guard = "SignedIn")]
    async fn set_community_member_role(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
        user_id: ID,
        role: AssignableRole,
    ) -> async_graphql::Result<CommunityMember> {
        let community = self::community_id(&community_id, "communityId")?;
        let user = expect_global_id(&user_id, NodeType::User, "userId")?;
        let role = match role {
            AssignableRole::Moderator => entity::enums::MembershipRole::Moderator,
            AssignableRole::Member => entity::enums::MembershipRole::Member,
        };
        let membership =
            service::set_role(context::db(ctx)?, &signed_in(ctx)?, community, user, role).await?;
        let title = if role == entity::enums::MembershipRole::Moderator {
            "moderator"
        } else {
            "member"
        };
        audit_if_admin(ctx, "community.set_role", community, async || {
            let name = username(ctx, user).await?;
            Ok(format!("made {name} a {title} of the community"))
        })
        .await?;
        Ok(CommunityMember(membership))
    }
}

/// Instance admins may manage any community, so what they do here goes to
/// the audit log, as it does from the dashboard; members managing their
/// own communities are not audited (and `detail` is not even worked out).
async fn audit_if_admin(
    ctx: &Context<'_>,
    action: &'static str,
    community: uuid::Uuid,
    detail: impl AsyncFnOnce() -> async_graphql::Result<String>,
) -> async_graphql::Result<()> {
    if signed_in(ctx)?.role == entity::enums::UserRole::Admin {
        let target = Some(("community", community.to_string()));
        context::audit(ctx, action, target, detail().await?).await?;
    }
    Ok(())
}

impl CommunitiesMutation {
    async fn set_banned(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
        user_id: ID,
        banned: bool,
    ) -> async_graphql::Result<Community> {
        let community = self::community_id(&community_id, "communityId")?;
        let user = expect_global_id(&user_id, NodeType::User, "userId")?;
        let (db, viewer) = (context::db(ctx)?, signed_in(ctx)?);
        let (action, verb) = if banned {
            service::ban(db, &viewer, community, user).await?;
            ("community.ban", "banned")
        } else {
            service::unban(db, &viewer, community, user).await?;
            ("community.unban", "lifted the ban on")
        };
        audit_if_admin(ctx, action, community, async || {
            Ok(format!(
                "{verb} {} in the community",
                username(ctx, user).await?
            ))
        })
        .await?;
        let community = service::find(db, community)
            .await?
            .ok_or(crate::error::AppError::NotFound("community"))?;
        Ok(Community(community))
    }
}

async fn username(ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<String> {
    Ok(crate::users::service::find_by_id(context::db(ctx)?, id)
        .await?
        .map_or_else(|| id.to_string(), |u| u.username))
}
