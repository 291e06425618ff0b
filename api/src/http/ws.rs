//! GraphQL over WebSocket on `/graphql`: the `graphql-transport-ws`
//! protocol (what graphql-ws, Apollo Client's `GraphQLWsLink`, urql and
//! graphql_flutter speak) and the legacy `graphql-ws` protocol of
//! subscriptions-transport-ws.
//!
//! async-graphql ships a protocol driver, but it answers protocol errors
//! with generic close codes (1002, 1011) where graphql-transport-ws
//! specifies 4400/4401/4403/4408/4409, lets a duplicate subscription id
//! replace a running one, and has no server pings; clients branch on those
//! codes (graphql-ws retries some and gives up on others), so the driver is
//! ours and async-graphql executes the operations.

use std::{collections::HashMap, net::IpAddr, time::Duration};

use async_graphql::{Request, Response};
use axum::{
    extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    http::{HeaderMap, StatusCode, header},
    response::Response as HttpResponse,
};
use futures_util::{
    StreamExt,
    future::{AbortHandle, Abortable},
    stream::{self, BoxStream, SelectAll},
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{
    error::error_response,
    state::{AppState, ConnectionSlot, Holder},
};
use crate::{
    auth::{RequestInfo, Viewer, revocations::Ended},
    config::Environment,
    error::code,
    schema::pipeline::carries_nul,
};

/// The two subprotocols, by their `Sec-WebSocket-Protocol` names.
const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY_WS: &str = "graphql-ws";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    TransportWs,
    Legacy,
}

/// graphql-transport-ws close codes.
mod close {
    pub(super) const BAD_MESSAGE: u16 = 4400;
    pub(super) const UNAUTHORIZED: u16 = 4401;
    pub(super) const FORBIDDEN: u16 = 4403;
    pub(super) const SUBPROTOCOL: u16 = 4406;
    pub(super) const INIT_TIMEOUT: u16 = 4408;
    pub(super) const DUPLICATE_ID: u16 = 4409;
    pub(super) const SECOND_INIT: u16 = 4429;
    /// RFC 6455: the server is going away (shutting down).
    pub(super) const GOING_AWAY: u16 = 1001;
    /// RFC 6455: policy violation (too many connections).
    pub(super) const POLICY: u16 = 1008;
}

/// Whether a browser page from `Origin` may open a socket. Native apps send
/// no `Origin`. Pages on the API's own origin, origins listed in
/// `CORS_ALLOWED_ORIGINS`, and (in development) loopback pages may; any
/// other page may not, so a site the user happens to visit cannot ride on a
/// socket to the API (cross-site WebSocket hijacking).
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if state.config.cors_origins.iter().any(|o| o == origin) {
        return true;
    }
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    let same_host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            let authority = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                None => url.host_str().unwrap_or_default().to_owned(),
            };
            authority.eq_ignore_ascii_case(host)
        });
    let loopback = state.config.environment == Environment::Development
        && match url.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
    same_host || loopback
}

/// A socket's read buffer: room for a `connection_init` with a token or a
/// short subscribe without growing.
const READ_BUFFER: usize = 512;

/// Upgrades `GET /graphql` to a subscription socket.
pub(super) fn upgrade(
    state: AppState,
    headers: &HeaderMap,
    client_ip: IpAddr,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    if !origin_allowed(&state, headers) {
        return error_response(
            StatusCode::FORBIDDEN,
            "this origin may not open a WebSocket; list it in CORS_ALLOWED_ORIGINS",
            code::FORBIDDEN,
        );
    }
    let offered: Vec<String> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_owned()))
        .collect();
    // Prefer the maintained protocol when a client offers both.
    let protocol = if offered.iter().any(|p| p == TRANSPORT_WS) {
        Some(Protocol::TransportWs)
    } else if offered.iter().any(|p| p == LEGACY_WS) {
        Some(Protocol::Legacy)
    } else {
        None
    };
    let tracker = state.sockets.clone();
    let largest = state.config.body_limit_bytes;
    upgrade
        .protocols([TRANSPORT_WS, LEGACY_WS])
        // A subscribe message is a GraphQL request: the same size limit as
        // over HTTP, not tungstenite's 64 MiB default.
        .max_message_size(largest)
        .max_frame_size(largest)
        // tungstenite's 128 KiB read and write buffers per socket would make
        // idle subscriptions cost ~150 KiB each. Client messages are small
        // (a token, a document) and the read buffer still grows to fit a
        // larger frame; an idle socket keeps what it allocated here.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                let Some(protocol) = protocol else {
                    let mut socket = socket;
                    let _ = socket
                        .send(close_message(
                            close::SUBPROTOCOL,
                            "Subprotocol not acceptable",
                        ))
                        .await;
                    return;
                };
                Session::new(state, protocol, client_ip).run(socket).await;
            })
        })
}

