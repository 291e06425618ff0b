//! Reports and the moderation queue. Anyone signed in reports a post,
//! comment or message they can see, a user or a community; a community's
//! owner and moderators work through the reports about their community,
//! instance admins through all of them. What a moderator did, who they
//! were and why is kept on the report, and the reporter can read it.
//!
//! This feature sits above the content features: it finds what is
//! reported through their read rules and acts through their services.

pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod service;
