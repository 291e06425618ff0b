//! What the content pane shows of communities: a searchable list with
//! member counts, and one community's page with its members. Changes go
//! through `communities::service`, where an instance admin acts as the
//! owner of every community.

use std::collections::HashMap;

use entity::{community, membership, post, user};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::{
    audit::next_page,
    figures::{contains, usernames},
};
use crate::{db::Db, error::AppResult};

/// One community in the list.
pub(crate) struct CommunityRow {
    pub(crate) community: community::Model,
    pub(crate) members: i64,
}

/// Communities whose name or slug contains `query` (any case), newest
/// first, `limit` per page after `after`.
pub(crate) async fn list(
    db: &Db,
    query: &str,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<(Vec<CommunityRow>, Option<Uuid>)> {
    let mut which = Condition::all();
    if let Some(pattern) = contains(query)? {
        which = which.add(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(community::Column::Name)))
                        .like(pattern.clone()),
                )
                .add(Expr::col(community::Column::Slug).like(pattern)),
        );
    }
    if let Some(after) = after {
        which = which.add(community::Column::Id.lt(after));
    }
    let mut rows = community::Entity::find()
        .filter(which)
        .order_by_desc(community::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next = next_page(&mut rows, limit, |c| c.id);
    let counts: HashMap<Uuid, i64> = membership::Entity::find()
        .select_only()
        .column(membership::Column::CommunityId)
        .column_as(membership::Column::Id.count(), "n")
        .filter(membership::Column::CommunityId.is_in(rows.iter().map(|c| c.id)))
        .group_by(membership::Column::CommunityId)
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let rows = rows
        .into_iter()
        .map(|community| CommunityRow {
            members: counts.get(&community.id).copied().unwrap_or(0),
            community,
        })
        .collect();
    Ok((rows, next))
}

/// One member as the community page lists them.
pub(crate) struct Member {
    pub(crate) membership: membership::Model,
    pub(crate) username: String,
}

pub(crate) struct CommunityPage {
    pub(crate) community: community::Model,
    pub(crate) creator: Option<user::Model>,
    pub(crate) member_count: u64,
    pub(crate) post_count: u64,
    /// Oldest first, a page of them after the requested membership.
    pub(crate) members: Vec<Member>,
    pub(crate) next: Option<Uuid>,
}

/// The community `id` with a page of its members (oldest membership first,
/// after the membership `after`); `None` when there is no such community.
pub(crate) async fn page(
    db: &Db,
    id: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<Option<CommunityPage>> {
    let Some(community) = community::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let creator = match community.created_by_id {
        Some(creator) => user::Entity::find_by_id(creator).one(db).await?,
        None => None,
    };
    let of_this = membership::Column::CommunityId.eq(id);
    let member_count = membership::Entity::find()
        .filter(of_this.clone())
        .count(db)
        .await?;
    let post_count = post::Entity::find()
        .filter(post::Column::CommunityId.eq(id))
        .count(db)
        .await?;
    let mut which = Condition::all().add(of_this);
    if let Some(after) = after {
        which = which.add(membership::Column::Id.gt(after));
    }
    let mut rows = membership::Entity::find()
        .filter(which)
        .order_by_asc(membership::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let next = next_page(&mut rows, limit, |m| m.id);
    let names = usernames(db, rows.iter().map(|m| m.user_id)).await?;
    let members = rows
        .into_iter()
        .map(|membership| Member {
            username: names.get(&membership.user_id).cloned().unwrap_or_default(),
            membership,
        })
        .collect();
    Ok(Some(CommunityPage {
        community,
        creator,
        member_count,
        post_count,
        members,
        next,
    }))
}