/// What a client may send, in either protocol.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {},
    Subscribe {
        id: String,
        payload: Request,
    },
    Complete {
        id: String,
    },
    // The legacy protocol's names.
    Start {
        id: String,
        payload: Request,
    },
    Stop {
        id: String,
    },
    ConnectionTerminate {},
}

/// Why the session ends.
struct Closing(u16, String);

fn close_message(code: u16, reason: &str) -> Message {
    // A close frame's reason holds at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

/// One operation's output: its responses, then `None` when it ends by
/// itself (not when the client stopped it).
type Outputs = SelectAll<BoxStream<'static, (String, Option<Response>)>>;

struct Session {
    state: AppState,
    protocol: Protocol,
    client_ip: IpAddr,
    viewer: Option<Viewer>,
    /// When the signed-in connection's access token expires (Unix seconds).
    expires_at: Option<i64>,
    /// Sessions ending anywhere, for a signed-in connection to close on.
    ended: Option<broadcast::Receiver<Ended>>,
    _slot: Option<ConnectionSlot>,
    running: HashMap<String, AbortHandle>,
}

impl Session {
    fn new(state: AppState, protocol: Protocol, client_ip: IpAddr) -> Self {
        Self {
            state,
            protocol,
            client_ip,
            viewer: None,
            expires_at: None,
            ended: None,
            _slot: None,
            running: HashMap::new(),
        }
    }

    async fn run(mut self, mut socket: WebSocket) {
        metrics::gauge!("websocket_connections").increment(1.0);
        let closing = self.drive(&mut socket).await;
        if let Some(Closing(code, reason)) = closing {
            let _ = socket.send(close_message(code, &reason)).await;
        }
        metrics::gauge!("websocket_connections").decrement(1.0);
    }

    /// The connection's loop; returns the close frame to send, if any.
    async fn drive(&mut self, socket: &mut WebSocket) -> Option<Closing> {
        let every = self.state.config.realtime.keepalive;
        let shutdown = self.state.shutdown.clone();
        // One timer for both ends a connection can run into, which never
        // apply at once: the initialisation deadline until the connection
        // is initialised, then its token's expiry if it signed in. Every
        // idle socket carries its timers.
        let deadline = tokio::time::sleep(self.state.config.realtime.init_timeout);
        tokio::pin!(deadline);
        let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut outputs: Outputs = SelectAll::new();
        let mut expiring_at = None;
        loop {
            if self.expires_at != expiring_at {
                // Signed in, or signed in again with a fresh token.
                expiring_at = self.expires_at;
                if let Some(at) = expiring_at {
                    deadline.as_mut().reset(instant_of(at));
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => {
                    return Some(Closing(close::GOING_AWAY, "server shutting down".into()));
                }
                () = &mut deadline, if self.viewer.is_none() || expiring_at.is_some() => {
                    if self.viewer.is_none() {
                        return Some(Closing(close::INIT_TIMEOUT, "Connection initialisation timeout".into()));
                    }
                    return Some(Closing(close::UNAUTHORIZED, "Unauthorized: the access token expired; reconnect with a fresh one".into()));
                }
                ended = recv_ended(&mut self.ended), if self.ended.is_some() => {
                    if self.has_ended(ended) {
                        return Some(Closing(close::FORBIDDEN, "Forbidden: this session has ended".into()));
                    }
                }
                _ = keepalive.tick(), if self.viewer.is_some() => {
                    let ping = match self.protocol {
                        Protocol::TransportWs => json!({"type": "ping"}),
                        Protocol::Legacy => json!({"type": "ka"}),
                    };
                    if send(socket, &ping).await.is_err() {
                        return None;
                    }
                }
                Some((id, output)) = outputs.next(), if !outputs.is_empty() => {
                    // Boxed, as `handle` below: sending is brief, waiting is not.
                    if let Err(closing) = Box::pin(self.forward(socket, id, output)).await {
                        return closing;
                    }
                }
                message = socket.recv() => {
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            return Some(Closing(close::BAD_MESSAGE, "Invalid message: binary frames are not accepted".into()));
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                    };
                    // The reason stays short: a close frame holds 123 bytes.
                    let Ok(message) = serde_json::from_str::<ClientMessage>(text.as_str()) else {
                        return Some(Closing(close::BAD_MESSAGE, "Invalid message received".into()));
                    };
                    // Boxed: handling a message (signing in, starting an
                    // operation) needs far more room than waiting does, and
                    // an idle connection should not carry that room.
                    if let Err(closing) = Box::pin(self.handle(socket, message, &mut outputs)).await {
                        return closing;
                    }
                }
            }
        }
    }

    /// Handles one client message. `Err` ends the session, with the close
    /// frame to send (`None` to just hang up).
    async fn handle(
        &mut self,
        socket: &mut WebSocket,
        message: ClientMessage,
        outputs: &mut Outputs,
    ) -> Result<(), Option<Closing>> {
        use ClientMessage as M;
        let legacy = self.protocol == Protocol::Legacy;
        match message {
            M::ConnectionInit { payload } => self.init(socket, payload).await,
            M::Ping { payload } if !legacy => {
                if let Some(payload) = &payload {
                    self.reauthenticate(payload)?;
                }
                let mut pong = json!({"type": "pong"});
                if let Some(payload) = payload {
                    pong["payload"] = payload;
                }
                send(socket, &pong).await
            }
            M::Pong {} if !legacy => Ok(()),
            M::Subscribe { id, payload } if !legacy => {
                self.subscribe(socket, id, payload, outputs).await
            }
            M::Start { id, payload } if legacy => {
                self.subscribe(socket, id, payload, outputs).await
            }
            M::Complete { id } if !legacy => {
                self.stop(&id);
                Ok(())
            }
            M::Stop { id } if legacy => {
                self.stop(&id);
                send(socket, &json!({"type": "complete", "id": id})).await
            }
            M::ConnectionTerminate {} if legacy => Err(None),
            _ => Err(Some(Closing(
                close::BAD_MESSAGE,
                "Invalid message: not part of this subprotocol".into(),
            ))),
        }
    }

    /// `connection_init`: authenticates the connection from its payload. No
    /// token is an anonymous connection (public subscriptions only); a bad
    /// token is refused, so a client learns to refresh before reconnecting.
    async fn init(
        &mut self,
        socket: &mut WebSocket,
        payload: Option<Value>,
    ) -> Result<(), Option<Closing>> {
        if self.viewer.is_some() {
            return Err(Some(Closing(
                close::SECOND_INIT,
                "Too many initialisation requests".into(),
            )));
        }
        let (viewer, expires_at) = Viewer::expiring_from_connection_init(
            &payload.unwrap_or(Value::Null),
            &self.state.auth.tokens,
        );
        match viewer {
            Viewer::InvalidToken => {
                let reason = "Forbidden: the access token is invalid or expired";
                if self.protocol == Protocol::Legacy {
                    // The legacy protocol reports it as a message first.
                    let error = json!({"type": "connection_error", "payload": {"message": reason}});
                    let _ = send(socket, &error).await;
                }
                return Err(Some(Closing(close::FORBIDDEN, reason.into())));
            }
            Viewer::SignedIn(session) => {
                let limit = self.state.config.realtime.max_connections_per_user;
                let Some(slot) = self
                    .state
                    .connections
                    .claim(Holder::Account(session.user_id), limit)
                else {
                    return Err(Some(Closing(
                        close::POLICY,
                        format!("this account already has {limit} open connections"),
                    )));
                };
                self._slot = Some(slot);
                self.expires_at = expires_at;
                self.ended = Some(self.state.auth.tokens.revocations().watch());
            }
            Viewer::Anonymous => {
                let limit = self.state.config.realtime.max_anonymous_per_address;
                let Some(slot) = self
                    .state
                    .connections
                    .claim(Holder::Address(self.client_ip), limit)
                else {
                    return Err(Some(Closing(
                        close::POLICY,
                        format!(
                            "{limit} connections without a token are open from this address; sign in"
                        ),
                    )));
                };
                self._slot = Some(slot);
            }
        }
        self.viewer = Some(viewer);
        send(socket, &json!({"type": "connection_ack"})).await?;
        if self.protocol == Protocol::Legacy {
            // The legacy protocol expects a keep-alive right after the ack.
            send(socket, &json!({"type": "ka"})).await?;
        }
        Ok(())
    }

    /// A `ping` whose payload carries a token (as `connection_init`
    /// would) signs the connection in again: the socket then lives until
    /// the new token expires. It must be the same account; a token that
    /// does not verify closes the socket (4403).
    fn reauthenticate(&mut self, payload: &Value) -> Result<(), Option<Closing>> {
        let Some(Viewer::SignedIn(current)) = self.viewer else {
            return Ok(());
        };
        let (viewer, expires_at) =
            Viewer::expiring_from_connection_init(payload, &self.state.auth.tokens);
        match viewer {
            Viewer::Anonymous => Ok(()),
            Viewer::SignedIn(session) if session.user_id == current.user_id => {
                self.viewer = Some(viewer);
                self.expires_at = expires_at;
                Ok(())
            }
            Viewer::SignedIn(_) => Err(Some(Closing(
                close::FORBIDDEN,
                "Forbidden: a connection cannot change accounts".into(),
            ))),
            Viewer::InvalidToken => Err(Some(Closing(
                close::FORBIDDEN,
                "Forbidden: the access token is invalid or expired".into(),
            ))),
        }
    }

    /// Whether an ending (or, if endings were missed, the revocation
    /// table) covers this connection's session.
    fn has_ended(&self, ended: Result<Ended, broadcast::error::RecvError>) -> bool {
        let Some(Viewer::SignedIn(session)) = self.viewer else {
            return false;
        };
        match ended {
            Ok(ended) => ended.covers(session.user_id, session.session_id),
            Err(_) => self
                .state
                .auth
                .tokens
                .revocations()
                .is_revoked(session.user_id, session.session_id),
        }
    }

    async fn subscribe(
        &mut self,
        socket: &mut WebSocket,
        id: String,
        request: Request,
        outputs: &mut Outputs,
    ) -> Result<(), Option<Closing>> {
        let Some(viewer) = self.viewer else {
            return Err(Some(Closing(close::UNAUTHORIZED, "Unauthorized".into())));
        };
        if self.running.contains_key(&id) {
            return Err(Some(Closing(
                close::DUPLICATE_ID,
                format!("Subscriber for {id} already exists"),
            )));
        }
        let limit = self.state.config.realtime.max_subscriptions;
        if self.running.len() >= limit {
            let error = json!([{
                "message": format!("a connection may run at most {limit} subscriptions"),
                "extensions": {"code": code::RATE_LIMITED},
            }]);
            return send(
                socket,
                &json!({"type": "error", "id": id, "payload": error}),
            )
            .await;
        }
        if carries_nul(&request) {
            let error = json!([{
                "message": "text must not contain NUL (\\u0000) characters",
                "extensions": {"code": code::BAD_REQUEST},
            }]);
            return send(
                socket,
                &json!({"type": "error", "id": id, "payload": error}),
            )
            .await;
        }
        let request = request.data(RequestInfo {
            viewer,
            client_ip: self.client_ip,
        });
        let pipeline = self.state.pipeline.clone();
        let mut prepared = pipeline.prepare(request);
        pipeline.admit(&mut prepared, viewer, &self.state.db).await;
        let responses = match prepared.take_refusal() {
            Some(refused) => stream::once(async move { refused }).boxed(),
            None => {
                let (request, executed) = prepared.into_request();
                self.state
                    .schema
                    .execute_stream(request)
                    .map(move |mut response| {
                        pipeline.finish(&mut response, &executed);
                        response
                    })
                    .boxed()
            }
        };
        let (handle, registration) = AbortHandle::new_pair();
        let tagged = {
            let id = id.clone();
            Abortable::new(
                responses.map(Some).chain(stream::once(async { None })),
                registration,
            )
            .map(move |output| (id.clone(), output))
        };
        outputs.push(tagged.boxed());
        self.running.insert(id, handle);
        Ok(())
    }

    fn stop(&mut self, id: &str) {
        if let Some(handle) = self.running.remove(id) {
            handle.abort();
        }
    }

    /// Sends one operation's response, or its end.
    async fn forward(
        &mut self,
        socket: &mut WebSocket,
        id: String,
        output: Option<Response>,
    ) -> Result<(), Option<Closing>> {
        let Some(response) = output else {
            // It ended by itself (a query, a mutation, or an error).
            if self.running.remove(&id).is_some() {
                send(socket, &json!({"type": "complete", "id": id})).await?;
            }
            return Ok(());
        };
        // A private subscription on a connection that never signed in: the
        // connection lacks the identity it needs, which the protocol
        // reports as 4403 so the client re-initialises with a token.
        if self.viewer == Some(Viewer::Anonymous)
            && response.errors.iter().any(|e| {
                e.extensions
                    .as_ref()
                    .and_then(|x| x.get("code"))
                    .is_some_and(|c| *c == async_graphql::Value::from(code::UNAUTHENTICATED))
            })
        {
            return Err(Some(Closing(
                close::FORBIDDEN,
                "Forbidden: sign in (send a token in connection_init) to subscribe to this".into(),
            )));
        }
        // No data, only errors: the document was invalid, the subscription
        // was refused, or it ended in an error (`RESYNC_REQUIRED`). That is an
        // `error` message, which ends the operation without `complete`.
        if response.data == async_graphql::Value::Null && response.is_err() {
            self.stop(&id);
            return send(
                socket,
                &json!({"type": "error", "id": id, "payload": response.errors}),
            )
            .await;
        }
        let kind = match self.protocol {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        };
        // Serialized straight from the response: one event may go to
        // thousands of subscribers, so no intermediate JSON tree each.
        send(
            socket,
            &Next {
                kind,
                id: &id,
                payload: &response,
            },
        )
        .await
    }
}

/// A `next` (or legacy `data`) message.
#[derive(serde::Serialize)]
struct Next<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    payload: &'a Response,
}

/// The next ending; only polled when `ended` is set.
async fn recv_ended(
    ended: &mut Option<broadcast::Receiver<Ended>>,
) -> Result<Ended, broadcast::error::RecvError> {
    match ended {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// The moment a token expiring at `exp` (Unix seconds) runs out.
fn instant_of(exp: i64) -> tokio::time::Instant {
    let left = exp.saturating_sub(chrono::Utc::now().timestamp());
    tokio::time::Instant::now() + Duration::from_secs(u64::try_from(left).unwrap_or(0))
}

/// Sends one JSON message; `Err(None)` (hang up, nothing to send) when the
/// client is gone.
async fn send(
    socket: &mut WebSocket,
    message: &impl serde::Serialize,
) -> Result<(), Option<Closing>> {
    let text = serde_json::to_string(message).map_err(|_| None)?;
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|_| None)
}
