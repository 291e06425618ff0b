//! The metrics HTTP side: the per-route request middleware and the
//! `/metrics` endpoint (Prometheus text), behind `METRICS_TOKEN` when set.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;

use super::error::error_response;
use crate::{
    auth::tokens::constant_time_eq,
    config::Config,
    error::code,
    metrics::{record_pool, recorder},
};

/// What the `/metrics` handler needs.
#[derive(Clone)]
pub(super) struct Endpoint {
    pub handle: PrometheusHandle,
    pub token: Option<Arc<str>>,
    pub db: DatabaseConnection,
}

/// The `/metrics` handler's state when metrics are enabled.
pub(super) fn endpoint(config: &Config, db: &DatabaseConnection) -> Option<Endpoint> {
    if !config.metrics.enabled {
        return None;
    }
    match recorder() {
        Ok(handle) => Some(Endpoint {
            handle,
            token: config.metrics.token.as_deref().map(Arc::from),
            db: db.clone(),
        }),
        Err(err) => {
            tracing::error!(error = %err, "metrics are off");
            None
        }
    }
}

/// GET /metrics in the Prometheus text format.
pub(super) async fn scrape(State(endpoint): State<Endpoint>, headers: HeaderMap) -> Response {
    if let Some(token) = &endpoint.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(presented.as_bytes(), token.as_bytes()) {
            let mut response = error_response(
                StatusCode::UNAUTHORIZED,
                "metrics need the bearer token from METRICS_TOKEN",
                code::UNAUTHENTICATED,
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    record_pool(&endpoint.db);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        endpoint.handle.render(),
    )
        .into_response()
}

/// Counts every request that reaches the router, labelled by its route
/// pattern (never the raw path, which would be unbounded).
pub(super) async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    let mut in_flight = InFlight::start(route, method);
    let response = next.run(request).await;
    in_flight.finish(response.status().as_str());
    response
}

/// Records the request when it ends, also when its future is dropped
/// (request timeout, client gone, panic): those count as `cancelled`.
struct InFlight {
    route: String,
    method: &'static str,
    started: Instant,
    done: bool,
}

impl InFlight {
    fn start(route: String, method: &'static str) -> Self {
        metrics::gauge!("http_requests_in_flight").increment(1.0);
        Self {
            route,
            method,
            started: Instant::now(),
            done: false,
        }
    }

    fn finish(&mut self, status: &str) {
        if self.done {
            return;
        }
        self.done = true;
        metrics::gauge!("http_requests_in_flight").decrement(1.0);
        let labels = [
            ("route", self.route.clone()),
            ("method", self.method.to_owned()),
            ("status", status.to_owned()),
        ];
        metrics::counter!("http_requests_total", &labels).increment(1);
        metrics::histogram!("http_request_duration_seconds", &labels)
            .record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.finish("cancelled");
    }
}
