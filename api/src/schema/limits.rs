//! The limits that reject hostile documents before execution, from the
//! environment.

use migration::settings::{Env, SettingsError};

/// GraphQL limits that reject hostile documents before execution.
#[derive(Debug, Clone)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Most operations in one batched POST.
    pub max_batch: usize,
    /// Most aliased fields in one document.
    pub max_aliases: usize,
    pub introspection: bool,
}

impl GraphqlLimits {
    /// `GRAPHQL_*`; introspection is off by default in production.
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, SettingsError> {
        Ok(Self {
            max_depth: env.positive("GRAPHQL_MAX_DEPTH", 16)?,
            max_complexity: env.positive("GRAPHQL_MAX_COMPLEXITY", 5000)?,
            max_batch: env.positive("GRAPHQL_MAX_BATCH", 10)?,
            max_aliases: env.positive("GRAPHQL_MAX_ALIASES", 100)?,
            introspection: env.flag("GRAPHQL_INTROSPECTION", !production)?,
        })
    }
}
