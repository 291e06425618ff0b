//! Uploads and their lifecycle: storing a sniffed, checksummed upload; who
//! may read a file; attaching files to posts; avatars; signed download
//! links; and the sweep that removes what nothing uses.
//!
//! Reading rules: an avatar is public; a post attachment is readable by
//! whoever may read the post (`posts::access::readable`); any other file
//! only by its owner.
//!
//! Bytes are deleted only after the database change that frees them has
//! committed; a failed delete is logged and left to the sweep.

use std::{collections::HashSet, io::Read, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use entity::{file, post, post_attachment, user};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, Set,
    sea_query::{Query, SelectStatement},
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    sniff,
    storage::{Storage, StorageError},
};
use crate::{
    auth::AuthSession,
    auth::settings::JwtKey,
    config::Config,
    db::{Db, now},
    error::{AppError, AppResult},
    files::settings::FilesConfig,
    idempotency::{self, Done, IdempotencyKey},
    posts::access::readable as readable_posts,
};

/// The most files one post may carry.
pub const MAX_ATTACHMENTS: usize = 10;

/// Where uploads live in storage; the sweep looks only here.
pub const UPLOAD_PREFIX: &str = "uploads";

/// Signed download links stay the same for this long, so image caches
/// keep working across queries.
const TOKEN_STEP_SECS: i64 = 300;

/// A file as the client sent it: its name and its bytes, spooled to a
/// temporary file while the request was read.
pub struct NewUpload {
    pub filename: String,
    pub content: std::fs::File,
}

/// The file feature: storage, limits and download-link signing.
pub struct Files {
    db: Db,
    storage: Arc<dyn Storage>,
    config: FilesConfig,
    /// HMAC-SHA256 key for download links, derived from the JWT key.
    link_key: Vec<u8>,
}

