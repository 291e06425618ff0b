//! Batch loads for posts: by id, attachments, reaction counts and the
//! viewer's own reaction.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::graphql::loader::{DbLoader, LoadResult, by_id, db_error};
use entity::{enums::ReactionKind, file, post, post_attachment, reaction};
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

by_id!(PostKey, post);

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
