//! Talking to providers over HTTP: OpenID discovery (cached), their keys
//! (cached, refetched when a token names a key not seen yet, so rotation
//! needs no restart), the code exchange, Apple's signed client secret and
//! GitHub's REST API. Every call has a timeout; a provider that is down or
//! slow is `PROVIDER_UNAVAILABLE`, never a hang.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::{Deserialize, de::DeserializeOwned};
use tokio::sync::{Mutex, OnceCell};

use super::{
    id_token::{self, Expected, Failed, IdClaims},
    settings::{ProviderConfig, ProviderKind},
};
use crate::error::{AppError, AppResult};

/// `extensions.code` when a provider cannot be reached or answers nonsense.
pub const PROVIDER_UNAVAILABLE: &str = "PROVIDER_UNAVAILABLE";
/// `extensions.code` when the provider refuses the authorization code
/// (used before, issued for another flow, or the PKCE verifier differs).
pub const OAUTH_CODE_REJECTED: &str = "OAUTH_CODE_REJECTED";

/// Keys are refetched at most this often for a token naming an unknown key,
/// so made-up key ids cannot make Hearth hammer the provider.
const UNKNOWN_KEY_REFETCH: Duration = Duration::from_secs(1);
/// Known keys are refreshed after this long anyway.
const KEYS_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// What discovery says about an OpenID Connect provider.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// What a provider asserted about the person signing in.
#[derive(Debug, Clone)]
pub struct Asserted {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
}

impl Asserted {
    fn from_claims(provider: &str, claims: IdClaims) -> Self {
        Self {
            provider: provider.to_owned(),
            subject: claims.sub,
            email: claims.email,
            email_verified: claims.email_verified,
            name: claims.name,
            picture: claims.picture,
        }
    }
}

/// A configured provider and what was learnt from it.
pub struct Provider {
    pub config: ProviderConfig,
    http: reqwest::Client,
    metadata: OnceCell<Metadata>,
    keys: Mutex<Option<(Instant, JwkSet)>>,
}

/// The configured providers, by name.
#[derive(Clone)]
pub struct Providers {
    list: Arc<Vec<Arc<Provider>>>,
}

impl Providers {
    pub fn new(configs: &[ProviderConfig], timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A provider's endpoints answer directly; a redirect would be a
            // way to point Hearth elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let list = configs
            .iter()
            .map(|config| {
                Arc::new(Provider {
                    config: config.clone(),
                    http: http.clone(),
                    metadata: OnceCell::new(),
                    keys: Mutex::new(None),
                })
            })
            .collect();
        Ok(Self {
            list: Arc::new(list),
        })
    }

    pub fn all(&self) -> &[Arc<Provider>] {
        &self.list
    }

    /// The provider a client named, or `BAD_USER_INPUT` on `provider`.
    pub fn get(&self, name: &str) -> AppResult<&Arc<Provider>> {
        self.list
            .iter()
            .find(|p| p.config.name == name.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                AppError::bad_input("provider", "is not a sign-in provider this server offers")
            })
    }
}

fn unavailable(provider: &str, what: &str, err: impl std::fmt::Display) -> AppError {
    tracing::warn!(provider, error = %err, "{what} failed");
    AppError::Denied {
        code: PROVIDER_UNAVAILABLE,
        reason: "unreachable",
        message: format!(
            "the sign-in provider `{provider}` did not answer in time or answered with an error; try again"
        ),
    }
}

