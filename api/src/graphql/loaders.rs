//! Batch loading for every relation edge, so a query's SQL statement count
//! depends on its shape, not on its page size.
//!
//! One [`DbLoader`] serves many key types: a resolver asks for one key
//! (`UserKey(id)`), the DataLoader gathers every key of that type asked for
//! during the same tick, and one `IN (...)` query answers them all. It is
//! shared by all requests and keeps no cache, so nothing is ever stale and
//! nothing leaks between viewers: keys that depend on the viewer carry the
//! viewer's id.
//!
//! Loaders check no permissions: they follow edges from objects the caller
//! was already allowed to see (a post's author, a readable post's
//! comments). Entry points (`node`, lists, mutations) go through the
//! services, which do.

use std::collections::HashMap;

use async_graphql::{
    Context,
    dataloader::{DataLoader, Loader},
};
use entity::{
    comment, community, conversation, conversation_participant as participant,
    enums::{MembershipRole, ReactionKind},
    file, follow, membership, message, post, post_attachment, reaction, user,
};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    FromQueryResult, Iterable, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{
        Alias, Asterisk, Expr, ExprTrait, Order, PgFunc, PostgresQueryBuilder, Query,
        WindowStatement,
    },
};
use uuid::Uuid;

use crate::{
    comments::service::Thread,
    error::AppError,
    users::service::{FollowList, disabled_user_ids},
};

/// The loader every resolver shares (one per schema).
pub struct DbLoader {
    db: DatabaseConnection,
}

/// The loader, with a batching window of 1 ms that also waits for the
/// request to finish a round of polling: a batch task first yields a few
/// times, so keys that sibling resolvers ask for in the same round of work
/// (the 50 authors of a 50-post page) join it even when the machine is
/// busy and 1 ms of wall time passes before the last one is asked for.
pub fn data_loader(db: DatabaseConnection) -> DataLoader<DbLoader> {
    DataLoader::new(DbLoader { db }, |batch| {
        tokio::spawn(async move {
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            batch.await;
        })
    })
}

/// The shared loader from the schema's data.
fn loader<'a>(ctx: &Context<'a>) -> Result<&'a DataLoader<DbLoader>, AppError> {
    ctx.data::<DataLoader<DbLoader>>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("loader missing from schema data")))
}

/// Loads one key through the shared loader.
///
/// Unconstrained by tokio's cooperative budget: a page of 50 posts waits on
/// hundreds of loader results in one task, and once the budget runs out,
/// results that are ready read as pending until the next poll. The keys
/// those resolvers ask for next would then miss their batch and cost an
/// extra statement. The waits here are on work already done, so opting
/// out cannot starve anything.
pub async fn load_one<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<Option<<DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Error = async_graphql::Error>,
{
    let loader = loader(ctx)?;
    tokio::task::unconstrained(loader.load_one(key)).await
}

/// [`load_one`] for many keys at once.
pub async fn load_many<K>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> async_graphql::Result<HashMap<K, <DbLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    DbLoader: Loader<K, Error = async_graphql::Error>,
{
    let loader = loader(ctx)?;
    tokio::task::unconstrained(loader.load_many(keys)).await
}

type LoadResult<K, V> = Result<HashMap<K, V>, async_graphql::Error>;

fn db_error(err: sea_orm::DbErr) -> async_graphql::Error {
    AppError::from(err).into()
}

/// A row by primary key, for each entity reached through an edge: the
/// whole model, or only the columns of a partial model.
macro_rules! by_id {
    ($key:ident, $entity:ident) => {
        by_id!($key, $entity, $entity::Model);
    };
    ($key:ident, $entity:ident, $value:ty) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub Uuid);

        impl Loader<$key> for DbLoader {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Self::Value> {
                let rows = $entity::Entity::find()
                    .filter(self.any_of($entity::Column::Id, keys.iter().map(|k| k.0)))
                    .into_partial_model::<$value>()
                    .all(&self.db)
                    .await
                    .map_err(db_error)?;
                Ok(rows.into_iter().map(|row| ($key(row.id), row)).collect())
            }
        }
    };
}

