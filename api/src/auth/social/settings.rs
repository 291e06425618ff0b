//! What social sign-in reads from the environment: the providers offered,
//! their credentials, and the redirect URIs apps may ask to come back to.
//!
//! `AUTH_PROVIDERS` names the providers (`google,apple,github,acme`); each
//! then reads `AUTH_<NAME>_*`. `google`, `apple` and `github` are presets
//! (issuer and endpoints known); any other name is an OpenID Connect
//! provider found by its `AUTH_<NAME>_ISSUER`'s discovery document.

use std::{fmt, net::IpAddr, time::Duration};

use migration::settings::{Env, SettingsError};

const GOOGLE_ISSUER: &str = "https://accounts.google.com";
const APPLE_ISSUER: &str = "https://appleid.apple.com";

/// Social sign-in and email codes.
#[derive(Debug, Clone)]
pub struct SocialConfig {
    pub providers: Vec<ProviderConfig>,
    /// Where `startOAuth` may send the user back to, compared exactly.
    pub redirect_uris: Vec<String>,
    /// Development only: also accept Expo Go's `exp://<lan-ip>:<port>/--/...`
    /// URIs, whose address changes with the network.
    pub expo_dev_redirects: bool,
    /// Longest wait for a provider (discovery, keys, code exchange).
    pub provider_timeout: Duration,
    /// How long a started authorization-code flow may be completed.
    pub flow_ttl: Duration,
    /// How long an emailed sign-in code works.
    pub email_code_ttl: Duration,
}

/// One provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// Lower-case, as clients name it (`google`).
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Audiences accepted in ID tokens from native SDKs: the client id and
    /// `AUTH_<NAME>_AUDIENCES` (iOS bundle ids, Android client ids).
    pub audiences: Vec<String>,
    pub scopes: String,
    /// Native ID tokens without a `nonce` claim are accepted (for SDKs
    /// that cannot set one); otherwise a nonce is required.
    pub allow_missing_nonce: bool,
}

impl fmt::Debug for ProviderConfig {
    // Never print the client secret or key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub enum ProviderKind {
    /// OpenID Connect, found through `{issuer}/.well-known/openid-configuration`.
    Oidc { issuer: String },
    /// Sign in with Apple: OpenID Connect whose client secret is a JWT
    /// signed with the team's key, and which answers the web flow by
    /// POSTing the code to `callback_url` (Hearth's own
    /// `/auth/apple/callback`, as registered at Apple), from where Hearth
    /// sends the person on to the app's redirect URI.
    Apple {
        issuer: String,
        callback_url: Option<String>,
        team_id: String,
        key_id: String,
        private_key_pem: Vec<u8>,
    },
    /// GitHub: OAuth2 without OpenID Connect; the person and their
    /// verified email come from its REST API.
    GitHub { web_url: String, api_url: String },
}

impl ProviderKind {
    /// The issuer of an OpenID Connect provider.
    pub fn issuer(&self) -> Option<&str> {
        match self {
            Self::Oidc { issuer } => Some(issuer),
            Self::Apple { issuer, .. } => Some(issuer),
            Self::GitHub { .. } => None,
        }
    }
}

/// Settings are read once at start-up, so the few variable names built
/// from a provider's name may live for the whole process.
fn name_of(provider: &str, setting: &str) -> &'static str {
    Box::leak(format!("AUTH_{}_{setting}", provider.to_ascii_uppercase()).into_boxed_str())
}

