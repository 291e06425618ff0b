//! The API's error type and its stable GraphQL error codes.
//!
//! Services return [`AppError`]; resolvers pass it up with `?`. Each variant
//! becomes a GraphQL error whose `extensions.code` clients can branch on.
//! Internal errors are logged (inside the request's span, so with its request
//! id) and reach the client only as "internal error": no SQL, no paths.

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// The codes a client may see in `extensions.code`.
pub(crate) mod code {
    pub(crate) const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub(crate) const FORBIDDEN: &str = "FORBIDDEN";
    pub(crate) const NOT_FOUND: &str = "NOT_FOUND";
    pub(crate) const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub(crate) const CONFLICT: &str = "CONFLICT";
    pub(crate) const RATE_LIMITED: &str = "RATE_LIMITED";
    /// The database cannot be reached; retrying shortly may succeed.
    pub(crate) const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub(crate) const INTERNAL: &str = "INTERNAL";
    /// The document could not be parsed.
    pub(crate) const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The document is valid GraphQL but not valid against this schema, or
    /// breaks a limit (depth, complexity, batch).
    pub(crate) const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// The HTTP request itself is malformed (bad JSON, missing query).
    pub(crate) const BAD_REQUEST: &str = "BAD_REQUEST";
    /// An event cursor the log can no longer resume from (older than its
    /// retention, or from another database): refetch, then resume from
    /// a fresh cursor.
    pub(crate) const RESYNC_REQUIRED: &str = "RESYNC_REQUIRED";
}

/// Deliberately not `Display`: async-graphql converts any `Display` type into
/// a code-less error, and this conversion must go through
/// `From<AppError> for async_graphql::Error` below instead.
#[derive(Debug)]
pub enum AppError {
    /// No valid credentials were presented; the message says which.
    Unauthenticated(&'static str),
    /// Signed in, but not allowed to do this.
    Forbidden,
    /// Not allowed, for a reason the client can act on or show (a disabled
    /// account, an email not yet confirmed); the message says which.
    Refused(&'static str),
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound(&'static str),
    /// An argument is invalid; `field` names it for forms.
    BadUserInput { field: String, message: String },
    /// The change would break a uniqueness rule.
    Conflict { field: String, message: String },
    /// Too many attempts; try again after `retry_after_secs`.
    RateLimited { retry_after_secs: u64 },
    /// An event cursor the log cannot resume from.
    ResyncRequired,
    /// Refused by an application's rule (a before-hook, a route of its
    /// own), with the application's own stable code.
    Rejected { code: &'static str, message: String },
    /// A sign-in step refused for a reason the client can branch on: its
    /// own `code`, and `reason` (in `extensions.reason`) naming the check
    /// that failed.
    Denied {
        code: &'static str,
        reason: &'static str,
        message: String,
    },
    /// The database is unreachable (down, restarting, pool exhausted).
    /// Logged; the client may retry.
    Unavailable(DbErr),
    /// Anything else: a bug. Logged, never shown.
    Internal(anyhow::Error),
}

pub(crate) type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A unique index broken by this write (often by a concurrent one)
    /// becomes `conflict`, given the database's message (which names the
    /// index); anything else stays a database error.
    pub fn on_unique_violation(err: DbErr, conflict: impl FnOnce(&str) -> Self) -> Self {
        match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(message)) => conflict(&message),
            _ => err.into(),
        }
    }

    /// The message the client sees.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(message) => (*message).to_owned(),
            Self::Forbidden => "not allowed".to_owned(),
            Self::Refused(reason) => (*reason).to_owned(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::BadUserInput { message, .. }
            | Self::Conflict { message, .. }
            | Self::Rejected { message, .. }
            | Self::Denied { message, .. } => message.clone(),
            Self::RateLimited { retry_after_secs } => {
                format!("too many requests, retry in {retry_after_secs} s")
            }
            Self::ResyncRequired => "this cursor is older than the event log keeps, or from another database; refetch, then resume from a new cursor".to_owned(),
            Self::Unavailable(_) => {
                "the service is temporarily unavailable; retry shortly".to_owned()
            }
            Self::Internal(_) => "internal error".to_owned(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden | Self::Refused(_) => code::FORBIDDEN,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::BadUserInput { .. } => code::BAD_USER_INPUT,
            Self::Conflict { .. } => code::CONFLICT,
            Self::RateLimited { .. } => code::RATE_LIMITED,
            Self::ResyncRequired => code::RESYNC_REQUIRED,
            Self::Rejected { code, .. } | Self::Denied { code, .. } => code,
            Self::Unavailable(_) => code::SERVICE_UNAVAILABLE,
            Self::Internal(_) => code::INTERNAL,
        }
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        use sea_orm::{RuntimeErr, sqlx};
        let unreachable = match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                match e.as_ref() {
                    sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                        true
                    }
                    // SQLSTATE classes 08 (connection exception) and 57
                    // (operator intervention: shutdown, restart, terminated
                    // backend) reach a connection that was fine a moment ago.
                    sqlx::Error::Database(db) => db
                        .code()
                        .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
                    _ => false,
                }
            }
            _ => false,
        };
        if unreachable {
            Self::Unavailable(err)
        } else {
            Self::Internal(err.into())
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        match &err {
            AppError::Internal(source) => tracing::error!(error = ?source, "internal error"),
            AppError::Unavailable(source) => {
                tracing::error!(error = %source, "database unavailable");
            }
            _ => {}
        }
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", err.code());
            match &err {
                AppError::BadUserInput { field, .. } | AppError::Conflict { field, .. } => {
                    ext.set("field", field.as_str());
                }
                AppError::RateLimited { retry_after_secs } => {
                    ext.set("retryAfter", *retry_after_secs);
                }
                AppError::Denied { reason, .. } => ext.set("reason", *reason),
                _ => {}
            }
        })
    }
}

/// An outgoing HTTP request's error with its causes, which hold the useful
/// part (the refused address, the timeout).
pub(crate) fn describe_request_error(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if err.is_timeout() {
        "timed out".to_owned()
    } else {
        err.to_string()
    };
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}