by_id!(UserKey, user, user::Profile);
by_id!(CommunityKey, community);
by_id!(PostKey, post);
by_id!(CommentKey, comment);
by_id!(ConversationKey, conversation);
by_id!(FileKey, file);

/// A post's attached files, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttachmentsKey(pub Uuid);

impl Loader<AttachmentsKey> for DbLoader {
    type Value = Vec<file::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[AttachmentsKey]) -> LoadResult<AttachmentsKey, Self::Value> {
        let rows = post_attachment::Entity::find()
            .filter(self.any_of(post_attachment::Column::PostId, keys.iter().map(|k| k.0)))
            .order_by_asc(post_attachment::Column::PostId)
            .order_by_asc(post_attachment::Column::Position)
            .find_also_related(file::Entity)
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let mut found: HashMap<AttachmentsKey, Vec<file::Model>> = HashMap::new();
        for (attachment, file) in rows {
            if let Some(file) = file {
                found
                    .entry(AttachmentsKey(attachment.post_id))
                    .or_default()
                    .push(file);
            }
        }
        Ok(found)
    }
}

/// How many reactions of each kind a post has, most first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReactionCountsKey(pub Uuid);

impl Loader<ReactionCountsKey> for DbLoader {
    type Value = Vec<(ReactionKind, u64)>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ReactionCountsKey]) -> LoadResult<ReactionCountsKey, Self::Value> {
        let rows: Vec<(Uuid, ReactionKind, i64)> = reaction::Entity::find()
            .select_only()
            .column(reaction::Column::PostId)
            .column(reaction::Column::Kind)
            .column_as(reaction::Column::Id.count(), "n")
            .filter(self.any_of(reaction::Column::PostId, keys.iter().map(|k| k.0)))
            .group_by(reaction::Column::PostId)
            .group_by(reaction::Column::Kind)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let mut counts: HashMap<ReactionCountsKey, Self::Value> = HashMap::new();
        for (post_id, kind, n) in rows {
            counts
                .entry(ReactionCountsKey(post_id))
                .or_default()
                .push((kind, u64::try_from(n).unwrap_or_default()));
        }
        for kinds in counts.values_mut() {
            kinds.sort_by(|a, b| {
                b.1.cmp(&a.1)
                    .then_with(|| a.0.to_value().cmp(&b.0.to_value()))
            });
        }
        Ok(counts)
    }
}

/// The viewer's own reaction to a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerReactionKey {
    pub viewer: Uuid,
    pub post: Uuid,
}

impl Loader<ViewerReactionKey> for DbLoader {
    type Value = ReactionKind;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[ViewerReactionKey],
    ) -> LoadResult<ViewerReactionKey, ReactionKind> {
        let rows = self
            .per_viewer::<reaction::Entity, ReactionKind>(
                keys.iter().map(|k| (k.viewer, k.post)),
                reaction::Column::UserId,
                reaction::Column::PostId,
                reaction::Column::Kind,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(viewer, post, kind)| (ViewerReactionKey { viewer, post }, kind))
            .collect())
    }
}

/// All comments on a post, replies included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommentCountKey(pub Uuid);

impl Loader<CommentCountKey> for DbLoader {
    type Value = u64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CommentCountKey]) -> LoadResult<CommentCountKey, u64> {
        let select = comment::Entity::find().filter(
            comment::Column::AuthorId.not_in_subquery(crate::users::service::disabled_user_ids()),
        );
        let column = comment::Column::PostId;
        let rows = self
            .count_by(select, column, keys.iter().map(|k| k.0))
            .await?;
        Ok(counts(rows, CommentCountKey))
    }
}

/// The first page of a thread (oldest first) for many threads at once: the
/// feed's "first five comments of each post" in one statement. Holds up to
/// `limit + 1` rows, so the caller can tell whether there are more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirstCommentsKey {
    pub thread: Thread,
    pub limit: u64,
}

