//! Communities: public or private groups with owner, moderator and member
//! roles, and the posts written in them.

pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod service;
