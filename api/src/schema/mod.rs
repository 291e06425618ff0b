//! Schema assembly: the one place that names every feature. Each feature
//! folder owns its Query and Mutation objects (and realtime the
//! Subscription root); they are merged here into one schema with the
//! limits from config, and executed through the [`pipeline`].

pub(crate) mod limits;
mod node;
mod nulls;
pub(crate) mod pipeline;

pub(crate) use limits::GraphqlLimits;

use std::sync::Arc;

use async_graphql::{
    MergedObject, MergedObjectTail, MergedSubscription, ObjectType, Request, Response, Schema,
    SchemaBuilder, SubscriptionType,
    futures_util::{future::BoxFuture, stream::BoxStream},
};

use crate::{
    auth::{
        Auth,
        graphql::{AuthMutation, AuthQuery},
        social::graphql::{SocialMutation, SocialQuery},
    },
    backup::{
        Backups,
        graphql::{BackupMutation, BackupQuery},
    },
    comments::graphql::CommentsMutation,
    communities::graphql::{CommunitiesMutation, CommunitiesQuery},
    db::Db,
    files::{Files, graphql::FilesMutation},
    hooks::Hooks,
    messages::graphql::{MessagesMutation, MessagesQuery},
    notifications::graphql::{NotificationsMutation, NotificationsQuery},
    posts::graphql::{PostsMutation, PostsQuery},
    push::graphql::{PushMutation, PushQuery},
    realtime::{Broker, catch_up::CatchUpQuery, graphql::Subscription as RealtimeSubscription},
    reports::graphql::{ReportsMutation, ReportsQuery},
    safety::graphql::{SafetyMutation, SafetyQuery},
    users::graphql::{UsersMutation, UsersQuery},
    webhooks::{
        Webhooks,
        graphql::{WebhooksMutation, WebhooksQuery},
    },
};

// The roots, each with a slot (`A`) for an application's own fields
// (empty unless an application fills it): one type per root, so each
// keeps the name clients know. (Plain comments: a doc comment would
// become the type's description in the schema.)
//
// The features come in groups of a few: a merged object nests its parts
// one inside the next, and one long chain makes types too deep for
// rustc's default recursion limit in every crate that builds the schema,
// an application's included. The order is the schema's field order.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub(crate) struct Query<A: ObjectType = MergedObjectTail>(
    AccountQueries,
    ContentQueries,
    OperationQueries,
    A,
);

#[derive(MergedObject, Default)]
pub(crate) struct AccountQueries(
    node::NodeQuery,
    AuthQuery,
    SocialQuery,
    UsersQuery,
    SafetyQuery,
);

#[derive(MergedObject, Default)]
pub(crate) struct ContentQueries(
    ReportsQuery,
    NotificationsQuery,
    PushQuery,
    CommunitiesQuery,
    PostsQuery,
);

#[derive(MergedObject, Default)]
pub(crate) struct OperationQueries(MessagesQuery, CatchUpQuery, BackupQuery, WebhooksQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub(crate) struct Mutation<A: ObjectType = MergedObjectTail>(
    AccountMutations,
    ContentMutations,
    OperationMutations,
    A,
);

#[derive(MergedObject, Default)]
pub(crate) struct AccountMutations(
    AuthMutation,
    SocialMutation,
    UsersMutation,
    SafetyMutation,
    ReportsMutation,
);

#[derive(MergedObject, Default)]
pub(crate) struct ContentMutations(
    NotificationsMutation,
    PushMutation,
    CommunitiesMutation,
    PostsMutation,
    CommentsMutation,
);

#[derive(MergedObject, Default)]
pub(crate) struct OperationMutations(
    MessagesMutation,
    FilesMutation,
    BackupMutation,
    WebhooksMutation,
);

#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub(crate) struct Subscription<A: SubscriptionType = MergedObjectTail>(RealtimeSubscription, A);

/// The executable schema, whatever its roots: the HTTP layer runs
/// Hearth's alone and an application's extended one the same way.
#[derive(Clone)]
pub(crate) struct AppSchema(Arc<dyn Execute>);

trait Execute: Send + Sync {
    fn execute(&self, request: Request) -> BoxFuture<'static, Response>;
    fn execute_stream(&self, request: Request) -> BoxStream<'static, Response>;
    fn sdl(&self) -> String;
}

impl<Q, M, S> Execute for Schema<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    fn execute(&self, request: Request) -> BoxFuture<'static, Response> {
        let schema = self.clone();
        Box::pin(async move { schema.execute(request).await })
    }

    fn execute_stream(&self, request: Request) -> BoxStream<'static, Response> {
        Schema::execute_stream(self, request)
    }

    fn sdl(&self) -> String {
        Schema::sdl(self)
    }
}