impl Loader<FirstCommentsKey> for DbLoader {
    type Value = Vec<comment::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[FirstCommentsKey]) -> LoadResult<FirstCommentsKey, Self::Value> {
        let mut pages = HashMap::new();
        let (on_posts, replies): (Vec<&FirstCommentsKey>, Vec<&FirstCommentsKey>) = keys
            .iter()
            .partition(|k| matches!(k.thread, Thread::Post(_)));
        for (group, top_level) in [(on_posts, true), (replies, false)] {
            if group.is_empty() {
                continue;
            }
            let limit = group
                .iter()
                .map(|k: &&FirstCommentsKey| k.limit)
                .max()
                .unwrap_or_default()
                + 1;
            // One statement for the whole batch (the shared loader may hold
            // the threads of many concurrent requests): the same rows as
            // `thread_condition` per thread.
            let threads: Vec<Uuid> = group
                .iter()
                .map(|k| thread_id(k.thread))
                .collect::<std::collections::HashSet<_>>()
                .into_iter()
                .collect();
            let partition = if top_level {
                comment::Column::PostId
            } else {
                comment::Column::ParentId
            };
            let mut filter = sea_orm::Condition::all()
                .add(comment::Column::AuthorId.not_in_subquery(disabled_user_ids()));
            if top_level {
                filter = filter.add(comment::Column::ParentId.is_null());
            }
            let rows = self
                .first_per_group::<comment::Entity>(threads, filter, partition, Order::Asc, limit)
                .await?;
            // Rows come oldest first; grouping them once keeps that order
            // and costs O(rows), not O(threads x rows).
            let mut by_thread: HashMap<Uuid, Vec<comment::Model>> = HashMap::new();
            for row in rows {
                let thread = if top_level {
                    Some(row.post_id)
                } else {
                    row.parent_id
                };
                if let Some(thread) = thread {
                    by_thread.entry(thread).or_default().push(row);
                }
            }
            for key in group {
                let page = by_thread
                    .get(&thread_id(key.thread))
                    .map(|rows| rows.iter().take(key.limit as usize + 1).cloned().collect())
                    .unwrap_or_default();
                pages.insert(*key, page);
            }
        }
        Ok(pages)
    }
}

/// The post of a top-level thread, or the comment whose replies these are.
fn thread_id(thread: Thread) -> Uuid {
    match thread {
        Thread::Post(id) | Thread::Replies(id) => id,
    }
}

/// How many followers a user has, or how many they follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FollowCountKey(pub FollowList);

impl Loader<FollowCountKey> for DbLoader {
    type Value = u64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[FollowCountKey]) -> LoadResult<FollowCountKey, u64> {
        let mut found = HashMap::new();
        let followers: Vec<Uuid> = keys
            .iter()
            .filter_map(|k| match k.0 {
                FollowList::Followers(id) => Some(id),
                FollowList::Following(_) => None,
            })
            .collect();
        let following: Vec<Uuid> = keys
            .iter()
            .filter_map(|k| match k.0 {
                FollowList::Following(id) => Some(id),
                FollowList::Followers(_) => None,
            })
            .collect();
        for (ids, column, list) in [
            (
                followers,
                follow::Column::FolloweeId,
                FollowList::Followers as fn(Uuid) -> FollowList,
            ),
            (following, follow::Column::FollowerId, FollowList::Following),
        ] {
            if ids.is_empty() {
                continue;
            }
            let rows = self.count_by(follow::Entity::find(), column, ids).await?;
            found.extend(counts(rows, |id| FollowCountKey(list(id))));
        }
        Ok(found)
    }
}

/// Whether the viewer follows a user (present means yes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerFollowsKey {
    pub viewer: Uuid,
    pub user: Uuid,
}

impl Loader<ViewerFollowsKey> for DbLoader {
    type Value = ();
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ViewerFollowsKey]) -> LoadResult<ViewerFollowsKey, ()> {
        let rows = self
            .per_viewer::<follow::Entity, Uuid>(
                keys.iter().map(|k| (k.viewer, k.user)),
                follow::Column::FollowerId,
                follow::Column::FolloweeId,
                follow::Column::FolloweeId,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(viewer, user, _)| (ViewerFollowsKey { viewer, user }, ()))
            .collect())
    }
}

/// How many members a community has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberCountKey(pub Uuid);

