//! From events to notifications: an after-commit hook, so every event is
//! seen at least once, in order, by one process at a time. Each cause is
//! checked against blocks, mutes, what the recipient may read and their
//! preferences before it becomes (or joins) a row; the row and its
//! `notification.created` event are written together, so a subscriber
//! resuming from a cursor misses none.

use std::{collections::BTreeSet, sync::Arc};

use chrono::{DateTime, Utc};
use entity::{
    enums::{NotificationKind, PushProvider},
    follow, message, notification, notification_preference as preference, reaction, user,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Set,
    sea_query::{Expr, ExprTrait, Func, SelectStatement},
};
use uuid::Uuid;

use crate::{
    comments::service as comments,
    db::Db,
    error::AppResult,
    events::{self, Event, Logged},
    hooks::AfterHook,
    messages::service as messages,
    posts::service as posts,
    push::{Push, outbox},
    safety::service as safety,
};

use super::service::{headline, summary};

/// The hook's name: its place in the log is kept under it.
pub(crate) const NAME: &str = "hearth-notifications";

/// Events whose causes are read at the same time.
const READ_AHEAD: usize = 8;

/// Most people one post or comment notifies by `@username`.
const MAX_MENTIONS: usize = 10;

/// Turns events into notifications, and queues their pushes.
pub(crate) struct Notifier {
    /// The push sender, when a provider is configured.
    pub push: Option<Arc<Push>>,
}

#[async_trait::async_trait]
impl AfterHook for Notifier {
    async fn after(&self, logged: &Logged, db: &Db) -> anyhow::Result<()> {
        self.notify(db, std::slice::from_ref(logged))
            .await
            .map_err(|e| anyhow::anyhow!("notifying of {}: {e:?}", logged.event.kind()))
    }

    /// A batch at a time: its notifications are written in one transaction,
    /// so a burst of comments costs one commit per batch, not per comment.
    async fn after_batch(&self, events: &[Logged], db: &Db) -> anyhow::Result<bool> {
        self.notify(db, events)
            .await
            .map_err(|e| anyhow::anyhow!("notifying of {} events: {e:?}", events.len()))?;
        Ok(true)
    }
}

impl Notifier {
    /// Reads who each event notifies and whether they want to hear of it,
    /// then writes every notification of the run in one transaction.
    async fn notify(&self, db: &Db, events: &[Logged]) -> AppResult<()> {
        // The reads are round trips that wait on the database, not the
        // CPU: a few events are read at once, in order.
        let reads: Vec<_> = events.iter().map(|logged| checked(db, logged)).collect();
        let notices: Vec<Notice> = stream::iter(reads)
            .buffered(READ_AHEAD)
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .flatten()
            .collect();
        if notices.is_empty() {
            return Ok(());
        }
        let providers = self
            .push
            .as_ref()
            .map(|p| p.providers())
            .unwrap_or_default();
        let queued = write(db, notices, providers).await?;
        if queued > 0
            && let Some(push) = &self.push
        {
            push.wake();
        }
        Ok(())
    }
}

/// The notices one event gives: its causes that pass the checks.
async fn checked(db: &Db, logged: &Logged) -> AppResult<Vec<Notice>> {
    let source = logged.cursor.encode();
    let mut notices = Vec::new();
    for cause in causes(db, &logged.event).await? {
        if wanted(db, &cause).await? {
            notices.push(Notice {
                cause,
                source: source.clone(),
                at: logged.at,
            });
        }
    }
    Ok(notices)
}

/// A cause that passed the checks, with the event it came from.
struct Notice {
    cause: Cause,
    /// The event's cursor: what a cause that does not gather is keyed by.
    source: String,
    at: DateTime<Utc>,
}

/// One person to notify about one thing.
#[derive(Debug, Clone)]
struct Cause {
    user: Uuid,
    kind: NotificationKind,
    actor: Option<Uuid>,
    post: Option<Uuid>,
    comment: Option<Uuid>,
    conversation: Option<Uuid>,
    message: Option<Uuid>,
    report: Option<Uuid>,
    community: Option<Uuid>,
    /// When the reaction, follow or message itself was made: a gathering
    /// notification opens then, so counting "since it opened" counts it.
    made_at: Option<DateTime<Utc>>,
}

