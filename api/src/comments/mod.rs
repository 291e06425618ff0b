//! Threaded comments on posts.

pub mod graphql;
pub mod service;
