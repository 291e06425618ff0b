//! Direct messages: conversations between two or more people.

pub mod graphql;
pub mod loaders;
pub mod service;
