//! The subscription root. Every event comes with its cursor; subscribing
//! again with `after:` set to the last one received replays what happened
//! in between (that the viewer may see now), then continues live, so a
//! client that lost its connection misses nothing.
//!
//! Every subscription checks the viewer may see its target when it starts,
//! and loads each event's row through the same read rules as a query, so
//! access lost mid-subscription (removed from a private community, left a
//! conversation) stops the events at once. Each listens before it checks,
//! so an event committed while the check runs is not missed.

use std::{future::ready, sync::Arc};

use async_graphql::{Context, ID, SimpleObject, Subscription, dataloader::Loader};
use futures_util::{Stream, StreamExt};

use super::{
    Broker,
    broker::{Delivery, Topic},
    feed::{self},
    in_order::{InOrder, Load},
    readers::{CommentFor, PostFor},
};
use crate::{
    auth::{viewer::signed_in, viewer_id},
    comments::graphql::Comment,
    communities::service as communities,
    db::Db,
    error::{AppError, AppResult},
    events::{self, Cursor, Event, Scope, kind},
    graphql::{
        context,
        id::{NodeType, expect_global_id},
        loader::{self, DbLoader, SharedLoader},
    },
    messages::{graphql::Message, service as messages},
    notifications::{graphql::Notification, service as notifications},
    posts::{graphql::Post, service as posts},
};

/// A new comment or reply, with its place in the event log.
#[derive(SimpleObject)]
pub(crate) struct CommentAddedEvent {
    /// Pass as `after` when subscribing again to get what happened since.
    cursor: String,
    comment: Comment,
}

/// A new post, with its place in the event log.
#[derive(SimpleObject)]
pub(crate) struct PostAddedEvent {
    /// Pass as `after` when subscribing again to get what happened since.
    cursor: String,
    post: Post,
}

/// A new message, with its place in the event log.
#[derive(SimpleObject)]
pub(crate) struct MessageReceivedEvent {
    /// Pass as `after` when subscribing again to get what happened since.
    cursor: String,
    message: Message,
}

/// A notification, new or gathering another actor, with its place in
/// the event log.
#[derive(SimpleObject)]
pub(crate) struct NotificationReceivedEvent {
    /// Pass as `after` when subscribing again to get what happened since.
    cursor: String,
    notification: Notification,
}

/// A post whose reactions changed, with its place in the event log.
#[derive(SimpleObject)]
pub(crate) struct ReactionChangedEvent {
    /// Pass as `after` when subscribing again to get what happened since.
    cursor: String,
    post: Post,
}

/// Each subscription's start (its checks, `deliver`'s set-up) is boxed:
/// async-graphql keeps the resolver's future inline beside the stream for
/// as long as the subscription lives, so whatever room the start needs
/// would be carried by every idle subscription.
#[derive(Default)]
pub struct Subscription;

#[Subscription(name = "RealtimeSubscription")]
impl Subscription {
    /// New comments and replies on a post you can read. With `after` (a
    /// `cursor` this subscription delivered), first those since then.
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<CommentAddedEvent>>> {
        let post = expect_global_id(&post_id, NodeType::Post, "postId")?;
        let viewer = viewer_id(ctx)?;
        let db = context::db(ctx)?.clone();
        let scope = Scope::Post(post, &[kind::COMMENT_CREATED]);
        let events = Box::pin(deliver(
            ctx,
            &db,
            Topic::Post(post),
            scope,
            viewer,
            after,
            BATCHED,
            move |reads, delivery| match delivery.logged.event {
                Event::CommentCreated {
                    post: p, comment, ..
                } if p == post => {
                    let key = CommentFor { comment, viewer };
                    reads
                        .row(delivery.checked.comment(viewer), key)
                        .map(|row| row.map(|row| row.map(Comment)))
                }
                _ => Load::Now(Ok(None)),
            },
        ))
        .await?;
        Box::pin(posts::find_readable(&db, viewer, post))
            .await?
            .ok_or(AppError::NotFound("post"))?;
        Ok(events.map(|e| e.map(|(cursor, comment)| CommentAddedEvent { cursor, comment })))
    }