impl Cause {
    fn new(user: Uuid, kind: NotificationKind, actor: Option<Uuid>) -> Self {
        Self {
            user,
            kind,
            actor,
            post: None,
            comment: None,
            conversation: None,
            message: None,
            report: None,
            community: None,
            made_at: None,
        }
    }

    /// What gathers it while unread; `None` for kinds that do not gather.
    fn group(&self) -> Option<String> {
        match self.kind {
            NotificationKind::Reaction => self.post.map(|p| format!("reaction:{p}")),
            NotificationKind::Follow => Some("follow".to_owned()),
            NotificationKind::Message => self.conversation.map(|c| format!("message:{c}")),
            _ => None,
        }
    }
}

/// Who an event notifies, and of what.
async fn causes(db: &Db, event: &Event) -> AppResult<Vec<Cause>> {
    use NotificationKind as K;
    let mut found = Vec::new();
    match *event {
        Event::CommentCreated {
            comment, author, ..
        } => {
            let Some((comment, Some(post))) = entity::comment::Entity::find_by_id(comment)
                .find_also_related(entity::post::Entity)
                .one(db)
                .await?
            else {
                return Ok(found);
            };
            let mut replied = vec![post.author_id];
            if let Some(parent) = comment.parent_id
                && let Some(parent) = entity::comment::Entity::find_by_id(parent).one(db).await?
            {
                replied.push(parent.author_id);
            }
            let mentioned = mentions(db, &comment.body).await?;
            let mut seen = BTreeSet::from([author]);
            for (user, kind) in replied
                .into_iter()
                .map(|u| (u, K::Reply))
                .chain(mentioned.into_iter().map(|u| (u, K::Mention)))
            {
                if seen.insert(user) {
                    let mut cause = Cause::new(user, kind, Some(author));
                    cause.post = Some(post.id);
                    cause.comment = Some(comment.id);
                    cause.community = post.community_id;
                    found.push(cause);
                }
            }
        }
        Event::PostCreated {
            post,
            community,
            author,
        } => {
            let Some(row) = entity::post::Entity::find_by_id(post).one(db).await? else {
                return Ok(found);
            };
            for user in mentions(db, &row.body).await? {
                if user != author {
                    let mut cause = Cause::new(user, K::Mention, Some(author));
                    cause.post = Some(post);
                    cause.community = community;
                    found.push(cause);
                }
            }
        }
        Event::ReactionChanged {
            post,
            user,
            reaction: Some(_),
        } => {
            let made = reaction::Entity::find()
                .filter(reaction::Column::PostId.eq(post))
                .filter(reaction::Column::UserId.eq(user))
                .one(db)
                .await?;
            let row = entity::post::Entity::find_by_id(post).one(db).await?;
            if let (Some(made), Some(row)) = (made, row)
                && row.author_id != user
            {
                let mut cause = Cause::new(row.author_id, K::Reaction, Some(user));
                cause.post = Some(post);
                cause.community = row.community_id;
                cause.made_at = Some(made.created_at);
                found.push(cause);
            }
        }
        Event::UserFollowed { follower, followee } => {
            let made = follow::Entity::find()
                .filter(follow::Column::FollowerId.eq(follower))
                .filter(follow::Column::FolloweeId.eq(followee))
                .one(db)
                .await?;
            if let Some(made) = made {
                let mut cause = Cause::new(followee, K::Follow, Some(follower));
                cause.made_at = Some(made.created_at);
                found.push(cause);
            }
        }
        Event::MessageSent {
            message,
            conversation,
            sender,
            ref recipients,
        } => {
            let Some(made) = message::Entity::find_by_id(message).one(db).await? else {
                return Ok(found);
            };
            for user in recipients.iter().copied().filter(|u| *u != sender) {
                let mut cause = Cause::new(user, K::Message, Some(sender));
                cause.conversation = Some(conversation);
                cause.message = Some(message);
                cause.made_at = Some(made.created_at);
                found.push(cause);
            }
        }
        Event::ReportResolved {
            report, reporter, ..
        } => {
            let mut cause = Cause::new(reporter, K::Moderation, None);
            cause.report = Some(report);
            found.push(cause);
        }
        _ => {}
    }
    Ok(found)
}

