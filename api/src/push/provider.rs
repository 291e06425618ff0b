//! What the provider clients share: the push to send and what came of it.

use std::{collections::BTreeMap, time::Duration};

/// One push, as both providers are asked to show it.
pub(super) struct Message<'a> {
    /// The device's registration (FCM) or device (APNs) token.
    pub token: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    /// Pushes with the same key replace each other on the device, so a
    /// burst about one notification shows as one: the notification's id.
    pub collapse_id: String,
    /// Groups the device shows together (a conversation, a post's
    /// reactions).
    pub thread: Option<&'a str>,
    /// Handed to the app as it is: the notification's id and kind, and the
    /// ids of what it is about (global ids, for `node(id:)`).
    pub data: BTreeMap<&'static str, String>,
}

/// What a provider made of one push.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Sent {
    Delivered,
    /// The token is dead (the app was uninstalled, the token rotated):
    /// forget it.
    DeadToken(String),
    /// Worth trying again, no sooner than `after` when the provider said.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// This push will never be accepted; drop it.
    Rejected(String),
}

impl Sent {
    /// The metric label.
    pub(super) fn outcome(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::DeadToken(_) => "dead_token",
            Self::Retry { .. } => "retry",
            Self::Rejected(_) => "rejected",
        }
    }

    /// How a response that was not a success goes on: throttling and
    /// server errors are retried, after `Retry-After` when given.
    pub(super) fn from_failure(
        status: reqwest::StatusCode,
        retry_after: Option<Duration>,
        error: String,
    ) -> Self {
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Self::Retry {
                error,
                after: retry_after,
            }
        } else {
            Self::Rejected(error)
        }
    }
}

/// A provider's answer that was not a success.
pub(super) struct Refusal {
    pub status: reqwest::StatusCode,
    pub retry_after: Option<Duration>,
    /// The JSON body, or null.
    pub body: serde_json::Value,
}

/// Sends one push request: `Ok(None)` when the provider took it, its
/// refusal otherwise, and a retry when no answer came at all.
pub(super) async fn send(request: reqwest::RequestBuilder) -> Result<Option<Refusal>, Sent> {
    let response = request.send().await.map_err(|err| Sent::Retry {
        error: crate::error::describe_request_error(&err),
        after: None,
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(None);
    }
    let retry_after = retry_after(&response);
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Ok(Some(Refusal {
        status,
        retry_after,
        body,
    }))
}

/// `Retry-After` in seconds, capped at an hour.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

/// A cached bearer token and when to stop using it.
pub(super) type Cached = tokio::sync::Mutex<Option<(String, std::time::Instant)>>;
