//! Conversations and messages. Only participants see a conversation or
//! its messages; to everyone else it does not exist (`NOT_FOUND`), so ids
//! reveal nothing. A block hides a one-to-one conversation from both
//! people, and in a group hides each one's messages from the other.

use std::collections::BTreeSet;

use entity::{conversation, conversation_participant as participant, message, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QuerySelect, Set, TryInsertResult,
    sea_query::{Expr, OnConflict, Query, SelectStatement},
};
use uuid::Uuid;

use crate::{
    auth::AuthSession,
    db::{Db, now},
    error::{AppError, AppResult},
    events::{self, Event},
    idempotency::{self, Done, IdempotencyKey},
    paging::{ListOrder, Page, PageRequest},
    safety::service as safety,
    validate,
};

pub(crate) const MAX_BODY: usize = 5_000;
/// Most people in one conversation besides its creator.
pub(crate) const MAX_PARTICIPANTS: usize = 50;

/// Ids of the conversations a user takes part in.
fn conversations_of(user_id: Uuid) -> SelectStatement {
    Query::select()
        .column(participant::Column::ConversationId)
        .from(participant::Entity)
        .and_where(participant::Column::UserId.eq(user_id))
        .to_owned()
}

/// The conversations `viewer` sees: theirs, but not a one-to-one
/// conversation with someone on either side of a block with them (in a
/// group, only that person's messages are hidden).
fn visible_conversations(viewer: Uuid) -> Condition {
    let across_a_block = Query::select()
        .column(participant::Column::ConversationId)
        .from(participant::Entity)
        .cond_where(safety::visible_to(participant::Column::UserId, Some(viewer)).not())
        .to_owned();
    Condition::all()
        .add(conversation::Column::Id.in_subquery(conversations_of(viewer)))
        .add(
            Condition::any()
                .add(conversation::Column::DirectKey.is_null())
                .add(conversation::Column::Id.not_in_subquery(across_a_block)),
        )
}

/// The messages in `viewer`'s conversations that they see: not from
/// someone on either side of a block with them.
pub(crate) fn visible_messages(viewer: Uuid) -> Condition {
    Condition::all()
        .add(message::Column::ConversationId.in_subquery(conversations_of(viewer)))
        .add(safety::visible_to(message::Column::SenderId, Some(viewer)))
}

pub(crate) async fn find_for(
    db: &Db,
    viewer: Uuid,
    id: Uuid,
) -> AppResult<Option<conversation::Model>> {
    Ok(conversation::Entity::find_by_id(id)
        .filter(visible_conversations(viewer))
        .one(db)
        .await?)
}

async fn get_for(db: &Db, viewer: Uuid, id: Uuid) -> AppResult<conversation::Model> {
    find_for(db, viewer, id)
        .await?
        .ok_or(AppError::NotFound("conversation"))
}

pub(crate) async fn find_message_for(
    db: &Db,
    viewer: Uuid,
    id: Uuid,
) -> AppResult<Option<message::Model>> {
    Ok(message::Entity::find_by_id(id)
        .filter(visible_messages(viewer))
        .one(db)
        .await?)
}

