//! A small real SMTP server for tests: speaks enough of RFC 5321 for
//! lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and hands every
//! received message to the test.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::mpsc,
};

/// One message as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub recipients: Vec<String>,
    /// The DATA section: headers and body, dot-unstuffed.
    pub data: String,
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    messages: mpsc::UnboundedReceiver<Received>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind SMTP");
        let addr = listener.local_addr().expect("SMTP address");
        let (tx, messages) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = session(stream, tx).await;
                });
            }
        });
        Self { addr, messages }
    }

    /// `SMTP_URL` for the API.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The next message, waiting up to 10 s.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.messages.recv())
            .await
            .expect("an email within 10 s")
            .expect("SMTP server running")
    }

    /// Whether a message arrives within `wait`.
    pub async fn nothing_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.messages.recv())
            .await
            .is_err()
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    tx: mpsc::UnboundedSender<Received>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 test-smtp ready\r\n").await?;
    let mut recipients = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-test-smtp\r\n250 8BITMIME\r\n",
            "MAIL" => {
                recipients.clear();
                b"250 ok\r\n"
            }
            "RCPT" => {
                let address = line
                    .split_once(':')
                    .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_owned())
                    .unwrap_or_default();
                recipients.push(address);
                b"250 ok\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push('\n');
                }
                let _ = tx.send(Received {
                    recipients: std::mem::take(&mut recipients),
                    data,
                });
                b"250 queued\r\n"
            }
            "RSET" | "NOOP" => b"250 ok\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// The token in an email: the first word that looks like a 43-character
/// base64url token, bare or at the end of a link.
pub fn token_in(data: &str) -> String {
    // Bodies may be quoted-printable: undo soft line breaks and `=3D`.
    let text = data.replace("=\n", "").replace("=3D", "=");
    text.split(|c: char| c.is_whitespace() || c == '=' || c == '/')
        .find(|word| {
            word.len() == 43
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .unwrap_or_else(|| panic!("no token in the email:\n{data}"))
        .to_owned()
}
