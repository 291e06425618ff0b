//! GraphQL for notifications: the inbox, its unread count, marking read,
//! and preferences. The subscription is in `realtime`.

use async_graphql::{
    Context, Enum, ID, Object, SimpleObject,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::notification;

use super::service::{self, Preference};
use crate::{
    auth::{SignedIn, viewer::signed_in},
    comments::{graphql::Comment, loaders::CommentKey},
    graphql::{
        context,
        id::{NodeType, expect_global_id, to_global_id},
        loader::load_one,
        relay::{IntoConnection, page_complexity},
    },
    messages::{graphql::Conversation, loaders::ConversationKey},
    paging::{KeysetCursor, PageArgs, PageRequest},
    posts::{graphql::Post, loaders::PostKey},
    reports::{graphql::Report, loaders::ReportKey},
    users::{graphql::User, loaders::UserKey},
};

/// What a notification is about.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::NotificationKind")]
pub enum NotificationKind {
    /// A comment on your post, or a reply to your comment (`comment`).
    Reply,
    /// `@you` in a post or comment (`post`, and `comment` for a comment).
    Mention,
    /// Reactions to your post, gathered while unread (`post`).
    Reaction,
    /// New followers, gathered while unread.
    Follow,
    /// New messages in a conversation, gathered while unread
    /// (`conversation`).
    Message,
    /// What came of a report you filed (`report`).
    Moderation,
}

/// One entry in your notifications.
#[derive(Clone)]
pub(crate) struct Notification(pub notification::Model);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        to_global_id(NodeType::Notification, self.0.id)
    }

    async fn kind(&self) -> NotificationKind {
        self.0.kind.into()
    }

    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }

    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last gathered someone; the inbox is newest first by this.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Who did it (the latest, when it gathers several); null for a
    /// moderation outcome and once the account is gone.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.actor_id else {
            return Ok(None);
        };
        Ok(load_one(ctx, UserKey(id)).await?.map(User))
    }

    /// How many people it stands for, `actor` included: "Ann and 4
    /// others" is 5.
    async fn actor_count(&self) -> i32 {
        self.0.actor_count
    }

    /// A sentence to show as it is: "Ann and 4 others reacted to your
    /// post."
    async fn summary(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let actor = match self.0.actor_id {
            Some(id) => load_one(ctx, UserKey(id)).await?.map(|u| u.display_name),
            None => None,
        };
        Ok(service::summary(
            &self.0,
            actor.as_deref().unwrap_or("Someone"),
        ))
    }

    async fn post(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Post>> {
        let Some(id) = self.0.post_id else {
            return Ok(None);
        };
        Ok(load_one(ctx, PostKey(id)).await?.map(Post))
    }

    async fn comment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Comment>> {
        let Some(id) = self.0.comment_id else {
            return Ok(None);
        };
        Ok(load_one(ctx, CommentKey(id)).await?.map(Comment))
    }

    async fn conversation(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Conversation>> {
        let Some(id) = self.0.conversation_id else {
            return Ok(None);
        };
        Ok(load_one(ctx, ConversationKey(id)).await?.map(Conversation))
    }

    /// Your report, with its outcome.
    async fn report(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Report>> {
        let Some(id) = self.0.report_id else {
            return Ok(None);
        };
        Ok(load_one(ctx, ReportKey(id))
            .await?
            .map(Report::for_reporter))
    }
}

pub(crate) type NotificationConnection = Connection<String, Notification, EmptyFields, EmptyFields>;

/// One kind's settings.
#[derive(SimpleObject)]
pub(crate) struct NotificationPreference {
    kind: NotificationKind,
    /// Whether it reaches your notifications.
    inbox: bool,
    /// Whether it is pushed to your devices.
    push: bool,
}

impl From<Preference> for NotificationPreference {
    fn from(p: Preference) -> Self {
        Self {
            kind: p.kind.into(),
            inbox: p.inbox,
            push: p.push,
        }
    }
}

#[derive(Default)]
pub(crate) struct NotificationsQuery;

#[Object]
impl NotificationsQuery {
    /// Your notifications, newest activity first (`unreadOnly: true` for
    /// the unread ones). Pass a `cursor` to `markAllNotificationsRead` to
    /// mark what you have seen.
    #[graphql(
        guard = "SignedIn",
        complexity = "page_complexity(first, last, child_complexity)"
    )]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        unread_only: Option<bool>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<NotificationConnection> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let viewer = signed_in(ctx)?.user_id;
        let db = context::db(ctx)?;
        let page = service::list(db, viewer, unread_only.unwrap_or(false), &request).await?;
        Ok(page.into_connection(
            EmptyFields,
            |n| KeysetCursor {
                created_at: n.updated_at,
                id: n.id,
            },
            Notification,
        ))
    }

    /// How many of your notifications are unread: the badge.
    #[graphql(guard = "SignedIn")]
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let viewer = signed_in(ctx)?.user_id;
        Ok(service::unread_count(context::db(ctx)?, viewer).await?)
    }

    /// Your settings for each kind of notification.
    #[graphql(guard = "SignedIn")]
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<NotificationPreference>> {
        let viewer = signed_in(ctx)?.user_id;
        let all = service::preferences(context::db(ctx)?, viewer).await?;
        Ok(all.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub(crate) struct NotificationsMutation;

#[Object]
impl NotificationsMutation {
    /// Marks one notification read.
    #[graphql(guard = "SignedIn")]
    async fn mark_notification_read(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Notification> {
        let id = expect_global_id(&id, NodeType::Notification, "id")?;
        let viewer = signed_in(ctx)?.user_id;
        Ok(Notification(
            service::mark_read(context::db(ctx)?, viewer, id).await?,
        ))
    }

    /// Marks your unread notifications read: all of them, or with `upTo`
    /// (a `cursor` from `notifications`) that one and those older. Returns
    /// how many it marked.
    #[graphql(guard = "SignedIn")]
    async fn mark_all_notifications_read(
        &self,
        ctx: &Context<'_>,
        up_to: Option<String>,
    ) -> async_graphql::Result<u64> {
        let up_to = up_to
            .map(|c| KeysetCursor::decode(&c, "upTo"))
            .transpose()?;
        let viewer = signed_in(ctx)?.user_id;
        Ok(service::mark_all_read(context::db(ctx)?, viewer, up_to).await?)
    }

    /// Turns one kind of notification on or off, for the inbox, for push,
    /// or both; an omitted setting stays as it is.
    #[graphql(guard = "SignedIn")]
    async fn set_notification_preference(
        &self,
        ctx: &Context<'_>,
        kind: NotificationKind,
        inbox: Option<bool>,
        push: Option<bool>,
    ) -> async_graphql::Result<NotificationPreference> {
        let viewer = signed_in(ctx)?.user_id;
        let db = context::db(ctx)?;
        Ok(
            service::set_preference(db, viewer, kind.into(), inbox, push)
                .await?
                .into(),
        )
    }
}
