//! What a webhook receives: `{"type", "timestamp", "data"}` as the Standard
//! Webhooks specification suggests. `data` is the event's fields with every
//! id as the API's global id, so a receiver can look it up with
//! `node(id:)`, plus the event's `cursor` and the acting user.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    events::{Event, Logged},
    graphql::id::{NodeType, to_global_id},
};

/// The body for `logged`, serialized once: every attempt sends these bytes.
pub(crate) fn body(logged: &Logged) -> String {
    let mut data = Map::new();
    if let Event::App {
        data: Value::Object(fields),
        ..
    } = &logged.event
    {
        // An application's event: its data as it was published.
        data.extend(fields.clone());
    } else if let Ok(Value::Object(fields)) = serde_json::to_value(&logged.event) {
        for (name, value) in fields {
            if name == "kind" {
                continue;
            }
            let value = match node_type(&name) {
                Some(node) => global_ids(node, value),
                None => value,
            };
            data.insert(name, value);
        }
    }
    data.insert("cursor".into(), logged.cursor.encode().into());
    if let Some(actor) = logged.actor {
        data.insert("actor".into(), to_global_id(NodeType::User, actor).0.into());
    }
    json!({
        "type": logged.event.kind(),
        "timestamp": logged.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": data,
    })
    .to_string()
}

/// The node type of an event field holding ids.
fn node_type(field: &str) -> Option<NodeType> {
    Some(match field {
        "post" => NodeType::Post,
        "comment" => NodeType::Comment,
        "community" => NodeType::Community,
        "conversation" => NodeType::Conversation,
        "message" => NodeType::Message,
        "user" | "author" | "sender" | "recipients" | "reporter" | "follower" | "followee" => {
            NodeType::User
        }
        "notification" => NodeType::Notification,
        "report" => NodeType::Report,
        "sessions" => NodeType::Session,
        _ => return None,
    })
}

/// A uuid, or an array of them, as global ids; anything else unchanged.
fn global_ids(node: NodeType, value: Value) -> Value {
    match value {
        Value::String(text) => match text.parse::<Uuid>() {
            Ok(id) => to_global_id(node, id).0.into(),
            Err(_) => Value::String(text),
        },
        Value::Array(items) => items.into_iter().map(|v| global_ids(node, v)).collect(),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Cursor;

    #[test]
    fn ids_become_global_ids_and_the_shape_is_the_specifications() {
        let (post, author) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let logged = Logged {
            cursor: Cursor {
                txid: 0,
                position: 7,
            },
            event: Event::PostCreated {
                post,
                community: None,
                author,
            },
            actor: Some(author),
            at: chrono::Utc::now(),
        };
        let body: Value = serde_json::from_str(&body(&logged)).unwrap();
        assert_eq!(body["type"], "post.created");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(body["data"]["post"], to_global_id(NodeType::Post, post).0);
        assert_eq!(
            body["data"]["author"],
            to_global_id(NodeType::User, author).0
        );
        assert_eq!(body["data"]["actor"], body["data"]["author"]);
        assert_eq!(body["data"]["community"], Value::Null);
        assert_eq!(body["data"]["cursor"], logged.cursor.encode());
    }

    #[test]
    fn an_applications_event_carries_its_data_as_published() {
        let logged = Logged {
            cursor: Cursor {
                txid: 0,
                position: 8,
            },
            event: Event::App {
                kind: "guestbook.signed".into(),
                data: json!({ "entry": "e1", "stars": 5 }),
            },
            actor: None,
            at: chrono::Utc::now(),
        };
        let body: Value = serde_json::from_str(&body(&logged)).unwrap();
        assert_eq!(body["type"], "guestbook.signed");
        assert_eq!(body["data"]["entry"], "e1");
        assert_eq!(body["data"]["stars"], 5);
        assert_eq!(body["data"]["cursor"], logged.cursor.encode());
    }
}
