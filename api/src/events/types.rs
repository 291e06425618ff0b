//! What happened: [`Event`] (by id, with its stable kind name) and
//! [`Logged`] (an event as read back, with its place in the log).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::cursor::Cursor;

/// Something that happened, by id. Stored as JSON in `events.data` with
/// its kind (`post.created`, ...) as `kind`; the names are stable, since
/// webhooks and older cursors carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Event {
    #[serde(rename = "post.created")]
    PostCreated {
        post: Uuid,
        community: Option<Uuid>,
        author: Uuid,
    },
    #[serde(rename = "post.deleted")]
    PostDeleted { post: Uuid, community: Option<Uuid> },
    /// An admin or the community's moderator took a post out of every
    /// read (`removed`), or put it back.
    #[serde(rename = "post.moderated")]
    PostModerated {
        post: Uuid,
        community: Option<Uuid>,
        removed: bool,
    },
    #[serde(rename = "comment.created")]
    CommentCreated {
        comment: Uuid,
        post: Uuid,
        author: Uuid,
    },
    /// An admin or the community's moderator took a comment out of every
    /// read (`removed`), or put it back.
    #[serde(rename = "comment.moderated")]
    CommentModerated {
        comment: Uuid,
        post: Uuid,
        removed: bool,
    },
    /// `recipients` are the conversation's participants (at most 51),
    /// the sender included (their other devices show it too).
    #[serde(rename = "message.sent")]
    MessageSent {
        message: Uuid,
        conversation: Uuid,
        sender: Uuid,
        recipients: Vec<Uuid>,
    },
    /// `reaction` is the new one, or `None` when it was taken back.
    #[serde(rename = "reaction.changed")]
    ReactionChanged {
        post: Uuid,
        user: Uuid,
        reaction: Option<String>,
    },
    /// `role` is the new one, or `None` when the member left or was removed.
    #[serde(rename = "membership.changed")]
    MembershipChanged {
        community: Uuid,
        user: Uuid,
        role: Option<String>,
    },
    /// Sessions that ended (signed out, revoked, a password change, a ban):
    /// their access tokens stop working on every API process.
    #[serde(rename = "session.revoked")]
    SessionRevoked { user: Uuid, sessions: Vec<Uuid> },
    #[serde(rename = "account.banned")]
    AccountBanned { user: Uuid },
    /// `follower` started following `followee`.
    #[serde(rename = "user.followed")]
    UserFollowed { follower: Uuid, followee: Uuid },
    /// A notification for `user` was added to their inbox, or an unread
    /// one gathered another actor ("Ann and 2 others").
    #[serde(rename = "notification.created")]
    NotificationCreated { notification: Uuid, user: Uuid },
    /// Someone reported a post, comment, message, user or community;
    /// `community` is where its moderators see it.
    #[serde(rename = "report.created")]
    ReportCreated {
        report: Uuid,
        reporter: Uuid,
        community: Option<Uuid>,
    },
    /// A moderator dealt with a report; `action` is what they did.
    #[serde(rename = "report.resolved")]
    ReportResolved {
        report: Uuid,
        reporter: Uuid,
        community: Option<Uuid>,
        action: String,
    },
    #[serde(rename = "account.deleted")]
    AccountDeleted { user: Uuid },
    /// An application's own event ([`publish`]): a kind that is not one of
    /// Hearth's, with its data as given. Subscriptions and the `events`
    /// query never show these; after-commit hooks and webhooks see them.
    #[serde(skip)]
    App {
        kind: String,
        data: serde_json::Value,
    },
}

/// The kinds, by their stored names.
pub(crate) mod kind {
    pub(crate) const POST_CREATED: &str = "post.created";
    pub(crate) const POST_DELETED: &str = "post.deleted";
    pub(crate) const POST_MODERATED: &str = "post.moderated";
    pub(crate) const COMMENT_CREATED: &str = "comment.created";
    pub(crate) const COMMENT_MODERATED: &str = "comment.moderated";
    pub(crate) const MESSAGE_SENT: &str = "message.sent";
    pub(crate) const REACTION_CHANGED: &str = "reaction.changed";
    pub(crate) const MEMBERSHIP_CHANGED: &str = "membership.changed";
    pub(crate) const SESSION_REVOKED: &str = "session.revoked";
    pub(crate) const ACCOUNT_BANNED: &str = "account.banned";
    pub(crate) const ACCOUNT_DELETED: &str = "account.deleted";
    pub(crate) const REPORT_CREATED: &str = "report.created";
    pub(crate) const REPORT_RESOLVED: &str = "report.resolved";
    pub(crate) const USER_FOLLOWED: &str = "user.followed";
    pub(crate) const NOTIFICATION_CREATED: &str = "notification.created";

