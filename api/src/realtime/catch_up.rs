//! Catching up over plain HTTP: the `events` query returns what happened
//! since a cursor that the viewer may see, so an app woken in the
//! background syncs without opening a socket. Cursors are the same as the
//! subscriptions', so the two can hand over to each other.

use async_graphql::{Context, Enum, ID, Object, SimpleObject, connection::PageInfo};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    auth::viewer_id,
    comments::{graphql::Comment, service as comments},
    communities::service as communities,
    db::Db,
    error::{AppError, AppResult},
    events::{self, Cursor, Event, Logged, Scope, kind},
    graphql::{
        context,
        id::{NodeType, expect_global_id},
    },
    messages::{graphql::Message, service as messages},
    paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE},
    posts::{graphql::Post, service as posts},
};

/// Rows looked at per event returned, at most, before a page ends early
/// (with `hasNextPage`) because most of what it found was not visible.
const SCAN_FACTOR: u64 = 10;

/// What happened.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// `post` was created.
    PostCreated,
    /// `comment` was added to a post.
    CommentCreated,
    /// `message` was sent in one of your conversations.
    MessageSent,
    /// Someone reacted to `post`, or took a reaction back.
    ReactionChanged,
}

/// Something that happened, with the row it concerns as you may see it now.
#[derive(SimpleObject)]
#[graphql(name = "Event")]
pub(crate) struct LoggedEvent {
    kind: EventKind,
    occurred_at: DateTime<Utc>,
    /// For `POST_CREATED` and `REACTION_CHANGED`.
    post: Option<Post>,
    comment: Option<Comment>,
    message: Option<Message>,
}

#[derive(SimpleObject)]
pub(crate) struct EventEdge {
    /// Pass as `after` (to `events` or a subscription) to continue from here.
    cursor: String,
    node: LoggedEvent,
}

/// A page of events. `pageInfo.endCursor` is where the next page starts:
/// it moves past events you may not see too, so hold on to it even when
/// `edges` is empty.
#[derive(SimpleObject)]
pub(crate) struct EventConnection {
    edges: Vec<EventEdge>,
    page_info: PageInfo,
}

#[derive(Default)]
pub(crate) struct CatchUpQuery;

#[Object]
impl CatchUpQuery {
    /// What happened after `after` (a cursor from `events` or a
    /// subscription; omitted, the oldest events kept), oldest first, that
    /// you may see now. With `postId`: comments and reactions on that post;
    /// with `communityId`: new posts there; with neither (signed in): new
    /// messages in your conversations, new posts in your communities, and
    /// comments and reactions on your posts. A cursor older than the log
    /// keeps is refused with `RESYNC_REQUIRED`: refetch, then continue from
    /// the new `endCursor`.
    async fn events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
        post_id: Option<ID>,
        community_id: Option<ID>,
    ) -> async_graphql::Result<EventConnection> {
        let db = context::db(ctx)?;
        let viewer = viewer_id(ctx)?;
        let scope = match (post_id, community_id) {
            (Some(_), Some(_)) => {
                return Err(AppError::bad_input(
                    "communityId",
                    "give postId or communityId, not both",
                )
                .into());
            }
            (Some(id), None) => {
                let post = expect_global_id(&id, NodeType::Post, "postId")?;
                posts::find_readable(db, viewer, post)
                    .await?
                    .ok_or(AppError::NotFound("post"))?;
                Scope::Post(post, &[kind::COMMENT_CREATED, kind::REACTION_CHANGED])
            }
            (None, Some(id)) => {
                let community = expect_global_id(&id, NodeType::Community, "communityId")?;
                communities::require_readable(db, viewer, community).await?;
                Scope::Community(community, &[kind::POST_CREATED])
            }
            (None, None) => Scope::Viewer(viewer.ok_or(AppError::Unauthenticated(
                "sign in, or give postId or communityId",
            ))?),
        };
        let after = after
            .map(|text| Cursor::decode(&text, "after"))
            .transpose()?;
        if let Some(after) = after {
            events::check_resumable(db, after).await?;
        }
        let first = match first.map(u64::try_from) {
            None => DEFAULT_PAGE_SIZE,
            Some(Ok(n)) if n <= MAX_PAGE_SIZE => n,
            Some(_) => {
                return Err(AppError::bad_input(
                    "first",
                    format!("`first` must be between 0 and {MAX_PAGE_SIZE}"),
                )
                .into());
            }
        };
        Ok(page(db, viewer, scope, after.unwrap_or_default(), first).await?)
    }
}

/// Up to `first` visible events after `after`.
async fn page(
    db: &Db,
    viewer: Option<Uuid>,
    scope: Scope,
    after: Cursor,
    first: u64,
) -> AppResult<EventConnection> {
    let mut edges = Vec::new();
    // How far the page accounts for: every event up to here was returned
    // or is not visible.
    let mut through = after;
    let mut scanned = 0;
    let mut has_next_page = false;
    'pages: loop {
        let batch = events::read(db, through, scope, first.max(1) * 2).await?;
        for logged in batch.events {
            if edges.len() as u64 == first || scanned >= first.max(1) * SCAN_FACTOR {
                has_next_page = true;
                break 'pages;
            }
            scanned += 1;
            let cursor = logged.cursor;
            if let Some(node) = load(db, viewer, logged).await? {
                edges.push(EventEdge {
                    cursor: cursor.encode(),
                    node,
                });
            }
            through = cursor;
        }
        if let Some(last) = batch.last {
            through = through.max(last);
        }
        if !batch.full {
            break;
        }
    }
    let mut page_info = PageInfo {
        has_previous_page: false,
        has_next_page,
        start_cursor: edges.first().map(|e| e.cursor.clone()),
        end_cursor: None,
    };
    page_info.end_cursor = Some(through.encode());
    Ok(EventConnection { edges, page_info })
}

/// The event as `viewer` may see it now; `None` if they may not.
async fn load(db: &Db, viewer: Option<Uuid>, logged: Logged) -> AppResult<Option<LoggedEvent>> {
    let mut node = LoggedEvent {
        kind: EventKind::PostCreated,
        occurred_at: logged.at,
        post: None,
        comment: None,
        message: None,
    };
    match logged.event {
        Event::PostCreated { post, .. } => {
            node.post = posts::find_readable(db, viewer, post).await?.map(Post);
            Ok(node.post.is_some().then_some(node))
        }
        Event::ReactionChanged { post, user, .. } => {
            node.kind = EventKind::ReactionChanged;
            node.post = posts::find_reaction_change(db, viewer, post, user)
                .await?
                .map(Post);
            Ok(node.post.is_some().then_some(node))
        }
        Event::CommentCreated { comment, .. } => {
            node.kind = EventKind::CommentCreated;
            node.comment = comments::find_readable(db, viewer, comment)
                .await?
                .map(Comment);
            Ok(node.comment.is_some().then_some(node))
        }
        Event::MessageSent { message, .. } => {
            let Some(viewer) = viewer else {
                return Ok(None);
            };
            node.kind = EventKind::MessageSent;
            node.message = messages::find_message_for(db, viewer, message)
                .await?
                .map(Message);
            Ok(node.message.is_some().then_some(node))
        }
        _ => Ok(None),
    }
}
