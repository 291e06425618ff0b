//! Threaded comments on posts.

pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod service;
