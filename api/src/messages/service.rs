//! Conversations and messages. Only participants see a conversation or
//! its messages; to everyone else it does not exist (`NOT_FOUND`), so ids
//! reveal nothing.

use std::collections::BTreeSet;

use entity::{conversation, conversation_participant as participant, message, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, Query, SelectStatement},
};
use uuid::Uuid;

use crate::{
    auth::AuthSession,
    db::now,
    error::{AppError, AppResult},
    graphql::pagination::{ListOrder, Page, PageRequest},
    users::service::active_user,
    validate,
};

pub const MAX_BODY: usize = 5_000;
/// Most people in one conversation besides its creator.
pub const MAX_PARTICIPANTS: usize = 50;

/// Ids of the conversations a user takes part in.
fn conversations_of(user_id: Uuid) -> SelectStatement {
    Query::select()
        .column(participant::Column::ConversationId)
        .from(participant::Entity)
        .and_where(participant::Column::UserId.eq(user_id))
        .to_owned()
}

pub async fn find_for(
    db: &DatabaseConnection,
    viewer: Uuid,
    id: Uuid,
) -> AppResult<Option<conversation::Model>> {
    Ok(conversation::Entity::find_by_id(id)
        .filter(conversation::Column::Id.in_subquery(conversations_of(viewer)))
        .one(db)
        .await?)
}

async fn get_for(
    db: &DatabaseConnection,
    viewer: Uuid,
    id: Uuid,
) -> AppResult<conversation::Model> {
    find_for(db, viewer, id)
        .await?
        .ok_or(AppError::NotFound("conversation"))
}

pub async fn find_message_for(
    db: &DatabaseConnection,
    viewer: Uuid,
    id: Uuid,
) -> AppResult<Option<message::Model>> {
    Ok(message::Entity::find_by_id(id)
        .filter(message::Column::ConversationId.in_subquery(conversations_of(viewer)))
        .one(db)
        .await?)
}

/// The viewer's conversations, newest activity first.
pub async fn list(
    db: &DatabaseConnection,
    viewer: Uuid,
    page: &PageRequest,
) -> AppResult<Page<conversation::Model>> {
    let rows = page
        .apply(
            conversation::Entity::find()
                .filter(conversation::Column::Id.in_subquery(conversations_of(viewer))),
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
pub async fn messages(
    db: &DatabaseConnection,
    viewer: Uuid,
    conversation_id: Uuid,
    page: &PageRequest,
) -> AppResult<Page<message::Model>> {
    get_for(db, viewer, conversation_id).await?;
    let rows = page
        .apply(
            message::Entity::find().filter(message::Column::ConversationId.eq(conversation_id)),
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
pub async fn start(
    db: &DatabaseConnection,
    viewer: &AuthSession,
    others: Vec<Uuid>,
    first_message: Option<String>,
) -> AppResult<(conversation::Model, Option<message::Model>)> {
    active_user(db, viewer).await?;
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
    let conversation = match others.iter().next() {
        Some(other) if others.len() == 1 => direct_conversation(db, viewer.user_id, *other).await?,
        _ => None,
    };
    let txn = db.begin().await?;
    let conversation = match conversation {
        Some(existing) => existing,
        None => {
            let at = now();
            let conversation = conversation::ActiveModel {
                id: Set(Uuid::now_v7()),
                created_by_id: Set(Some(viewer.user_id)),
                created_at: Set(at),
                last_message_at: Set(at),
            }
            .insert(&txn)
            .await?;
            let people = std::iter::once(viewer.user_id).chain(others.iter().copied());
            // Everyone but the creator starts with everything unread.
            participant::Entity::insert_many(people.map(|user_id| participant::ActiveModel {
                id: Set(Uuid::now_v7()),
                conversation_id: Set(conversation.id),
                user_id: Set(user_id),
                created_at: Set(at),
                last_read_at: Set((user_id == viewer.user_id).then_some(at)),
            }))
            .exec_without_returning(&txn)
            .await?;
            conversation
        }
    };
    let (conversation, message) = match body {
        Some(body) => {
            let (conversation, message) =
                insert_message(&txn, conversation, viewer.user_id, body).await?;
            (conversation, Some(message))
        }
        None => (conversation, None),
    };
    txn.commit().await?;
    Ok((conversation, message))
}

/// The existing conversation of exactly these two people, if any.
async fn direct_conversation(
    db: &DatabaseConnection,
    me: Uuid,
    other: Uuid,
) -> AppResult<Option<conversation::Model>> {
    let both = Query::select()
        .column(participant::Column::ConversationId)
        .from(participant::Entity)
        .and_where(participant::Column::UserId.eq(other))
        .and_where(participant::Column::ConversationId.in_subquery(conversations_of(me)))
        .to_owned();
    let pairs = Query::select()
        .column(participant::Column::ConversationId)
        .from(participant::Entity)
        .and_where(participant::Column::ConversationId.in_subquery(conversations_of(me)))
        .group_by_col(participant::Column::ConversationId)
        .and_having(Expr::expr(Func::count(Expr::col(participant::Column::Id))).eq(2))
        .to_owned();
    Ok(conversation::Entity::find()
        .filter(conversation::Column::Id.in_subquery(both))
        .filter(conversation::Column::Id.in_subquery(pairs))
        .one(db)
        .await?)
}

async fn insert_message(
    db: &impl sea_orm::ConnectionTrait,
    conversation: conversation::Model,
    sender: Uuid,
    body: String,
) -> AppResult<(conversation::Model, message::Model)> {
    let at = now();
    let message = message::ActiveModel {
        id: Set(Uuid::now_v7()),
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
    Ok((conversation, message))
}

/// Records that `user_id` has read `conversation_id` up to `at`.
async fn read_up_to(
    db: &impl sea_orm::ConnectionTrait,
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
pub async fn mark_read(
    db: &DatabaseConnection,
    viewer: &AuthSession,
    conversation_id: Uuid,
) -> AppResult<conversation::Model> {
    let conversation = get_for(db, viewer.user_id, conversation_id).await?;
    read_up_to(db, conversation_id, viewer.user_id, now()).await?;
    Ok(conversation)
}

/// Sends a message; only participants may.
pub async fn send(
    db: &DatabaseConnection,
    viewer: &AuthSession,
    conversation_id: Uuid,
    body: &str,
) -> AppResult<message::Model> {
    active_user(db, viewer).await?;
    let body = validate::required_text("body", body, MAX_BODY)?;
    let conversation = get_for(db, viewer.user_id, conversation_id).await?;
    let txn = db.begin().await?;
    let (_, message) = insert_message(&txn, conversation, viewer.user_id, body).await?;
    txn.commit().await?;
    Ok(message)
}
