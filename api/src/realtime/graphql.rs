//! The subscription root. Every subscription checks the viewer may see its
//! target when it starts, and loads each event's row through the same read
//! rules as a query, so access lost mid-subscription (removed from a
//! private community, left a conversation) stops the events at once.
//!
//! Each listens before it checks, so an event committed while the check
//! runs is not missed.

use std::future::ready;

use async_graphql::{Context, ErrorExtensions, ID, Subscription};
use futures_util::{Stream, StreamExt, stream};

use super::{
    Broker, Event,
    broker::{Stopped, Topic},
};
use crate::{
    auth::{viewer::signed_in, viewer_id},
    comments::{graphql::Comment, service as comments},
    communities::service as communities,
    db::Db,
    error::{AppError, AppResult, code},
    graphql::{
        context,
        id::{NodeType, expect_global_id},
    },
    messages::{graphql::Message, service as messages},
    posts::{graphql::Post, service as posts},
};

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// New comments and replies on a post you can read.
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Comment>>> {
        let post = expect_global_id(&post_id, NodeType::Post, "postId")?;
        let viewer = viewer_id(ctx)?;
        let db = context::db(ctx)?.clone();
        let events = deliver(
            ctx,
            db.clone(),
            Topic::Post(post),
            move |db, event| async move {
                match event {
                    Event::CommentAdded { post: p, comment } if p == post => {
                        Ok(comments::find_readable(&db, viewer, comment)
                            .await?
                            .map(Comment))
                    }
                    _ => Ok(None),
                }
            },
        )?;
        posts::find_readable(&db, viewer, post)
            .await?
            .ok_or(AppError::NotFound("post"))?;
        Ok(events)
    }

    /// New posts in a community you can read.
    async fn post_added(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Post>>> {
        let community = expect_global_id(&community_id, NodeType::Community, "communityId")?;
        let viewer = viewer_id(ctx)?;
        let db = context::db(ctx)?.clone();
        let events = deliver(
            ctx,
            db.clone(),
            Topic::Community(community),
            move |db, event| async move {
                match event {
                    Event::PostAdded {
                        community: Some(c),
                        post,
                    } if c == community => {
                        Ok(posts::find_readable(&db, viewer, post).await?.map(Post))
                    }
                    _ => Ok(None),
                }
            },
        )?;
        communities::require_readable(&db, viewer, community).await?;
        Ok(events)
    }

    /// New messages in any of your conversations, yours included (so your
    /// other devices see them too). Needs a signed-in connection.
    async fn message_received(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Message>>> {
        let viewer = signed_in(ctx)?.user_id;
        let db = context::db(ctx)?.clone();
        Ok(deliver(
            ctx,
            db,
            Topic::User(viewer),
            move |db, event| async move {
                match event {
                    Event::MessageReceived { message, .. } => {
                        Ok(messages::find_message_for(&db, viewer, message)
                            .await?
                            .map(Message))
                    }
                    _ => Ok(None),
                }
            },
        )?)
    }

    /// A post you can read, each time someone reacts to it or takes a
    /// reaction back; select `reactionCounts` to keep a counter live.
    async fn reaction_changed(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Post>>> {
        let post = expect_global_id(&post_id, NodeType::Post, "postId")?;
        let viewer = viewer_id(ctx)?;
        let db = context::db(ctx)?.clone();
        let events = deliver(
            ctx,
            db.clone(),
            Topic::Post(post),
            move |db, event| async move {
                match event {
                    Event::ReactionChanged { post: p } if p == post => {
                        Ok(posts::find_readable(&db, viewer, post).await?.map(Post))
                    }
                    _ => Ok(None),
                }
            },
        )?;
        posts::find_readable(&db, viewer, post)
            .await?
            .ok_or(AppError::NotFound("post"))?;
        Ok(events)
    }
}

/// The events of `topic` this process receives, each turned into the
/// subscriber's value by `load` (which answers `None` for events that are
/// not for it or that it may not see). A subscriber that falls more than the buffer
/// behind gets one `SLOW_CONSUMER` error and its subscription ends: it
/// missed events, so it must refetch rather than trust what follows.
fn deliver<T, F, Fut>(
    ctx: &Context<'_>,
    db: Db,
    topic: Topic,
    load: F,
) -> AppResult<impl Stream<Item = async_graphql::Result<T>> + use<T, F, Fut>>
where
    T: Send + 'static,
    F: Fn(Db, Event) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = AppResult<Option<T>>> + Send + 'static,
{
    let broker = ctx
        .data::<Broker>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("broker missing from schema data")))?;
    let receiver = broker.subscribe(topic);
    let events = stream::unfold(Some(receiver), |receiver| async move {
        let mut receiver = receiver?;
        match receiver.recv().await {
            Ok(event) => Some((Ok(event), Some(receiver))),
            Err(Stopped::Lagged) => Some((Err(()), None)),
            Err(Stopped::Closed) => None,
        }
    });
    Ok(events
        .then(move |event| {
            let db = db.clone();
            let loaded = event.map(|event| load(db, event));
            async move {
                match loaded {
                    Ok(loading) => loading.await.map_err(Into::into).transpose(),
                    Err(()) => Some(Err(lagged())),
                }
            }
        })
        .filter_map(ready))
}

fn lagged() -> async_graphql::Error {
    metrics::counter!("realtime_subscriptions_lagged_total").increment(1);
    async_graphql::Error::new(
        "this subscription fell too far behind its events and was ended; refetch and subscribe again",
    )
    .extend_with(|_, ext| ext.set("code", code::SLOW_CONSUMER))
}
