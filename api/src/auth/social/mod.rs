//! Social sign-in and passwordless codes, each ending in the same device
//! session as a password sign-in:
//!
//! - the authorization-code flow with PKCE ([`flows`]): started by a
//!   device, bound to the hash of its secret, single-use and short-lived;
//! - ID tokens from the Sign in with Apple and Google Sign-In SDKs
//!   ([`id_token`], checked against the provider's published keys);
//! - [`accounts`]: who an asserted identity is (an identity already
//!   linked, an account with the same verified email, or a new account),
//!   and linking and unlinking them;
//! - [`email_code`]: six-digit codes mailed to an address.
//!
//! Providers are configured by [`settings`] and reached by [`providers`].

pub mod accounts;
pub mod email_code;
pub mod flows;
pub mod graphql;
pub mod id_token;
pub mod providers;
pub mod settings;

pub use providers::Providers;
pub use settings::SocialConfig;
