//! Batch loads for comments: by id, counts per post, and the first page of
//! many threads at once.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::graphql::loader::{DbLoader, LoadResult, by_id};
use entity::comment;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Order};

use super::service::{Thread, shown, shown_to};
use crate::graphql::loader::counts;

by_id!(CommentKey, comment);

/// All comments on a post, replies included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommentCountKey(pub Uuid);

impl Loader<CommentCountKey> for DbLoader {
    type Value = u64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CommentCountKey]) -> LoadResult<CommentCountKey, u64> {
        let select = comment::Entity::find().filter(shown());
        let column = comment::Column::PostId;
        let rows = self
            .count_by(select, column, keys.iter().map(|k| k.0))
            .await?;
        Ok(counts(rows, CommentCountKey))
    }
}

/// The first page of a thread (oldest first) as `viewer` sees it, for
/// many threads at once: the feed's "first five comments of each post" in
/// one statement. Holds up to `limit + 1` rows, so the caller can tell
/// whether there are more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirstCommentsKey {
    pub viewer: Option<Uuid>,
    pub thread: Thread,
    pub limit: u64,
}

impl Loader<FirstCommentsKey> for DbLoader {
    type Value = Vec<comment::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[FirstCommentsKey]) -> LoadResult<FirstCommentsKey, Self::Value> {
        // One statement per viewer and kind of thread (the shared loader
        // may hold the threads of many concurrent requests).
        let mut groups: HashMap<(Option<Uuid>, bool), Vec<&FirstCommentsKey>> = HashMap::new();
        for key in keys {
            let top_level = matches!(key.thread, Thread::Post(_));
            groups.entry((key.viewer, top_level)).or_default().push(key);
        }
        let mut pages = HashMap::new();
        for ((viewer, top_level), group) in groups {
            let limit = group.iter().map(|k| k.limit).max().unwrap_or_default() + 1;
            // The same rows as `thread_condition` per thread.
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
            let mut filter = shown_to(viewer);
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
