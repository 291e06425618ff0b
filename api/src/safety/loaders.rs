//! Batch loads for blocks and mutes, per viewer: whether a block stands
//! between the viewer and someone (either way), and the viewer's own
//! blocks and mutes for the `viewerHas…` fields.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use entity::{block, community_mute, user_mute};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::graphql::loader::{DbLoader, LoadResult, by_viewer, db_error};

/// Who did what to whom, for one viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// A block either way: present means the two do not see each other.
    Hidden,
    /// The viewer blocked them.
    Blocked,
    /// The viewer muted them.
    MutedUser,
    /// The viewer muted this community.
    MutedCommunity,
}

/// Whether `relation` holds between `viewer` and `other` (present means
/// yes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelationKey {
    pub relation: Relation,
    pub viewer: Uuid,
    pub other: Uuid,
}

impl Loader<RelationKey> for DbLoader {
    type Value = ();
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[RelationKey]) -> LoadResult<RelationKey, ()> {
        let mut found = HashMap::new();
        for relation in [
            Relation::Hidden,
            Relation::Blocked,
            Relation::MutedUser,
            Relation::MutedCommunity,
        ] {
            let asked = keys
                .iter()
                .filter(|k| k.relation == relation)
                .map(|k| (k.viewer, k.other));
            for (viewer, others) in by_viewer(asked) {
                for other in self.holding(relation, viewer, others).await? {
                    let key = RelationKey {
                        relation,
                        viewer,
                        other,
                    };
                    found.insert(key, ());
                }
            }
        }
        Ok(found)
    }
}

impl DbLoader {
    /// Which of `others` stand in `relation` to `viewer`: one statement.
    async fn holding(
        &self,
        relation: Relation,
        viewer: Uuid,
        others: Vec<Uuid>,
    ) -> Result<Vec<Uuid>, async_graphql::Error> {
        let select = match relation {
            Relation::Hidden => {
                let rows: Vec<(Uuid, Uuid)> = block::Entity::find()
                    .select_only()
                    .column(block::Column::BlockerId)
                    .column(block::Column::BlockedId)
                    .filter(
                        Condition::any()
                            .add(
                                Condition::all()
                                    .add(block::Column::BlockerId.eq(viewer))
                                    .add(self.any_of(block::Column::BlockedId, others.clone())),
                            )
                            .add(
                                Condition::all()
                                    .add(block::Column::BlockedId.eq(viewer))
                                    .add(self.any_of(block::Column::BlockerId, others)),
                            ),
                    )
                    .into_tuple()
                    .all(&self.db)
                    .await
                    .map_err(db_error)?;
                return Ok(rows
                    .into_iter()
                    .map(|(a, b)| if a == viewer { b } else { a })
                    .collect());
            }
            Relation::Blocked => block::Entity::find()
                .select_only()
                .column(block::Column::BlockedId)
                .filter(block::Column::BlockerId.eq(viewer))
                .filter(self.any_of(block::Column::BlockedId, others))
                .into_query(),
            Relation::MutedUser => user_mute::Entity::find()
                .select_only()
                .column(user_mute::Column::MutedUserId)
                .filter(user_mute::Column::UserId.eq(viewer))
                .filter(self.any_of(user_mute::Column::MutedUserId, others))
                .into_query(),
            Relation::MutedCommunity => community_mute::Entity::find()
                .select_only()
                .column(community_mute::Column::CommunityId)
                .filter(community_mute::Column::UserId.eq(viewer))
                .filter(self.any_of(community_mute::Column::CommunityId, others))
                .into_query(),
        };
        let rows = self.db.query_all(&select).await.map_err(db_error)?;
        rows.iter()
            .map(|row| row.try_get_by_index::<Uuid>(0).map_err(db_error))
            .collect()
    }
}
