//! A readiness probe for container `HEALTHCHECK`s, with nothing but `std`.
//!
//! A scratch image has no shell and no curl, so the image ships this instead:
//! it sends one `GET` to the API's `/health/ready` over plain HTTP/1.0 and
//! exits 0 on status 200, 1 on anything else (refused, timed out, 503, a
//! malformed answer), all within a fixed time budget. No async runtime and
//! no HTTP crate keep the binary a few hundred KiB (static when built
//! for a musl target, as a scratch image needs).

use std::{
    fmt,
    io::{self, Read, Write},
    net::{SocketAddr, TcpStream, ToSocketAddrs},
    process::ExitCode,
    time::{Duration, Instant},
};

/// The whole probe, connect to last byte, must finish within this.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Why a probe did not get a status code.
#[derive(Debug)]
pub enum ProbeError {
    /// The URL is not `http://host[:port][/path]`.
    BadUrl(String),
    /// The host name did not resolve.
    Resolve(io::Error),
    /// Nothing accepted the connection.
    Connect(io::Error),
    /// The time budget ran out.
    Timeout,
    /// Reading or writing failed midway.
    Io(io::Error),
    /// The server answered something that is not an HTTP status line.
    BadResponse,
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl(reason) => write!(f, "bad URL: {reason}"),
            Self::Resolve(err) => write!(f, "cannot resolve host: {err}"),
            Self::Connect(err) => write!(f, "cannot connect: {err}"),
            Self::Timeout => write!(f, "no answer within the timeout"),
            Self::Io(err) => write!(f, "connection failed: {err}"),
            Self::BadResponse => write!(f, "not an HTTP response"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// The URL to probe: `HEALTHCHECK_URL`, else the API's readiness route on
/// `PORT` (default 8080) on loopback.
pub fn target_url(lookup: impl Fn(&str) -> Option<String>) -> String {
    if let Some(url) = lookup("HEALTHCHECK_URL").filter(|u| !u.trim().is_empty()) {
        return url.trim().to_owned();
    }
    let port = lookup("PORT")
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "8080".to_owned());
    format!("http://127.0.0.1:{port}/health/ready")
}

/// An `http://` URL split into what the request needs.
struct Target<'a> {
    /// `host[:port]` as written, for the `Host` header.
    authority: &'a str,
    host: &'a str,
    port: u16,
    path: &'a str,
}

fn parse_url(url: &str) -> Result<Target<'_>, ProbeError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ProbeError::BadUrl(format!("`{url}` is not an http:// URL")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        // `[::1]:8080` or `host:8080`; a bare `[::1]` has no port.
        Some((host, port)) if !port.contains(']') => {
            let port = port
                .parse()
                .map_err(|_| ProbeError::BadUrl(format!("`{port}` is not a port")))?;
            (host, port)
        }
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(ProbeError::BadUrl(format!("`{url}` has no host")));
    }
    // Both go into the request verbatim; a space or CR/LF would corrupt it.
    if rest.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(ProbeError::BadUrl(format!("`{url}` contains spaces")));
    }
    Ok(Target {
        authority,
        host,
        port,
        path,
    })
}

/// Time left before `deadline`, or a timeout error.
fn remaining(deadline: Instant) -> Result<Duration, ProbeError> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or(ProbeError::Timeout)
}

fn io_error(err: io::Error) -> ProbeError {
    match err.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ProbeError::Timeout,
        _ => ProbeError::Io(err),
    }
}

/// GETs `url` and returns the HTTP status code, all within `timeout`.
pub fn probe(url: &str, timeout: Duration) -> Result<u16, ProbeError> {
    let deadline = Instant::now() + timeout;
    let target = parse_url(url)?;
    // std has no resolver timeout; in practice the host is loopback or a
    // container name answered from /etc/hosts, so this returns at once.
    let addrs: Vec<SocketAddr> = (target.host, target.port)
        .to_socket_addrs()
        .map_err(ProbeError::Resolve)?
        .collect();
    let mut last_error = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(err) => last_error = Some(err),
        }
    }
    let mut stream = stream.ok_or_else(|| match last_error {
        Some(err) if err.kind() == io::ErrorKind::TimedOut => ProbeError::Timeout,
        Some(err) => ProbeError::Connect(err),
        None => ProbeError::Resolve(io::Error::new(io::ErrorKind::NotFound, "no address")),
    })?;

    stream
        .set_write_timeout(Some(remaining(deadline)?))
        .map_err(io_error)?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: hearth-healthcheck\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    stream.write_all(request.as_bytes()).map_err(io_error)?;

    // The status line fits in the first few bytes; read until we have it.
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < 1024 {
        stream
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(io_error)?;
        let n = stream.read(&mut buf).map_err(io_error)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status(&head).ok_or(ProbeError::BadResponse)
}

/// Reads the code from `HTTP/1.x 200 OK`.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(head).ok()?.lines().next()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// The binary: probe, report a failure on stderr, exit 0 only on 200.
pub fn run(lookup: impl Fn(&str) -> Option<String>) -> ExitCode {
    let url = target_url(lookup);
    match probe(&url, TIMEOUT) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("healthcheck: {url}: HTTP {status}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("healthcheck: {url}: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_prefers_healthcheck_url_then_port() {
        let none = |_: &str| None;
        assert_eq!(target_url(none), "http://127.0.0.1:8080/health/ready");
        let port = |k: &str| (k == "PORT").then(|| "9000".to_owned());
        assert_eq!(target_url(port), "http://127.0.0.1:9000/health/ready");
        let both = |k: &str| match k {
            "HEALTHCHECK_URL" => Some("http://api:1/x".to_owned()),
            _ => Some("9000".to_owned()),
        };
        assert_eq!(target_url(both), "http://api:1/x");
        let empty = |k: &str| match k {
            "HEALTHCHECK_URL" => Some(String::new()),
            _ => Some("9000".to_owned()),
        };
        assert_eq!(target_url(empty), "http://127.0.0.1:9000/health/ready");
    }

    #[test]
    fn parses_urls_and_status_lines() {
        let t = parse_url("http://[::1]:81/health").expect("valid");
        assert_eq!((t.host, t.port, t.path), ("::1", 81, "/health"));
        assert_eq!(t.authority, "[::1]:81");
        let t = parse_url("http://localhost").expect("valid");
        assert_eq!((t.host, t.port, t.path), ("localhost", 80, "/"));
        assert!(parse_url("https://localhost/").is_err());
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://host:http/").is_err());
        assert!(parse_url("http://host/a b").is_err());
        assert!(parse_url("http://ho\r\nst/").is_err());
        assert_eq!(
            parse_status(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
    }
}
