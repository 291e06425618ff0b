//! GraphQL for posts, reactions and the feed.

use async_graphql::{
    Context, Enum, ID, InputObject, Object, SimpleObject,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::post;

use super::{
    loaders::{AttachmentsKey, ReactionCountsKey, ViewerReactionKey},
    service::{self, NewPost, PostFilter},
};
use crate::{
    auth::{SignedIn, viewer::signed_in, viewer_id},
    comments::loaders::CommentCountKey,
    comments::{
        graphql::{CommentConnection, comment_thread},
        service::Thread,
    },
    communities::graphql::Community,
    communities::loaders::CommunityKey,
    error::AppError,
    files::graphql::{File, files},
    graphql::{
        context,
        id::{NodeType, expect_global_id, to_global_id},
        loader::load_one,
        relay::{IntoConnection, page_complexity},
    },
    hooks::{self, Change},
    paging::{KeysetCursor, PageArgs, PageRequest},
    users::graphql::{User, load_user},
    validate,
};

/// The reactions a post can receive; one per person per post.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::ReactionKind")]
pub enum ReactionKind {
    Like,
    Love,
    Laugh,
    Wow,
    Sad,
    Angry,
}

/// How many reactions of one kind a post has.
#[derive(SimpleObject)]
pub(crate) struct ReactionCount {
    pub kind: ReactionKind,
    pub count: u64,
}

/// A post, in a community or on its author's profile.
#[derive(Clone)]
pub(crate) struct Post(pub post::Model);

#[Object]
impl Post {
    pub async fn id(&self) -> ID {
        to_global_id(NodeType::Post, self.0.id)
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Changes when the author edits the post.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        load_user(ctx, self.0.author_id).await
    }

    /// Null for a post on the author's profile.
    async fn community(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Community>> {
        let Some(id) = self.0.community_id else {
            return Ok(None);
        };
        Ok(load_one(ctx, CommunityKey(id)).await?.map(Community))
    }

    /// Reactions per kind, most frequent first; kinds nobody used are left
    /// out.
    async fn reaction_counts(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ReactionCount>> {
        let counts = load_one(ctx, ReactionCountsKey(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(counts
            .into_iter()
            .map(|(kind, count)| ReactionCount {
                kind: kind.into(),
                count,
            })
            .collect())
    }

    /// All reactions, of any kind.
    async fn reaction_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let counts = load_one(ctx, ReactionCountsKey(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(counts.iter().map(|(_, n)| n).sum())
    }

    /// The viewer's own reaction; null when none or anonymous.
    async fn viewer_reaction(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ReactionKind>> {
        let Some(viewer) = viewer_id(ctx)? else {
            return Ok(None);
        };
        let key = ViewerReactionKey {
            viewer,
            post: self.0.id,
        };
        Ok(load_one(ctx, key).await?.map(Into::into))
    }

    /// Files attached to the post, in order (their URLs carry a download
    /// token, since the post may not be public).
    async fn attachments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<File>> {
        Ok(load_one(ctx, AttachmentsKey(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|model| File {
                model,
                public: false,
            })
            .collect())
    }

    /// All comments, replies included.
    async fn comment_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(load_one(ctx, CommentCountKey(self.0.id))
            .await?
            .unwrap_or(0))
    }

    /// Top-level comments, oldest first; each has its `replies`.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<CommentConnection> {
        comment_thread(
            ctx,
            Thread::Post(self.0.id),
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

pub(crate) type PostConnection = Connection<String, Post, EmptyFields, EmptyFields>;

/// The order of a list of posts.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum PostOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// Narrows a list of posts; fields combine with AND.
#[derive(InputObject, Default)]
#[graphql(name = "PostFilter")]
pub(crate) struct PostFilterInput {
    /// Posts by this user.
    pub author_id: Option<ID>,
    /// Posts in this community (members only if it is private).
    pub community_id: Option<ID>,
    /// Created strictly after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Case-insensitive text the body contains (up to 100 characters).
    pub body_contains: Option<String>,
}

impl PostFilterInput {
    pub(crate) fn into_filter(self) -> Result<PostFilter, AppError> {
        Ok(PostFilter {
            author_id: self
                .author_id
                .map(|id| expect_global_id(&id, NodeType::User, "filter.authorId"))
                .transpose()?,
            community_id: self
                .community_id
                .map(|id| expect_global_id(&id, NodeType::Community, "filter.communityId"))
                .transpose()?,
            created_after: self.created_after,
            created_before: self.created_before,
            body_pattern: self
                .body_contains
                .map(|text| validate::like_pattern("filter.bodyContains", &text))
                .transpose()?,
            oldest_first: false,
        })
    }
}

/// One page of posts the viewer may read, newest first.
pub(crate) async fn list_posts(
    ctx: &Context<'_>,
    filter: PostFilter,
    page: PageArgs,
) -> async_graphql::Result<PostConnection> {
    let request = PageRequest::new(page)?;
    let page = service::list(context::db(ctx)?, viewer_id(ctx)?, filter, &request).await?;
    Ok(page.into_connection(EmptyFields, post_cursor, Post))
}

pub(crate) fn post_cursor(post: &post::Model) -> KeysetCursor {
    KeysetCursor {
        created_at: post.created_at,
        id: post.id,
    }
}

#[derive(InputObject)]
pub(crate) struct CreatePostInput {
    /// 1 to 10,000 characters.
    body: String,
    /// Post in this community (you must be a member); omit to post on your
    /// profile.
    community_id: Option<ID>,
    /// Files you uploaded with `uploadFile` and have not attached
    /// elsewhere, in display order (at most 10).
    attachment_ids: Option<Vec<ID>>,
    /// A key you choose for this write (up to 255 characters, a UUID is
    /// good): sent again within 24 hours, the first result comes back and
    /// nothing is written twice. The same key with other input is
    /// `CONFLICT`.
    idempotency_key: Option<String>,
}

#[derive(Default)]
pub(crate) struct PostsQuery;

#[Object]
impl PostsQuery {
    /// A post by global id; null if it does not exist or is not visible to
    /// the viewer.
    async fn post(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Post>> {
        let id = expect_global_id(&id, NodeType::Post, "id")?;
        let post = service::find_readable(context::db(ctx)?, viewer_id(ctx)?, id).await?;
        Ok(post.map(Post))
    }

    /// Posts the viewer may read, optionally filtered; newest first unless
    /// `order: OLDEST_FIRST`.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        filter: Option<PostFilterInput>,
        order: Option<PostOrder>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<PostConnection> {
        let mut filter = filter.unwrap_or_default().into_filter()?;
        filter.oldest_first = order.unwrap_or_default() == PostOrder::OldestFirst;
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

    /// The viewer's home timeline, newest first: their own posts, posts by
    /// people they follow and posts in communities they belong to.
    #[graphql(
        guard = "SignedIn",
        complexity = "page_complexity(first, last, child_complexity)"
    )]
    async fn feed(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<PostConnection> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let page = service::feed(context::db(ctx)?, &signed_in(ctx)?, &request).await?;
        Ok(page.into_connection(EmptyFields, post_cursor, Post))
    }
}

#[derive(Default)]
pub(crate) struct PostsMutation;

#[Object]
impl PostsMutation {
    /// Writes a post on your profile or in a community you belong to.
    #[graphql(guard = "SignedIn")]
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        input: CreatePostInput,
    ) -> async_graphql::Result<Post> {
        let community_id = input
            .community_id
            .map(|id| expect_global_id(&id, NodeType::Community, "input.communityId"))
            .transpose()?;
        let attachment_ids = input
            .attachment_ids
            .unwrap_or_default()
            .iter()
            .map(|id| expect_global_id(id, NodeType::File, "input.attachmentIds"))
            .collect::<Result<Vec<_>, _>>()?;
        let new = NewPost {
            body: input.body,
            community_id,
            attachment_ids,
            idempotency_key: input.idempotency_key,
        };
        let viewer = signed_in(ctx)?;
        hooks::before(
            ctx,
            Change::Post {
                actor: viewer.user_id,
                community: new.community_id,
                body: &new.body,
            },
        )
        .await?;
        let post = service::create(context::db(ctx)?, &viewer, new).await?;
        Ok(Post(post))
    }

    /// Replaces the body of your own post.
    #[graphql(guard = "SignedIn")]
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        id: ID,
        body: String,
    ) -> async_graphql::Result<Post> {
        let id = expect_global_id(&id, NodeType::Post, "id")?;
        Ok(Post(
            service::update(context::db(ctx)?, &signed_in(ctx)?, id, &body).await?,
        ))
    }

    /// Deletes a post: yours, or one in a community you moderate. Returns
    /// the deleted post's id. Its attached files are deleted too.
    #[graphql(guard = "SignedIn")]
    async fn delete_post(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let id = expect_global_id(&id, NodeType::Post, "id")?;
        let (deleted, keys) = service::delete(context::db(ctx)?, &signed_in(ctx)?, id).await?;
        files(ctx)?.discard(keys).await;
        Ok(to_global_id(NodeType::Post, deleted))
    }

    /// Sets your reaction to a post, replacing an earlier one.
    #[graphql(guard = "SignedIn")]
    async fn react(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
        kind: ReactionKind,
        #[graphql(
            desc = "A key you choose for this write (up to 255 characters, a UUID is good): sent again within 24 hours, the first result comes back and nothing is written twice. The same key with other input is `CONFLICT`."
        )]
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<Post> {
        let id = expect_global_id(&post_id, NodeType::Post, "postId")?;
        let (db, viewer) = (context::db(ctx)?, signed_in(ctx)?);
        let post = service::react(db, &viewer, id, kind.into(), idempotency_key).await?;
        Ok(Post(post))
    }

    /// Removes your reaction from a post (`NOT_FOUND` if you had none).
    #[graphql(guard = "SignedIn")]
    async fn unreact(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
        #[graphql(
            desc = "A key you choose for this write (up to 255 characters, a UUID is good): sent again within 24 hours, the first result comes back and nothing is written twice. The same key with other input is `CONFLICT`."
        )]
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<Post> {
        let id = expect_global_id(&post_id, NodeType::Post, "postId")?;
        let post =
            service::unreact(context::db(ctx)?, &signed_in(ctx)?, id, idempotency_key).await?;
        Ok(Post(post))
    }
}
