//! GraphQL for threaded comments.

use async_graphql::{
    Context, ID, InputObject, Object,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::comment;

use super::{
    loaders::{CommentKey, FirstCommentsKey},
    service::{self, NewComment, Thread},
};
use crate::{
    auth::{SignedIn, viewer::signed_in, viewer_id},
    error::AppError,
    graphql::{
        context,
        id::{NodeType, expect_global_id, to_global_id},
        loader::load_one,
        relay::{IntoConnection, page_complexity},
    },
    hooks::{self, Change},
    paging::{KeysetCursor, Page, PageArgs, PageRequest},
    posts::graphql::Post,
    posts::loaders::PostKey,
    safety::loaders::Relation,
    users::graphql::{User, load_user, viewer_relation},
    users::loaders::UserKey,
};

#[derive(Clone)]
pub(crate) struct Comment(pub comment::Model);

#[Object]
impl Comment {
    pub async fn id(&self) -> ID {
        to_global_id(NodeType::Comment, self.0.id)
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        load_user(ctx, self.0.author_id).await
    }

    async fn post(&self, ctx: &Context<'_>) -> async_graphql::Result<Post> {
        load_one(ctx, PostKey(self.0.post_id))
            .await?
            .map(Post)
            .ok_or_else(|| AppError::NotFound("post").into())
    }

    /// The comment this one replies to; null for a top-level comment,
    /// while the parent's author is banned (their comments are hidden),
    /// and when a block stands between the parent's author and the viewer.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Comment>> {
        let Some(parent_id) = self.0.parent_id else {
            return Ok(None);
        };
        let Some(parent) = load_one(ctx, CommentKey(parent_id)).await? else {
            return Ok(None);
        };
        let author = load_one(ctx, UserKey(parent.author_id)).await?;
        if author.is_none_or(|a| a.disabled_at.is_some())
            || viewer_relation(ctx, Relation::Hidden, parent.author_id).await?
        {
            return Ok(None);
        }
        Ok(Some(Comment(parent)))
    }

    /// Direct replies, oldest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn replies(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<CommentConnection> {
        comment_thread(
            ctx,
            Thread::Replies(self.0.id),
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

pub(crate) type CommentConnection = Connection<String, Comment, EmptyFields, EmptyFields>;

/// A page of a thread whose parent (post or comment) the caller could
/// already see. The first page goes through the loader, so the first
/// comments of 50 posts cost one statement; later pages query directly.
pub(crate) async fn comment_thread(
    ctx: &Context<'_>,
    thread: Thread,
    page: PageArgs,
) -> async_graphql::Result<CommentConnection> {
    let request = PageRequest::new(page)?;
    let page = match request.first_page_limit() {
        Some(limit) => {
            let viewer = viewer_id(ctx)?;
            let key = FirstCommentsKey {
                viewer,
                thread,
                limit,
            };
            let rows = load_one(ctx, key).await?.unwrap_or_default();
            request.finish(rows)
        }
        None => service::list(context::db(ctx)?, viewer_id(ctx)?, thread, &request).await?,
    };
    Ok(connection(page))
}

fn connection(page: Page<comment::Model>) -> CommentConnection {
    page.into_connection(
        EmptyFields,
        |c| KeysetCursor {
            created_at: c.created_at,
            id: c.id,
        },
        Comment,
    )
}

#[derive(InputObject)]
pub(crate) struct CreateCommentInput {
    post_id: ID,
    /// The comment this replies to, on the same post.
    parent_id: Option<ID>,
    /// 1 to 5,000 characters.
    body: String,
    /// A key you choose for this write (up to 255 characters, a UUID is
    /// good): sent again within 24 hours, the first comment comes back and
    /// nothing is written twice. The same key with other input is
    /// `CONFLICT`.
    idempotency_key: Option<String>,
}

#[derive(Default)]
pub(crate) struct CommentsMutation;

#[Object]
impl CommentsMutation {
    /// Comments on a post you can read, or replies to a comment on it.
    #[graphql(guard = "SignedIn")]
    async fn create_comment(
        &self,
        ctx: &Context<'_>,
        input: CreateCommentInput,
    ) -> async_graphql::Result<Comment> {
        let new = NewComment {
            post_id: expect_global_id(&input.post_id, NodeType::Post, "input.postId")?,
            parent_id: input
                .parent_id
                .map(|id| expect_global_id(&id, NodeType::Comment, "input.parentId"))
                .transpose()?,
            body: input.body,
            idempotency_key: input.idempotency_key,
        };
        let viewer = signed_in(ctx)?;
        hooks::before(
            ctx,
            Change::Comment {
                actor: viewer.user_id,
                post: new.post_id,
                parent: new.parent_id,
                body: &new.body,
            },
        )
        .await?;
        let comment = service::create(context::db(ctx)?, &viewer, new).await?;
        Ok(Comment(comment))
    }

    /// Deletes a comment (yours, or in a community you moderate) and its
    /// replies. Returns the deleted comment's id.
    #[graphql(guard = "SignedIn")]
    async fn delete_comment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let id = expect_global_id(&id, NodeType::Comment, "id")?;
        let deleted = service::delete(context::db(ctx)?, &signed_in(ctx)?, id).await?;
        Ok(to_global_id(NodeType::Comment, deleted))
    }
}