    /// Every kind, for webhook registrations to check against.
    pub(crate) const ALL: [&str; 15] = [
        POST_CREATED,
        POST_DELETED,
        POST_MODERATED,
        COMMENT_CREATED,
        COMMENT_MODERATED,
        MESSAGE_SENT,
        REACTION_CHANGED,
        MEMBERSHIP_CHANGED,
        SESSION_REVOKED,
        ACCOUNT_BANNED,
        ACCOUNT_DELETED,
        REPORT_CREATED,
        REPORT_RESOLVED,
        USER_FOLLOWED,
        NOTIFICATION_CREATED,
    ];
}

/// The ids a reader filters on, each in a column of its own.
#[derive(Default)]
pub(super) struct Routing {
    pub(super) community: Option<Uuid>,
    pub(super) post: Option<Uuid>,
    pub(super) conversation: Option<Uuid>,
    pub(super) user: Option<Uuid>,
}

impl Event {
    pub fn kind(&self) -> &str {
        match self {
            Self::App { kind, .. } => kind,
            Self::PostCreated { .. } => kind::POST_CREATED,
            Self::PostDeleted { .. } => kind::POST_DELETED,
            Self::PostModerated { .. } => kind::POST_MODERATED,
            Self::CommentCreated { .. } => kind::COMMENT_CREATED,
            Self::CommentModerated { .. } => kind::COMMENT_MODERATED,
            Self::MessageSent { .. } => kind::MESSAGE_SENT,
            Self::ReactionChanged { .. } => kind::REACTION_CHANGED,
            Self::MembershipChanged { .. } => kind::MEMBERSHIP_CHANGED,
            Self::SessionRevoked { .. } => kind::SESSION_REVOKED,
            Self::AccountBanned { .. } => kind::ACCOUNT_BANNED,
            Self::AccountDeleted { .. } => kind::ACCOUNT_DELETED,
            Self::ReportCreated { .. } => kind::REPORT_CREATED,
            Self::UserFollowed { .. } => kind::USER_FOLLOWED,
            Self::NotificationCreated { .. } => kind::NOTIFICATION_CREATED,
            Self::ReportResolved { .. } => kind::REPORT_RESOLVED,
        }
    }

    /// Back from a row: Hearth's kinds by their fields, any other as an
    /// application's event.
    pub(crate) fn decode(kind: String, data: serde_json::Value) -> serde_json::Result<Self> {
        if kind::ALL.contains(&kind.as_str()) {
            serde_json::from_value(data)
        } else {
            Ok(Self::App { kind, data })
        }
    }

    pub(super) fn routing(&self) -> Routing {
        match *self {
            Self::App { .. } => Routing::default(),
            Self::PostCreated {
                post, community, ..
            }
            | Self::PostDeleted { post, community }
            | Self::PostModerated {
                post, community, ..
            } => Routing {
                community,
                post: Some(post),
                ..Routing::default()
            },
            Self::CommentCreated { post, .. }
            | Self::CommentModerated { post, .. }
            | Self::ReactionChanged { post, .. } => Routing {
                post: Some(post),
                ..Routing::default()
            },
            Self::MessageSent { conversation, .. } => Routing {
                conversation: Some(conversation),
                ..Routing::default()
            },
            Self::MembershipChanged {
                community, user, ..
            } => Routing {
                community: Some(community),
                user: Some(user),
                ..Routing::default()
            },
            Self::UserFollowed { followee: user, .. }
            | Self::NotificationCreated { user, .. }
            | Self::SessionRevoked { user, .. }
            | Self::AccountBanned { user }
            | Self::AccountDeleted { user } => Routing {
                user: Some(user),
                ..Routing::default()
            },
            Self::ReportCreated {
                reporter,
                community,
                ..
            }
            | Self::ReportResolved {
                reporter,
                community,
                ..
            } => Routing {
                community,
                user: Some(reporter),
                ..Routing::default()
            },
        }
    }
}

/// An event as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub cursor: Cursor,
    pub event: Event,
    /// The account whose request caused it, if any.
    pub actor: Option<Uuid>,
    pub at: DateTime<Utc>,
}