/// The accounts a text names as `@username` (existing ones, at most
/// [`MAX_MENTIONS`]).
async fn mentions(db: &Db, text: &str) -> AppResult<Vec<Uuid>> {
    let names = mentioned_names(text);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(Expr::expr(Func::lower(Expr::col(user::Column::Username))).is_in(names))
        .into_tuple()
        .all(db)
        .await?)
}

/// `@name` (3 to 32 letters, digits or underscores, not inside a word or
/// an email address), lower-cased, each once.
fn mentioned_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts = c == '@' && previous.is_none_or(|p| !p.is_alphanumeric() && p != '_');
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[at + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = rest[..len].to_ascii_lowercase();
        if (3..=32).contains(&name.len()) && !names.contains(&name) {
            names.push(name);
            if names.len() == MAX_MENTIONS {
                break;
            }
        }
    }
    names
}

/// Whether the recipient should hear of it: no block between them and the
/// actor, neither muted, what it is about readable to them, and the kind
/// switched on for their inbox. One query, each reason not to an `EXISTS`,
/// so a cause costs one round trip however many checks it needs.
async fn wanted(db: &Db, cause: &Cause) -> AppResult<bool> {
    let me = Some(cause.user);
    let mut against = vec![Expr::exists(exists_query(
        preference::Entity::find()
            .filter(preference::Column::UserId.eq(cause.user))
            .filter(preference::Column::Kind.eq(cause.kind))
            .filter(preference::Column::Inbox.eq(false)),
    ))];
    if let Some(actor) = cause.actor {
        against.push(Expr::exists(safety::blocks_between(cause.user, actor)));
        against.push(Expr::exists(safety::user_muted(cause.user, actor)));
    }
    if let Some(community) = cause.community {
        against.push(Expr::exists(safety::community_muted(cause.user, community)));
    }
    let readable = match (cause.comment, cause.post, cause.message) {
        (Some(comment), _, _) => Some(exists_query(
            entity::comment::Entity::find_by_id(comment).filter(comments::readable(me)),
        )),
        (None, Some(post), _) => Some(exists_query(
            entity::post::Entity::find_by_id(post).filter(posts::readable(me)),
        )),
        (None, None, Some(message)) => Some(exists_query(
            message::Entity::find_by_id(message).filter(messages::visible_messages(cause.user)),
        )),
        (None, None, None) => None,
    };
    if let Some(readable) = readable {
        against.push(Expr::exists(readable).not());
    }
    let any = against
        .into_iter()
        .reduce(ExprTrait::or)
        .unwrap_or_else(|| Expr::val(false));
    Ok(!crate::db::holds(db, any).await?)
}

/// `SELECT 1` from `select`, for an `EXISTS`.
fn exists_query<E: EntityTrait>(select: sea_orm::Select<E>) -> SelectStatement {
    select.select_only().expr(Expr::val(1)).into_query()
}

/// Adds each notification, or gathers it into the unread one of its
/// group, with its `notification.created` event and its pushes (through
/// `providers`), all in one transaction; how many pushes were queued.
async fn write(db: &Db, notices: Vec<Notice>, providers: Vec<PushProvider>) -> AppResult<usize> {
    db.transaction(move |tx| {
        Box::pin(async move {
            let mut queued = 0;
            for notice in &notices {
                queued += write_one(&tx, notice, &providers).await?;
            }
            Ok(queued)
        })
    })
    .await
}

