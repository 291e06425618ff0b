//! The backups pane: SQLite snapshots taken, listed and downloaded.

use super::*;

pub(super) async fn backups(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<DoneQuery>,
) -> Response {
    let done = match q.done.as_deref() {
        Some("created") => Some(Ok("Backup taken.")),
        _ => None,
    };
    match dashboard(&state).backups.list().await {
        Ok(list) => html(StatusCode::OK, views::backups(&admin, Ok(&list), done)),
        Err(crate::backup::service::BackupError::Unsupported) => {
            let advice = crate::backup::service::POSTGRES_ADVICE;
            html(StatusCode::OK, views::backups(&admin, Err(advice), done))
        }
        Err(err) => backup_failed(&admin, &err),
    }
}

fn backup_failed(admin: &Admin, err: &crate::backup::service::BackupError) -> Response {
    tracing::error!(error = %err, "dashboard: backup failed");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        views::message("Backup failed", Some(admin), &err.to_string()),
    )
}

pub(super) async fn create_backup(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let backup = match dashboard(&state).backups.create().await {
        Ok(backup) => backup,
        Err(crate::backup::service::BackupError::Unsupported) => {
            return Err(refused(
                Some(&admin),
                StatusCode::BAD_REQUEST,
                crate::backup::service::POSTGRES_ADVICE,
            ));
        }
        Err(err) => return Err(backup_failed(&admin, &err)),
    };
    let detail = format!("took backup {} ({} bytes)", backup.name, backup.size_bytes);
    done(
        &state,
        &admin,
        "backup.create",
        Some(("backup", backup.name)),
        detail,
        "/admin/backups?done=created",
    )
    .await
}

/// A listed backup's file, as an attachment. Only names the list has are
/// served, so no path can reach outside the backup directory.
pub(super) async fn download_backup(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(name): Path<String>,
) -> Answer {
    let Ok(list) = dashboard(&state).backups.list().await else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no such backup",
        ));
    };
    let Some(backup) = list.into_iter().find(|b| b.name == name) else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no such backup",
        ));
    };
    let Ok(file) = tokio::fs::File::open(&backup.path).await else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no such backup",
        ));
    };
    let detail = format!("downloaded backup {}", backup.name);
    admin
        .audit(
            &state.db,
            "backup.download",
            Some(("backup", backup.name.clone())),
            detail,
        )
        .await
        .map_err(failed(&admin))?;
    let disposition = format!("attachment; filename=\"{}\"", backup.name);
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.sqlite3".to_owned()),
            (header::CONTENT_LENGTH, backup.size_bytes.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}
