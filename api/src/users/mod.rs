//! Users: public profiles and the user directory.

pub mod graphql;
pub mod loaders;
pub mod service;
