//! A database outage: while PostgreSQL is gone, GraphQL
//! fails fast with a coded error, readiness answers 503 within 5 s, and the
//! API recovers by itself when the database returns.
//!
//! The outage is a TCP proxy in front of the shared server that cuts every
//! connection and refuses new ones, so the server itself keeps running.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpSocket, TcpStream},
    sync::watch,
    task::JoinHandle,
};

use crate::helpers::{TestApp, spawn_app_with};

/// Forwards to `upstream` while up; while down, closes its listener (new
/// connections are refused) and every open connection.
struct DbProxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    // Rebinding the same port after an outage must not wait for TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(64)
}

impl DbProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let first = listen("127.0.0.1:0".parse().expect("addr")).expect("proxy listens");
        let addr = first.local_addr().expect("proxy addr");
        let (up, up_rx) = watch::channel(true);
        let task = tokio::spawn(async move {
            let mut listener = Some(first);
            let mut rx = up_rx.clone();
            loop {
                if rx.wait_for(|up| *up).await.is_err() {
                    return;
                }
                let current = match listener.take() {
                    Some(l) => l,
                    None => listen(addr).expect("proxy listens again"),
                };
                loop {
                    tokio::select! {
                        accepted = current.accept() => {
                            let Ok((client, _)) = accepted else { continue };
                            tokio::spawn(forward(client, upstream, up_rx.clone()));
                        }
                        changed = rx.wait_for(|up| !*up) => {
                            if changed.is_err() { return; }
                            break; // drops the listener: connections are refused
                        }
                    }
                }
            }
        });
        Self { addr, up, task }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(mut client: TcpStream, upstream: SocketAddr, mut up: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = copy_bidirectional(&mut client, &mut server) => {}
        _ = up.wait_for(|up| !*up) => {} // both sockets close here
    }
}

async fn users_query(app: &TestApp) -> (u16, Value) {
    app.graphql("{ users(first: 1) { totalCount } }", json!({}))
        .await
}

async fn ready_status(app: &TestApp) -> u16 {
    app.client
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_dead_database_fails_fast_with_a_code_and_the_api_recovers() {
    // The proxy needs the server's address up front: only TEST_DATABASE_URL
    // gives one (SQLite has no server to lose).
    let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: the outage test needs PostgreSQL (set TEST_DATABASE_URL)");
        return;
    };
    let admin = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
    let upstream = tokio::net::lookup_host((
        admin.host_str().expect("a host"),
        admin.port().unwrap_or(5432),
    ))
    .await
    .expect("resolve the server")
    .find(SocketAddr::is_ipv4)
    .expect("an IPv4 address");
    let proxy = DbProxy::start(upstream).await;
    let proxy_addr = proxy.addr;
    let app = spawn_app_with(move |config| {
        let mut url = url::Url::parse(&config.database.url).expect("test URL");
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(proxy_addr.port())).expect("port");
        config.database.url = url.to_string();
    })
    .await;
    let (status, body) = users_query(&app).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");

    proxy.set_up(false);
    for _ in 0..3 {
        let started = Instant::now();
        let (status, body) = users_query(&app).await;
        let took = started.elapsed();
        eprintln!("outage: GraphQL answered {status} in {took:?}");
        assert!(
            took < Duration::from_secs(5),
            "GraphQL answered in {took:?}"
        );
        assert_ne!(status, 500, "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
            "{body}"
        );
        let text = body.to_string().to_lowercase();
        for leak in ["postgres", "sqlx", "connection", "127.0.0.1", "pool"] {
            assert!(!text.contains(leak), "`{leak}` leaked: {body}");
        }
    }
    let started = Instant::now();
    assert_eq!(ready_status(&app).await, 503);
    assert!(started.elapsed() < Duration::from_secs(5));

    // What the container HEALTHCHECK runs: an answer (503, so exit 1) within 3 s.
    let url = app.url("/health/ready");
    let started = Instant::now();
    let probed = tokio::task::spawn_blocking(move || {
        healthcheck::probe(&url, healthcheck::TIMEOUT).map_err(|e| e.to_string())
    })
    .await
    .expect("probe thread");
    assert_eq!(probed, Ok(503));
    assert!(started.elapsed() < Duration::from_secs(3));

    proxy.set_up(true);
    let returned = Instant::now();
    loop {
        let (status, body) = users_query(&app).await;
        if status == 200 && body["errors"].is_null() && ready_status(&app).await == 200 {
            eprintln!(
                "outage: recovered {:?} after the database returned",
                returned.elapsed()
            );
            break;
        }
        assert!(
            returned.elapsed() < Duration::from_secs(10),
            "not recovered within 10 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
