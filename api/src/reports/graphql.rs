//! GraphQL for reports: filing one, the reporter's own list, the
//! moderation queue, resolving.

use async_graphql::{
    Context, Enum, ID, InputObject, Object,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::{enums::ReportTarget, report};

use super::service::{self, QueueFilter, Target};
use crate::{
    auth::{SignedIn, viewer::signed_in, viewer_id},
    comments::{graphql::Comment, loaders::CommentKey, service as comments},
    communities::{graphql::Community, loaders::CommunityKey},
    error::AppError,
    graphql::{
        context,
        id::{NodeType, expect_global_id, from_global_id, to_global_id},
        loader::load_one,
        relay::{IntoConnection, page_complexity},
    },
    messages::{graphql::Message, loaders::MessageKey, service as messages},
    paging::{KeysetCursor, Page, PageArgs, PageRequest},
    posts::{graphql::Post, loaders::PostKey, service as posts},
    users::{
        graphql::{User, load_user},
        loaders::UserKey,
        service as users,
    },
};

/// Why something is reported.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::ReportReason")]
pub enum ReportReason {
    Spam,
    Harassment,
    Hate,
    Violence,
    /// Sexual content or nudity.
    Sexual,
    /// Suicide or self-harm.
    SelfHarm,
    Illegal,
    Other,
}

/// What a moderator did about a report.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::ReportAction")]
pub enum ReportAction {
    /// Nothing was wrong.
    Dismissed,
    /// The post or comment was removed (it can be restored from the
    /// dashboard), or the message deleted (admins only).
    ContentRemoved,
    /// The author was removed from the community and may not join again
    /// or comment there.
    CommunityBan,
    /// The account was disabled (admins only).
    AccountBan,
}

/// What a report is about.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "entity::enums::ReportTarget")]
pub enum ReportTargetType {
    Post,
    Comment,
    Message,
    User,
    Community,
}

/// A report, as its reporter or a moderator sees it.
pub(crate) struct Report {
    model: report::Model,
    /// Seen from the moderation queue: who is reported and who resolved
    /// it show; a reporter sees the outcome only.
    as_moderator: bool,
}

impl Report {
    /// A report as its reporter sees it.
    pub(crate) fn for_reporter(model: report::Model) -> Self {
        Self {
            model,
            as_moderator: false,
        }
    }

    /// The reported row's id, when the report is about a `kind`.
    fn target(&self, kind: ReportTarget) -> Option<uuid::Uuid> {
        (self.model.target_type == kind).then_some(self.model.target_id)
    }
}

#[Object]
impl Report {
    async fn id(&self) -> ID {
        to_global_id(NodeType::Report, self.model.id)
    }

    async fn reason(&self) -> ReportReason {
        self.model.reason.into()
    }

    /// The reporter's own words (may be empty).
    async fn note(&self) -> &str {
        &self.model.note
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    async fn target_type(&self) -> ReportTargetType {
        self.model.target_type.into()
    }

    /// The reported post. A moderator sees it as it is, removed or not,
    /// to judge it; its reporter sees it while they may read it. The same
    /// goes for `comment`, `message`, `user` and `community`; each is null
    /// for the other kinds of report, and once the thing is deleted.
    async fn post(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Post>> {
        let Some(id) = self.target(ReportTarget::Post) else {
            return Ok(None);
        };
        let found = if self.as_moderator {
            load_one(ctx, PostKey(id)).await?
        } else {
            posts::find_readable(context::db(ctx)?, viewer_id(ctx)?, id).await?
        };
        Ok(found.map(Post))
    }

    async fn comment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Comment>> {
        let Some(id) = self.target(ReportTarget::Comment) else {
            return Ok(None);
        };
        let found = if self.as_moderator {
            load_one(ctx, CommentKey(id)).await?
        } else {
            comments::find_readable(context::db(ctx)?, viewer_id(ctx)?, id).await?
        };
        Ok(found.map(Comment))
    }

    async fn message(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        let Some(id) = self.target(ReportTarget::Message) else {
            return Ok(None);
        };
        let found = if self.as_moderator {
            load_one(ctx, MessageKey(id)).await?
        } else {
            messages::find_message_for(context::db(ctx)?, signed_in(ctx)?.user_id, id).await?
        };
        Ok(found.map(Message))
    }

    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.target(ReportTarget::User) else {
            return Ok(None);
        };
        let found = if self.as_moderator {
            load_one(ctx, UserKey(id)).await?
        } else {
            users::find_profile(context::db(ctx)?, viewer_id(ctx)?, id).await?
        };
        Ok(found.map(User))
    }

    async fn community(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Community>> {
        let Some(id) = self.target(ReportTarget::Community) else {
            return Ok(None);
        };
        Ok(load_one(ctx, CommunityKey(id)).await?.map(Community))
    }

    /// Who wrote what is reported (or who is reported); moderators only,
    /// null for the reporter.
    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.model.subject_id {
            Some(id) if self.as_moderator => Ok(Some(load_user(ctx, id).await?)),
            _ => Ok(None),
        }
    }

    /// Null while the report is open.
    async fn action(&self) -> Option<ReportAction> {
        self.model.action.map(Into::into)
    }

    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.model.resolved_at
    }

    /// The moderator's reason, told to the reporter too.
    async fn resolution_note(&self) -> Option<&str> {
        self.model.resolution_note.as_deref()
    }

    /// Which moderator resolved it; moderators only, null for the reporter.
    async fn resolved_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.model.resolved_by_id {
            Some(id) if self.as_moderator => Ok(Some(load_user(ctx, id).await?)),
            _ => Ok(None),
        }
    }
}

