//! Batch loads for conversations: by id, participants, unread counts and
//! the newest message.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::graphql::loader::{DbLoader, LoadResult, by_id, db_error};
use entity::{conversation, conversation_participant as participant, message};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Order, Query},
};

use crate::{graphql::loader::by_viewer, safety::service as safety};

by_id!(ConversationKey, conversation);
by_id!(MessageKey, message);

/// Who takes part in a conversation, in the order they were added, as
/// the viewer sees it: without anyone on either side of a block with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParticipantsKey {
    pub viewer: Uuid,
    pub conversation: Uuid,
}

impl Loader<ParticipantsKey> for DbLoader {
    type Value = Vec<Uuid>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ParticipantsKey]) -> LoadResult<ParticipantsKey, Vec<Uuid>> {
        let mut people: HashMap<ParticipantsKey, Vec<Uuid>> = HashMap::new();
        let keys = keys.iter().map(|k| (k.viewer, k.conversation));
        for (viewer, conversations) in by_viewer(keys) {
            let rows: Vec<(Uuid, Uuid)> = participant::Entity::find()
                .select_only()
                .column(participant::Column::ConversationId)
                .column(participant::Column::UserId)
                .filter(participant::Column::ConversationId.is_in(conversations))
                .filter(safety::visible_to(
                    participant::Column::UserId,
                    Some(viewer),
                ))
                .order_by_asc(participant::Column::CreatedAt)
                .order_by_asc(participant::Column::Id)
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(db_error)?;
            for (conversation, user) in rows {
                let key = ParticipantsKey {
                    viewer,
                    conversation,
                };
                people.entry(key).or_default().push(user);
            }
        }
        Ok(people)
    }
}

/// How many messages in a conversation the viewer has not read: sent by
/// others after the viewer's `last_read_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnreadCountKey {
    pub viewer: Uuid,
    pub conversation: Uuid,
}

impl Loader<UnreadCountKey> for DbLoader {
    type Value = u64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[UnreadCountKey]) -> LoadResult<UnreadCountKey, u64> {
        let mut found = HashMap::new();
        let keys = keys.iter().map(|k| (k.viewer, k.conversation));
        for (viewer, conversations) in by_viewer(keys) {
            let me = Expr::col((participant::Entity, participant::Column::UserId)).eq(viewer);
            let same_conversation =
                Expr::col((participant::Entity, participant::Column::ConversationId))
                    .equals((message::Entity, message::Column::ConversationId));
            let unread = sea_orm::Condition::any()
                .add(Expr::col((participant::Entity, participant::Column::LastReadAt)).is_null())
                .add(
                    Expr::col((message::Entity, message::Column::CreatedAt)).gt(Expr::col((
                        participant::Entity,
                        participant::Column::LastReadAt,
                    ))),
                );
            let query = Query::select()
                .column((message::Entity, message::Column::ConversationId))
                .expr(Expr::col((message::Entity, message::Column::Id)).count())
                .from(message::Entity)
                .inner_join(participant::Entity, same_conversation.and(me))
                .and_where(
                    Expr::col((message::Entity, message::Column::ConversationId))
                        .is_in(conversations),
                )
                .and_where(Expr::col((message::Entity, message::Column::SenderId)).ne(viewer))
                .cond_where(safety::visible_to(message::Column::SenderId, Some(viewer)))
                .cond_where(unread)
                .group_by_col((message::Entity, message::Column::ConversationId))
                .to_owned();
            let rows = self.db.query_all(&query).await.map_err(db_error)?;
            for row in rows {
                let conversation: Uuid = row.try_get_by_index(0).map_err(db_error)?;
                let n: i64 = row.try_get_by_index(1).map_err(db_error)?;
                let key = UnreadCountKey {
                    viewer,
                    conversation,
                };
                found.insert(key, u64::try_from(n).unwrap_or_default());
            }
        }
        Ok(found)
    }
}

/// A conversation's newest message the viewer may see (not one from
/// someone on either side of a block with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LastMessageKey {
    pub viewer: Uuid,
    pub conversation: Uuid,
}

impl Loader<LastMessageKey> for DbLoader {
    type Value = message::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[LastMessageKey]) -> LoadResult<LastMessageKey, message::Model> {
        let mut found = HashMap::new();
        let keys = keys.iter().map(|k| (k.viewer, k.conversation));
        for (viewer, conversations) in by_viewer(keys) {
            let rows = self
                .first_per_group::<message::Entity>(
                    conversations,
                    safety::visible_to(message::Column::SenderId, Some(viewer)),
                    message::Column::ConversationId,
                    Order::Desc,
                    1,
                )
                .await?;
            found.extend(rows.into_iter().map(|m| {
                let key = LastMessageKey {
                    viewer,
                    conversation: m.conversation_id,
                };
                (key, m)
            }));
        }
        Ok(found)
    }
}
