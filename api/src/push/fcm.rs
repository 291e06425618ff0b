//! Firebase Cloud Messaging, HTTP v1. The service account signs a short
//! RS256 token (the OAuth 2.0 JWT bearer grant), which its `token_uri`
//! exchanges for an access token; that is kept until shortly before it
//! expires, and each push is one `messages:send` request with it.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    provider::{self, Cached, Message, Sent},
    settings::FcmConfig,
};
use crate::error::describe_request_error;

/// What the access token may do: send messages, nothing else.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

pub(super) struct Fcm {
    config: FcmConfig,
    key: EncodingKey,
    client: reqwest::Client,
    access: Cached,
}

impl Fcm {
    pub(super) fn new(config: FcmConfig, timeout: Duration) -> anyhow::Result<Self> {
        let key = EncodingKey::from_rsa_pem(&config.private_key_pem)?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("Hearth-Push/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            config,
            key,
            client,
            access: Cached::default(),
        })
    }

    pub(super) async fn send(&self, message: &Message<'_>) -> Sent {
        let access = match self.access_token().await {
            Ok(access) => access,
            Err(error) => return Sent::Retry { error, after: None },
        };
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.config.endpoint, self.config.project_id
        );
        let request = self
            .client
            .post(url)
            .bearer_auth(access)
            .json(&body(message));
        let refusal = match provider::send(request).await {
            Ok(None) => return Sent::Delivered,
            Ok(Some(refusal)) => refusal,
            Err(retry) => return retry,
        };
        let (status, after, answer) = (refusal.status, refusal.retry_after, refusal.body);
        let code = error_code(&answer);
        let error = format!(
            "FCM answered {status}{}",
            code.map(|c| format!(" ({c})")).unwrap_or_default()
        );
        match (status, code) {
            (StatusCode::NOT_FOUND, _) | (_, Some("UNREGISTERED" | "SENDER_ID_MISMATCH")) => {
                Sent::DeadToken(error)
            }
            (StatusCode::UNAUTHORIZED, _) => {
                // The access token was refused: get a new one next time.
                *self.access.lock().await = None;
                Sent::Retry { error, after: None }
            }
            _ => Sent::from_failure(status, after, error),
        }
    }

    /// The access token, exchanged anew when the kept one is near its end.
    async fn access_token(&self) -> Result<String, String> {
        let mut kept = self.access.lock().await;
        if let Some((token, until)) = kept.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "iss": self.config.client_email,
            "scope": SCOPE,
            "aud": self.config.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.config.private_key_id);
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| format!("signing the FCM service-account token: {e}"))?;
        let response = self
            .client
            .post(&self.config.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &assertion),
            ])
            .send()
            .await
            .map_err(|e| format!("FCM access token: {}", describe_request_error(&e)))?;
        if !response.status().is_success() {
            return Err(format!(
                "FCM access token: the token endpoint answered {}",
                response.status()
            ));
        }
        let granted: Value = response
            .json()
            .await
            .map_err(|e| format!("FCM access token: {e}"))?;
        let token = granted["access_token"]
            .as_str()
            .ok_or("FCM access token: no access_token in the answer")?
            .to_owned();
        // Renewed five minutes early, so no push goes out on a token that
        // expires in flight.
        let lasts = granted["expires_in"].as_u64().unwrap_or(3600);
        let until = Instant::now() + Duration::from_secs(lasts.saturating_sub(300).max(60));
        *kept = Some((token.clone(), until));
        Ok(token)
    }
}

/// The `messages:send` body: a notification the system shows, the data
/// for the app, and the collapse settings of each platform (Android
/// replaces a shown notification with the same tag; APNs, one with the
/// same collapse id).
fn body(message: &Message<'_>) -> Value {
    let mut apns = json!({ "headers": { "apns-collapse-id": message.collapse_id } });
    if let Some(thread) = message.thread {
        apns["payload"] = json!({ "aps": { "thread-id": thread } });
    }
    json!({
        "message": {
            "token": message.token,
            "notification": { "title": message.title, "body": message.body },
            "data": message.data,
            "android": {
                "priority": "HIGH",
                "collapse_key": message.collapse_id,
                "notification": { "tag": message.collapse_id },
            },
            "apns": apns,
        }
    })
}

/// FCM's own error code, from `error.details[].errorCode`, else
/// `error.status`.
fn error_code(answer: &Value) -> Option<&str> {
    let error = &answer["error"];
    error["details"]
        .as_array()
        .and_then(|details| details.iter().find_map(|d| d["errorCode"].as_str()))
        .or_else(|| error["status"].as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcm_error_codes_are_read_from_the_details_first() {
        let answer = json!({ "error": { "status": "NOT_FOUND", "details": [
            { "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED" }
        ]}});
        assert_eq!(error_code(&answer), Some("UNREGISTERED"));
        assert_eq!(
            error_code(&json!({ "error": { "status": "INTERNAL" } })),
            Some("INTERNAL")
        );
        assert_eq!(error_code(&Value::Null), None);
    }
}
