//! The users pane: search, a user's page, and what admins do to accounts.

use super::*;

#[derive(Deserialize)]
pub(super) struct UsersQuery {
    #[serde(default)]
    q: String,
    after: Option<Uuid>,
    done: Option<String>,
}

pub(super) async fn users(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Query(q): Query<UsersQuery>,
) -> Answer {
    let (rows, next) = figures::search_users(&state.db, &q.q, q.after, PAGE_SIZE)
        .await
        .map_err(failed(&admin))?;
    let done = (q.done.as_deref() == Some("delete"))
        .then_some(Ok("Deleted: the account and everything it owned are gone."));
    Ok(html(
        StatusCode::OK,
        views::users(&admin, &q.q, &rows, next, done),
    ))
}

/// What a finished action says on the page it returns to. Only these
/// fixed sentences, so a link cannot put words on the page.
fn done_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "ban" => "Banned: every session of the account has ended.",
        "unban" => "Unbanned: the account can sign in again.",
        "promote" => "The account is now an admin.",
        "demote" => "The account is no longer an admin.",
        "verify-email" => "The email address is marked verified.",
        "send-reset" => "A password reset email is on its way.",
        "sign-out-everywhere" => "Every session of the account has ended.",
        "revoke-session" => "The session has ended.",
        _ => return None,
    })
}

pub(super) async fn user(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path(id): Path<Uuid>,
    Query(q): Query<DoneQuery>,
) -> Answer {
    let page = match figures::user_page(&state.db, id).await {
        Ok(Some(page)) => page,
        Ok(None) => {
            return Err(refused(
                Some(&admin),
                StatusCode::NOT_FOUND,
                "no account has this id",
            ));
        }
        Err(err) => return Err(error_page(Some(&admin), err)),
    };
    let sessions = state.auth.sessions_of(id).await.map_err(failed(&admin))?;
    let done = q.done.as_deref().and_then(done_text).map(Ok);
    Ok(html(
        StatusCode::OK,
        views::user(&admin, &page, &sessions, done),
    ))
}

#[derive(Deserialize)]
pub(super) struct ActionForm {
    csrf: String,
    session: Option<Uuid>,
    /// The username, typed again, to delete an account.
    confirm: Option<String>,
}

pub(super) async fn user_action(
    State(state): State<AppState>,
    Signed(admin): Signed,
    Path((id, action)): Path<(Uuid, String)>,
    Form(form): Form<ActionForm>,
) -> Answer {
    fresh(&admin, &form.csrf)?;
    let auth = &state.auth;
    let Ok(Some(target)) = crate::users::service::find_by_id(&state.db, id).await else {
        return Err(refused(
            Some(&admin),
            StatusCode::NOT_FOUND,
            "no account has this id",
        ));
    };
    let name = target.username.clone();
    let done = match action.as_str() {
        "ban" => auth
            .set_disabled(&admin.session, id, true)
            .await
            .map(|_| ("user.ban", format!("banned {name}"))),
        "unban" => auth
            .set_disabled(&admin.session, id, false)
            .await
            .map(|_| ("user.unban", format!("unbanned {name}"))),
        "promote" => auth
            .set_role(&admin.session, id, UserRole::Admin)
            .await
            .map(|_| ("user.promote", format!("made {name} an admin"))),
        "demote" => auth
            .set_role(&admin.session, id, UserRole::User)
            .await
            .map(|_| ("user.demote", format!("took admin rights from {name}"))),
        "verify-email" => auth.set_email_verified(&admin.session, id).await.map(|()| {
            (
                "user.verify_email",
                format!("marked {name}'s email verified"),
            )
        }),
        "send-reset" => auth
            .request_password_reset(&target.email, admin.ip)
            .await
            .map(|()| {
                (
                    "user.send_reset",
                    format!("sent {name} a password reset email"),
                )
            }),
        "sign-out-everywhere" => auth
            .revoke_sessions_of(&admin.session, id, None)
            .await
            .map(|n| {
                (
                    "user.sign_out_everywhere",
                    format!("ended {n} sessions of {name}"),
                )
            }),
        "revoke-session" => match form.session {
            None => Err(AppError::bad_input("session", "which session?")),
            Some(session) => match auth
                .revoke_sessions_of(&admin.session, id, Some(session))
                .await
            {
                Ok(0) => Err(AppError::NotFound("session")),
                Ok(_) => Ok((
                    "session.revoke",
                    format!("ended {name}'s session {session}"),
                )),
                Err(err) => Err(err),
            },
        },
        "delete" if form.confirm.as_deref().map(str::trim) != Some(name.as_str()) => Err(
            AppError::bad_input("confirm", "type the account's username to delete it"),
        ),
        "delete" => match auth.delete_account_as_admin(&admin.session, id).await {
            Ok(keys) => {
                state.files.discard(keys).await;
                Ok((
                    "user.delete",
                    format!("deleted {name} ({}) and everything it owned", target.email),
                ))
            }
            Err(err) => Err(err),
        },
        _ => {
            return Err(refused(
                Some(&admin),
                StatusCode::NOT_FOUND,
                "no such action",
            ));
        }
    };
    let (what, detail) = done.map_err(failed(&admin))?;
    admin
        .audit(&state.db, what, Some(("user", id.to_string())), detail)
        .await
        .map_err(failed(&admin))?;
    if action == "delete" {
        return Ok(Redirect::to("/admin/users?done=delete").into_response());
    }
    // Signing oneself out everywhere ends this dashboard session too.
    Ok(Redirect::to(&format!("/admin/users/{id}?done={action}")).into_response())
}