impl Files {
    /// `config.auth`'s key material is the root of the link key; call after
    /// `Auth::new` (which creates the development secret when needed).
    pub fn new(db: Db, storage: Arc<dyn Storage>, config: &Config) -> anyhow::Result<Self> {
        let material = match &config.auth.jwt_key {
            JwtKey::Secret(secret) => secret.clone(),
            JwtKey::KeyPair { private_pem, .. } => private_pem.clone(),
            JwtKey::Generated => {
                let path = std::path::Path::new(&config.data_dir).join("jwt-secret");
                std::fs::read(&path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
            }
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&material)
            .map_err(|e| anyhow::anyhow!("file link key: {e}"))?;
        mac.update(b"hearth file download links v1");
        Ok(Self {
            db,
            storage,
            config: config.files.clone(),
            link_key: mac.finalize().into_bytes().to_vec(),
        })
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub fn config(&self) -> &FilesConfig {
        &self.config
    }

    fn signature(&self, id: Uuid, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.link_key).expect("any key length");
        mac.update(format!("{id}:{expires}").as_bytes());
        mac
    }

    /// A download token for `id`: `<expiry>.<signature>`, valid for the
    /// configured time (rounded up to 5 minutes so the URL stays stable).
    pub fn link_token(&self, id: Uuid) -> String {
        let ttl = i64::try_from(self.config.token_ttl.as_secs()).unwrap_or(i64::MAX / 4);
        let earliest = Utc::now().timestamp().saturating_add(ttl);
        let expires = earliest.div_euclid(TOKEN_STEP_SECS) * TOKEN_STEP_SECS + TOKEN_STEP_SECS;
        let signature = self.signature(id, expires).finalize().into_bytes();
        format!("{expires}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Whether `token` is a live link token for `id` (checked in constant
    /// time; no database involved).
    pub fn verify_link_token(&self, id: Uuid, token: &str) -> bool {
        let Some((expires, signature)) = token.split_once('.') else {
            return false;
        };
        let Ok(expires) = expires.parse::<i64>() else {
            return false;
        };
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        expires >= Utc::now().timestamp()
            && self.signature(id, expires).verify_slice(&signature).is_ok()
    }

    /// Where a client downloads the file: public files (avatars) by a
    /// plain URL, others with a signed token, so `<Image>` components that
    /// cannot send headers still work.
    pub fn url(&self, file: &file::Model, public: bool) -> String {
        let base = self.config.public_url.as_deref().unwrap_or_default();
        if public {
            format!("{base}/files/{}", file.id)
        } else {
            format!(
                "{base}/files/{}?token={}",
                file.id,
                self.link_token(file.id)
            )
        }
    }

    /// Stores an upload for `owner`: reads it (at most the size limit),
    /// sniffs and checks its type, records image dimensions and SHA-256,
    /// puts the bytes under a random key, then writes the row. The row is
    /// unattached until a post or the profile uses it.
    pub async fn store_upload(
        &self,
        viewer: &AuthSession,
        upload: NewUpload,
        field: &str,
    ) -> AppResult<file::Model> {
        self.store_upload_once(viewer, upload, field, None).await
    }

    /// As [`Files::store_upload`], once per idempotency key: a key used
    /// before answers the first file, and the bytes sent again are not
    /// stored.
    pub async fn store_upload_once(
        &self,
        viewer: &AuthSession,
        upload: NewUpload,
        field: &str,
        idempotency_key: Option<String>,
    ) -> AppResult<file::Model> {
        let limit = self.config.max_bytes;
        let NewUpload { filename, content } = upload;
        let bytes = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::new();
            content
                .take(limit as u64 + 1)
                .read_to_end(&mut bytes)
                .map(|_| bytes)
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(e.into()))?;
        if bytes.len() > limit {
            return Err(AppError::bad_input(
                field,
                format!("the file is larger than {limit} bytes"),
            ));
        }
        if bytes.is_empty() {
            return Err(AppError::bad_input(field, "the file is empty"));
        }
        let content_type = sniff::content_type(&bytes)
            .filter(|t| self.config.allowed_types.iter().any(|a| a == t))
            .ok_or_else(|| {
                AppError::bad_input(
                    field,
                    format!(
                        "unsupported file type; allowed: {}",
                        self.config.allowed_types.join(", ")
                    ),
                )
            })?;
        let dimensions = sniff::dimensions(content_type, &bytes);
        let checksum = hex::encode(Sha256::digest(&bytes));
        let key = IdempotencyKey::new(
            viewer.user_id,
            idempotency_key,
            "uploadFile",
            &serde_json::json!([checksum, filename]),
        )?;
        if let Some(key) = &key
            && let Some(first) = key.find(&self.db).await?
        {
            return self.first_upload(viewer, first).await;
        }
        let id = Uuid::now_v7();
        let storage_key = format!("{UPLOAD_PREFIX}/{}", Uuid::new_v4().simple());
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        self.storage
            .put(&storage_key, Bytes::from(bytes))
            .await
            .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("storing an upload")))?;
        let row = file::ActiveModel {
            id: Set(id),
            owner_id: Set(viewer.user_id),
            storage_key: Set(storage_key.clone()),
            content_type: Set(content_type.to_owned()),
            size_bytes: Set(size),
            checksum_sha256: Set(checksum),
            original_name: Set(sniff::original_name(&filename)),
            width: Set(dimensions.map(|d| d.0)),
            height: Set(dimensions.map(|d| d.1)),
            created_at: Set(now()),
        };
        let row = if key.is_none() {
            self.db
                .statement(move |tx| Box::pin(async move { Ok(row.insert(&tx).await?) }))
                .await
                .map(Done::New)
        } else {
            idempotency::write_once(&self.db, key, id, move |tx| {
                Box::pin(async move { Ok(Some(row.insert(tx).await?)) })
            })
            .await
        };
        match row {
            Ok(Done::New(row)) => Ok(row),
            Ok(Done::Repeat(first)) => {
                // A racing request with the same key stored it first.
                self.discard(vec![storage_key]).await;
                self.first_upload(viewer, first).await
            }
            Ok(Done::Refused) => Err(AppError::Internal(anyhow::anyhow!(
                "an upload wrote nothing"
            ))),
            Err(err) => {
                self.discard(vec![storage_key]).await;
                Err(err)
            }
        }
    }

