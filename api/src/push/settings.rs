//! What push reads from the environment. Each provider is off until its
//! credentials are set; with neither, nothing is queued or sent.

use std::{fmt, time::Duration};

use entity::enums::PushProvider;
use migration::settings::{Env, SettingsError};
use serde::Deserialize;

use crate::auth::social::settings::check_http_url;

/// Sending pushes.
#[derive(Debug, Clone)]
pub struct PushConfig {
    pub fcm: Option<FcmConfig>,
    pub apns: Option<ApnsConfig>,
    /// How long one request to a provider may take, connecting included.
    pub timeout: Duration,
    /// The pause before each retry; after the last, the push is dropped
    /// (the notification stays in the inbox).
    pub retry_schedule: Vec<Duration>,
}

/// Firebase Cloud Messaging (HTTP v1), with a service account.
#[derive(Clone)]
pub struct FcmConfig {
    pub project_id: String,
    /// The service account, the issuer of the signed token.
    pub client_email: String,
    pub private_key_id: Option<String>,
    /// The service account's RSA key (PEM).
    pub private_key_pem: Vec<u8>,
    /// Where the signed token is exchanged for an access token.
    pub token_uri: String,
    /// `https://fcm.googleapis.com` unless changed.
    pub endpoint: String,
}

/// Apple Push Notification service, token-based (a `.p8` key).
#[derive(Clone)]
pub struct ApnsConfig {
    pub key_id: String,
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// The `.p8` key (an EC P-256 PEM).
    pub private_key_pem: Vec<u8>,
    /// `https://api.push.apple.com` unless changed (the sandbox for
    /// development builds is `https://api.sandbox.push.apple.com`).
    pub endpoint: String,
}

impl fmt::Debug for FcmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmConfig")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("private_key_pem", &"<redacted>")
            .field("token_uri", &self.token_uri)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ApnsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsConfig")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("topic", &self.topic)
            .field("private_key_pem", &"<redacted>")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// The fields of a Google service-account key file that FCM needs.
#[derive(Deserialize)]
struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key: String,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

impl PushConfig {
    /// `PUSH_FCM_*`, `PUSH_APNS_*`, `PUSH_TIMEOUT_SECS` and
    /// `PUSH_RETRY_SCHEDULE`.
    pub fn from_env(env: &Env<'_>) -> Result<Self, SettingsError> {
        Ok(Self {
            fcm: fcm(env)?,
            apns: apns(env)?,
            timeout: env.secs("PUSH_TIMEOUT_SECS", 10)?,
            retry_schedule: env.durations("PUSH_RETRY_SCHEDULE", "5s,30s,2m,10m,30m,1h")?,
        })
    }

    /// The providers pushes go out through.
    pub fn providers(&self) -> Vec<PushProvider> {
        let mut providers = Vec::new();
        if self.fcm.is_some() {
            providers.push(PushProvider::Fcm);
        }
        if self.apns.is_some() {
            providers.push(PushProvider::Apns);
        }
        providers
    }
}

fn fcm(env: &Env<'_>) -> Result<Option<FcmConfig>, SettingsError> {
    const FILE: &str = "PUSH_FCM_CREDENTIALS_FILE";
    let Some(file) = env.get(FILE) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| env.error(FILE, format!("cannot read {file}: {e}")))?;
    let account: ServiceAccount = serde_json::from_str(&text).map_err(|e| {
        env.error(
            FILE,
            format!("is not a Firebase service-account key file (JSON with project_id, client_email, private_key): {e}"),
        )
    })?;
    jsonwebtoken::EncodingKey::from_rsa_pem(account.private_key.as_bytes()).map_err(|e| {
        env.error(
            FILE,
            format!("its private_key is not an RSA key in PEM: {e}"),
        )
    })?;
    let token_uri = account
        .token_uri
        .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_owned());
    check_http_url(&token_uri)
        .map_err(|problem| env.error(FILE, format!("token_uri {problem}")))?;
    Ok(Some(FcmConfig {
        project_id: account.project_id,
        client_email: account.client_email,
        private_key_id: account.private_key_id,
        private_key_pem: account.private_key.into_bytes(),
        token_uri,
        endpoint: endpoint(env, "PUSH_FCM_ENDPOINT", "https://fcm.googleapis.com")?,
    }))
}

fn apns(env: &Env<'_>) -> Result<Option<ApnsConfig>, SettingsError> {
    const FILE: &str = "PUSH_APNS_KEY_FILE";
    let Some(file) = env.get(FILE) else {
        return Ok(None);
    };
    let private_key_pem =
        std::fs::read(&file).map_err(|e| env.error(FILE, format!("cannot read {file}: {e}")))?;
    jsonwebtoken::EncodingKey::from_ec_pem(&private_key_pem).map_err(|e| {
        env.error(
            FILE,
            format!("is not the .p8 key Apple gave you (an EC P-256 PEM): {e}"),
        )
    })?;
    let required = |variable: &'static str| {
        env.get(variable)
            .ok_or_else(|| env.error(variable, format!("is required with {FILE}")))
    };
    Ok(Some(ApnsConfig {
        key_id: required("PUSH_APNS_KEY_ID")?,
        team_id: required("PUSH_APNS_TEAM_ID")?,
        topic: required("PUSH_APNS_TOPIC")?,
        private_key_pem,
        endpoint: endpoint(env, "PUSH_APNS_ENDPOINT", "https://api.push.apple.com")?,
    }))
}

fn endpoint(env: &Env<'_>, variable: &'static str, default: &str) -> Result<String, SettingsError> {
    let url = env.get(variable).unwrap_or_else(|| default.to_owned());
    check_http_url(&url).map_err(|problem| env.error(variable, problem))?;
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_is_off_until_configured_and_half_a_configuration_is_an_error() {
        let config = PushConfig::from_env(&Env::new(&|_| None)).unwrap();
        assert!(config.providers().is_empty());
        let key = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/api/fixtures/apple-test-key.p8"
        );
        let half = |name: &str| (name == "PUSH_APNS_KEY_FILE").then(|| key.to_owned());
        let err = PushConfig::from_env(&Env::new(&half)).unwrap_err();
        assert_eq!(err.variable, "PUSH_APNS_KEY_ID");
        let missing =
            |name: &str| (name == "PUSH_FCM_CREDENTIALS_FILE").then(|| "/nowhere.json".to_owned());
        let err = PushConfig::from_env(&Env::new(&missing)).unwrap_err();
        assert_eq!(err.variable, "PUSH_FCM_CREDENTIALS_FILE");
        assert!(err.message.contains("cannot read"), "{}", err.message);
    }
}
