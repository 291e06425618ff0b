//! What every handler can reach. Fields are the HTTP layer's own: the rest
//! of the application builds a state with [`AppState::new`] and never
//! reaches inside it.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

use crate::{
    admin::Dashboard,
    auth::Auth,
    config::Config,
    db::Db,
    files::Files,
    schema::{AppSchema, pipeline::Pipeline},
};

#[derive(Clone)]
pub(crate) struct AppState {
    pub(super) db: Db,
    pub(super) schema: AppSchema,
    /// Parsing, limits, error codes and metrics around each execution.
    pub(super) pipeline: Arc<Pipeline>,
    pub(super) auth: Arc<Auth>,
    pub(super) config: Arc<Config>,
    /// Cancelled when shutdown starts. axum's graceful shutdown waits for
    /// in-flight HTTP requests but not for upgraded connections, so each
    /// WebSocket selects on it and closes itself (1001, going away).
    pub(super) shutdown: CancellationToken,
    /// Uploads, their storage and download links.
    pub(super) files: Arc<Files>,
    /// Open WebSockets per account and anonymous ones per address.
    pub(super) connections: Connections,
    /// Every open socket's task, so shutdown can wait for their close
    /// frames.
    pub(super) sockets: TaskTracker,
    /// The migrations the schema should have, for readiness.
    pub(super) history: migration::History,
    /// The admin dashboard, unless switched off.
    pub(super) admin: Option<Arc<Dashboard>>,
}

impl AppState {
    pub(crate) fn new(
        db: Db,
        schema: AppSchema,
        auth: Arc<Auth>,
        files: Arc<Files>,
        config: Arc<Config>,
        shutdown: CancellationToken,
        history: migration::History,
        admin: Option<Arc<Dashboard>>,
    ) -> Self {
        let pipeline = Arc::new(Pipeline::new(&config.graphql, &schema.sdl()));
        Self {
            db,
            schema,
            pipeline,
            auth,
            config,
            shutdown,
            files,
            connections: Connections::default(),
            sockets: TaskTracker::new(),
            history,
            admin,
        }
    }

    /// The open sockets' tasks: shutdown closes the tracker and waits.
    pub(crate) fn sockets(&self) -> TaskTracker {
        self.sockets.clone()
    }
}

/// What Hearth's router hands every request, for the extractors of an
/// application's own routes.
#[derive(Clone)]
pub(crate) struct Extras {
    pub(crate) db: Db,
    pub(crate) auth: Arc<Auth>,
}

/// Who holds an open socket: an account, or (anonymous) an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Holder {
    Account(Uuid),
    Address(IpAddr),
}

/// Open connections per account and anonymous ones per address, so
/// nobody can hold the server's memory with idle sockets.
#[derive(Clone, Default)]
pub(super) struct Connections(Arc<Mutex<HashMap<Holder, usize>>>);

impl Connections {
    /// A slot for `holder`, or `None` when they already hold `limit`.
    pub(super) fn claim(&self, holder: Holder, limit: usize) -> Option<ConnectionSlot> {
        let mut open = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(holder).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            connections: self.clone(),
            holder,
        })
    }
}

/// Gives its connection back when dropped.
pub(super) struct ConnectionSlot {
    connections: Connections,
    holder: Holder,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.holder) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.holder);
            }
        }
    }
}

impl AppState {
    /// The client's address, for rate limits and the audit log. Behind a
    /// trusted proxy the right-most X-Forwarded-For entry is the address
    /// the proxy saw; anything left of it is client-supplied.
    pub(super) fn client_ip(
        &self,
        headers: &axum::http::HeaderMap,
        peer: Option<std::net::SocketAddr>,
    ) -> IpAddr {
        let peer_ip = peer.map_or(IpAddr::from([0, 0, 0, 0]), |addr| addr.ip());
        let forwarded = self
            .config
            .auth
            .rate_limit
            .trust_forwarded_for
            .then(|| {
                let last = headers.get_all("x-forwarded-for").iter().next_back()?;
                let entry = last.to_str().ok()?.rsplit(',').next()?;
                entry.trim().parse::<IpAddr>().ok()
            })
            .flatten();
        forwarded.unwrap_or(peer_ip)
    }
}
