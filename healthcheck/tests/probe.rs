//! The binary against small fake servers: exit 0 only on HTTP 200.

use std::{
    io::{Read, Write},
    net::TcpListener,
    process::{Command, Output},
    thread,
    time::{Duration, Instant},
};

/// Serves `response` to every connection that asks for `/health/ready` with
/// a correct `Host`, and 404 otherwise; `None` accepts and never answers.
fn fake_server(response: Option<&'static str>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut buf = [0u8; 1024];
                let n = stream.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let expected = format!("GET /health/ready HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
                match response {
                    None => thread::sleep(Duration::from_secs(10)),
                    Some(_) if !request.starts_with(&expected) => {
                        let _ = stream.write_all(b"HTTP/1.0 404 Not Found\r\n\r\n");
                    }
                    Some(answer) => {
                        let _ = stream.write_all(answer.as_bytes());
                    }
                }
            });
        }
    });
    port
}

fn healthcheck(env: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_healthcheck"));
    command.env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("healthcheck runs")
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/health/ready")
}

#[test]
fn exits_0_on_200() {
    let port = fake_server(Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"));
    let output = healthcheck(&[("HEALTHCHECK_URL", url(port))]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "silent on success: {output:?}");
}

#[test]
fn exits_1_on_503() {
    let port = fake_server(Some("HTTP/1.1 503 Service Unavailable\r\n\r\n"));
    let output = healthcheck(&[("HEALTHCHECK_URL", url(port))]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("503"));
}

#[test]
fn exits_1_on_a_closed_port() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let output = healthcheck(&[("HEALTHCHECK_URL", url(port))]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot connect"));
}

#[test]
fn exits_1_within_the_timeout_when_the_server_hangs() {
    let port = fake_server(None);
    let started = Instant::now();
    let output = healthcheck(&[("HEALTHCHECK_URL", url(port))]);
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        elapsed >= Duration::from_millis(2500),
        "waited the budget: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "but no longer: {elapsed:?}"
    );
}

#[test]
fn exits_1_naming_a_malformed_url() {
    let output = healthcheck(&[("HEALTHCHECK_URL", "https://example.invalid/".to_owned())]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not an http:// URL"));

    let output = healthcheck(&[("HEALTHCHECK_URL", "http://127.0.0.1:port/".to_owned())]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`port` is not a port"));
}

#[test]
fn falls_back_to_port_and_the_readiness_path() {
    let port = fake_server(Some("HTTP/1.1 200 OK\r\n\r\n"));
    let output = healthcheck(&[("PORT", port.to_string())]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}
