//! Apple Push Notification service, token-based: an ES256 token signed
//! with the team's `.p8` key authorizes each request over HTTP/2. Apple
//! wants the same token reused for a while (not renewed more than every 20
//! minutes) and refuses one older than an hour, so it is kept 40 minutes.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use super::{
    provider::{self, Cached, Message, Sent},
    settings::ApnsConfig,
};

/// How long one signed token is used.
const TOKEN_LIFE: Duration = Duration::from_secs(40 * 60);
/// How long Apple keeps trying an offline device.
const EXPIRES_AFTER_SECS: i64 = 24 * 3600;

pub(super) struct Apns {
    config: ApnsConfig,
    key: EncodingKey,
    client: reqwest::Client,
    token: Cached,
}

impl Apns {
    pub(super) fn new(config: ApnsConfig, timeout: Duration) -> anyhow::Result<Self> {
        let key = EncodingKey::from_ec_pem(&config.private_key_pem)?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("Hearth-Push/", env!("CARGO_PKG_VERSION")));
        // APNs speaks HTTP/2 only. Over TLS that is agreed by ALPN; a
        // plain-HTTP endpoint (a local stand-in) must be spoken to in
        // HTTP/2 from the first byte.
        if config.endpoint.starts_with("http://") {
            builder = builder.http2_prior_knowledge();
        }
        Ok(Self {
            config,
            key,
            client: builder.build()?,
            token: Cached::default(),
        })
    }

    pub(super) async fn send(&self, message: &Message<'_>) -> Sent {
        let token = match self.provider_token().await {
            Ok(token) => token,
            Err(error) => return Sent::Rejected(error),
        };
        let Ok(mut url) = url::Url::parse(&self.config.endpoint) else {
            return Sent::Rejected("the APNs endpoint is not a URL".into());
        };
        // The device token is one path segment, escaped, whatever it holds.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["3", "device", message.token]);
        }
        let expiration = chrono::Utc::now().timestamp() + EXPIRES_AFTER_SECS;
        let request = self
            .client
            .post(url)
            .header("authorization", format!("bearer {token}"))
            .header("apns-topic", &self.config.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-expiration", expiration.to_string())
            .header("apns-collapse-id", &message.collapse_id)
            .json(&body(message));
        let refusal = match provider::send(request).await {
            Ok(None) => return Sent::Delivered,
            Ok(Some(refusal)) => refusal,
            Err(retry) => return retry,
        };
        let (status, after, answer) = (refusal.status, refusal.retry_after, refusal.body);
        let reason = answer["reason"].as_str().unwrap_or_default().to_owned();
        let error = format!("APNs answered {status} ({reason})");
        match (status, reason.as_str()) {
            (StatusCode::GONE, _)
            | (_, "BadDeviceToken" | "DeviceTokenNotForTopic" | "Unregistered") => {
                Sent::DeadToken(error)
            }
            (_, "ExpiredProviderToken" | "InvalidProviderToken") => {
                *self.token.lock().await = None;
                Sent::Retry { error, after: None }
            }
            _ => Sent::from_failure(status, after, error),
        }
    }

    /// The signed token, made anew when the kept one is too old.
    async fn provider_token(&self) -> Result<String, String> {
        let mut kept = self.token.lock().await;
        if let Some((token, until)) = kept.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.config.key_id.clone());
        let claims = json!({ "iss": self.config.team_id, "iat": chrono::Utc::now().timestamp() });
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| format!("signing the APNs token: {e}"))?;
        *kept = Some((token.clone(), Instant::now() + TOKEN_LIFE));
        Ok(token)
    }
}

/// The APNs payload: the alert in `aps`, the app's data beside it.
fn body(message: &Message<'_>) -> Value {
    let mut aps = json!({
        "alert": { "title": message.title, "body": message.body },
        "sound": "default",
    });
    if let Some(thread) = message.thread {
        aps["thread-id"] = thread.into();
    }
    let mut payload = Map::new();
    payload.insert("aps".into(), aps);
    for (key, value) in &message.data {
        payload.insert((*key).to_owned(), value.clone().into());
    }
    Value::Object(payload)
}