fn list(raw: Option<String>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl SocialConfig {
    /// `AUTH_PROVIDERS`, `AUTH_<NAME>_*`, `AUTH_REDIRECT_URIS`,
    /// `AUTH_REDIRECT_EXPO_DEV`, `AUTH_PROVIDER_TIMEOUT_SECS`,
    /// `AUTH_OAUTH_FLOW_TTL_SECS` and `AUTH_EMAIL_CODE_TTL_SECS`.
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, SettingsError> {
        let mut providers: Vec<ProviderConfig> = Vec::new();
        for name in list(env.get("AUTH_PROVIDERS")) {
            let name = name.to_ascii_lowercase();
            let valid = (1..=32).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !valid {
                return Err(env.error(
                    "AUTH_PROVIDERS",
                    format!("`{name}` is not a provider name (1-32 letters or digits)"),
                ));
            }
            if providers.iter().any(|p| p.name == name) {
                return Err(env.error("AUTH_PROVIDERS", format!("`{name}` is listed twice")));
            }
            providers.push(provider(env, &name)?);
        }
        let redirect_uris = list(env.get("AUTH_REDIRECT_URIS"));
        for uri in &redirect_uris {
            if let Err(problem) = check_redirect_uri(uri) {
                return Err(env.error("AUTH_REDIRECT_URIS", format!("`{uri}` {problem}")));
            }
        }
        if !providers.is_empty() && redirect_uris.is_empty() {
            tracing::debug!("no AUTH_REDIRECT_URIS: only native sign-in works");
        }
        let expo_dev_redirects = env.flag("AUTH_REDIRECT_EXPO_DEV", false)?;
        if expo_dev_redirects && production {
            return Err(env.error(
                "AUTH_REDIRECT_EXPO_DEV",
                "is for development only: list your app's redirect URIs in AUTH_REDIRECT_URIS",
            ));
        }
        Ok(Self {
            providers,
            redirect_uris,
            expo_dev_redirects,
            provider_timeout: env.secs("AUTH_PROVIDER_TIMEOUT_SECS", 10)?,
            flow_ttl: env.secs("AUTH_OAUTH_FLOW_TTL_SECS", 10 * 60)?,
            email_code_ttl: env.secs("AUTH_EMAIL_CODE_TTL_SECS", 10 * 60)?,
        })
    }

    /// Whether `uri` may be the end of a flow: listed exactly (scheme,
    /// host, path and query as written: no prefixes, no added userinfo),
    /// or, in development with Expo on, an Expo Go address on a private
    /// network.
    pub fn redirect_allowed(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|allowed| allowed == uri)
            || (self.expo_dev_redirects && is_expo_dev(uri))
    }
}

fn provider(env: &Env<'_>, name: &str) -> Result<ProviderConfig, SettingsError> {
    let get = |setting: &str| env.get(name_of(name, setting));
    let required = |setting: &str| {
        let variable = name_of(name, setting);
        env.get(variable)
            .ok_or_else(|| env.error(variable, format!("is required for the `{name}` provider")))
    };
    let client_id = required("CLIENT_ID")?;
    let (kind, client_secret, scopes) = match name {
        "apple" => {
            let file = required("PRIVATE_KEY_FILE")?;
            let private_key_pem = std::fs::read(&file).map_err(|e| {
                env.error(
                    name_of(name, "PRIVATE_KEY_FILE"),
                    format!("cannot read {file}: {e}"),
                )
            })?;
            jsonwebtoken::EncodingKey::from_ec_pem(&private_key_pem).map_err(|e| {
                env.error(
                    name_of(name, "PRIVATE_KEY_FILE"),
                    format!("is not the .p8 key Apple gave you (an EC P-256 PEM): {e}"),
                )
            })?;
            let callback_url = get("CALLBACK_URL");
            if let Some(url) = &callback_url {
                check_http_url(url)
                    .map_err(|problem| env.error(name_of(name, "CALLBACK_URL"), problem))?;
            }
            let issuer = get("ISSUER").unwrap_or_else(|| APPLE_ISSUER.to_owned());
            check_http_url(&issuer)
                .map_err(|problem| env.error(name_of(name, "ISSUER"), problem))?;
            let kind = ProviderKind::Apple {
                issuer: issuer.trim_end_matches('/').to_owned(),
                callback_url,
                team_id: required("TEAM_ID")?,
                key_id: required("KEY_ID")?,
                private_key_pem,
            };
            (kind, None, "openid email name")
        }
        "github" => {
            let url = |setting: &str, default: &str| {
                let variable = name_of(name, setting);
                let url = env.get(variable).unwrap_or_else(|| default.to_owned());
                check_http_url(&url)
                    .map(|()| url.trim_end_matches('/').to_owned())
                    .map_err(|problem| env.error(variable, problem))
            };
            let kind = ProviderKind::GitHub {
                web_url: url("URL", "https://github.com")?,
                api_url: url("API_URL", "https://api.github.com")?,
            };
            (
                kind,
                Some(required("CLIENT_SECRET")?),
                "read:user user:email",
            )
        }
        _ => {
            let variable = name_of(name, "ISSUER");
            let issuer = match (name, env.get(variable)) {
                (_, Some(issuer)) => issuer,
                ("google", None) => GOOGLE_ISSUER.to_owned(),
                (_, None) => required("ISSUER")?,
            };
            check_http_url(&issuer).map_err(|problem| env.error(variable, problem))?;
            let kind = ProviderKind::Oidc {
                issuer: issuer.trim_end_matches('/').to_owned(),
            };
            (kind, get("CLIENT_SECRET"), "openid email profile")
        }
    };
    let mut audiences = vec![client_id.clone()];
    audiences.extend(list(get("AUDIENCES")));
    Ok(ProviderConfig {
        name: name.to_owned(),
        kind,
        client_id,
        client_secret,
        audiences,
        scopes: get("SCOPES").unwrap_or_else(|| scopes.to_owned()),
        allow_missing_nonce: env.flag(name_of(name, "ALLOW_MISSING_NONCE"), false)?,
    })
}

