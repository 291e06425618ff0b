//! GraphQL for files: the `File` type, `uploadFile` and `setAvatar`
//! (multipart requests, see `http::graphql`).

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Upload};
use chrono::{DateTime, Utc};
use entity::file;

use super::service::{Files, NewUpload};
use crate::{
    auth::{SignedIn, viewer::signed_in},
    error::AppError,
    graphql::id::{NodeType, to_global_id},
    hooks::{self, Change},
    users::graphql::User,
};

/// An uploaded file. `url` downloads it: avatars are public; other files
/// carry a short-lived signed token in the URL, so image components that
/// cannot send headers can load them.
#[derive(Clone)]
pub struct File {
    pub model: file::Model,
    /// Public files (avatars) get a plain, cacheable URL.
    pub public: bool,
}

pub fn files<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Files>, AppError> {
    ctx.data::<Arc<Files>>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("files missing from schema data")))
}

#[Object]
impl File {
    pub async fn id(&self) -> ID {
        to_global_id(NodeType::File, self.model.id)
    }

    /// The media type sniffed from the bytes when uploaded (never the
    /// client's claim), e.g. `image/png`.
    async fn content_type(&self) -> &str {
        &self.model.content_type
    }

    async fn size_bytes(&self) -> i64 {
        self.model.size_bytes
    }

    /// Pixels, for images.
    async fn width(&self) -> Option<i32> {
        self.model.width
    }

    /// Pixels, for images.
    async fn height(&self) -> Option<i32> {
        self.model.height
    }

    /// The name the file had on the uploader's device (for display only).
    async fn original_name(&self) -> Option<&str> {
        self.model.original_name.as_deref()
    }

    /// Lower-case hex SHA-256 of the bytes (also the download's ETag).
    async fn checksum(&self) -> &str {
        &self.model.checksum_sha256
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// Where to download the file (`GET`). Relative (`/files/...`) unless
    /// the server's `PUBLIC_URL` is set. Non-public links expire (see
    /// `FILE_TOKEN_TTL_SECS`): fetch the field again for a fresh one.
    async fn url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(files(ctx)?.url(&self.model, self.public))
    }
}

#[derive(Default)]
pub struct FilesMutation;

#[Object]
impl FilesMutation {
    /// Uploads a file (a GraphQL multipart request). The file belongs to
    /// you and stays private until attached to a post (`createPost`'s
    /// `attachmentIds`); unattached uploads are deleted after a grace
    /// period (24 h by default).
    #[graphql(guard = "SignedIn")]
    async fn upload_file(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        #[graphql(
            desc = "A key you choose for this upload (up to 255 characters, a UUID is good): sent again within 24 hours, the first file comes back and the bytes are not stored twice. The same key with another file is `CONFLICT`."
        )]
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<File> {
        let upload = new_upload(ctx, file)?;
        let declared = file.value(ctx).ok().and_then(|v| v.content_type);
        hooks::before(
            ctx,
            Change::File {
                actor: signed_in(ctx)?.user_id,
                filename: &upload.filename,
                content_type: declared.as_deref(),
                size: upload.content.metadata().map_or(0, |m| m.len()),
            },
        )
        .await?;
        let model = files(ctx)?
            .store_upload_once(&signed_in(ctx)?, upload, "file", idempotency_key)
            .await?;
        Ok(File {
            model,
            public: false,
        })
    }

    /// Sets your avatar to an uploaded image (public to everyone), or
    /// removes it with `file: null`. The previous avatar is deleted.
    #[graphql(guard = "SignedIn")]
    async fn set_avatar(
        &self,
        ctx: &Context<'_>,
        file: Option<Upload>,
    ) -> async_graphql::Result<User> {
        let upload = file.map(|f| new_upload(ctx, f)).transpose()?;
        let user = files(ctx)?.set_avatar(&signed_in(ctx)?, upload).await?;
        Ok(User::from(user))
    }
}

/// The bytes of an `Upload` argument, for the service.
fn new_upload(ctx: &Context<'_>, file: Upload) -> Result<NewUpload, AppError> {
    let value = file
        .value(ctx)
        .map_err(|_| AppError::bad_input("file", "send the file as a multipart upload"))?;
    Ok(NewUpload {
        filename: value.filename,
        content: value.content,
    })
}
