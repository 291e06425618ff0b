//! GraphQL for direct messages. Everything here needs a signed-in
//! participant.

use async_graphql::{
    Context, ID, InputObject, Object,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::{conversation, message};

use super::{
    loaders::{ConversationKey, LastMessageKey, ParticipantsKey, UnreadCountKey},
    service,
};
use crate::{
    auth::{SignedIn, viewer::signed_in},
    error::AppError,
    graphql::{
        context,
        id::{NodeType, expect_global_id, to_global_id},
        loader::{load_many, load_one},
        relay::{IntoConnection, page_complexity},
    },
    hooks::{self, Change},
    paging::{KeysetCursor, PageArgs, PageRequest},
    users::graphql::{User, load_user},
    users::loaders::UserKey,
};

#[derive(Clone)]
pub(crate) struct Conversation(pub conversation::Model);

#[Object]
impl Conversation {
    pub async fn id(&self) -> ID {
        to_global_id(NodeType::Conversation, self.0.id)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the newest message was sent (or the conversation started).
    async fn last_message_at(&self) -> DateTime<Utc> {
        self.0.last_message_at
    }

    /// Everyone in the conversation, the viewer included (but not anyone
    /// on either side of a block with the viewer).
    async fn participants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let key = ParticipantsKey {
            viewer: signed_in(ctx)?.user_id,
            conversation: self.0.id,
        };
        let ids = load_one(ctx, key).await?.unwrap_or_default();
        let users = load_many(ctx, ids.iter().map(|id| UserKey(*id))).await?;
        Ok(ids
            .iter()
            .filter_map(|id| users.get(&UserKey(*id)).cloned().map(User))
            .collect())
    }

    /// Messages from others since the viewer last read this conversation
    /// (sending a message or `markConversationRead` marks it read).
    async fn unread_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let key = UnreadCountKey {
            viewer: signed_in(ctx)?.user_id,
            conversation: self.0.id,
        };
        Ok(load_one(ctx, key).await?.unwrap_or(0))
    }

    async fn last_message(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        let key = LastMessageKey {
            viewer: signed_in(ctx)?.user_id,
            conversation: self.0.id,
        };
        Ok(load_one(ctx, key).await?.map(Message))
    }

    /// Messages, newest first; page back in time with `after`.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<MessageConnection> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let viewer = signed_in(ctx)?.user_id;
        let page = service::messages(context::db(ctx)?, viewer, self.0.id, &request).await?;
        Ok(page.into_connection(
            EmptyFields,
            |m| KeysetCursor {
                created_at: m.created_at,
                id: m.id,
            },
            Message,
        ))
    }
}

#[derive(Clone)]
pub(crate) struct Message(pub message::Model);

#[Object]
impl Message {
    pub async fn id(&self) -> ID {
        to_global_id(NodeType::Message, self.0.id)
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn sender(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        load_user(ctx, self.0.sender_id).await
    }

    async fn conversation(&self, ctx: &Context<'_>) -> async_graphql::Result<Conversation> {
        load_one(ctx, ConversationKey(self.0.conversation_id))
            .await?
            .map(Conversation)
            .ok_or_else(|| AppError::NotFound("conversation").into())
    }
}

pub(crate) type ConversationConnection = Connection<String, Conversation, EmptyFields, EmptyFields>;
pub(crate) type MessageConnection = Connection<String, Message, EmptyFields, EmptyFields>;

#[derive(InputObject)]
pub(crate) struct StartConversationInput {
    /// The other people (1 to 50); you are added yourself. With exactly
    /// one, your existing conversation with them is reused.
    participant_ids: Vec<ID>,
    /// An optional first message, 1 to 5,000 characters.
    message: Option<String>,
}

#[derive(Default)]
pub(crate) struct MessagesQuery;

#[Object]
impl MessagesQuery {
    /// The viewer's conversations, newest activity first.
    #[graphql(
        guard = "SignedIn",
        complexity = "page_complexity(first, last, child_complexity)"
    )]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ConversationConnection> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let viewer = signed_in(ctx)?.user_id;
        let page = service::list(context::db(ctx)?, viewer, &request).await?;
        Ok(page.into_connection(
            EmptyFields,
            |c| KeysetCursor {
                created_at: c.last_message_at,
                id: c.id,
            },
            Conversation,
        ))
    }

    /// One of the viewer's conversations; null if there is none (or it is
    /// someone else's).
    #[graphql(guard = "SignedIn")]
    async fn conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Conversation>> {
        let id = expect_global_id(&id, NodeType::Conversation, "id")?;
        let viewer = signed_in(ctx)?.user_id;
        Ok(service::find_for(context::db(ctx)?, viewer, id)
            .await?
            .map(Conversation))
    }
}

#[derive(Default)]
pub(crate) struct MessagesMutation;

#[Object]
impl MessagesMutation {
    /// Starts a conversation (or reopens your one-to-one with that person).
    #[graphql(guard = "SignedIn")]
    async fn start_conversation(
        &self,
        ctx: &Context<'_>,
        input: StartConversationInput,
    ) -> async_graphql::Result<Conversation> {
        let ids = input
            .participant_ids
            .iter()
            .map(|id| expect_global_id(id, NodeType::User, "input.participantIds"))
            .collect::<Result<Vec<_>, _>>()?;
        let conversation =
            service::start(context::db(ctx)?, &signed_in(ctx)?, ids, input.message).await?;
        Ok(Conversation(conversation))
    }

    /// Marks a conversation read up to now; its `unreadCount` drops to 0.
    #[graphql(guard = "SignedIn")]
    async fn mark_conversation_read(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Conversation> {
        let id = expect_global_id(&id, NodeType::Conversation, "id")?;
        let conversation = service::mark_read(context::db(ctx)?, &signed_in(ctx)?, id).await?;
        Ok(Conversation(conversation))
    }

    /// Sends a message to a conversation you take part in.
    #[graphql(guard = "SignedIn")]
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        body: String,
        #[graphql(
            desc = "A key you choose for this write (up to 255 characters, a UUID is good): sent again within 24 hours, the first message comes back and nothing is sent twice. The same key with other input is `CONFLICT`."
        )]
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<Message> {
        let id = expect_global_id(&conversation_id, NodeType::Conversation, "conversationId")?;
        let (db, viewer) = (context::db(ctx)?, signed_in(ctx)?);
        hooks::before(
            ctx,
            Change::Message {
                actor: viewer.user_id,
                conversation: id,
                body: &body,
            },
        )
        .await?;
        let message = service::send(db, &viewer, id, &body, idempotency_key).await?;
        Ok(Message(message))
    }
}