async fn write_one(
    tx: &impl ConnectionTrait,
    notice: &Notice,
    providers: &[PushProvider],
) -> AppResult<usize> {
    let Notice { cause, source, at } = notice;
    let group = cause.group();
    let key = group
        .clone()
        .unwrap_or_else(|| format!("{source}:{:?}", cause.kind));
    // A group gathers into its unread row; any other cause has one row,
    // read or not.
    let mut existing = notification::Entity::find()
        .filter(notification::Column::UserId.eq(cause.user))
        .filter(notification::Column::GroupKey.eq(key.clone()));
    if group.is_some() {
        existing = existing.filter(notification::Column::ReadAt.is_null());
    }
    let existing = existing.one(tx).await?;
    let row = match (existing, group.is_some()) {
        // Seen already: the hook may see an event twice.
        (Some(_), false) => return Ok(0),
        (Some(row), true) => {
            let count = actors_since(tx, cause, row.created_at).await?;
            let mut active: notification::ActiveModel = row.into();
            active.actor_id = Set(cause.actor);
            active.actor_count = Set(Ord::max(count, 1));
            active.comment_id = Set(cause.comment);
            active.updated_at = Set(crate::db::now());
            active.update(tx).await?
        }
        (None, _) => {
            notification::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(cause.user),
                kind: Set(cause.kind),
                actor_id: Set(cause.actor),
                actor_count: Set(1),
                post_id: Set(cause.post),
                comment_id: Set(cause.comment),
                conversation_id: Set(cause.conversation),
                report_id: Set(cause.report),
                group_key: Set(key),
                created_at: Set(cause.made_at.unwrap_or(*at)),
                updated_at: Set(crate::db::now()),
                read_at: Set(None),
            }
            .insert(tx)
            .await?
        }
    };
    let event = Event::NotificationCreated {
        notification: row.id,
        user: row.user_id,
    };
    events::record(tx, cause.actor, &event).await?;
    if providers.is_empty() {
        return Ok(0);
    }
    let actor = match row.actor_id {
        Some(id) => user::Entity::find_by_id(id)
            .one(tx)
            .await?
            .map(|u| u.display_name),
        None => None,
    };
    let body = summary(&row, actor.as_deref().unwrap_or("Someone"));
    outbox::enqueue(tx, providers, &row, headline(row.kind), &body).await
}

/// How many different people a gathering notification stands for: those
/// who did its kind of thing since it was opened, whom the recipient can
/// see and has not muted.
async fn actors_since(
    db: &impl ConnectionTrait,
    cause: &Cause,
    since: DateTime<Utc>,
) -> AppResult<i32> {
    let me = Some(cause.user);
    let people: Vec<Uuid> = match (cause.kind, cause.post, cause.conversation) {
        (NotificationKind::Reaction, Some(post), _) => {
            reaction::Entity::find()
                .select_only()
                .column(reaction::Column::UserId)
                .filter(reaction::Column::PostId.eq(post))
                .filter(reaction::Column::UserId.ne(cause.user))
                .filter(reaction::Column::CreatedAt.gte(since))
                .filter(safety::visible_to(reaction::Column::UserId, me))
                .filter(
                    reaction::Column::UserId.not_in_subquery(safety::muted_user_ids(cause.user)),
                )
                .into_tuple()
                .all(db)
                .await?
        }
        (NotificationKind::Follow, _, _) => {
            follow::Entity::find()
                .select_only()
                .column(follow::Column::FollowerId)
                .filter(follow::Column::FolloweeId.eq(cause.user))
                .filter(follow::Column::CreatedAt.gte(since))
                .filter(safety::visible_to(follow::Column::FollowerId, me))
                .filter(
                    follow::Column::FollowerId.not_in_subquery(safety::muted_user_ids(cause.user)),
                )
                .into_tuple()
                .all(db)
                .await?
        }
        (NotificationKind::Message, _, Some(conversation)) => {
            message::Entity::find()
                .select_only()
                .column(message::Column::SenderId)
                .filter(message::Column::ConversationId.eq(conversation))
                .filter(message::Column::SenderId.ne(cause.user))
                .filter(message::Column::CreatedAt.gte(since))
                .filter(safety::visible_to(message::Column::SenderId, me))
                .filter(
                    message::Column::SenderId.not_in_subquery(safety::muted_user_ids(cause.user)),
                )
                .into_tuple()
                .all(db)
                .await?
        }
        _ => Vec::new(),
    };
    let distinct: BTreeSet<Uuid> = people.into_iter().collect();
    Ok(i32::try_from(distinct.len()).unwrap_or(i32::MAX))
}

#[cfg(test)]
mod tests {
    use super::mentioned_names;

    #[test]
    fn mentions_are_handles_not_emails_each_once() {
        assert_eq!(
            mentioned_names("@Ann hi @bob_2, mail ann@example.com, @ann again, @xy, (@cat)"),
            ["ann", "bob_2", "cat"]
        );
        assert!(mentioned_names("no one here").is_empty());
    }
}
