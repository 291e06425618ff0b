//! Communities: public or private groups with owner, moderator and member
//! roles, and the posts written in them.

pub mod graphql;
pub mod loaders;
pub mod service;
