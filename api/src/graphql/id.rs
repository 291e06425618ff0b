//! Relay global ids: opaque, and never shared between types.
//!
//! A global id is `base64url("Type:uuid")`, so one `ID` names one object
//! across all types and clients' normalized caches (Apollo, urql, Relay) can
//! key on it. `node(id:)` lives with the schema, which knows every type.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The kinds of object with a global id. Each type has its own prefix, so
/// two types' ids never collide, even for the same row (an `Account` and
/// its `User` profile): normalized client caches key on the id alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    User,
    /// The viewer's own account (the private side of a `User`); only its
    /// owner sees it, so `node` never returns one.
    Account,
    /// A device session; only its owner sees it, so `node` never returns one.
    Session,
    Community,
    /// A membership of a community (`CommunityMember`).
    CommunityMember,
    Post,
    Comment,
    Conversation,
    Message,
    File,
    /// A database snapshot, named by its file (admins only).
    Backup,
    /// A webhook endpoint (admins only; `node` never returns one).
    Webhook,
    /// One event's delivery to a webhook (admins only; `node` never
    /// returns one).
    WebhookDelivery,
    /// A report of content or a person (its reporter and moderators only;
    /// `node` never returns one).
    Report,
    /// One entry in a user's notifications (theirs only; `node` never
    /// returns one).
    Notification,
}

impl NodeType {
    const ALL: [Self; 15] = [
        Self::User,
        Self::Account,
        Self::Session,
        Self::Community,
        Self::CommunityMember,
        Self::Post,
        Self::Comment,
        Self::Conversation,
        Self::Message,
        Self::File,
        Self::Backup,
        Self::Webhook,
        Self::WebhookDelivery,
        Self::Report,
        Self::Notification,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Account => "Account",
            Self::Session => "Session",
            Self::Community => "Community",
            Self::CommunityMember => "CommunityMember",
            Self::Post => "Post",
            Self::Comment => "Comment",
            Self::Conversation => "Conversation",
            Self::Message => "Message",
            Self::File => "File",
            Self::Backup => "Backup",
            Self::Webhook => "Webhook",
            Self::WebhookDelivery => "WebhookDelivery",
            Self::Report => "Report",
            Self::Notification => "Notification",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Builds the global id of an object.
pub fn to_global_id(node_type: NodeType, id: Uuid) -> ID {
    to_global_key(node_type, &id.to_string())
}

/// The global id of an object whose key is not a row id (a backup's name).
pub fn to_global_key(node_type: NodeType, key: &str) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{key}", node_type.name())))
}

/// Splits a global id into its type and row id; `None` for anything else,
/// ids keyed by a name included.
pub fn from_global_id(id: &ID) -> Option<(NodeType, Uuid)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id.as_str()).ok()?).ok()?;
    let (name, uuid) = text.split_once(':')?;
    Some((NodeType::from_name(name)?, uuid.parse().ok()?))
}

/// Decodes a global id that must name an object of `expected` type.
/// `field` names the argument in the error.
pub fn expect_global_id(id: &ID, expected: NodeType, field: &str) -> AppResult<Uuid> {
    match from_global_id(id) {
        Some((node_type, uuid)) if node_type == expected => Ok(uuid),
        _ => Err(AppError::bad_input(
            field,
            format!("`{field}` is not a {} id", expected.name()),
        )),
    }
}
