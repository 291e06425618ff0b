//! Posts (in a community or on the author's profile), reactions, and the
//! feed.

pub(crate) mod access;
pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod service;
