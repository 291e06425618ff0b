//! Who is banned from which community, as SQL the rest of the feature and
//! the comments feature read by. The actions (ban, unban) are in
//! `service.rs`, with the other moderation.

use entity::community_ban;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Query, SelectStatement},
};
use uuid::Uuid;

use crate::error::AppResult;

/// Ids of the communities `user_id` is banned from, for `NOT IN`.
pub(crate) fn banned_community_ids(user_id: Uuid) -> SelectStatement {
    Query::select()
        .column(community_ban::Column::CommunityId)
        .from(community_ban::Entity)
        .and_where(community_ban::Column::UserId.eq(user_id))
        .to_owned()
}

/// Whether `user_id` is banned from `community_id`.
pub(crate) async fn is_banned(
    db: &impl ConnectionTrait,
    community_id: Uuid,
    user_id: Uuid,
) -> AppResult<bool> {
    let found = community_ban::Entity::find()
        .filter(community_ban::Column::CommunityId.eq(community_id))
        .filter(community_ban::Column::UserId.eq(user_id))
        .count(db)
        .await?;
    Ok(found > 0)
}
