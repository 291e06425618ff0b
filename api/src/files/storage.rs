//! Where file bytes live: a small [`Storage`] trait over the `object_store`
//! crate, with local disk (`$DATA_DIR/files`) by default and any
//! S3-compatible bucket when `S3_BUCKET` is set.
//!
//! Keys are `/`-separated relative paths (`uploads/<uuid>`); features keep
//! to their own prefix (uploads under `uploads/`, so the orphan sweep never
//! touches another feature's objects, such as backups).

use std::{ops::Range, path::Path, sync::Arc};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{
    GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart, aws::AmazonS3Builder,
    local::LocalFileSystem, path::Path as ObjectPath,
};
use tokio::io::AsyncReadExt;

use super::settings::{FilesConfig, S3Config};

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no object at {0}")]
    NotFound(String),
    #[error("invalid storage key {0:?}")]
    InvalidKey(String),
    #[error("storage error: {0}")]
    Backend(#[from] object_store::Error),
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// One stored object, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// Object storage as Hearth's features use it.
#[async_trait]
pub trait Storage: Send + Sync {
    /// Stores `bytes` at `key`, replacing any object there (atomically: a
    /// reader sees the old or the new object, never a part).
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError>;
    /// Streams a local file to `key` without holding it in memory (S3
    /// multipart upload for large files). Returns the bytes written.
    async fn put_file(&self, key: &str, path: &Path) -> Result<u64, StorageError>;
    /// The whole object, streamed.
    async fn get(&self, key: &str) -> Result<ByteStream, StorageError>;
    /// Bytes `range.start..range.end` of the object, streamed.
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<ByteStream, StorageError>;
    /// The whole object in memory.
    async fn read(&self, key: &str) -> Result<Bytes, StorageError> {
        let chunks: Vec<Bytes> = self.get(key).await?.try_collect().await?;
        Ok(chunks.concat().into())
    }
    /// Removes the object; an absent one is not an error.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Every object whose key starts with `prefix` (a folder such as
    /// `uploads`).
    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, StorageError>;
    /// Where the bytes go, for logs ("local disk at ...", "s3 bucket ...").
    fn describe(&self) -> String;
}

/// [`Storage`] over any `object_store` backend.
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    description: String,
}

/// Part size of multipart uploads in [`Storage::put_file`] (S3's minimum
/// is 5 MiB).
const PART_SIZE: usize = 8 * 1024 * 1024;

impl ObjectStorage {
    /// Files under `dir` on local disk (created if missing).
    pub fn local(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir)?;
        let store = LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self {
            store: Arc::new(store),
            description: format!("local disk at {}", dir.display()),
        })
    }

    /// A bucket on S3 or an S3-compatible server.
    pub fn s3(config: &S3Config) -> Result<Self, StorageError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_virtual_hosted_style_request(!config.path_style);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        Ok(Self {
            store: Arc::new(builder.build()?),
            description: format!(
                "s3 bucket {} at {}",
                config.bucket,
                config.endpoint.as_deref().unwrap_or("AWS")
            ),
        })
    }

    /// Over any other `object_store` backend (e.g. in memory).
    pub fn new(store: Arc<dyn ObjectStore>, description: impl Into<String>) -> Self {
        Self {
            store,
            description: description.into(),
        }
    }
}

/// The storage the configuration asks for.
pub fn from_config(config: &FilesConfig, data_dir: &str) -> Result<ObjectStorage, StorageError> {
    match &config.s3 {
        Some(s3) => ObjectStorage::s3(s3),
        None => ObjectStorage::local(&Path::new(data_dir).join("files")),
    }
}

fn object_path(key: &str) -> Result<ObjectPath, StorageError> {
    match ObjectPath::parse(key) {
        Ok(path) if !key.is_empty() && path.as_ref() == key => Ok(path),
        _ => Err(StorageError::InvalidKey(key.to_owned())),
    }
}

fn not_found(key: &str, err: object_store::Error) -> StorageError {
    match err {
        object_store::Error::NotFound { .. } => StorageError::NotFound(key.to_owned()),
        other => StorageError::Backend(other),
    }
}

fn io_stream(stream: BoxStream<'static, object_store::Result<Bytes>>) -> ByteStream {
    stream.map_err(std::io::Error::other).boxed()
}

#[async_trait]
impl Storage for ObjectStorage {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store
            .put(&object_path(key)?, PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<u64, StorageError> {
        let location = object_path(key)?;
        let mut file = tokio::fs::File::open(path).await?;
        let upload = self.store.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buffer = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = match file.read(&mut buffer).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) => {
                    let _ = writer.abort().await;
                    return Err(err.into());
                }
            };
            writer.wait_for_capacity(4).await?;
            writer.write(&buffer[..n]);
            total += n as u64;
        }
        writer.finish().await?;
        Ok(total)
    }

    async fn get(&self, key: &str) -> Result<ByteStream, StorageError> {
        let result = self
            .store
            .get(&object_path(key)?)
            .await
            .map_err(|e| not_found(key, e))?;
        Ok(io_stream(result.into_stream()))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<ByteStream, StorageError> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let result = self
            .store
            .get_opts(&object_path(key)?, options)
            .await
            .map_err(|e| not_found(key, e))?;
        Ok(io_stream(result.into_stream()))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&object_path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, StorageError> {
        let prefix = object_path(prefix.trim_end_matches('/'))?;
        let objects = match self.store.list(Some(&prefix)).try_collect::<Vec<_>>().await {
            Ok(objects) => objects,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(err) => return Err(err.into()),
        };
        Ok(objects
            .into_iter()
            .map(|meta| StoredObject {
                key: meta.location.to_string(),
                size: meta.size,
                last_modified: meta.last_modified,
            })
            .collect())
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
