//! The batch-loading kit every feature's loaders are built on, so a
//! query's SQL statement count depends on its shape, not its page size.
//!
//! One [`DbLoader`] serves many key types: each feature declares its keys
//! and `impl Loader<ItsKey> for DbLoader` in its own `loaders.rs`; a
//! resolver asks for one key (`UserKey(id)`), the DataLoader gathers every
//! key of that type asked for during the same tick, and one `IN (...)`
//! query answers them all. It is shared by all requests and keeps no cache,
//! so nothing is ever stale and nothing leaks between viewers: keys that
//! depend on the viewer carry the viewer's id.
//!
//! Loaders check no permissions: they follow edges from objects the caller
//! was already allowed to see (a post's author, a readable post's
//! comments). Entry points (`node`, lists, mutations) go through the
//! services, which do.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{
    Context,
    dataloader::{DataLoader, Loader},
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, Iterable,
    QueryFilter, QuerySelect,
    sea_query::{
        Alias, Asterisk, Expr, ExprTrait, Order, PgFunc, PostgresQueryBuilder, Query,
        WindowStatement,
    },
};
use uuid::Uuid;

use crate::error::AppError;

/// The loader every resolver shares (one per schema).
pub struct DbLoader {
    pub(crate) db: DatabaseConnection,
}

/// The loader, with a batching window of 1 ms that also waits for the
/// request to finish a round of polling: a batch task first yields a few
/// times, so keys that sibling resolvers ask for in the same round of work
/// (the 50 authors of a 50-post page) join it even when the machine is
/// busy and 1 ms of wall time passes before the last one is asked for.
pub fn data_loader(db: DatabaseConnection) -> SharedLoader {
    Arc::new(DataLoader::new(DbLoader { db }, |batch| {
        tokio::spawn(async move {
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            batch.await;
        })
    }))
}

/// The loader as the schema's data holds it: subscriptions keep a clone
/// for the events they load after the subscribing request is gone.
pub type SharedLoader = Arc<DataLoader<DbLoader>>;

/// The shared loader from the schema's data.
pub fn shared(ctx: &Context<'_>) -> Result<SharedLoader, AppError> {
    loader_ref(ctx).cloned()
}

fn loader_ref<'a>(ctx: &Context<'a>) -> Result<&'a SharedLoader, AppError> {
    ctx.data::<SharedLoader>()
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
    let loader = loader_ref(ctx)?;
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
    let loader = loader_ref(ctx)?;
    tokio::task::unconstrained(loader.load_many(keys)).await
}

/// What a loader answers.
pub type LoadResult<K, V> = Result<HashMap<K, V>, async_graphql::Error>;

/// A database error as the GraphQL error a loader reports.
pub fn db_error(err: sea_orm::DbErr) -> async_graphql::Error {
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
        pub struct $key(pub uuid::Uuid);

        impl async_graphql::dataloader::Loader<$key> for $crate::graphql::loader::DbLoader {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(
                &self,
                keys: &[$key],
            ) -> $crate::graphql::loader::LoadResult<$key, Self::Value> {
                use sea_orm::{EntityTrait, QueryFilter};
                let rows = $entity::Entity::find()
                    .filter(self.any_of($entity::Column::Id, keys.iter().map(|k| k.0)))
                    .into_partial_model::<$value>()
                    .all(&self.db)
                    .await
                    .map_err($crate::graphql::loader::db_error)?;
                Ok(rows.into_iter().map(|row| ($key(row.id), row)).collect())
            }
        }
    };
}
pub(crate) use by_id;

impl DbLoader {
    /// `(viewer, item, value)` for each `(viewer, item)` pair that has a
    /// row in `E`: one statement per viewer (a shared loader may batch keys
    /// from concurrent requests by different people).
    pub async fn per_viewer<E, V>(
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
    pub fn any_of<C: ColumnTrait>(&self, column: C, ids: impl IntoIterator<Item = Uuid>) -> Expr {
        self.is_any_of(column.into_expr(), ids)
    }

    /// [`any_of`](Self::any_of) for any expression (a column of an aliased
    /// table, say).
    pub fn is_any_of(&self, expr: Expr, ids: impl IntoIterator<Item = Uuid>) -> Expr {
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let ids: Vec<Uuid> = ids.into_iter().collect();
                expr.eq(PgFunc::any(Expr::val(ids)))
            }
            _ => expr.is_in(ids),
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
    pub async fn first_per_group<E>(
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
    pub async fn count_by<E: EntityTrait>(
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
pub fn by_viewer(keys: impl Iterator<Item = (Uuid, Uuid)>) -> HashMap<Uuid, Vec<Uuid>> {
    let mut groups: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (viewer, item) in keys {
        groups.entry(viewer).or_default().push(item);
    }
    groups
}

/// `(id, count)` rows into a map of counts.
pub fn counts<K: std::hash::Hash + Eq>(
    rows: Vec<(Uuid, i64)>,
    key: impl Fn(Uuid) -> K,
) -> HashMap<K, u64> {
    rows.into_iter()
        .map(|(id, n)| (key(id), u64::try_from(n).unwrap_or_default()))
        .collect()
}
