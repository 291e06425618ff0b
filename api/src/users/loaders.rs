//! Batch loads for users: profiles by id, follow counts, and whether the
//! viewer follows someone.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::graphql::loader::{DbLoader, LoadResult, by_id};
use entity::{follow, user};
use sea_orm::EntityTrait;

use super::service::FollowList;
use crate::graphql::loader::counts;

by_id!(UserKey, user, user::Profile);

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
