//! Users: public profiles and the user directory.

pub mod graphql;
pub mod service;