    /// The file a repeated upload's first request stored, if still there.
    async fn first_upload(&self, viewer: &AuthSession, id: Uuid) -> AppResult<file::Model> {
        file::Entity::find_by_id(id)
            .filter(file::Column::OwnerId.eq(viewer.user_id))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound("file"))
    }

    /// Sets (or with `None` removes) the viewer's avatar; the previous
    /// avatar file is deleted.
    pub async fn set_avatar(
        &self,
        viewer: &AuthSession,
        upload: Option<NewUpload>,
    ) -> AppResult<user::Model> {
        let new = match upload {
            Some(upload) => {
                let file = self.store_upload(viewer, upload, "file").await?;
                if !file.content_type.starts_with("image/") {
                    self.forget(file).await?;
                    return Err(AppError::bad_input("file", "an avatar must be an image"));
                }
                Some(file)
            }
            None => None,
        };
        let (user_id, new_id) = (viewer.user_id, new.as_ref().map(|f| f.id));
        let result = self
            .db
            .transaction(move |tx| {
                Box::pin(async move {
                    let user = user::Entity::find_by_id(user_id)
                        .one(&tx)
                        .await?
                        .ok_or(AppError::Unauthenticated("this account no longer exists"))?;
                    let old = match user.avatar_file_id {
                        Some(old) => file::Entity::find_by_id(old).one(&tx).await?,
                        None => None,
                    };
                    let mut active: user::ActiveModel = user.into();
                    active.avatar_file_id = Set(new_id);
                    active.updated_at = Set(now());
                    let user = active.update(&tx).await?;
                    if let Some(old) = &old {
                        file::Entity::delete_by_id(old.id).exec(&tx).await?;
                    }
                    Ok((user, old))
                })
            })
            .await;
        match result {
            Ok((user, old)) => {
                self.discard(old.into_iter().map(|f| f.storage_key).collect())
                    .await;
                Ok(user)
            }
            Err(err) => {
                if let Some(new) = new {
                    let _ = self.forget(new).await;
                }
                Err(err)
            }
        }
    }

    /// Deletes a file's row, then its bytes.
    async fn forget(&self, file: file::Model) -> AppResult<()> {
        let id = file.id;
        self.db
            .statement(move |tx| {
                Box::pin(async move { Ok(file::Entity::delete_by_id(id).exec(&tx).await?) })
            })
            .await?;
        self.discard(vec![file.storage_key]).await;
        Ok(())
    }

    /// Deletes stored objects whose rows are already gone (call after the
    /// commit). Failures are logged; the sweep retries them.
    pub async fn discard(&self, keys: Vec<String>) {
        for key in keys {
            if let Err(err) = self.storage.delete(&key).await {
                tracing::warn!(key, error = %err, "deleting a stored file failed; the sweep will retry");
            }
        }
    }

    /// Admin: deletes a file, whatever it is attached to (a post loses the
    /// attachment, a profile its avatar), then its stored bytes.
    pub async fn delete_as_admin(&self, viewer: &AuthSession, id: Uuid) -> AppResult<file::Model> {
        crate::users::service::require_admin(&self.db, viewer).await?;
        let deleted = self
            .db
            .statement(move |tx| {
                Box::pin(async move {
                    Ok(file::Entity::delete_many()
                        .filter(file::Column::Id.eq(id))
                        .exec_with_returning(&tx)
                        .await?)
                })
            })
            .await?;
        let file = deleted
            .into_iter()
            .next()
            .ok_or(AppError::NotFound("file"))?;
        self.discard(vec![file.storage_key.clone()]).await;
        Ok(file)
    }

    /// A download path for the dashboard's previews: always on this host
    /// (the dashboard's policy allows images from itself only), signed.
    pub fn preview_path(&self, id: Uuid) -> String {
        format!("/files/{id}?token={}", self.link_token(id))
    }

    /// Removes uploads created before `cutoff` that were never attached to
    /// a post or profile, and stored objects under `uploads/` older than
    /// `cutoff` that no row points to (left by a failed delete or a crash).
    pub async fn sweep(&self, cutoff: DateTime<Utc>) -> AppResult<SweepReport> {
        let orphans = self
            .db
            .statement(move |tx| {
                Box::pin(async move {
                    Ok(file::Entity::delete_many()
                        .filter(file::Column::CreatedAt.lt(cutoff))
                        .filter(file::Column::Id.not_in_subquery(attached_file_ids()))
                        .filter(file::Column::Id.not_in_subquery(avatar_file_ids()))
                        .exec_with_returning(&tx)
                        .await?)
                })
            })
            .await?;
        let rows = orphans.len() as u64;
        self.discard(orphans.into_iter().map(|f| f.storage_key).collect())
            .await;

        let stored = self
            .storage
            .list(UPLOAD_PREFIX)
            .await
            .map_err(storage_error)?;
        let mut objects = 0;
        for chunk in stored
            .iter()
            .filter(|o| o.last_modified < cutoff)
            .collect::<Vec<_>>()
            .chunks(500)
        {
            let keys: Vec<String> = chunk.iter().map(|o| o.key.clone()).collect();
            let known: HashSet<String> = file::Entity::find()
                .select_only()
                .column(file::Column::StorageKey)
                .filter(file::Column::StorageKey.is_in(keys.clone()))
                .into_tuple::<String>()
                .all(&self.db)
                .await?
                .into_iter()
                .collect();
            let stray: Vec<String> = keys.into_iter().filter(|k| !known.contains(k)).collect();
            objects += stray.len() as u64;
            self.discard(stray).await;
        }
        Ok(SweepReport { rows, objects })
    }
}

