//! Access tokens (JWT, algorithm pinned, every registered claim checked) and
//! the opaque random tokens used for refresh and email links.

use std::{num::NonZeroUsize, path::Path, sync::Mutex, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::enums::UserRole;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lru::LruCache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    revocations::Revocations,
    settings::{AuthConfig, JwtKey},
};

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// Tokens whose signature was checked lately, kept by their SHA-256: a
/// client sends the same token with every request, and decoding it again
/// (base64, the signature, two JSON documents) was a seventh of a lookup's
/// work. 4,096 entries are about a megabyte.
const VERIFIED: usize = 4096;

/// What an access token says. Unknown fields are ignored; missing ones
/// make the token invalid.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The device session id.
    pub sid: Uuid,
    pub role: UserRole,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Signs and checks access tokens.
pub struct AccessTokens {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
    /// Sessions that ended before their tokens expire.
    revocations: Revocations,
    /// Lately verified tokens (by SHA-256) and their claims.
    verified: Mutex<LruCache<[u8; 32], Claims>>,
}

/// Why a key could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid JWT key pair (expected Ed25519 PEM files): {0}")]
    BadKeyPair(jsonwebtoken::errors::Error),
    #[error("cannot read or create the development JWT secret {path}: {source}")]
    Generated {
        path: String,
        source: std::io::Error,
    },
}

impl AccessTokens {
    pub fn new(config: &AuthConfig, data_dir: &Path) -> Result<Self, KeyError> {
        let (algorithm, encoding, decoding) = match &config.jwt_key {
            JwtKey::Secret(secret) => (
                Algorithm::HS256,
                EncodingKey::from_secret(secret),
                DecodingKey::from_secret(secret),
            ),
            JwtKey::KeyPair {
                private_pem,
                public_pem,
            } => (
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(private_pem).map_err(KeyError::BadKeyPair)?,
                DecodingKey::from_ed_pem(public_pem).map_err(KeyError::BadKeyPair)?,
            ),
            JwtKey::Generated => {
                let secret = generated_secret(data_dir)?;
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(&secret),
                    DecodingKey::from_secret(&secret),
                )
            }
        };
        // Only this one algorithm: `alg: none`, HS512 and friends all fail.
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        Ok(Self {
            algorithm,
            encoding,
            decoding,
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: config.access_token_ttl,
            revocations: Revocations::new(
                config.access_token_ttl + std::time::Duration::from_secs(LEEWAY_SECS),
            ),
            verified: Mutex::new(LruCache::new(
                NonZeroUsize::new(VERIFIED).unwrap_or(NonZeroUsize::MIN),
            )),
        })
    }

    /// A signed token for one session, and when it expires.
    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        role: UserRole,
    ) -> anyhow::Result<(String, DateTime<Utc>)> {
        let now = Utc::now();
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user_id,
            sid: session_id,
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// The claims of a valid token. Any failure is just "invalid": the
    /// reason is for logs, never for the client.
    /// A token of a session that has ended is invalid too.
    ///
    /// A token seen lately skips the signature check (it was checked when
    /// it was first seen, and the key is its SHA-256, so any other bytes
    /// miss), but not the clock nor the revocations.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let kept = self
            .verified
            .lock()
            .ok()
            .and_then(|mut verified| verified.get(&key).cloned());
        let claims = match kept {
            Some(claims) => {
                if !in_time(&claims, Utc::now().timestamp()) {
                    return Err(jsonwebtoken::errors::ErrorKind::ExpiredSignature.into());
                }
                claims
            }
            None => {
                let claims = jsonwebtoken::decode::<Claims>(
                    token.as_bytes(),
                    &self.decoding,
                    &self.validation,
                )?
                .claims;
                if let Ok(mut verified) = self.verified.lock() {
                    verified.put(key, claims.clone());
                }
                claims
            }
        };
        if self.revocations.is_revoked(claims.sub, claims.sid) {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into());
        }
        Ok(claims)
    }

    /// The sessions that ended, which this refuses.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }
}

/// Whether `now` is within the token's `nbf` and `exp`, give or take the
/// leeway, as the signature check judged it.
fn in_time(claims: &Claims, now: i64) -> bool {
    let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(0);
    claims.exp >= now - leeway && claims.nbf <= now + leeway
}

/// The development secret: read from `$DATA_DIR/jwt-secret`, or created
/// there (owner-only) on first start.
fn generated_secret(data_dir: &Path) -> Result<Vec<u8>, KeyError> {
    let path = data_dir.join("jwt-secret");
    let error = |source| KeyError::Generated {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(error(e)),
    }
    std::fs::create_dir_all(data_dir).map_err(error)?;
    let secret = random_token();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(error)?;
    std::io::Write::write_all(&mut file, secret.as_bytes()).map_err(error)?;
    tracing::info!(path = %path.display(), "created a development JWT secret");
    Ok(secret.into_bytes())
}

/// 256 random bits, base64url: refresh tokens, email tokens, secrets.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares without an early exit, so timing does not reveal how much of a
/// secret a guess got right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How tokens are stored: SHA-256, hex. The tokens carry 256 bits of
/// randomness, so a fast hash is enough (unlike passwords).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let a = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, random_token());
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn a_kept_token_is_still_judged_by_the_clock() {
        let claims = |nbf: i64, exp: i64| Claims {
            sub: Uuid::nil(),
            sid: Uuid::nil(),
            role: UserRole::User,
            iss: String::new(),
            aud: String::new(),
            iat: nbf,
            nbf,
            exp,
        };
        let leeway = i64::try_from(LEEWAY_SECS).unwrap();
        assert!(in_time(&claims(100, 1000), 500));
        assert!(in_time(&claims(100, 1000), 1000 + leeway));
        assert!(!in_time(&claims(100, 1000), 1001 + leeway));
        assert!(!in_time(&claims(100, 1000), 99 - leeway));
    }

    #[test]
    fn the_generated_secret_survives_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = generated_secret(dir.path()).unwrap();
        assert!(first.len() >= 32);
        assert_eq!(generated_secret(dir.path()).unwrap(), first);
    }
}
