//! Accounts and device sessions: sign-up and sign-in with argon2id
//! passwords, short-lived JWT access tokens, rotating refresh tokens bound
//! to a device secret, email verification and password reset, rate limits,
//! social sign-in and email codes ([`social`]), and the guards other features use (`SignedIn`, `AdminOnly`,
//! `require_owner`).

pub mod graphql;
pub mod password;
pub mod rate_limit;
pub mod revocations;
pub mod service;
pub mod settings;
pub mod social;
pub mod tokens;
pub mod viewer;

pub use service::Auth;
pub use viewer::{AdminOnly, AuthSession, RequestInfo, SignedIn, Viewer, require_owner, viewer_id};