/// What a sweep removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Unattached uploads past the grace period (rows and their bytes).
    pub rows: u64,
    /// Stored objects no row pointed to.
    pub objects: u64,
}

pub fn storage_error(err: StorageError) -> AppError {
    AppError::Internal(anyhow::Error::new(err))
}

/// Ids of files attached to any post.
fn attached_file_ids() -> SelectStatement {
    Query::select()
        .column(post_attachment::Column::FileId)
        .from(post_attachment::Entity)
        .to_owned()
}

/// Ids of files used as avatars.
fn avatar_file_ids() -> SelectStatement {
    Query::select()
        .column(user::Column::AvatarFileId)
        .from(user::Entity)
        .and_where(user::Column::AvatarFileId.is_not_null())
        .to_owned()
}

/// Ids of files attached to posts `viewer` may read.
fn readable_attachment_ids(viewer: Option<Uuid>) -> SelectStatement {
    Query::select()
        .column(post_attachment::Column::FileId)
        .from(post_attachment::Entity)
        .and_where(
            post_attachment::Column::PostId.in_subquery(
                Query::select()
                    .column(post::Column::Id)
                    .from(post::Entity)
                    .cond_where(readable_posts(viewer))
                    .to_owned(),
            ),
        )
        .to_owned()
}

/// A file if it exists and `viewer` may read it (see the module docs).
pub async fn find_readable(
    db: &Db,
    viewer: Option<Uuid>,
    id: Uuid,
) -> AppResult<Option<file::Model>> {
    let mut visible = Condition::any()
        .add(file::Column::Id.in_subquery(avatar_file_ids()))
        .add(file::Column::Id.in_subquery(readable_attachment_ids(viewer)));
    if let Some(viewer) = viewer {
        visible = visible.add(file::Column::OwnerId.eq(viewer));
    }
    Ok(file::Entity::find_by_id(id).filter(visible).one(db).await?)
}

