//! Direct messages: conversations between two or more people.

pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod service;
