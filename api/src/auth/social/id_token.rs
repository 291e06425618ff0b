//! Checking an ID token: signature by a key of the provider's JWKS, with
//! the algorithm the key is for (never `none`, never a symmetric one), then
//! issuer, audience, expiry and nonce. Each refusal names the check that
//! failed, in its message and in `extensions.reason`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// `extensions.code` of a refused ID token.
pub const ID_TOKEN_INVALID: &str = "ID_TOKEN_INVALID";

/// Which check an ID token failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    Malformed,
    Algorithm,
    UnknownKey,
    Signature,
    Issuer,
    Audience,
    Expired,
    NotYetValid,
    NonceMissing,
    NonceMismatch,
}

impl Failed {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::UnknownKey => "unknown_key",
            Self::Signature => "signature",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::NonceMissing => "nonce_missing",
            Self::NonceMismatch => "nonce_mismatch",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Malformed => "the ID token is not a signed JWT with the claims an ID token needs",
            Self::Algorithm => {
                "the ID token's algorithm is not the one of the provider's key (`none` and shared-secret algorithms are never accepted)"
            }
            Self::UnknownKey => "the ID token is signed with a key the provider does not publish",
            Self::Signature => "the ID token's signature is not valid",
            Self::Issuer => "the ID token was issued by another issuer than this provider",
            Self::Audience => {
                "the ID token is for another audience: add your app's client id or bundle id to the provider's audiences"
            }
            Self::Expired => "the ID token has expired: get a fresh one from the SDK",
            Self::NotYetValid => "the ID token is not valid yet (check the device clock)",
            Self::NonceMissing => {
                "a nonce is required: pass the raw nonce you gave the SDK, and make sure the token carries it"
            }
            Self::NonceMismatch => {
                "the nonce does not match the token's: pass the raw nonce you gave the SDK (its SHA-256 is accepted as well)"
            }
        }
    }
}

impl From<Failed> for AppError {
    fn from(failed: Failed) -> Self {
        AppError::Denied {
            code: ID_TOKEN_INVALID,
            reason: failed.reason(),
            message: failed.message().to_owned(),
        }
    }
}

/// The claims Hearth reads from an ID token.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    /// A boolean, or `"true"`/`"false"` as Apple sends it.
    #[serde(default, deserialize_with = "loose_bool")]
    pub email_verified: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub iat: Option<i64>,
}

fn loose_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Loose>::deserialize(d)? {
        Some(Loose::Bool(b)) => b,
        Some(Loose::Text(t)) => t.eq_ignore_ascii_case("true"),
        None => false,
    })
}

/// The header fields read before choosing a key, parsed by hand so that
/// `alg: none` (which the JWT library cannot even represent) gets its own
/// answer.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// The key id the token names, after refusing `none` and symmetric
/// algorithms outright.
pub fn key_id(token: &str) -> Result<Option<String>, Failed> {
    let header = token.split('.').next().ok_or(Failed::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| Failed::Malformed)?;
    let header: RawHeader = serde_json::from_slice(&bytes).map_err(|_| Failed::Malformed)?;
    if header.alg.eq_ignore_ascii_case("none") || header.alg.starts_with("HS") {
        return Err(Failed::Algorithm);
    }
    Ok(header.kid)
}

/// The algorithm a published key is for: its `alg`, or what its type
/// implies. Symmetric keys are never used.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    let declared = jwk.common.key_algorithm.and_then(|alg| match alg {
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::RS384 => Some(Algorithm::RS384),
        KeyAlgorithm::RS512 => Some(Algorithm::RS512),
        KeyAlgorithm::PS256 => Some(Algorithm::PS256),
        KeyAlgorithm::PS384 => Some(Algorithm::PS384),
        KeyAlgorithm::PS512 => Some(Algorithm::PS512),
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 => Some(Algorithm::ES384),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        _ => None,
    });
    match (&jwk.algorithm, declared) {
        (AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_), _) => None,
        (_, Some(alg)) => Some(alg),
        (AlgorithmParameters::RSA(_), None) => Some(Algorithm::RS256),
        (AlgorithmParameters::EllipticCurve(ec), None) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        (AlgorithmParameters::OctetKeyPair(_), None) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// What the token must satisfy.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub audiences: &'a [String],
    pub nonce: NonceRule<'a>,
}

/// How the nonce is checked.
pub enum NonceRule<'a> {
    /// The flow's own nonce, sent raw to the provider: an exact match.
    Exact(&'a str),
    /// What a native app passed: the raw nonce it gave the SDK (which may
    /// have put it in the token as-is or as its SHA-256 hex, as Apple's
    /// does), or nothing; `allow_missing` accepts a token without a nonce
    /// claim only when the app passed none either.
    Native {
        raw: Option<&'a str>,
        allow_missing: bool,
    },
}

