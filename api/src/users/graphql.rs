//! GraphQL for users: public profiles, the directory, follows and
//! `updateProfile`.

use async_graphql::{Context, ID, InputObject, Object, connection::Connection};
use chrono::{DateTime, Utc};
use entity::{follow, user};

use super::{
    loaders::{FollowCountKey, UserKey, ViewerFollowsKey},
    service::{self, FollowList, ProfileChanges},
};
use crate::{
    auth::{SignedIn, viewer::signed_in, viewer_id},
    files::graphql::File,
    files::loaders::FileKey,
    graphql::{
        context,
        id::{NodeType, expect_global_id, to_global_id},
        loader::{load_many, load_one},
        relay::{IntoConnection, page_complexity},
    },
    paging::{KeysetCursor, Page, PageArgs, PageRequest},
    posts::graphql::{PostConnection, PostFilterInput, list_posts},
    safety::{
        loaders::{Relation, RelationKey},
        service as safety,
    },
};

/// A public profile. Private columns (email, password hash, role) are
/// not even loaded.
#[derive(Clone)]
pub(crate) struct User(pub user::Profile);

impl From<user::Model> for User {
    fn from(model: user::Model) -> Self {
        Self(model.into())
    }
}

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        to_global_id(NodeType::User, self.0.id)
    }

    /// Unique handle, case-insensitively.
    async fn username(&self) -> &str {
        &self.0.username
    }

    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    async fn bio(&self) -> &str {
        &self.0.bio
    }

    /// The profile picture (public); null when none is set.
    async fn avatar(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<File>> {
        let Some(id) = self.0.avatar_file_id else {
            return Ok(None);
        };
        Ok(load_one(ctx, FileKey(id)).await?.map(|model| File {
            model,
            public: true,
        }))
    }

    /// When the account was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn follower_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let key = FollowCountKey(FollowList::Followers(self.0.id));
        Ok(load_one(ctx, key).await?.unwrap_or(0))
    }

    async fn following_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let key = FollowCountKey(FollowList::Following(self.0.id));
        Ok(load_one(ctx, key).await?.unwrap_or(0))
    }

    /// Whether the signed-in viewer follows this user (false when
    /// anonymous).
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let Some(viewer) = viewer_id(ctx)? else {
            return Ok(false);
        };
        let key = ViewerFollowsKey {
            viewer,
            user: self.0.id,
        };
        Ok(load_one(ctx, key).await?.is_some())
    }

    /// Whether the signed-in viewer blocked this user (false when
    /// anonymous).
    async fn viewer_has_blocked(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        viewer_relation(ctx, Relation::Blocked, self.0.id).await
    }

    /// Whether the signed-in viewer muted this user (false when
    /// anonymous).
    async fn viewer_has_muted(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        viewer_relation(ctx, Relation::MutedUser, self.0.id).await
    }

    /// Who follows this user, newest first (without anyone the viewer
    /// blocked or who blocked them).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<UserConnection> {
        follow_connection(
            ctx,
            FollowList::Followers(self.0.id),
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }

    /// Whom this user follows, newest first (without anyone the viewer
    /// blocked or who blocked them).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<UserConnection> {
        follow_connection(
            ctx,
            FollowList::Following(self.0.id),
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }

    /// This user's posts that the viewer may read, newest first.
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        filter: Option<PostFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<PostConnection> {
        let mut filter = filter
            .map(PostFilterInput::into_filter)
            .transpose()?
            .unwrap_or_default();
        filter.author_id = Some(self.0.id);
        list_posts(
            ctx,
            filter,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
    }
}

/// What a users connection's `totalCount` counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UserTotal {
    Everyone,
    Of(FollowList),
    /// Whom this viewer blocked.
    BlockedBy(uuid::Uuid),
    /// Whom this viewer muted.
    MutedBy(uuid::Uuid),
}

/// Extra fields on users connections, computed only when asked for.
pub(crate) struct UserConnectionFields(UserTotal);

#[Object]
impl UserConnectionFields {
    /// How many users the whole list holds.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        match self.0 {
            UserTotal::Everyone => Ok(service::count(context::db(ctx)?).await?),
            UserTotal::Of(list) => Ok(load_one(ctx, FollowCountKey(list)).await?.unwrap_or(0)),
            UserTotal::BlockedBy(viewer) => {
                Ok(safety::count_blocked(context::db(ctx)?, viewer).await?)
            }
            UserTotal::MutedBy(viewer) => {
                Ok(safety::count_muted_users(context::db(ctx)?, viewer).await?)
            }
        }
    }
}

pub(crate) type UserConnection =
    Connection<String, User, UserConnectionFields, async_graphql::connection::EmptyFields>;