/// The viewer's conversations, newest activity first.
pub(crate) async fn list(
    db: &Db,
    viewer: Uuid,
    page: &PageRequest,
) -> AppResult<Page<conversation::Model>> {
    let rows = page
        .apply(
            conversation::Entity::find().filter(visible_conversations(viewer)),
            conversation::Column::LastMessageAt,
            conversation::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// A conversation's messages, newest first (a chat screen shows the latest
/// and pages back in time).
pub(crate) async fn messages(
    db: &Db,
    viewer: Uuid,
    conversation_id: Uuid,
    page: &PageRequest,
) -> AppResult<Page<message::Model>> {
    get_for(db, viewer, conversation_id).await?;
    let rows = page
        .apply(
            message::Entity::find()
                .filter(message::Column::ConversationId.eq(conversation_id))
                .filter(visible_messages(viewer)),
            message::Column::CreatedAt,
            message::Column::Id,
            ListOrder::NewestFirst,
        )
        .all(db)
        .await?;
    Ok(page.finish(rows))
}

/// Starts a conversation between the viewer and `others`, optionally with a
/// first message. With exactly one other person, an existing one-to-one
/// conversation is reused rather than duplicated.
pub(crate) async fn start(
    db: &Db,
    viewer: &AuthSession,
    others: Vec<Uuid>,
    first_message: Option<String>,
) -> AppResult<conversation::Model> {
    let others: BTreeSet<Uuid> = others
        .into_iter()
        .filter(|id| *id != viewer.user_id)
        .collect();
    if others.is_empty() || others.len() > MAX_PARTICIPANTS {
        return Err(AppError::bad_input(
            "input.participantIds",
            format!("name 1 to {MAX_PARTICIPANTS} other users"),
        ));
    }
    let found = user::Entity::find()
        .filter(user::Column::Id.is_in(others.iter().copied()))
        .filter(user::Column::DisabledAt.is_null())
        .filter(safety::visible_to(user::Column::Id, Some(viewer.user_id)))
        .count(db)
        .await?;
    if found != others.len() as u64 {
        return Err(AppError::bad_input(
            "input.participantIds",
            "one or more users do not exist",
        ));
    }
    let body = first_message
        .map(|b| validate::required_text("input.message", &b, MAX_BODY))
        .transpose()?;
    let me = viewer.user_id;
    db.transaction(move |tx| {
        Box::pin(async move {
            let conversation = match others.iter().next() {
                Some(other) if others.len() == 1 => direct_conversation(&tx, me, *other).await?,
                _ => {
                    let people = std::iter::once(me).chain(others.iter().copied());
                    insert_conversation(&tx, me, None, people)
                        .await?
                        .ok_or_else(|| {
                            AppError::Internal(anyhow::anyhow!("a group conversation conflicted"))
                        })?
                }
            };
            match body {
                Some(body) => {
                    let id = Uuid::now_v7();
                    Ok(insert_message(&tx, conversation, me, body, id).await?.0)
                }
                None => Ok(conversation),
            }
        })
    })
    .await
}

/// The one-to-one conversation of `me` and `other`, created if it does not
/// exist. Its key is unique, so when two requests start it at once the
/// second insert does nothing (PostgreSQL waits for the first to commit;
/// SQLite has one writer) and both read the same row. The insert comes
/// first, so the read after it sees whichever row won.
async fn direct_conversation(
    txn: &impl ConnectionTrait,
    me: Uuid,
    other: Uuid,
) -> AppResult<conversation::Model> {
    let key = conversation::direct_key(me, other);
    insert_conversation(txn, me, Some(key.clone()), [me, other].into_iter()).await?;
    conversation::Entity::find()
        .filter(conversation::Column::DirectKey.eq(key.clone()))
        .one(txn)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("direct conversation {key} vanished")))
}

