//! Blocks and mutes. A block works both ways: neither account sees the
//! other's posts, comments, messages, reactions or profile, and neither
//! can follow, message or reply to the other. A mute only keeps someone
//! (or a community) out of the muter's feed and notifications.
//!
//! The rules are SQL conditions ([`service::visible_to`]) that every read
//! path of the content features applies, so lists, lookups, subscriptions
//! and catch-up agree. This feature sits below them all and uses none.

pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod service;
