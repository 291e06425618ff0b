//! Which of an event's subscribers may see its row, for all of them at
//! once.
//!
//! One comment on a busy post wakes every subscription to that post, and
//! each must check the comment through the same read rules as a query
//! (blocks either way, private communities, moderation). Asked one by one
//! that is one statement per subscriber per event. Asked through the shared
//! DataLoader, the checks of one event gather into a batch: the row is read
//! once, and one statement per few hundred signed-in subscribers keeps
//! those the rules let read it. The rules are the queries' own, written
//! with the reader as a column (`reader.id`) instead of a bound id.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use entity::{comment, post, user};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use crate::{
    comments::service as comments,
    db,
    graphql::loader::{DbLoader, LoadResult, db_error},
    posts::service as posts,
    safety::service as safety,
};

/// Signed-in readers checked per statement: well under SQLite's limit of
/// bound values, and a bounded amount of work for one statement.
const READERS_PER_STATEMENT: usize = 500;

/// A comment, if `viewer` may read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CommentFor {
    pub comment: Uuid,
    pub viewer: Option<Uuid>,
}

/// A post, if `viewer` may read it and, when `actor` is set (whoever
/// reacted), no block stands between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PostFor {
    pub post: Uuid,
    pub viewer: Option<Uuid>,
    pub actor: Option<Uuid>,
}

impl Loader<CommentFor> for DbLoader {
    type Value = comment::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CommentFor]) -> LoadResult<CommentFor, comment::Model> {
        let mut found = HashMap::new();
        for (id, viewers) in group(keys.iter().map(|k| (k.comment, k.viewer))) {
            let Some(row) = comment::Entity::find_by_id(id)
                .one(&self.db)
                .await
                .map_err(db_error)?
            else {
                continue;
            };
            let rule = |reader: Option<Expr>| {
                one_row(comment::Entity, comment::Column::Id, id)
                    .cond_where(comments::readable_to(reader))
                    .to_owned()
            };
            for viewer in self.readers(&viewers, rule).await? {
                let key = CommentFor {
                    comment: id,
                    viewer,
                };
                found.insert(key, row.clone());
            }
        }
        Ok(found)
    }
}

impl Loader<PostFor> for DbLoader {
    type Value = post::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PostFor]) -> LoadResult<PostFor, post::Model> {
        let mut found = HashMap::new();
        let targets = group(keys.iter().map(|k| ((k.post, k.actor), k.viewer)));
        for ((id, actor), viewers) in targets {
            let Some(row) = post::Entity::find_by_id(id)
                .one(&self.db)
                .await
                .map_err(db_error)?
            else {
                continue;
            };
            let rule = |reader: Option<Expr>| {
                let mut rule = one_row(post::Entity, post::Column::Id, id)
                    .cond_where(posts::readable_to(reader.clone()))
                    .to_owned();
                if let (Some(actor), Some(reader)) = (actor, reader) {
                    rule.and_where(Expr::exists(safety::blocks_between(reader, actor)).not());
                }
                rule
            };
            for viewer in self.readers(&viewers, rule).await? {
                let key = PostFor {
                    post: id,
                    viewer,
                    actor,
                };
                found.insert(key, row.clone());
            }
        }
        Ok(found)
    }
}

/// `viewers` grouped by what they ask for.
fn group<T: std::hash::Hash + Eq>(
    keys: impl Iterator<Item = (T, Option<Uuid>)>,
) -> HashMap<T, Vec<Option<Uuid>>> {
    let mut groups: HashMap<T, Vec<Option<Uuid>>> = HashMap::new();
    for (target, viewer) in keys {
        groups.entry(target).or_default().push(viewer);
    }
    groups
}

/// `SELECT 1 FROM entity WHERE id = ?`, for a rule to narrow.
fn one_row<E: EntityTrait>(entity: E, id_column: E::Column, id: Uuid) -> SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(entity)
        .and_where(id_column.eq(id))
        .to_owned()
}

impl DbLoader {
    /// Those of `viewers` for whom `rule` (a statement, given the reader
    /// as SQL, that has a row when they may read the target) holds. An
    /// anonymous viewer is one check for all of them; signed-in viewers
    /// are checked [`READERS_PER_STATEMENT`] at a time, each statement
    /// keeping the ids of `users AS reader` for whom the rule has a row.
    async fn readers(
        &self,
        viewers: &[Option<Uuid>],
        rule: impl Fn(Option<Expr>) -> SelectStatement,
    ) -> Result<Vec<Option<Uuid>>, async_graphql::Error> {
        let mut allowed = Vec::new();
        if viewers.contains(&None) && db::holds(&self.db, Expr::exists(rule(None))).await? {
            allowed.push(None);
        }
        let signed_in: Vec<Uuid> = viewers.iter().flatten().copied().collect();
        let reader = || Expr::col((Alias::new("reader"), user::Column::Id));
        for chunk in signed_in.chunks(READERS_PER_STATEMENT) {
            let query = Query::select()
                .expr(reader())
                .from_as(user::Entity, Alias::new("reader"))
                .cond_where(
                    Condition::all()
                        .add(self.is_any_of(reader(), chunk.iter().copied()))
                        .add(Expr::exists(rule(Some(reader())))),
                )
                .to_owned();
            for row in self.db.query_all(&query).await.map_err(db_error)? {
                allowed.push(Some(row.try_get_by_index::<Uuid>(0).map_err(db_error)?));
            }
        }
        Ok(allowed)
    }
}