pub(crate) type ReportConnection = Connection<String, Report, EmptyFields, EmptyFields>;

fn connection(page: Page<report::Model>, as_moderator: bool) -> ReportConnection {
    page.into_connection(
        EmptyFields,
        |r| KeysetCursor {
            created_at: r.created_at,
            id: r.id,
        },
        |model| Report {
            model,
            as_moderator,
        },
    )
}

#[derive(InputObject)]
pub(crate) struct ReportInput {
    /// The global id of a post, comment or message you can see, a user or
    /// a community.
    target_id: ID,
    reason: ReportReason,
    /// Up to 1,000 characters for the moderators.
    note: Option<String>,
}

#[derive(Default)]
pub(crate) struct ReportsQuery;

#[Object]
impl ReportsQuery {
    /// Reports you filed, newest first, with what came of them.
    #[graphql(
        guard = "SignedIn",
        complexity = "page_complexity(first, last, child_complexity)"
    )]
    async fn my_reports(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ReportConnection> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let viewer = signed_in(ctx)?.user_id;
        let page = service::mine(context::db(ctx)?, viewer, &request).await?;
        Ok(connection(page, false))
    }

    /// The moderation queue, oldest first: open reports (or, with
    /// `resolved: true`, resolved ones) about content in the communities
    /// you own or moderate; an admin sees every report. `communityId`
    /// narrows it to one community you moderate.
    #[graphql(
        guard = "SignedIn",
        complexity = "page_complexity(first, last, child_complexity)"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn reports(
        &self,
        ctx: &Context<'_>,
        resolved: Option<bool>,
        community_id: Option<ID>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<ReportConnection> {
        let request = PageRequest::new(PageArgs {
            first,
            after,
            last,
            before,
        })?;
        let filter = QueueFilter {
            resolved: resolved.unwrap_or(false),
            community_id: community_id
                .map(|id| expect_global_id(&id, NodeType::Community, "communityId"))
                .transpose()?,
        };
        let page = service::queue(context::db(ctx)?, &signed_in(ctx)?, filter, &request).await?;
        Ok(connection(page, true))
    }
}

#[derive(Default)]
pub(crate) struct ReportsMutation;

#[Object]
impl ReportsMutation {
    /// Reports a post, comment or message you can see, a user or a
    /// community to its moderators (a community's owner and moderators for
    /// content there; instance admins for the rest). One open report per
    /// thing: reporting it again before it is resolved is `CONFLICT`.
    #[graphql(guard = "SignedIn")]
    async fn report(&self, ctx: &Context<'_>, input: ReportInput) -> async_graphql::Result<Report> {
        let target = match from_global_id(&input.target_id) {
            Some((NodeType::Post, id)) => Target::Post(id),
            Some((NodeType::Comment, id)) => Target::Comment(id),
            Some((NodeType::Message, id)) => Target::Message(id),
            Some((NodeType::User, id)) => Target::User(id),
            Some((NodeType::Community, id)) => Target::Community(id),
            _ => {
                return Err(AppError::bad_input(
                    "input.targetId",
                    "give the id of a post, comment, message, user or community",
                )
                .into());
            }
        };
        let viewer = signed_in(ctx)?;
        let model = service::create(
            context::db(ctx)?,
            &viewer,
            target,
            input.reason.into(),
            input.note,
        )
        .await?;
        Ok(Report {
            model,
            as_moderator: false,
        })
    }

    /// Deals with a report (and every other open report about the same
    /// thing; each reporter sees the outcome in `myReports`). A
    /// community's owner and moderators dismiss, remove the content or ban
    /// its author from the community; deleting a message and banning an
    /// account are for admins. `note` is told to the reporters.
    #[graphql(guard = "SignedIn")]
    async fn resolve_report(
        &self,
        ctx: &Context<'_>,
        id: ID,
        action: ReportAction,
        note: Option<String>,
    ) -> async_graphql::Result<Report> {
        let id = expect_global_id(&id, NodeType::Report, "id")?;
        let viewer = signed_in(ctx)?;
        let auth = crate::auth::graphql::auth(ctx)?;
        let db = context::db(ctx)?;
        let model = service::resolve(db, auth, &viewer, id, action.into(), note).await?;
        if viewer.role == entity::enums::UserRole::Admin {
            let detail = format!(
                "resolved a report: {}",
                model.action.map_or("", |a| action_name(a))
            );
            let target = Some(("report", model.id.to_string()));
            context::audit(ctx, "report.resolve", target, detail).await?;
        }
        Ok(Report {
            model,
            as_moderator: true,
        })
    }
}

/// An action as the audit log and the dashboard say it.
pub(crate) fn action_name(action: entity::enums::ReportAction) -> &'static str {
    use entity::enums::ReportAction as A;
    match action {
        A::Dismissed => "dismissed",
        A::ContentRemoved => "content removed",
        A::CommunityBan => "banned from the community",
        A::AccountBan => "account banned",
    }
}
