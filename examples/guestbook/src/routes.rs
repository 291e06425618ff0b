//! `POST /comment`: a signed-in user signs the guestbook.

use api::extend::{AppError, Database, Events, SignedIn};
use axum::{Json, http::StatusCode};
use sea_orm::{ActiveModelTrait, Set};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::entry;

#[derive(Deserialize)]
pub struct Signature {
    message: String,
}

/// Saves the entry and publishes `guestbook.signed` in one transaction;
/// `201 Created` with the entry.
pub async fn sign(
    SignedIn(session): SignedIn,
    Database(db): Database,
    events: Events,
    Json(signature): Json<Signature>,
) -> Result<(StatusCode, Json<entry::Model>), AppError> {
    let message = signature.message.trim().to_owned();
    if message.is_empty() || message.chars().count() > 500 {
        return Err(AppError::bad_input("message", "write 1 to 500 characters"));
    }
    let row = entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        author_id: Set(session.user_id),
        message: Set(message),
        created_at: Set(chrono::Utc::now()),
    };
    let saved = db
        .transaction(move |tx| {
            Box::pin(async move {
                let saved = row.insert(&tx).await?;
                let data = json!({ "entry": saved.id, "author": saved.author_id });
                events
                    .publish(&tx, Some(saved.author_id), "guestbook.signed", data)
                    .await?;
                Ok(saved)
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(saved)))
}
