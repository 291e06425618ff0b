//! The files pane: uploads with previews, deleted one by one or swept.

use super::*;

#[derive(Deserialize)]
pub(super) struct FilesQuery {
    after: Option<Uuid>,
    done: Option<String>,
    removed: Option<u64>,
}

pub(super) async fn files(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<FilesQuery>,
) -> Answer {
    let (rows, next) = figures::files(&state.db, q.after, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    let rows: Vec<views::FileRow> = rows
        .into_iter()
        .map(|(file, owner)| views::FileRow {
            preview: file
                .content_type
                .starts_with("image/")
                .then(|| state.files.preview_path(file.id)),
            file,
            owner,
        })
        .collect();
    let swept;
    let done = match q.done.as_deref() {
        Some("deleted") => Some(Ok("The file is deleted.")),
        Some("swept") => {
            swept = format!("Removed {} unused uploads.", q.removed.unwrap_or_default());
            Some(Ok(swept.as_str()))
        }
        _ => None,
    };
    Ok(html(
        StatusCode::OK,
        views::files(&admin, &rows, next, done),
    ))
}

pub(super) async fn delete_file(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let file = state
        .files
        .delete_as_admin(&admin.session, id)
        .await
        .map_err(failed(&admin))?;
    let detail = format!(
        "deleted {} ({}, {} bytes) of account {}",
        file.original_name.as_deref().unwrap_or("a file"),
        file.content_type,
        file.size_bytes,
        file.owner_id
    );
    done(
        &state,
        &admin,
        "file.delete",
        Some(("file", id.to_string())),
        detail,
        "/admin/files?done=deleted",
    )
    .await
}

pub(super) async fn sweep_files(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Form(form): Form<CsrfForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let cutoff = chrono::Utc::now() - state.files.config().orphan_grace;
    let report = state.files.sweep(cutoff).await.map_err(failed(&admin))?;
    let detail = format!(
        "removed {} unused uploads and {} stray stored objects",
        report.rows, report.objects
    );
    done(
        &state,
        &admin,
        "file.sweep",
        None,
        detail,
        &format!("/admin/files?done=swept&removed={}", report.rows),
    )
    .await
}