impl AppSchema {
    pub(crate) async fn execute(&self, request: Request) -> Response {
        self.0.execute(request).await
    }

    pub(crate) fn execute_stream(&self, request: Request) -> BoxStream<'static, Response> {
        self.0.execute_stream(request)
    }

    pub(crate) fn sdl(&self) -> String {
        self.0.sdl()
    }
}

/// What resolvers reach through the schema's data.
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) db: Db,
    pub(crate) auth: Arc<Auth>,
    pub(crate) broker: Broker,
    pub(crate) files: Arc<Files>,
    pub(crate) backups: Arc<Backups>,
    pub(crate) webhooks: Arc<Webhooks>,
    pub(crate) hooks: Arc<Hooks>,
}

/// Which roots the schema has: Hearth's, or Hearth's with an
/// application's merged in. Chosen at start-up, fixed at compile time.
#[derive(Clone, Copy)]
pub(crate) struct Roots {
    schema: fn(&GraphqlLimits, Services) -> AppSchema,
    sdl: fn() -> String,
}

impl Roots {
    pub(crate) fn hearth() -> Self {
        Self {
            schema: |limits, services| finish(builder(hearth_roots(), limits), services),
            sdl: || builder(hearth_roots(), &sdl_limits()).finish().sdl(),
        }
    }

    pub(crate) fn extended<AQ, AM, AS>() -> Self
    where
        AQ: ObjectType + Default + 'static,
        AM: ObjectType + Default + 'static,
        AS: SubscriptionType + Default + 'static,
    {
        Self {
            schema: |limits, services| {
                finish(builder(extended_roots::<AQ, AM, AS>(), limits), services)
            },
            sdl: || {
                builder(extended_roots::<AQ, AM, AS>(), &sdl_limits())
                    .finish()
                    .sdl()
            },
        }
    }

    /// The schema the server executes.
    pub(crate) fn schema(&self, limits: &GraphqlLimits, services: Services) -> AppSchema {
        (self.schema)(limits, services)
    }

    /// The schema in SDL (for Hearth's own roots, as committed in
    /// `schema.graphql`).
    pub(crate) fn sdl(&self) -> String {
        (self.sdl)()
    }
}

fn hearth_roots() -> (Query, Mutation, Subscription) {
    Default::default()
}

fn extended_roots<AQ, AM, AS>() -> (Query<AQ>, Mutation<AM>, Subscription<AS>)
where
    AQ: ObjectType + Default,
    AM: ObjectType + Default,
    AS: SubscriptionType + Default,
{
    Default::default()
}

fn builder<Q, M, S>(roots: (Q, M, S), limits: &GraphqlLimits) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let (query, mutation, subscription) = roots;
    let mut builder = Schema::build(query, mutation, subscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(32)
        .limit_directives(4);
    // No `.extension(..)`: see `pipeline` for why and for what runs instead.
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder
}

fn finish<Q, M, S>(builder: SchemaBuilder<Q, M, S>, services: Services) -> AppSchema
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let Services {
        db,
        auth,
        broker,
        files,
        backups,
        webhooks,
        hooks,
    } = services;
    AppSchema(Arc::new(
        builder
            .data(backups)
            .data(webhooks)
            .data(hooks)
            .data(crate::graphql::loader::data_loader(db.reads().clone()))
            .data(db)
            .data(auth)
            .data(broker)
            .data(files)
            .finish(),
    ))
}

fn sdl_limits() -> GraphqlLimits {
    GraphqlLimits {
        max_depth: usize::MAX,
        max_complexity: usize::MAX,
        max_batch: 1,
        max_aliases: usize::MAX,
        introspection: true,
    }
}