/// An absolute http(s) URL with a host; otherwise what is wrong with it.
pub(crate) fn check_http_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => Ok(()),
        _ => Err(format!("`{url}` is not an http(s) URL")),
    }
}

/// A redirect URI the allow-list may hold: absolute (any scheme, so custom
/// schemes and universal links both work), no fragment, no userinfo.
fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    let parsed = url::Url::parse(uri).map_err(|_| "is not an absolute URI")?;
    if parsed.fragment().is_some() {
        return Err("must not have a #fragment");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry a user name or password");
    }
    Ok(())
}

/// `exp://<private or loopback address>:<port>/--/<path>`: what Expo Go
/// uses in development, its address changing with the network.
fn is_expo_dev(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let local = match url.host_str().map(str::parse::<IpAddr>) {
        Some(Ok(IpAddr::V4(ip))) => ip.is_private() || ip.is_loopback(),
        Some(Ok(IpAddr::V6(ip))) => ip.is_loopback(),
        _ => url.host_str() == Some("localhost"),
    };
    url.scheme() == "exp"
        && local
        && url.port().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
        && url.path().starts_with("/--/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(uris: &[&str], expo: bool) -> SocialConfig {
        SocialConfig {
            providers: Vec::new(),
            redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
            expo_dev_redirects: expo,
            provider_timeout: Duration::from_secs(1),
            flow_ttl: Duration::from_secs(60),
            email_code_ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let listed = [
            "https://app.example.com/oauth/callback",
            "com.example.app:/oauth",
            "myapp://auth/callback",
        ];
        let allowed = config(&listed, false);
        for uri in listed {
            assert!(allowed.redirect_allowed(uri), "{uri}");
        }
        for trick in [
            "https://app.example.com/oauth/callback/../evil",
            "https://app.example.com/oauth/callbackx",
            "https://app.example.com/oauth/callback?next=https://evil.example",
            "https://app.example.com.evil.example/oauth/callback",
            "https://app.example.com@evil.example/oauth/callback",
            "https://evil.example@app.example.com/oauth/callback",
            "https://app.example.com/oauth",
            "HTTPS://APP.EXAMPLE.COM/oauth/callback",
            "myapp://auth/callback#x",
            "myapp://auth",
            "exp://192.168.1.20:8081/--/oauth",
        ] {
            assert!(!allowed.redirect_allowed(trick), "{trick}");
        }
    }

    #[test]
    fn expo_development_uris_are_accepted_only_when_on() {
        let expo = config(&[], true);
        for uri in [
            "exp://192.168.1.20:8081/--/oauth",
            "exp://10.0.0.5:19000/--/auth/callback",
            "exp://127.0.0.1:8081/--/oauth",
            "exp://localhost:8081/--/oauth",
        ] {
            assert!(expo.redirect_allowed(uri), "{uri}");
            assert!(!config(&[], false).redirect_allowed(uri), "{uri}");
        }
        for uri in [
            "exp://8.8.8.8:8081/--/oauth",
            "exp://evil.example:8081/--/oauth",
            "exp://192.168.1.20/--/oauth",
            "exp://192.168.1.20:8081/oauth",
            "exp://user@192.168.1.20:8081/--/oauth",
            "https://192.168.1.20:8081/--/oauth",
        ] {
            assert!(!expo.redirect_allowed(uri), "{uri}");
        }
    }

    #[test]
    fn listed_redirect_uris_are_checked() {
        assert!(check_redirect_uri("com.example.app:/oauth").is_ok());
        assert!(check_redirect_uri("https://app.example.com/cb").is_ok());
        assert!(check_redirect_uri("/relative").is_err());
        assert!(check_redirect_uri("https://a.example/cb#frag").is_err());
        assert!(check_redirect_uri("https://u:p@a.example/cb").is_err());
    }
}
