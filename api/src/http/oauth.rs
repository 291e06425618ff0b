//! `POST /auth/apple/callback`: where Apple posts the answer to a web
//! sign-in (it sends the person's name only that way, and only once).
//! Hearth keeps the name with the flow and sends the browser on, 303, to
//! the app's redirect URI with `code` and `state`, like other providers.

use axum::{
    Form,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::state::AppState;
use crate::auth::social::flows::ProviderAnswer;

pub(super) async fn apple_callback(
    State(state): State<AppState>,
    Form(answer): Form<ProviderAnswer>,
) -> Response {
    match state.auth.provider_callback(&answer).await {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(err) => err.into_response(),
    }
}
