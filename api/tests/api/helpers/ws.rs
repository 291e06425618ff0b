//! A WebSocket test client for `/graphql`: opens a socket with a chosen
//! subprotocol and headers, speaks raw graphql-transport-ws (or legacy
//! graphql-ws) messages, and reads what the server sends next, keep-alives
//! skipped, closes reported with their code.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{self, Message, client::IntoClientRequest},
};

use super::user::TestUser;

/// The protocol `open` asks for.
pub const TRANSPORT_WS: &str = "graphql-transport-ws";

/// What the server sent next.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Closed(u16, String),
}

/// A WebSocket client speaking raw protocol messages; `.0` is the stream
/// itself, for frames the protocol helpers do not send.
pub struct Ws(pub WebSocketStream<MaybeTlsStream<TcpStream>>);

/// Opens `/graphql` with a subprotocol (none when empty) and extra headers.
pub async fn open_with(
    addr: SocketAddr,
    protocol: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .expect("request");
    if !protocol.is_empty() {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().expect("header"));
    }
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    let (stream, _) = connect_async(request).await?;
    Ok(Ws(stream))
}

/// Opens `/graphql` speaking graphql-transport-ws.
pub async fn open(addr: SocketAddr) -> Ws {
    open_with(addr, TRANSPORT_WS, &[])
        .await
        .expect("WebSocket opens")
}

impl Ws {
    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.0
            .send(Message::Text(text.into()))
            .await
            .expect("message sent");
    }

    /// The next protocol message or the close, within `within`; `None` if
    /// nothing came.
    pub async fn next_within(&mut self, within: Duration) -> Option<Frame> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = tokio::time::timeout(left, self.0.next()).await.ok()?;
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(Frame::Json(serde_json::from_str(&text).expect("JSON")));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(Frame::Closed(code, reason));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Some(Frame::Closed(1006, String::new())),
            }
        }
    }

    /// The next message that is not a keep-alive ping.
    pub async fn next(&mut self) -> Frame {
        loop {
            let frame = self
                .next_within(Duration::from_secs(10))
                .await
                .expect("a message within 10 s");
            match &frame {
                Frame::Json(m) if m["type"] == "ping" || m["type"] == "ka" => continue,
                _ => return frame,
            }
        }
    }

    pub async fn json(&mut self) -> Value {
        match self.next().await {
            Frame::Json(message) => message,
            Frame::Closed(code, reason) => panic!("closed {code} {reason}"),
        }
    }

    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.next().await {
                Frame::Closed(code, reason) => return (code, reason),
                Frame::Json(_) => continue,
            }
        }
    }

    /// Nothing but keep-alives arrives for `quiet`.
    pub async fn silent_for(&mut self, quiet: Duration) {
        let deadline = Instant::now() + quiet;
        while let Some(frame) = self
            .next_within(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            match frame {
                Frame::Json(m) if m["type"] == "ping" => continue,
                other => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// `connection_init` (with a token if given) and its ack.
    pub async fn init(&mut self, token: Option<&str>) {
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        self.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        let ack = self.json().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"type": "subscribe", "id": id,
            "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next `next` message for `id`, as its payload.
    pub async fn event(&mut self, id: &str) -> Value {
        let message = self.json().await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id, "{message}");
        message["payload"].clone()
    }
}

/// A socket initialised with `who`'s token, acknowledged.
pub async fn signed_in_socket(addr: SocketAddr, who: &TestUser) -> Ws {
    let mut ws = open(addr).await;
    ws.init(Some(&who.token)).await;
    ws
}
