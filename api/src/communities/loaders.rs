//! Batch loads for communities: by id, member counts, the viewer's role.

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::graphql::loader::{DbLoader, LoadResult, by_id};
use entity::{community, enums::MembershipRole, membership};
use sea_orm::EntityTrait;

use crate::graphql::loader::counts;

by_id!(CommunityKey, community);

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
