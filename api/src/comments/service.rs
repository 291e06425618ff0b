//! Comments: readable where their post is readable (and their author is
//! not banned); written by anyone who can read the post; deleted by their
//! author, by the post's community's owner and moderators, or by an admin.

use entity::{comment, post};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set, sea_query::Query,
};
use uuid::Uuid;

use crate::{
    auth::AuthSession,
    db::now,
    error::{AppError, AppResult},
    graphql::pagination::{ListOrder, Page, PageRequest},
    posts::service as posts,
    users::service::{self as users, active_user},
    validate,
};

pub const MAX_BODY: usize = 5_000;

/// The comments `viewer` may read.
fn readable(viewer: Option<Uuid>) -> Condition {
    let readable_posts = Query::select()
        .column(post::Column::Id)
        .from(post::Entity)
        .cond_where(posts::readable(viewer))
        .to_owned();
    Condition::all()
        .add(comment::Column::PostId.in_subquery(readable_posts))
        .add(comment::Column::AuthorId.not_in_subquery(users::disabled_user_ids()))
}

pub async fn find_readable(
    db: &DatabaseConnection,
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

/// The comments visible to everyone who can see the thread's post: only a
/// banned author's are held back.
pub fn thread_condition(thread: Thread) -> Condition {
    let place = match thread {
        Thread::Post(post_id) => Condition::all()
            .add(comment::Column::PostId.eq(post_id))
            .add(comment::Column::ParentId.is_null()),
        Thread::Replies(parent_id) => Condition::all().add(comment::Column::ParentId.eq(parent_id)),
    };
    place.add(comment::Column::AuthorId.not_in_subquery(users::disabled_user_ids()))
}

/// One page of a thread, oldest first, after checking the viewer may read
/// the post it belongs to.
pub async fn list(
    db: &DatabaseConnection,
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
            comment::Entity::find().filter(thread_condition(thread)),
            comment::Column::CreatedAt,
            comment::Column::Id,
            ListOrder::OldestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

pub struct NewComment {
    pub post_id: Uuid,
    /// The comment this one replies to, on the same post.
    pub parent_id: Option<Uuid>,
    pub body: String,
}

pub async fn create(
    db: &DatabaseConnection,
    viewer: &AuthSession,
    input: NewComment,
) -> AppResult<comment::Model> {
    active_user(db, viewer).await?;
    let body = validate::required_text("input.body", &input.body, MAX_BODY)?;
    let post = posts::find_readable(db, Some(viewer.user_id), input.post_id)
        .await?
        .ok_or_else(|| AppError::bad_input("input.postId", "no such post"))?;
    if let Some(parent_id) = input.parent_id {
        let same_post = comment::Entity::find_by_id(parent_id)
            .select_only()
            .column(comment::Column::PostId)
            .into_tuple::<Uuid>()
            .one(db)
            .await?
            == Some(post.id);
        if !same_post {
            return Err(AppError::bad_input(
                "input.parentId",
                "no such comment on this post",
            ));
        }
    }
    let at = now();
    Ok(comment::ActiveModel {
        id: Set(Uuid::now_v7()),
        post_id: Set(post.id),
        author_id: Set(viewer.user_id),
        parent_id: Set(input.parent_id),
        body: Set(body),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(db)
    .await?)
}

/// Deletes a comment and, with it, its replies.
pub async fn delete(db: &DatabaseConnection, viewer: &AuthSession, id: Uuid) -> AppResult<Uuid> {
    let user = active_user(db, viewer).await?;
    let comment = find_readable(db, Some(user.id), id)
        .await?
        .ok_or(AppError::NotFound("comment"))?;
    if comment.author_id != user.id {
        let community_id = post::Entity::find_by_id(comment.post_id)
            .select_only()
            .column(post::Column::CommunityId)
            .into_tuple::<Option<Uuid>>()
            .one(db)
            .await?
            .flatten();
        if !posts::can_moderate(db, &user, community_id).await? {
            return Err(AppError::Forbidden);
        }
    }
    comment::Entity::delete_by_id(comment.id).exec(db).await?;
    Ok(comment.id)
}