impl Loader<MemberCountKey> for DbLoader {
    type Value = u64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[MemberCountKey]) -> LoadResult<MemberCountKey, u64> {
        let select = membership::Entity::find();
        let column = membership::Column::CommunityId;
        let rows = self
            .count_by(select, column, keys.iter().map(|k| k.0))
            .await?;
        Ok(counts(rows, MemberCountKey))
    }
}

/// The viewer's role in a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerRoleKey {
    pub viewer: Uuid,
    pub community: Uuid,
}

impl Loader<ViewerRoleKey> for DbLoader {
    type Value = MembershipRole;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ViewerRoleKey]) -> LoadResult<ViewerRoleKey, MembershipRole> {
        let rows = self
            .per_viewer::<membership::Entity, MembershipRole>(
                keys.iter().map(|k| (k.viewer, k.community)),
                membership::Column::UserId,
                membership::Column::CommunityId,
                membership::Column::Role,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(viewer, community, role)| (ViewerRoleKey { viewer, community }, role))
            .collect())
    }
}

/// Who takes part in a conversation, in the order they were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParticipantsKey(pub Uuid);

impl Loader<ParticipantsKey> for DbLoader {
    type Value = Vec<Uuid>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ParticipantsKey]) -> LoadResult<ParticipantsKey, Vec<Uuid>> {
        let rows: Vec<(Uuid, Uuid)> = participant::Entity::find()
            .select_only()
            .column(participant::Column::ConversationId)
            .column(participant::Column::UserId)
            .filter(participant::Column::ConversationId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(participant::Column::CreatedAt)
            .order_by_asc(participant::Column::Id)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let mut people: HashMap<ParticipantsKey, Vec<Uuid>> = HashMap::new();
        for (conversation, user) in rows {
            people
                .entry(ParticipantsKey(conversation))
                .or_default()
                .push(user);
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

/// A conversation's newest message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LastMessageKey(pub Uuid);

impl Loader<LastMessageKey> for DbLoader {
    type Value = message::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[LastMessageKey]) -> LoadResult<LastMessageKey, message::Model> {
        let rows = self
            .first_per_group::<message::Entity>(
                keys.iter().map(|k| k.0).collect(),
                sea_orm::Condition::all(),
                message::Column::ConversationId,
                Order::Desc,
                1,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| (LastMessageKey(m.conversation_id), m))
            .collect())
    }
}

impl DbLoader {
    /// `(viewer, item, value)` for each `(viewer, item)` pair that has a
    /// row in `E`: one statement per viewer (a shared loader may batch keys
    /// from concurrent requests by different people).
    async fn per_viewer<E, V>(
        &self,
        keys: impl Iterator<Item = (Uuid, Uuid)>,
        viewer_column: E::Column,
        item_column: E::Column,
        value_column: E::Column,
    ) -> Result<Vec<(Uuid, Uuid, V)>, async_graphql::Error>
    where
        E: EntityTrait,
        V: sea_orm::TryGetable,
    {
        let mut found = Vec::new();
        for (viewer, items) in by_viewer(keys) {
            let rows: Vec<(Uuid, V)> = E::find()
                .select_only()
                .column(item_column)
                .column(value_column)
                .filter(viewer_column.eq(viewer))
                .filter(self.any_of(item_column, items))
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(db_error)?;
            found.extend(rows.into_iter().map(|(item, value)| (viewer, item, value)));
        }
        Ok(found)
    }

    /// `column IN (ids)`. On PostgreSQL it is spelled `column = ANY($1)`
    /// with one array parameter, so the statement's text does not depend on
    /// how many ids a batch holds: sqlx's per-connection statement cache
    /// then reuses one prepared (parsed and planned) statement, where an
    /// `IN` list of every length would be prepared anew, batch after batch.
    fn any_of<C: ColumnTrait>(&self, column: C, ids: impl IntoIterator<Item = Uuid>) -> Expr {
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let ids: Vec<Uuid> = ids.into_iter().collect();
                Expr::col(column).eq(PgFunc::any(Expr::val(ids)))
            }
            _ => column.is_in(ids),
        }
    }

    /// The first `limit` rows of each group (rows whose `partition` column
    /// is one of `groups`) matching `filter`, ordered by `(created_at, id)`
    /// in `order`: the first comments of 50 posts, the newest message of 20
    /// conversations, in one statement.
    ///
    /// On PostgreSQL each group is a `LATERAL` subquery with its own
    /// `LIMIT`, which reads `limit` index entries per group however many
    /// rows the group has. SQLite has no `LATERAL`: it ranks the groups'
    /// rows with `ROW_NUMBER()` and keeps the first `limit`.
    async fn first_per_group<E>(
        &self,
        groups: Vec<Uuid>,
        filter: sea_orm::Condition,
        partition: E::Column,
        order: Order,
        limit: u64,
    ) -> Result<Vec<E::Model>, async_graphql::Error>
    where
        E: EntityTrait,
        E::Model: FromQueryResult,
    {
        let created_at = || Expr::col(Alias::new("created_at"));
        let id = || Expr::col(Alias::new("id"));
        let backend = self.db.get_database_backend();
        let statement = if backend == DbBackend::Postgres {
            let mut per_group = Query::select();
            per_group
                .columns(E::Column::iter())
                .from(E::default())
                .cond_where(filter)
                .and_where(Expr::col(partition).equals((Alias::new("g"), Alias::new("key"))))
                .order_by_expr(created_at(), order.clone())
                .order_by_expr(id(), order.clone())
                .limit(limit);
            let (sql, values) = per_group.build(PostgresQueryBuilder);
            let mut values = values.0;
            values.push(groups.into());
            let direction = if order == Order::Asc { "ASC" } else { "DESC" };
            sea_orm::Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT rows.* FROM unnest(${n}) AS g(key) CROSS JOIN LATERAL ({sql}) AS rows \
                     ORDER BY rows.created_at {direction}, rows.id {direction}",
                    n = values.len(),
                ),
                values,
            )
        } else {
            let mut ranked = Query::select();
            ranked
                .columns(E::Column::iter())
                .from(E::default())
                .cond_where(filter)
                .and_where(Expr::col(partition).is_in(groups))
                .expr_window_as(
                    Expr::cust("ROW_NUMBER()"),
                    WindowStatement::partition_by(partition)
                        .order_by_expr(created_at(), order.clone())
                        .order_by_expr(id(), order.clone())
                        .to_owned(),
                    Alias::new("rn"),
                );
            let query = Query::select()
                .column(Asterisk)
                .from_subquery(ranked, Alias::new("ranked"))
                .and_where(
                    Expr::col(Alias::new("rn")).lte(i64::try_from(limit).unwrap_or(i64::MAX)),
                )
                .order_by_expr(created_at(), order.clone())
                .order_by_expr(id(), order)
                .to_owned();
            backend.build(&query)
        };
        E::Model::find_by_statement(statement)
            .all(&self.db)
            .await
            .map_err(db_error)
    }

    /// `(id, rows)` for each id in `ids` with rows in `select`, grouped by
    /// `column`.
    async fn count_by<E: EntityTrait>(
        &self,
        select: sea_orm::Select<E>,
        column: E::Column,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<Vec<(Uuid, i64)>, async_graphql::Error> {
        select
            .select_only()
            .column(column)
            .column_as(Expr::col(column).count(), "n")
            .filter(self.any_of(column, ids))
            .group_by(column)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db_error)
    }
}

/// Viewer-dependent keys split by viewer: a shared loader may batch keys
/// from concurrent requests by different people.
fn by_viewer(keys: impl Iterator<Item = (Uuid, Uuid)>) -> HashMap<Uuid, Vec<Uuid>> {
    let mut groups: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (viewer, item) in keys {
        groups.entry(viewer).or_default().push(item);
    }
    groups
}

/// `(id, count)` rows into a map of counts.
fn counts<K: std::hash::Hash + Eq>(
    rows: Vec<(Uuid, i64)>,
    key: impl Fn(Uuid) -> K,
) -> HashMap<K, u64> {
    rows.into_iter()
        .map(|(id, n)| (key(id), u64::try_from(n).unwrap_or_default()))
        .collect()
}
