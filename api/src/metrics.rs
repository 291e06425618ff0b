//! The Prometheus recorder and what the code records into it: GraphQL
//! operations per name, type and outcome, and database pool usage. (HTTP
//! requests per route and the `/metrics` endpoint are `http::metrics`.)
//!
//! Off unless `METRICS_ENABLED=true`: without a recorder every
//! `metrics::counter!` is a no-op.

use std::{
    collections::HashSet,
    fmt,
    sync::{OnceLock, RwLock},
    time::{Duration, Instant},
};

use async_graphql::{Response as GraphqlResponse, parser::types::OperationType};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseConnection, DbBackend};
use tokio_util::sync::CancellationToken;

use migration::settings::{Env, SettingsError};

/// The Prometheus endpoint at `/metrics`.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    pub token: Option<String>,
}

impl fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Shortest `METRICS_TOKEN` accepted: it guards the endpoint on the public port.
pub(crate) const METRICS_TOKEN_MIN_LEN: usize = 16;

impl MetricsConfig {
    /// `METRICS_ENABLED` (default false) and `METRICS_TOKEN`. Production refuses
    /// enabled metrics without a token rather than expose them to everyone.
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, SettingsError> {
        let enabled = env.flag("METRICS_ENABLED", false)?;
        let token = env.get("METRICS_TOKEN");
        if let Some(token) = &token
            && token.len() < METRICS_TOKEN_MIN_LEN
        {
            return Err(env.error(
                "METRICS_TOKEN",
                format!("must be at least {METRICS_TOKEN_MIN_LEN} characters"),
            ));
        }
        if enabled && production && token.is_none() {
            return Err(env.error(
                "METRICS_TOKEN",
                "is required in production when METRICS_ENABLED=true".to_owned(),
            ));
        }
        Ok(MetricsConfig { enabled, token })
    }
}

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Operation names come from clients: past this many distinct names they
/// are counted as `other`, so a hostile client cannot grow memory or the
/// scrape without bound.
const MAX_OPERATION_NAMES: usize = 256;

static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// The process-wide recorder, installed on first use (the `metrics` macros
/// write to one global recorder, so every app in a process shares it).
pub(crate) fn recorder() -> anyhow::Result<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| e.to_string())?;
            describe();
            Ok(handle)
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))
}

fn describe() {
    metrics::describe_counter!("http_requests_total", "HTTP requests by route and status");
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by route and status"
    );
    metrics::describe_gauge!("http_requests_in_flight", "HTTP requests being served");
    metrics::describe_counter!(
        "graphql_operations_total",
        "GraphQL operations by name, type and outcome (`ok` or the first error code)"
    );
    metrics::describe_histogram!(
        "graphql_operation_duration_seconds",
        metrics::Unit::Seconds,
        "GraphQL operation latency, parse to response"
    );
    metrics::describe_counter!("db_statements_total", "SQL statements run by the pool");
    metrics::describe_histogram!(
        "db_write_batch_size",
        "Writes committed together by the SQLite writer (one COMMIT each)"
    );
    metrics::describe_gauge!("db_pool_connections", "Open pool connections by state");
    metrics::describe_gauge!("db_pool_max_connections", "The pool's size limit");
}

/// Runs the recorder's upkeep (bounding histogram memory when nobody
/// scrapes) until shutdown.
pub(crate) fn spawn_upkeep(handle: PrometheusHandle, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => handle.run_upkeep(),
            }
        }
    });
}

/// Sets the pool gauges from the pool's state now (before each scrape).
pub(crate) fn record_pool(db: &DatabaseConnection) {
    // The sea-orm getters panic on the other backend: match first.
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(f64::from(size - idle));
    metrics::gauge!("db_pool_max_connections").set(f64::from(max));
}

/// Counts one GraphQL operation over HTTP and times it; nothing without a
/// recorder (metrics disabled).
pub(crate) fn record_graphql_operation(
    name: Option<&str>,
    operation: Option<OperationType>,
    response: &GraphqlResponse,
    started: Instant,
) {
    if !matches!(RECORDER.get(), Some(Ok(_))) {
        return;
    }
    let outcome = match response.errors.first() {
        None => "ok".to_owned(),
        Some(error) => error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .and_then(|code| match code {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "UNKNOWN".to_owned()),
    };
    let labels = [
        ("operation", operation_label(name)),
        ("type", operation.map_or("unknown", type_label).to_owned()),
        ("outcome", outcome),
    ];
    metrics::counter!("graphql_operations_total", &labels).increment(1);
    metrics::histogram!("graphql_operation_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
}

fn type_label(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// A bounded label for a client-chosen operation name.
fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<RwLock<HashSet<String>>> = OnceLock::new();
    let Some(name) = name else {
        return "anonymous".to_owned();
    };
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !plain {
        return "invalid".to_owned();
    }
    let seen = SEEN.get_or_init(Default::default);
    let known = seen
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(name);
    if known {
        return name.to_owned();
    }
    let mut seen = seen
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("")), "invalid");
        assert_eq!(operation_label(Some("a b")), "invalid");
        assert_eq!(operation_label(Some(&"x".repeat(65))), "invalid");
        assert_eq!(operation_label(Some("Users")), "Users");
        for i in 0..MAX_OPERATION_NAMES {
            operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(operation_label(Some("OneTooMany")), "other");
        assert_eq!(operation_label(Some("Users")), "Users", "known names stay");
    }
}
