//! The GraphQL kit every feature's resolvers use: global ids, Relay
//! connections over keyset pages, the batch-loader kit, and typed access to
//! the request context. It names no feature; the schema that assembles the
//! features is [`crate::schema`].

pub mod context;
pub mod id;
pub mod loader;
pub mod relay;