    /// New posts in a community you can read. With `after` (a `cursor`
    /// this subscription delivered), first those since then.
    async fn post_added(
        &self,
        ctx: &Context<'_>,
        community_id: ID,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<PostAddedEvent>>> {
        let community = expect_global_id(&community_id, NodeType::Community, "communityId")?;
        let viewer = viewer_id(ctx)?;
        let db = context::db(ctx)?.clone();
        let scope = Scope::Community(community, &[kind::POST_CREATED]);
        let topic = Topic::Community(community);
        let events = Box::pin(deliver(
            ctx,
            &db,
            topic,
            scope,
            viewer,
            after,
            BATCHED,
            move |reads, delivery| match delivery.logged.event {
                Event::PostCreated {
                    community: Some(c),
                    post,
                    ..
                } if c == community => {
                    let key = PostFor {
                        post,
                        viewer,
                        actor: None,
                    };
                    reads
                        .row(delivery.checked.post(viewer), key)
                        .map(|row| row.map(|row| row.map(Post)))
                }
                _ => Load::Now(Ok(None)),
            },
        ))
        .await?;
        Box::pin(communities::require_readable(&db, viewer, community)).await?;
        Ok(events.map(|e| e.map(|(cursor, post)| PostAddedEvent { cursor, post })))
    }

    /// New messages in any of your conversations, yours included (so your
    /// other devices see them too). Needs a signed-in connection. With
    /// `after` (a `cursor` this subscription delivered), first those since
    /// then.
    async fn message_received(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<MessageReceivedEvent>>>
    {
        let viewer = signed_in(ctx)?.user_id;
        let db = context::db(ctx)?.clone();
        let scope = Scope::Conversations(viewer);
        let events = Box::pin(deliver(
            ctx,
            &db,
            Topic::User(viewer),
            scope,
            Some(viewer),
            after,
            1,
            move |reads, delivery| match delivery.logged.event {
                Event::MessageSent { message, .. } => {
                    let db = reads.db.clone();
                    Load::later(async move {
                        Ok(messages::find_message_for(&db, viewer, message)
                            .await?
                            .map(Message))
                    })
                }
                _ => Load::Now(Ok(None)),
            },
        ))
        .await?;
        Ok(events.map(|e| e.map(|(cursor, message)| MessageReceivedEvent { cursor, message })))
    }

    /// A post you can read, each time someone reacts to it or takes a
    /// reaction back (not someone on either side of a block with you); select `reactionCounts` to keep a counter live. With
    /// `after` (a `cursor` this subscription delivered), first the changes
    /// since then.
    async fn reaction_changed(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ReactionChangedEvent>>>
    {
        let post = expect_global_id(&post_id, NodeType::Post, "postId")?;
        let viewer = viewer_id(ctx)?;
        let db = context::db(ctx)?.clone();
        let scope = Scope::Post(post, &[kind::REACTION_CHANGED]);
        let events = Box::pin(deliver(
            ctx,
            &db,
            Topic::Post(post),
            scope,
            viewer,
            after,
            BATCHED,
            move |reads, delivery| match delivery.logged.event {
                Event::ReactionChanged { post: p, user, .. } if p == post => {
                    let key = PostFor {
                        post,
                        viewer,
                        actor: Some(user),
                    };
                    reads
                        .row(delivery.checked.post(viewer), key)
                        .map(|row| row.map(|row| row.map(Post)))
                }
                _ => Load::Now(Ok(None)),
            },
        ))
        .await?;
        Box::pin(posts::find_readable(&db, viewer, post))
            .await?
            .ok_or(AppError::NotFound("post"))?;
        Ok(events.map(|e| e.map(|(cursor, post)| ReactionChangedEvent { cursor, post })))
    }

    /// Your notifications as they arrive, and each time an unread one
    /// gathers another actor (the same `id`, a higher `actorCount`). Needs
    /// a signed-in connection. With `after` (a `cursor` this subscription
    /// delivered), first those since then.
    async fn notification_received(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<NotificationReceivedEvent>>>
    {
        let viewer = signed_in(ctx)?.user_id;
        let db = context::db(ctx)?.clone();
        let scope = Scope::User(viewer, &[kind::NOTIFICATION_CREATED]);
        let events = Box::pin(deliver(
            ctx,
            &db,
            Topic::User(viewer),
            scope,
            Some(viewer),
            after,
            1,
            move |reads, delivery| match delivery.logged.event {
                Event::NotificationCreated { notification, user } if user == viewer => {
                    let db = reads.db.clone();
                    Load::later(async move {
                        Ok(notifications::find_for(&db, viewer, notification)
                            .await?
                            .map(Notification))
                    })
                }
                _ => Load::Now(Ok(None)),
            },
        ))
        .await?;
        Ok(events.map(|e| {
            e.map(|(cursor, notification)| NotificationReceivedEvent {
                cursor,
                notification,
            })
        }))
    }
}

/// What a subscription loads an event's row with: the database, and the
/// shared loader, through which the subscribers of one event load its row
/// together (see `readers`).
#[derive(Clone)]
struct Reads {
    db: Db,
    loader: SharedLoader,
}

impl Reads {
    /// `key`'s row as its viewer may read it: the broker's answer
    /// (`checked`) when it checked that viewer, else through the shared
    /// loader.
    fn row<K>(
        &self,
        checked: Option<Option<<DbLoader as Loader<K>>::Value>>,
        key: K,
    ) -> Load<async_graphql::Result<Option<<DbLoader as Loader<K>>::Value>>>
    where
        K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
        DbLoader: Loader<K, Error = async_graphql::Error>,
    {
        match checked {
            Some(checked) => Load::Now(Ok(checked)),
            None => {
                let loader = self.loader.clone();
                Load::later(async move { loader.load_one(key).await })
            }
        }
    }
}

/// The events of `topic` after `after` (the client's cursor), then live
/// (checked by the broker for `viewer`), each turned into the
/// subscriber's value by `load`, which answers `None`
/// for events that are not for it or that it may not see; `ahead` of them
/// load at once, still sent in order (a live event the broker checked is
/// known at once and loads nothing). A cursor the log cannot resume from
/// is refused with `RESYNC_REQUIRED`.
async fn deliver<T, F>(
    ctx: &Context<'_>,
    db: &Db,
    topic: Topic,
    scope: Scope,
    viewer: Option<uuid::Uuid>,
    after: Option<String>,
    ahead: usize,
    load: F,
) -> AppResult<impl Stream<Item = async_graphql::Result<(String, T)>> + use<T, F>>
where
    T: Send + 'static,
    F: Fn(&Reads, Arc<Delivery>) -> Load<async_graphql::Result<Option<T>>> + Send + Sync + 'static,
{
    let broker = ctx
        .data::<Broker>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("broker missing from schema data")))?;
    let after = after
        .map(|text| Cursor::decode(&text, "after"))
        .transpose()?;
    let events = feed::follow(broker, db.clone(), topic, scope, viewer, after);
    if let Some(after) = after {
        events::check_resumable(db, after).await?;
    }
    let reads = Reads {
        db: db.clone(),
        loader: loader::shared(ctx)?,
    };
    let loads = events.map(move |logged| match logged {
        Ok(delivery) => {
            let cursor = delivery.cursor.clone();
            load(&reads, delivery).map(|value| value.map(|v| v.map(|v| (cursor, v))).transpose())
        }
        Err(err) => Load::Now(Some(Err(err.into()))),
    });
    Ok(InOrder::new(loads, ahead).filter_map(ready))
}

/// Events a subscription loads at once when it loads them through the
/// shared loader: a replay after a cursor then batches its rows instead of
/// waiting out the loader's window once per event. Loads that each take a
/// connection of their own go one at a time (`1`), so a replay cannot
/// drain the pool.
const BATCHED: usize = 32;
