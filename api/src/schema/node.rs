//! `node(id:)`: any object by its global id (Relay's object
//! identification). The one place besides the schema roots that names
//! every feature's types.

use async_graphql::{Context, ID, Interface, Object};

use crate::{
    auth::viewer_id,
    comments::{self, graphql::Comment},
    communities::{self, graphql::Community},
    error::AppError,
    files::{self, graphql::File},
    graphql::{
        context,
        id::{NodeType, from_global_id},
    },
    messages::{
        self,
        graphql::{Conversation, Message},
    },
    posts::{self, graphql::Post},
    users::{self, graphql::User},
};

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Globally unique, opaque id."))]
pub(super) enum Node {
    User(User),
    Community(Community),
    Post(Post),
    Comment(Comment),
    Conversation(Conversation),
    Message(Message),
    File(File),
}

#[derive(Default)]
pub(super) struct NodeQuery;

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
            NodeType::User => users::service::find_profile(db, viewer, uuid)
                .await?
                .map(|u| Node::User(User(u))),
            NodeType::Account
            | NodeType::Session
            | NodeType::CommunityMember
            | NodeType::Backup
            | NodeType::Webhook
            | NodeType::WebhookDelivery
            | NodeType::Report
            | NodeType::Notification => None,
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