/// Inserts a conversation and its participants; `None`, writing nothing,
/// when `direct_key` is already taken. Everyone but the creator starts with
/// everything unread.
async fn insert_conversation(
    txn: &impl ConnectionTrait,
    creator: Uuid,
    direct_key: Option<String>,
    people: impl Iterator<Item = Uuid>,
) -> AppResult<Option<conversation::Model>> {
    let at = now();
    let model = conversation::Model {
        id: Uuid::now_v7(),
        created_by_id: Some(creator),
        created_at: at,
        last_message_at: at,
        direct_key,
    };
    let inserted = conversation::Entity::insert(model.clone().into_active_model())
        .on_conflict(
            OnConflict::column(conversation::Column::DirectKey)
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec_without_returning(txn)
        .await?;
    if !matches!(inserted, TryInsertResult::Inserted(1)) {
        return Ok(None);
    }
    participant::Entity::insert_many(people.map(|user_id| participant::ActiveModel {
        id: Set(Uuid::now_v7()),
        conversation_id: Set(model.id),
        user_id: Set(user_id),
        created_at: Set(at),
        last_read_at: Set((user_id == creator).then_some(at)),
    }))
    .exec_without_returning(txn)
    .await?;
    Ok(Some(model))
}

async fn insert_message(
    db: &impl ConnectionTrait,
    conversation: conversation::Model,
    sender: Uuid,
    body: String,
    id: Uuid,
) -> AppResult<(conversation::Model, message::Model)> {
    let at = now();
    let message = message::ActiveModel {
        id: Set(id),
        conversation_id: Set(conversation.id),
        sender_id: Set(sender),
        body: Set(body),
        created_at: Set(at),
    }
    .insert(db)
    .await?;
    let mut active: conversation::ActiveModel = conversation.into();
    active.last_message_at = Set(at);
    let conversation = active.update(db).await?;
    read_up_to(db, conversation.id, sender, at).await?;
    let recipients = participant::Entity::find()
        .select_only()
        .column(participant::Column::UserId)
        .filter(participant::Column::ConversationId.eq(conversation.id))
        .into_tuple()
        .all(db)
        .await?;
    let event = Event::MessageSent {
        message: message.id,
        conversation: conversation.id,
        sender,
        recipients,
    };
    events::record(db, Some(sender), &event).await?;
    Ok((conversation, message))
}

/// Records that `user_id` has read `conversation_id` up to `at`.
async fn read_up_to(
    db: &impl ConnectionTrait,
    conversation_id: Uuid,
    user_id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    participant::Entity::update_many()
        .col_expr(participant::Column::LastReadAt, Expr::value(at))
        .filter(participant::Column::ConversationId.eq(conversation_id))
        .filter(participant::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks everything in a conversation as read by the viewer, for
/// `unreadCount`.
pub(crate) async fn mark_read(
    db: &Db,
    viewer: &AuthSession,
    conversation_id: Uuid,
) -> AppResult<conversation::Model> {
    let conversation = get_for(db, viewer.user_id, conversation_id).await?;
    let (reader, at) = (viewer.user_id, now());
    db.statement(move |tx| {
        Box::pin(async move { read_up_to(&tx, conversation_id, reader, at).await })
    })
    .await?;
    Ok(conversation)
}

/// Sends a message; only participants may. With an idempotency key used
/// before, the first message comes back and nothing is sent again.
pub(crate) async fn send(
    db: &Db,
    viewer: &AuthSession,
    conversation_id: Uuid,
    body: &str,
    idempotency_key: Option<String>,
) -> AppResult<message::Model> {
    let body = validate::required_text("body", body, MAX_BODY)?;
    let key = IdempotencyKey::new(
        viewer.user_id,
        idempotency_key,
        "sendMessage",
        &serde_json::json!([conversation_id, body]),
    )?;
    let conversation = get_for(db, viewer.user_id, conversation_id).await?;
    let (sender, id) = (viewer.user_id, Uuid::now_v7());
    let done = idempotency::write_once(db, key, id, move |tx| {
        Box::pin(async move {
            let (_, message) = insert_message(tx, conversation, sender, body, id).await?;
            Ok(Some(message))
        })
    })
    .await?;
    match done {
        Done::New(message) => Ok(message),
        Done::Repeat(first) => find_message_for(db, viewer.user_id, first)
            .await?
            .ok_or(AppError::NotFound("message")),
        Done::Refused => Err(AppError::Internal(anyhow::anyhow!(
            "a message write wrote nothing"
        ))),
    }
}

/// Deletes a message for good (a moderator's action on a report; the
/// caller checks who may). `NOT_FOUND` if it is gone already.
pub(crate) async fn remove(db: &Db, id: Uuid) -> AppResult<()> {
    let deleted = db
        .statement(move |tx| {
            Box::pin(async move { Ok(message::Entity::delete_by_id(id).exec(&tx).await?) })
        })
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound("message"));
    }
    Ok(())
}
