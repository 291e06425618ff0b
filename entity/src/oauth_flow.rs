//! `oauth_flows`: authorization-code flows between start and completion,
//! bound to the device that started them. Single-use, short-lived.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_flows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the `state` the client carries through the provider.
    pub state_hash: String,
    pub provider: String,
    #[sea_orm(column_type = "Text")]
    pub redirect_uri: String,
    /// SHA-256 of the device secret sent at the start; completion must
    /// present the same secret.
    pub device_secret_hash: String,
    pub nonce: String,
    /// The PKCE verifier, sent with the code; it never leaves the server.
    pub code_verifier: String,
    /// The name Apple posted to the callback (it does so only once).
    pub display_name: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
