//! Communities: public or private groups with owner, moderator and member
//! roles, the posts written in them, and the people banned from them.

pub(crate) mod bans;
pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod service;
