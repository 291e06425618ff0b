//! Who may read which posts, as SQL: a condition every list, the feed and
//! single lookups apply, and that other features reuse (a file attached to
//! a post is readable where the post is). It depends on communities,
//! users and blocks, never on what uses it.

use entity::post;
use sea_orm::{ColumnTrait, Condition, sea_query::Expr};
use uuid::Uuid;

use crate::{
    communities::service as communities, safety::service as safety, users::service as users,
};

/// The posts `viewer` may read: a post on a profile or in a public
/// community is public; a post in a private community is for its members;
/// a post a moderator removed, and a disabled (banned) author's posts
/// while the ban lasts, are hidden from everyone; posts by someone on
/// either side of a block with the viewer are hidden from the viewer.
pub(crate) fn readable(viewer: Option<Uuid>) -> Condition {
    readable_to(viewer.map(Expr::from))
}

/// [`readable`] with the viewer as SQL: a bound id, or the column of
/// readers in a query that checks many at once (an event's subscribers).
pub(crate) fn readable_to(reader: Option<Expr>) -> Condition {
    let mut place = Condition::any()
        .add(post::Column::CommunityId.is_null())
        .add(post::Column::CommunityId.not_in_subquery(communities::private_community_ids()));
    if let Some(reader) = reader.clone() {
        place = place
            .add(post::Column::CommunityId.in_subquery(communities::member_community_ids(reader)));
    }
    Condition::all()
        .add(place)
        .add(post::Column::RemovedAt.is_null())
        .add(post::Column::AuthorId.not_in_subquery(users::disabled_user_ids()))
        .add(safety::visible_to_reader(post::Column::AuthorId, reader))
}
