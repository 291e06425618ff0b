//! What files read from the environment: upload limits, link lifetimes
//! and where the bytes are stored (local disk or S3).

use std::{fmt, time::Duration};

use migration::settings::{Env, SettingsError};

/// Uploads, their storage and download links.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// Largest single upload (`UPLOAD_MAX_BYTES`, default 10 MiB).
    pub max_bytes: usize,
    /// Most files in one multipart request (`UPLOAD_MAX_FILES`, default 10).
    pub max_files: usize,
    /// Content types accepted, as sniffed from the bytes
    /// (`UPLOAD_ALLOWED_TYPES`, comma-separated).
    pub allowed_types: Vec<String>,
    /// An upload never attached to a post or profile is deleted after this
    /// long (`UPLOAD_ORPHAN_GRACE_SECS`, default 24 h).
    pub orphan_grace: Duration,
    /// How long a signed download link works (`FILE_TOKEN_TTL_SECS`,
    /// default 1 h).
    pub token_ttl: Duration,
    /// `PUBLIC_URL`: the API's address as clients reach it
    /// (`https://api.example.com`), so `File.url` is absolute; unset gives
    /// paths (`/files/...`).
    pub public_url: Option<String>,
    /// S3-compatible object storage; `None` keeps files under
    /// `$DATA_DIR/files`.
    pub s3: Option<S3Config>,
}

/// The content types accepted by default: common images (HEIC from
/// iPhones included), PDF, MP4/QuickTime video and plain text.
pub const DEFAULT_UPLOAD_TYPES: &str = "image/png,image/jpeg,image/gif,image/webp,image/heif,image/avif,application/pdf,video/mp4,video/quicktime,text/plain";

/// `S3_*`: a bucket on AWS S3 or any S3-compatible server (MinIO, R2,
/// Garage...).
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// `S3_ENDPOINT`, e.g. `http://127.0.0.1:9000`; unset means AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// `S3_PATH_STYLE` (default true with a custom endpoint):
    /// `endpoint/bucket/key` instead of `bucket.endpoint/key`.
    pub path_style: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("path_style", &self.path_style)
            .finish()
    }
}

impl FilesConfig {
    pub fn from_env(env: &Env<'_>) -> Result<Self, SettingsError> {
        let allowed_types: Vec<String> = env
            .get("UPLOAD_ALLOWED_TYPES")
            .unwrap_or_else(|| DEFAULT_UPLOAD_TYPES.to_owned())
            .split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(bad) = allowed_types.iter().find(|t| {
            t.split_once('/')
                .is_none_or(|(a, b)| a.is_empty() || b.is_empty())
        }) {
            return Err(env.error(
                "UPLOAD_ALLOWED_TYPES",
                format!("`{bad}` is not a media type such as image/png"),
            ));
        }
        let public_url = env
            .get("PUBLIC_URL")
            .map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &public_url {
            url::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    env.error(
                        "PUBLIC_URL",
                        "must be an http(s) URL such as https://api.example.com".to_owned(),
                    )
                })?;
        }
        let s3 = match env.get("S3_BUCKET") {
            None => None,
            Some(bucket) => {
                let endpoint = env
                    .get("S3_ENDPOINT")
                    .map(|u| u.trim_end_matches('/').to_owned());
                if let Some(endpoint) = &endpoint {
                    url::Url::parse(endpoint)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https"))
                        .ok_or_else(|| {
                            env.error(
                                "S3_ENDPOINT",
                                "must be an http(s) URL such as http://127.0.0.1:9000".to_owned(),
                            )
                        })?;
                }
                let access_key_id = env.get("S3_ACCESS_KEY_ID");
                let secret_access_key = env.get("S3_SECRET_ACCESS_KEY");
                if access_key_id.is_some() != secret_access_key.is_some() {
                    return Err(env.error(
                        "S3_SECRET_ACCESS_KEY",
                        "set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither".to_owned(),
                    ));
                }
                Some(S3Config {
                    bucket,
                    path_style: env.flag("S3_PATH_STYLE", endpoint.is_some())?,
                    endpoint,
                    region: env
                        .get("S3_REGION")
                        .unwrap_or_else(|| "us-east-1".to_owned()),
                    access_key_id,
                    secret_access_key,
                })
            }
        };
        Ok(FilesConfig {
            max_bytes: env.positive("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)?,
            max_files: env.positive("UPLOAD_MAX_FILES", 10)?,
            allowed_types,
            orphan_grace: Duration::from_secs(
                env.positive("UPLOAD_ORPHAN_GRACE_SECS", 24 * 60 * 60)?,
            ),
            token_ttl: Duration::from_secs(env.positive("FILE_TOKEN_TTL_SECS", 60 * 60)?),
            public_url,
            s3,
        })
    }
}
