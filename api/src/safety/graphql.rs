//! GraphQL for blocks and mutes: the mutations, and the viewer's lists.

use async_graphql::{Context, ID, Object, connection::EmptyFields};

use super::service;
use crate::{
    auth::{SignedIn, viewer::signed_in},
    communities::graphql::{Community, CommunityConnection},
    communities::loaders::CommunityKey,
    graphql::{
        context,
        id::{NodeType, expect_global_id},
        loader::load_many,
        relay::{IntoConnection, page_complexity},
    },
    paging::{KeysetCursor, PageArgs, PageRequest},
    users::graphql::{User, UserConnection, UserTotal, people_connection},
};

#[derive(Default)]
pub(crate) struct SafetyQuery;

#[Object]
impl SafetyQuery {
    /// Whom the viewer blocked, most recent first. The one place their
    /// profiles still show, so a block can be lifted.
    #[graphql(
        guard = "SignedIn",
        complexity = "page_complexity(first, last, child_complexity)"
    )]
    async fn blocked_users(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<UserConnection> {
        let viewer = signed_in(ctx)?.user_id;
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let page = service::blocked(context::db(ctx)?, viewer, &request).await?;
        people_connection(
            ctx,
            page,
            UserTotal::BlockedBy(viewer),
            |b| b.blocked_id,
            |b| KeysetCursor {
                created_at: b.created_at,
                id: b.id,
            },
        )
        .await
    }

    /// Whom the viewer muted, most recent first.
    #[graphql(
        guard = "SignedIn",
        complexity = "page_complexity(first, last, child_complexity)"
    )]
    async fn muted_users(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<UserConnection> {
        let viewer = signed_in(ctx)?.user_id;
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let page = service::muted_users(context::db(ctx)?, viewer, &request).await?;
        people_connection(
            ctx,
            page,
            UserTotal::MutedBy(viewer),
            |m| m.muted_user_id,
            |m| KeysetCursor {
                created_at: m.created_at,
                id: m.id,
            },
        )
        .await
    }

    /// The communities the viewer muted, most recent first.
    #[graphql(
        guard = "SignedIn",
        complexity = "page_complexity(first, last, child_complexity)"
    )]
    async fn muted_communities(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<CommunityConnection> {
        let viewer = signed_in(ctx)?.user_id;
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let page = service::muted_communities(context::db(ctx)?, viewer, &request).await?;
        let found = load_many(ctx, page.items.iter().map(|m| CommunityKey(m.community_id))).await?;
        let page = page.filter_map(|m| {
            found
                .get(&CommunityKey(m.community_id))
                .cloned()
                .map(|c| (m, c))
        });
        Ok(page.into_connection(
            EmptyFields,
            |(m, _)| KeysetCursor {
                created_at: m.created_at,
                id: m.id,
            },
            |(_, c)| Community(c),
        ))
    }
}

#[derive(Default)]
pub(crate) struct SafetyMutation;

#[Object]
impl SafetyMutation {
    /// Blocks a user. Neither of you sees the other's posts, comments,
    /// messages, reactions or profile from now on, and neither can
    /// follow, message or reply to the other; follows between you end.
    /// They are not told. Blocking again changes nothing. Returns that
    /// user.
    #[graphql(guard = "SignedIn")]
    async fn block_user(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<User> {
        let id = expect_global_id(&user_id, NodeType::User, "userId")?;
        let user = service::block(context::db(ctx)?, &signed_in(ctx)?, id).await?;
        Ok(User::from(user))
    }

    /// Lifts your block on a user (follows that ended stay ended).
    /// Returns that user.
    #[graphql(guard = "SignedIn")]
    async fn unblock_user(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<User> {
        let id = expect_global_id(&user_id, NodeType::User, "userId")?;
        let user = service::unblock(context::db(ctx)?, &signed_in(ctx)?, id).await?;
        Ok(User::from(user))
    }

    /// Mutes a user: their posts stay out of your feed and they do not
    /// notify you. Nothing else changes, and they are not told.
    #[graphql(guard = "SignedIn")]
    async fn mute_user(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<User> {
        let id = expect_global_id(&user_id, NodeType::User, "userId")?;
        let user = service::set_user_muted(context::db(ctx)?, &signed_in(ctx)?, id, true).await?;
        Ok(User::from(user))
    }

    /// Unmutes a user.
    #[graphql(guard = "SignedIn")]
    async fn unmute_user(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<User> {
        let id = expect_global_id(&user_id, NodeType::User, "userId")?;
        let user = service::set_user_muted(context::db(ctx)?, &signed_in(ctx)?, id, false).await?;
        Ok(User::from(user))
    }

    /// Mutes a community: its posts stay out of your feed and its
    /// activity does not notify you. You stay a member.
    #[graphql(guard = "SignedIn")]
    async fn mute_community(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
    ) -> async_graphql::Result<Community> {
        let id = expect_global_id(&community_id, NodeType::Community, "communityId")?;
        let community =
            service::set_community_muted(context::db(ctx)?, &signed_in(ctx)?, id, true).await?;
        Ok(Community(community))
    }

    /// Unmutes a community.
    #[graphql(guard = "SignedIn")]
    async fn unmute_community(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
    ) -> async_graphql::Result<Community> {
        let id = expect_global_id(&community_id, NodeType::Community, "communityId")?;
        let community =
            service::set_community_muted(context::db(ctx)?, &signed_in(ctx)?, id, false).await?;
        Ok(Community(community))
    }
}
