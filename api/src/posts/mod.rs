//! Posts (in a community or on the author's profile), reactions, and the
//! feed.

pub mod access;
pub mod graphql;
pub mod loaders;
pub mod service;