impl Provider {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str, what: &str) -> AppResult<T> {
        let answer = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(self.name(), what, e))?;
        answer
            .json()
            .await
            .map_err(|e| unavailable(self.name(), what, e))
    }

    /// The discovery document, fetched once (a failed fetch is retried by
    /// the next sign-in).
    pub async fn metadata(&self) -> AppResult<&Metadata> {
        let Some(issuer) = self.config.kind.issuer() else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "{} has no discovery document",
                self.name()
            )));
        };
        self.metadata
            .get_or_try_init(|| async {
                let url = format!("{issuer}/.well-known/openid-configuration");
                let metadata: Metadata = self.get_json(&url, "OpenID discovery").await?;
                if metadata.issuer.trim_end_matches('/') != issuer {
                    return Err(unavailable(
                        self.name(),
                        "OpenID discovery",
                        format!("it names issuer {}, not {issuer}", metadata.issuer),
                    ));
                }
                Ok(metadata)
            })
            .await
    }

    /// The published key `kid` names (the only key, when the token names
    /// none and the provider publishes one).
    async fn key(&self, kid: Option<&str>) -> AppResult<Jwk> {
        let jwks_uri = self.metadata().await?.jwks_uri.clone();
        let mut keys = self.keys.lock().await;
        let pick = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        if let Some((fetched, set)) = keys.as_ref()
            && fetched.elapsed() < KEYS_MAX_AGE
        {
            if let Some(key) = pick(set) {
                return Ok(key);
            }
            if fetched.elapsed() < UNKNOWN_KEY_REFETCH {
                return Err(Failed::UnknownKey.into());
            }
        }
        let set: JwkSet = self
            .get_json(&jwks_uri, "fetching the provider's keys")
            .await?;
        let key = pick(&set);
        *keys = Some((Instant::now(), set));
        key.ok_or_else(|| Failed::UnknownKey.into())
    }

    /// Verifies an ID token from this provider.
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: id_token::NonceRule<'_>,
    ) -> AppResult<Asserted> {
        let kid = id_token::key_id(token)?;
        let key = self.key(kid.as_deref()).await?;
        let issuer = self.metadata().await?.issuer.clone();
        let expected = Expected {
            issuer: &issuer,
            audiences: &self.config.audiences,
            nonce,
        };
        let claims = id_token::verify(token, &key, &expected)?;
        Ok(Asserted::from_claims(self.name(), claims))
    }

    /// Where to send the person: the provider's authorization URL for this
    /// flow.
    pub async fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> AppResult<String> {
        let endpoint = match &self.config.kind {
            ProviderKind::GitHub { web_url, .. } => format!("{web_url}/login/oauth/authorize"),
            _ => self.metadata().await?.authorization_endpoint.clone(),
        };
        let redirect_uri = self.provider_redirect_uri(redirect_uri)?;
        let mut url = url::Url::parse(&endpoint)
            .map_err(|e| unavailable(self.name(), "reading the authorization endpoint", e))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("scope", &self.config.scopes)
                .append_pair("state", state)
                .append_pair("code_challenge", code_challenge)
                .append_pair("code_challenge_method", "S256");
            match self.config.kind {
                ProviderKind::GitHub { .. } => {}
                // Apple sends the name and email only by POST.
                ProviderKind::Apple { .. } => {
                    query
                        .append_pair("nonce", nonce)
                        .append_pair("response_mode", "form_post");
                }
                ProviderKind::Oidc { .. } => {
                    query.append_pair("nonce", nonce);
                }
            }
        }
        Ok(url.into())
    }

    /// Where the provider sends the person: the app's redirect URI, or for
    /// Apple, Hearth's callback (which sends them on to the app's).
    fn provider_redirect_uri(&self, app_redirect_uri: &str) -> AppResult<String> {
        match &self.config.kind {
            ProviderKind::Apple { callback_url, .. } => callback_url.clone().ok_or_else(|| {
                AppError::bad_input(
                    "provider",
                    "Apple's web sign-in needs AUTH_APPLE_CALLBACK_URL on the server; on iOS use signInWithIdToken",
                )
            }),
            _ => Ok(app_redirect_uri.to_owned()),
        }
    }

    /// Exchanges an authorization code and returns who signed in.
    pub async fn exchange(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> AppResult<Asserted> {
        if let ProviderKind::GitHub { web_url, api_url } = &self.config.kind {
            let token = self
                .github_token(web_url, code, redirect_uri, code_verifier)
                .await?;
            return self.github_person(api_url, &token).await;
        }
        let metadata = self.metadata().await?;
        let redirect_uri = self.provider_redirect_uri(redirect_uri)?;
        let secret = match &self.config.kind {
            ProviderKind::Apple {
                team_id,
                key_id,
                private_key_pem,
                ..
            } => Some(apple_client_secret(
                team_id,
                key_id,
                &self.config.client_id,
                private_key_pem,
            )?),
            _ => self.config.client_secret.clone(),
        };
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", code_verifier),
        ];
        let mut request = self.http.post(&metadata.token_endpoint);
        // The client authenticates the way the provider says it supports:
        // in the form when it lists that (or lists nothing), else HTTP Basic.
        let in_form = metadata
            .token_endpoint_auth_methods_supported
            .as_ref()
            .is_none_or(|methods| methods.iter().any(|m| m == "client_secret_post"));
        match (&secret, in_form) {
            (Some(secret), true) => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", secret));
            }
            (Some(secret), false) => {
                request = request.basic_auth(
                    form_urlencode(&self.config.client_id),
                    Some(form_urlencode(secret)),
                );
            }
            (None, _) => form.push(("client_id", &self.config.client_id)),
        }
        let answer = request
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| unavailable(self.name(), "the code exchange", e))?;
        let status = answer.status();
        let body: serde_json::Value = answer
            .json()
            .await
            .map_err(|e| unavailable(self.name(), "the code exchange", e))?;
        if status.is_client_error() || body.get("error").is_some() {
            return Err(code_rejected(self.name(), &body));
        }
        if !status.is_success() {
            return Err(unavailable(self.name(), "the code exchange", status));
        }
        let id_token = body
            .get("id_token")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| unavailable(self.name(), "the code exchange", "no id_token"))?;
        self.verify_id_token(id_token, id_token::NonceRule::Exact(nonce))
            .await
    }

    async fn github_token(
        &self,
        web_url: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> AppResult<String> {
        let secret = self.config.client_secret.as_deref().unwrap_or_default();
        let answer = self
            .http
            .post(format!("{web_url}/login/oauth/access_token"))
            .header("accept", "application/json")
            .form(&[
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", secret),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", code_verifier),
            ])
            .send()
            .await
            .map_err(|e| unavailable(self.name(), "the code exchange", e))?;
        let body: serde_json::Value = answer
            .json()
            .await
            .map_err(|e| unavailable(self.name(), "the code exchange", e))?;
        // GitHub answers a bad code with 200 and an `error` field.
        match body.get("access_token").and_then(serde_json::Value::as_str) {
            Some(token) => Ok(token.to_owned()),
            None => Err(code_rejected(self.name(), &body)),
        }
    }

    /// The GitHub user and their primary email (verified or not, as GitHub
    /// says).
    async fn github_person(&self, api_url: &str, token: &str) -> AppResult<Asserted> {
        #[derive(Deserialize)]
        struct User {
            id: u64,
            login: String,
            name: Option<String>,
            avatar_url: Option<String>,
        }
        #[derive(Deserialize)]
        struct Email {
            email: String,
            primary: bool,
            verified: bool,
        }
        let get = |path: &str| {
            self.http
                .get(format!("{api_url}{path}"))
                .bearer_auth(token)
                .header("accept", "application/vnd.github+json")
                .send()
        };
        let user: User = get("/user")
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(self.name(), "reading the GitHub user", e))?
            .json()
            .await
            .map_err(|e| unavailable(self.name(), "reading the GitHub user", e))?;
        let emails: Vec<Email> = get("/user/emails")
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(self.name(), "reading the GitHub emails", e))?
            .json()
            .await
            .map_err(|e| unavailable(self.name(), "reading the GitHub emails", e))?;
        let primary = emails.into_iter().find(|e| e.primary);
        Ok(Asserted {
            provider: self.name().to_owned(),
            subject: user.id.to_string(),
            email_verified: primary.as_ref().is_some_and(|e| e.verified),
            email: primary.map(|e| e.email),
            name: user.name.or(Some(user.login)),
            picture: user.avatar_url,
        })
    }
}

fn code_rejected(provider: &str, body: &serde_json::Value) -> AppError {
    let error = body
        .get("error")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("invalid_grant");
    tracing::info!(
        provider,
        error,
        "the provider refused an authorization code"
    );
    AppError::Denied {
        code: OAUTH_CODE_REJECTED,
        reason: "provider_refused",
        message: format!(
            "the provider refused the authorization code ({error}): it was used before, belongs to another flow, or expired; start again"
        ),
    }
}

/// HTTP Basic client credentials are form-urlencoded first (RFC 6749 2.3.1).
fn form_urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Apple's client secret: a short-lived ES256 JWT signed with the team's
/// key, naming the team as issuer and the service id as subject.
pub fn apple_client_secret(
    team_id: &str,
    key_id: &str,
    client_id: &str,
    private_key_pem: &[u8],
) -> AppResult<String> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "iss": team_id,
        "iat": now,
        "exp": now + 5 * 60,
        "aud": "https://appleid.apple.com",
        "sub": client_id,
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key_id.to_owned());
    let key = EncodingKey::from_ec_pem(private_key_pem)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("the Apple key: {e}")))?;
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("signing the Apple client secret: {e}")))
}
