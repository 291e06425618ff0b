//! Hooks an application built on Hearth registers (see `extend`):
//!
//! - before-hooks see a change to one of Hearth's models before it is made
//!   and may refuse it with a coded error ([`Refusal`]); the request then
//!   fails with that code and nothing is written.
//! - after-commit hooks ([`after`]) see every event of the log once it is
//!   committed, Hearth's and the application's own alike, and run again
//!   when they fail; what still fails is kept in `hook_failures`.
//!
//! A hook that panics is caught: a before-hook's request gets `INTERNAL`,
//! an after-hook's event counts as a failed attempt. The server runs on.

pub mod after;

use std::{panic::AssertUnwindSafe, sync::Arc};

use async_graphql::Context;
use futures_util::FutureExt;
use uuid::Uuid;

use crate::{
    db::Db,
    error::{AppError, AppResult},
    graphql::context,
};

pub use after::AfterHook;

/// A change to one of Hearth's models, about to be made by `actor` (the
/// signed-in account; for a sign-up, nobody yet).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Change<'a> {
    Post {
        actor: Uuid,
        community: Option<Uuid>,
        body: &'a str,
    },
    Comment {
        actor: Uuid,
        post: Uuid,
        parent: Option<Uuid>,
        body: &'a str,
    },
    Message {
        actor: Uuid,
        conversation: Uuid,
        body: &'a str,
    },
    Account {
        email: &'a str,
        username: &'a str,
    },
    Membership {
        actor: Uuid,
        community: Uuid,
    },
    /// An upload, before it is stored: the name and type the client sent
    /// (the type Hearth keeps is sniffed from the bytes), and its size.
    File {
        actor: Uuid,
        filename: &'a str,
        content_type: Option<&'a str>,
        size: u64,
    },
}

impl Change<'_> {
    /// The model's name, as events name it: `post`, `comment`, `message`,
    /// `account`, `membership`, `file`.
    pub fn model(&self) -> &'static str {
        match self {
            Self::Post { .. } => "post",
            Self::Comment { .. } => "comment",
            Self::Message { .. } => "message",
            Self::Account { .. } => "account",
            Self::Membership { .. } => "membership",
            Self::File { .. } => "file",
        }
    }
}

/// Why a before-hook refuses a change: `code` becomes the GraphQL error's
/// `extensions.code` (keep it stable, like `BANNED_WORD`), `message` its
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Checks a change before Hearth makes it.
#[async_trait::async_trait]
pub trait BeforeHook: Send + Sync + 'static {
    async fn before(&self, change: &Change<'_>, db: &Db) -> Result<(), Refusal>;
}

/// A plain function is a before-hook that needs no database.
#[async_trait::async_trait]
impl<F> BeforeHook for F
where
    F: Fn(&Change<'_>) -> Result<(), Refusal> + Send + Sync + 'static,
{
    async fn before(&self, change: &Change<'_>, _db: &Db) -> Result<(), Refusal> {
        self(change)
    }
}

/// The hooks of one application.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) before: Vec<Arc<dyn BeforeHook>>,
    pub(crate) after: Vec<(String, Arc<dyn AfterHook>)>,
}

impl Hooks {
    /// Runs every before-hook on `change`, in the order they were added;
    /// the first refusal wins.
    pub(crate) async fn check(&self, db: &Db, change: &Change<'_>) -> AppResult<()> {
        for hook in &self.before {
            match AssertUnwindSafe(hook.before(change, db))
                .catch_unwind()
                .await
            {
                Ok(Ok(())) => {}
                Ok(Err(refusal)) => {
                    return Err(AppError::Rejected {
                        code: refusal.code,
                        message: refusal.message,
                    });
                }
                Err(_) => {
                    return Err(AppError::Internal(anyhow::anyhow!(
                        "a before-hook panicked on a {} change",
                        change.model()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Runs the schema's before-hooks on `change` (none outside an
/// application that added some).
pub(crate) async fn before(ctx: &Context<'_>, change: Change<'_>) -> AppResult<()> {
    let Some(hooks) = ctx.data_opt::<Arc<Hooks>>() else {
        return Ok(());
    };
    if hooks.before.is_empty() {
        return Ok(());
    }
    hooks.check(context::db(ctx)?, &change).await
}
