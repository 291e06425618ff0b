//! Threaded comments on posts.

pub mod graphql;
pub mod loaders;
pub mod service;
