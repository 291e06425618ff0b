//! Hearth as a library: the same server the `api` binary runs, with an
//! application's own routes, GraphQL fields, tables and hooks.
//!
//! ```no_run
//! use api::extend::{Hearth, SignedIn};
//! use axum::{Router, routing::get};
//!
//! async fn hello(SignedIn(session): SignedIn) -> String {
//!     format!("hello, {}", session.user_id)
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     Hearth::new()
//!         .routes(Router::new().route("/hello", get(hello)))
//!         .run()
//!         .await
//! }
//! ```
//!
//! [`Hearth::run`] is the `api` command line (`serve`, `schema`, `admin`,
//! `backup`, `restore`); [`Hearth::build`] gives the server for a test or
//! another runtime. docs/extending.md walks through a whole application.

mod activity;
mod caller;

use std::{process::ExitCode, sync::Arc};

use async_graphql::{ObjectType, SubscriptionType};
use axum::Router;
use migration::{History, MigratorTrait};

use crate::schema::Roots;

pub use self::{
    activity::{ACTIVITY, activity},
    caller::{Admin, Database, Events, MaybeSignedIn, SignedIn},
};
pub use crate::{
    app::Application,
    auth::AuthSession,
    config::Config,
    db::{Db, Tx},
    error::AppError,
    events::{Event, Logged, publish},
    hooks::{AfterHook, BeforeHook, Change, Refusal},
};
/// What an application's resolvers reach through their `Context`.
pub mod context {
    pub use crate::{
        auth::viewer::{signed_in, viewer_id},
        graphql::context::{data, db},
    };
}

/// The root to pass for a GraphQL root an application does not extend.
pub use async_graphql::MergedObjectTail as NoFields;

use crate::app::Extensions;

/// An application built on Hearth: add to it, then [`Hearth::run`] it (or
/// [`Hearth::build`] it with a config of your own).
pub struct Hearth(Extensions);

impl Default for Hearth {
    fn default() -> Self {
        Self::new()
    }
}

impl Hearth {
    /// Hearth as the `api` binary runs it: nothing added.
    pub fn new() -> Self {
        Self(Extensions::hearth())
    }

    /// Adds routes (and nested routers) beside Hearth's, inside its
    /// middleware: request ids, limits, timeouts, metrics and CORS. A path
    /// that is already taken (by Hearth or an earlier call) is an error at
    /// start-up. Handlers take the caller with [`SignedIn`],
    /// [`MaybeSignedIn`] or [`Admin`], and [`Database`] and [`Events`].
    pub fn routes(mut self, routes: Router) -> Self {
        let ext = &mut self.0;
        ext.routes = match ext.routes.take() {
            None => Some(routes),
            Some(earlier) => match crate::http::merge(earlier, routes) {
                Ok(merged) => Some(merged),
                Err(err) => {
                    ext.route_error.get_or_insert(err);
                    None
                }
            },
        };
        self
    }

    /// Merges the application's GraphQL roots into Hearth's (pass
    /// [`NoFields`] for a root it does not extend). Resolvers reach the
    /// database and the caller through [`context`], and fail with
    /// [`AppError`] for Hearth's error codes. `schema` prints the merged
    /// schema.
    pub fn graphql<Q, M, S>(mut self) -> Self
    where
        Q: ObjectType + Default + 'static,
        M: ObjectType + Default + 'static,
        S: SubscriptionType + Default + 'static,
    {
        self.0.roots = Roots::extended::<Q, M, S>();
        self
    }

    /// The application's migrator, which lists Hearth's migrations and its
    /// own ([`migration::with_hearth`]): applied at start-up unless
    /// `AUTO_MIGRATE` is off, like Hearth's.
    pub fn migrations<M: MigratorTrait + 'static>(mut self) -> Self {
        self.0.history = History::of::<M>();
        self
    }

    /// Adds a before-hook: it sees each change to Hearth's models (posts,
    /// comments, messages, accounts, memberships, files) before it is made,
    /// and may refuse it with a [`Refusal`].
    pub fn before(mut self, hook: impl BeforeHook) -> Self {
        self.0.hooks.before.push(Arc::new(hook));
        self
    }

    /// Adds an after-commit hook named `name` (its place in the log is kept
    /// under this name: keep it stable). It sees every committed event,
    /// Hearth's and the application's ([`publish`]), at least once.
    pub fn after(mut self, name: &str, hook: impl AfterHook) -> Self {
        self.0.hooks.after.push((name.to_owned(), Arc::new(hook)));
        self
    }

    /// The GraphQL schema in SDL, the application's fields included.
    pub fn sdl(&self) -> String {
        self.0.roots.sdl()
    }

    /// Connects, migrates (if configured) and binds; then
    /// [`Application::run_until_stopped`] serves.
    pub async fn build(self, config: Config) -> anyhow::Result<Application> {
        Application::assemble(config, self.0).await
    }

    /// The `api` command line for this application.
    pub async fn run(self) -> ExitCode {
        crate::cli::run_with(self.0).await
    }
}
