//! Users: public profiles and the user directory.

pub(crate) mod graphql;
pub(crate) mod loaders;
pub(crate) mod service;