/// Whether a file is public (someone's avatar).
pub async fn is_public(db: &impl ConnectionTrait, id: Uuid) -> AppResult<bool> {
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::AvatarFileId.eq(id))
        .into_tuple::<Uuid>()
        .one(db)
        .await?
        .is_some())
}

/// Attaches `file_ids`, in order, to a post the viewer is creating (inside
/// its transaction). Each file must be the viewer's own upload, not yet
/// attached anywhere nor used as an avatar.
pub async fn attach_to_post(
    txn: &impl ConnectionTrait,
    owner: Uuid,
    post_id: Uuid,
    file_ids: &[Uuid],
) -> AppResult<()> {
    const FIELD: &str = "input.attachmentIds";
    if file_ids.is_empty() {
        return Ok(());
    }
    if file_ids.len() > MAX_ATTACHMENTS {
        return Err(AppError::bad_input(
            FIELD,
            format!("a post may have at most {MAX_ATTACHMENTS} attachments"),
        ));
    }
    let distinct: HashSet<&Uuid> = file_ids.iter().collect();
    if distinct.len() != file_ids.len() {
        return Err(AppError::bad_input(FIELD, "the same file is listed twice"));
    }
    let owned: HashSet<Uuid> = file::Entity::find()
        .select_only()
        .column(file::Column::Id)
        .filter(file::Column::Id.is_in(file_ids.iter().copied()))
        .filter(file::Column::OwnerId.eq(owner))
        .into_tuple::<Uuid>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    if file_ids.iter().any(|id| !owned.contains(id)) {
        // Someone else's file looks exactly like a missing one.
        return Err(AppError::NotFound("file"));
    }
    let in_use = file::Entity::find()
        .select_only()
        .column(file::Column::Id)
        .filter(file::Column::Id.is_in(file_ids.iter().copied()))
        .filter(
            Condition::any()
                .add(file::Column::Id.in_subquery(attached_file_ids()))
                .add(file::Column::Id.in_subquery(avatar_file_ids())),
        )
        .into_tuple::<Uuid>()
        .one(txn)
        .await?;
    if in_use.is_some() {
        return Err(AppError::conflict(
            FIELD,
            "a file is already attached to a post or used as an avatar",
        ));
    }
    let rows =
        file_ids
            .iter()
            .enumerate()
            .map(|(position, file_id)| post_attachment::ActiveModel {
                post_id: Set(post_id),
                position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                file_id: Set(*file_id),
            });
    post_attachment::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await
        .map_err(|e| {
            AppError::on_unique_violation(e, |_| {
                AppError::conflict(FIELD, "a file is already attached to a post")
            })
        })?;
    Ok(())
}

/// Deletes the file rows attached to a post (inside the transaction that
/// deletes the post) and returns their storage keys, to discard after the
/// commit.
pub async fn delete_post_files(
    txn: &impl ConnectionTrait,
    post_id: Uuid,
) -> AppResult<Vec<String>> {
    let files: Vec<(Uuid, String)> = file::Entity::find()
        .select_only()
        .column(file::Column::Id)
        .column(file::Column::StorageKey)
        .filter(
            file::Column::Id.in_subquery(
                Query::select()
                    .column(post_attachment::Column::FileId)
                    .from(post_attachment::Entity)
                    .and_where(post_attachment::Column::PostId.eq(post_id))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(txn)
        .await?;
    if !files.is_empty() {
        file::Entity::delete_many()
            .filter(file::Column::Id.is_in(files.iter().map(|f| f.0)))
            .exec(txn)
            .await?;
    }
    Ok(files.into_iter().map(|f| f.1).collect())
}

/// The storage keys of every file a user owns (before deleting the
/// account, whose rows cascade).
pub async fn owned_keys(db: &impl ConnectionTrait, owner: Uuid) -> AppResult<Vec<String>> {
    Ok(file::Entity::find()
        .select_only()
        .column(file::Column::StorageKey)
        .filter(file::Column::OwnerId.eq(owner))
        .into_tuple::<String>()
        .all(db)
        .await?)
}
