//! Relay global object identification: opaque ids and `node(id:)`.
//!
//! A global id is `base64url("Type:uuid")`, so one `ID` names one object
//! across all types and clients' normalized caches (Apollo, urql, Relay) can
//! key on it.

use async_graphql::{Context, ID, Interface, Object};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::{
    auth::viewer_id,
    comments::{self, graphql::Comment},
    communities::{self, graphql::Community},
    error::{AppError, AppResult},
    files::{self, graphql::File},
    graphql::context,
    messages::{
        self,
        graphql::{Conversation, Message},
    },
    posts::{self, graphql::Post},
    users::{self, graphql::User},
};

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
}

impl NodeType {
    const ALL: [Self; 11] = [
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

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Globally unique, opaque id."))]
pub enum Node {
    User(User),
    Community(Community),
    Post(Post),
    Comment(Comment),
    Conversation(Conversation),
    Message(Message),
    File(File),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id; null if it does not exist or
    /// the viewer may not see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let Some((node_type, uuid)) = from_global_id(&id) else {
            return Err(AppError::bad_input("id", "`id` is not a valid global id").into());
        };
        let db = context::db(ctx)?;
        let viewer = viewer_id(ctx)?;
        Ok(match node_type {
            NodeType::User => users::service::find_profile(db, uuid)
                .await?
                .map(|u| Node::User(User(u))),
            NodeType::Account
            | NodeType::Session
            | NodeType::CommunityMember
            | NodeType::Backup => None,
            NodeType::Community => communities::service::find(db, uuid)
                .await?
                .map(|c| Node::Community(Community(c))),
            NodeType::Post => posts::service::find_readable(db, viewer, uuid)
                .await?
                .map(|p| Node::Post(Post(p))),
            NodeType::Comment => comments::service::find_readable(db, viewer, uuid)
                .await?
                .map(|c| Node::Comment(Comment(c))),
            NodeType::Conversation => match viewer {
                None => None,
                Some(viewer) => messages::service::find_for(db, viewer, uuid)
                    .await?
                    .map(|c| Node::Conversation(Conversation(c))),
            },
            NodeType::Message => match viewer {
                None => None,
                Some(viewer) => messages::service::find_message_for(db, viewer, uuid)
                    .await?
                    .map(|m| Node::Message(Message(m))),
            },
            NodeType::File => match files::service::find_readable(db, viewer, uuid).await? {
                None => None,
                Some(model) => {
                    let public = files::service::is_public(db, model.id).await?;
                    Some(Node::File(File { model, public }))
                }
            },
        })
    }
}