async fn follow_connection(
    ctx: &Context<'_>,
    list: FollowList,
    page: PageArgs,
) -> async_graphql::Result<UserConnection> {
    let request = PageRequest::new(page)?;
    let page = service::follows(context::db(ctx)?, viewer_id(ctx)?, list, &request).await?;
    people_connection(
        ctx,
        page,
        UserTotal::Of(list),
        |f: &follow::Model| match list {
            FollowList::Followers(_) => f.follower_id,
            FollowList::Following(_) => f.followee_id,
        },
        |f| KeysetCursor {
            created_at: f.created_at,
            id: f.id,
        },
    )
    .await
}

/// A page of rows that each name a person (a follow, a block), as a
/// users connection: the row gives the cursor, the person is loaded in a
/// batch, and one deleted meanwhile is left out.
pub(crate) async fn people_connection<T>(
    ctx: &Context<'_>,
    page: Page<T>,
    total: UserTotal,
    person: impl Fn(&T) -> uuid::Uuid,
    cursor: impl Fn(&T) -> KeysetCursor,
) -> async_graphql::Result<UserConnection> {
    let users = load_many(ctx, page.items.iter().map(|row| UserKey(person(row)))).await?;
    let page = page.filter_map(|row| {
        users
            .get(&UserKey(person(&row)))
            .cloned()
            .map(|user| (row, user))
    });
    Ok(page.into_connection(
        UserConnectionFields(total),
        |(row, _)| cursor(row),
        |(_, user)| User(user),
    ))
}

#[derive(InputObject)]
pub(crate) struct UpdateProfileInput {
    /// 1 to 64 characters.
    display_name: Option<String>,
    /// Up to 500 characters.
    bio: Option<String>,
}

#[derive(Default)]
pub(crate) struct UsersQuery;

#[Object]
impl UsersQuery {
    /// A user by global id; null if there is none (or a block stands
    /// between them and the viewer).
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        let id = expect_global_id(&id, NodeType::User, "id")?;
        Ok(
            service::find_profile(context::db(ctx)?, viewer_id(ctx)?, id)
                .await?
                .map(User),
        )
    }

    /// A user by username (case-insensitive); null if there is none (or
    /// a block stands between them and the viewer).
    async fn user_by_username(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<Option<User>> {
        Ok(
            service::find_visible_by_username(context::db(ctx)?, viewer_id(ctx)?, &username)
                .await?
                .map(User::from),
        )
    }

    /// Every user, oldest account first (without anyone the viewer
    /// blocked or who blocked them). Page with `first`/`after` or
    /// `last`/`before` (at most 100 per page).
    #[graphql(complexity = "page_complexity(first, last, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<UserConnection> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let page = service::list(context::db(ctx)?, viewer_id(ctx)?, &request).await?;
        Ok(page.into_connection(
            UserConnectionFields(UserTotal::Everyone),
            |u| KeysetCursor {
                created_at: u.created_at,
                id: u.id,
            },
            User::from,
        ))
    }
}

#[derive(Default)]
pub(crate) struct UsersMutation;

#[Object]
impl UsersMutation {
    /// Changes the viewer's public profile; omitted fields stay as they are.
    #[graphql(guard = "SignedIn")]
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> async_graphql::Result<User> {
        let changes = ProfileChanges {
            display_name: input.display_name,
            bio: input.bio,
        };
        let user = service::update_profile(context::db(ctx)?, &signed_in(ctx)?, changes).await?;
        Ok(User::from(user))
    }

    /// Follows a user; following twice is `CONFLICT`. Returns that user.
    #[graphql(guard = "SignedIn")]
    async fn follow(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<User> {
        let id = expect_global_id(&user_id, NodeType::User, "userId")?;
        let user = service::follow(context::db(ctx)?, &signed_in(ctx)?, id).await?;
        Ok(User::from(user))
    }

    /// Stops following a user (`NOT_FOUND` if not following). Returns that
    /// user.
    #[graphql(guard = "SignedIn")]
    async fn unfollow(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<User> {
        let id = expect_global_id(&user_id, NodeType::User, "userId")?;
        let user = service::unfollow(context::db(ctx)?, &signed_in(ctx)?, id).await?;
        Ok(User::from(user))
    }
}

/// Whether `relation` holds between the signed-in viewer and `other`
/// (false when anonymous).
pub(crate) async fn viewer_relation(
    ctx: &Context<'_>,
    relation: Relation,
    other: uuid::Uuid,
) -> async_graphql::Result<bool> {
    let Some(viewer) = viewer_id(ctx)? else {
        return Ok(false);
    };
    let key = RelationKey {
        relation,
        viewer,
        other,
    };
    Ok(load_one(ctx, key).await?.is_some())
}

/// A user's profile row through the loader, for edges such as a post's
/// author.
pub(crate) async fn load_user(ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<User> {
    load_one(ctx, UserKey(id))
        .await?
        .map(User)
        .ok_or_else(|| crate::error::AppError::NotFound("user").into())
}
