//! Liveness and readiness, as JSON, for orchestrators and the healthcheck.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use super::state::AppState;
use crate::db::{Readiness, readiness};

/// Readiness must answer well within the healthcheck's 3 s.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up and serving HTTP.
pub(super) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and its schema is current: safe to send traffic.
pub(super) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match readiness(state.db.reads(), &state.history, READY_TIMEOUT).await {
        Readiness::Ready => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "database": "ok", "pendingMigrations": 0 })),
        ),
        Readiness::PendingMigrations(n) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "database": "ok", "pendingMigrations": n })),
        ),
        Readiness::DatabaseUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "database": "unreachable" })),
        ),
    }
}