/// Verifies `token` with `key` (the one its `kid` names) and the rules.
pub fn verify(token: &str, key: &Jwk, expected: &Expected<'_>) -> Result<IdClaims, Failed> {
    let algorithm = algorithm_of(key).ok_or(Failed::Algorithm)?;
    let decoding = DecodingKey::from_jwk(key).map_err(|_| Failed::UnknownKey)?;
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(expected.audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    let claims = jsonwebtoken::decode::<IdClaims>(token, &decoding, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Failed::Algorithm,
            ErrorKind::InvalidSignature => Failed::Signature,
            ErrorKind::InvalidIssuer => Failed::Issuer,
            ErrorKind::InvalidAudience => Failed::Audience,
            ErrorKind::ExpiredSignature => Failed::Expired,
            ErrorKind::ImmatureSignature => Failed::NotYetValid,
            _ => Failed::Malformed,
        })?
        .claims;
    let leeway = i64::try_from(validation.leeway).unwrap_or(60);
    if claims
        .iat
        .is_some_and(|iat| iat > chrono::Utc::now().timestamp() + leeway)
    {
        return Err(Failed::NotYetValid);
    }
    check_nonce(claims.nonce.as_deref(), &expected.nonce)?;
    Ok(claims)
}

fn check_nonce(claim: Option<&str>, rule: &NonceRule<'_>) -> Result<(), Failed> {
    match (rule, claim) {
        (NonceRule::Exact(nonce), Some(claim)) if claim == *nonce => Ok(()),
        (NonceRule::Exact(_), Some(_)) => Err(Failed::NonceMismatch),
        (NonceRule::Exact(_), None) => Err(Failed::NonceMissing),
        (NonceRule::Native { raw: Some(raw), .. }, Some(claim)) => {
            let hashed = hex::encode(Sha256::digest(raw.as_bytes()));
            if claim == *raw || claim.eq_ignore_ascii_case(&hashed) {
                Ok(())
            } else {
                Err(Failed::NonceMismatch)
            }
        }
        // The token carries a nonce but the app passed none: nothing to
        // match it with.
        (NonceRule::Native { raw: None, .. }, Some(_)) => Err(Failed::NonceMissing),
        (
            NonceRule::Native {
                raw: None,
                allow_missing: true,
            },
            None,
        ) => Ok(()),
        (NonceRule::Native { .. }, None) => Err(Failed::NonceMissing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(raw: Option<&str>, allow_missing: bool) -> NonceRule<'_> {
        NonceRule::Native { raw, allow_missing }
    }

    #[test]
    fn native_nonces_match_raw_or_hashed() {
        let raw = "n-0S6_WzA2Mj";
        let hashed = hex::encode(Sha256::digest(raw.as_bytes()));
        assert_eq!(check_nonce(Some(raw), &native(Some(raw), false)), Ok(()));
        assert_eq!(
            check_nonce(Some(&hashed), &native(Some(raw), false)),
            Ok(())
        );
        assert_eq!(
            check_nonce(Some("other"), &native(Some(raw), false)),
            Err(Failed::NonceMismatch)
        );
        // A hashed nonce passed as if raw does not match its own hash.
        assert_eq!(
            check_nonce(Some(raw), &native(Some(&hashed), false)),
            Err(Failed::NonceMismatch)
        );
        assert_eq!(
            check_nonce(Some(raw), &native(None, true)),
            Err(Failed::NonceMissing)
        );
        assert_eq!(
            check_nonce(None, &native(Some(raw), true)),
            Err(Failed::NonceMissing)
        );
        assert_eq!(check_nonce(None, &native(None, true)), Ok(()));
        assert_eq!(
            check_nonce(None, &native(None, false)),
            Err(Failed::NonceMissing)
        );
        assert_eq!(check_nonce(Some("a"), &NonceRule::Exact("a")), Ok(()));
        assert_eq!(
            check_nonce(Some(&hashed), &NonceRule::Exact(raw)),
            Err(Failed::NonceMismatch)
        );
    }

    #[test]
    fn none_and_shared_secret_algorithms_are_refused_before_any_key() {
        let token = |header: &str| format!("{}.e30.", URL_SAFE_NO_PAD.encode(header));
        assert_eq!(key_id(&token(r#"{"alg":"none"}"#)), Err(Failed::Algorithm));
        assert_eq!(
            key_id(&token(r#"{"alg":"HS256","kid":"k"}"#)),
            Err(Failed::Algorithm)
        );
        assert_eq!(key_id("garbage"), Err(Failed::Malformed));
        assert_eq!(
            key_id(&token(r#"{"alg":"RS256","kid":"k"}"#)),
            Ok(Some("k".to_owned()))
        );
    }
}
