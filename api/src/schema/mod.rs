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

use async_graphql::{MergedObject, Schema, SchemaBuilder};

use crate::{
    auth::{
        Auth,
        graphql::{AuthMutation, AuthQuery},
    },
    backup::{
        Backups,
        graphql::{BackupMutation, BackupQuery},
    },
    comments::graphql::CommentsMutation,
    communities::graphql::{CommunitiesMutation, CommunitiesQuery},
    db::Db,
    files::{Files, graphql::FilesMutation},
    messages::graphql::{MessagesMutation, MessagesQuery},
    posts::graphql::{PostsMutation, PostsQuery},
    realtime::{Broker, catch_up::CatchUpQuery, graphql::Subscription},
    users::graphql::{UsersMutation, UsersQuery},
    webhooks::{
        Webhooks,
        graphql::{WebhooksMutation, WebhooksQuery},
    },
};

#[derive(MergedObject, Default)]
pub(crate) struct Query(
    node::NodeQuery,
    AuthQuery,
    UsersQuery,
    CommunitiesQuery,
    PostsQuery,
    MessagesQuery,
    CatchUpQuery,
    BackupQuery,
    WebhooksQuery,
);

#[derive(MergedObject, Default)]
pub(crate) struct Mutation(
    AuthMutation,
    UsersMutation,
    CommunitiesMutation,
    PostsMutation,
    CommentsMutation,
    MessagesMutation,
    FilesMutation,
    BackupMutation,
    WebhooksMutation,
);

pub(crate) type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder(limits: &GraphqlLimits) -> SchemaBuilder<Query, Mutation, Subscription> {
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription)
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

/// The schema the server executes.
pub(crate) fn build_schema(
    limits: &GraphqlLimits,
    db: Db,
    auth: Arc<Auth>,
    broker: Broker,
    files: Arc<Files>,
    backups: Arc<Backups>,
    webhooks: Arc<Webhooks>,
) -> AppSchema {
    builder(limits)
        .data(backups)
        .data(webhooks)
        .data(crate::graphql::loader::data_loader(db.reads().clone()))
        .data(db)
        .data(auth)
        .data(broker)
        .data(files)
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub(crate) fn sdl() -> String {
    let limits = GraphqlLimits {
        max_depth: usize::MAX,
        max_complexity: usize::MAX,
        max_batch: 1,
        max_aliases: usize::MAX,
        introspection: true,
    };
    builder(&limits).finish().sdl()
}
