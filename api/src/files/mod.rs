//! Files: uploads (GraphQL multipart requests), their storage (local disk
//! or S3), authorized downloads with signed links, post attachments,
//! avatars, and the sweep of unused uploads.

pub mod graphql;
pub mod loaders;
pub mod service;
pub mod settings;
pub mod sniff;
pub mod storage;

pub use service::Files;
