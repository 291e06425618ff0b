//! The HTTP surface: routes and the middleware stack around them.

mod admin;
mod error;
mod files;
mod graphql;
mod health;
mod metrics;
mod oauth;
mod playground;
mod request_id;
mod state;
mod ws;

use axum::{
    Router,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    response::Response,
    routing::{get, post},
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, Any, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

pub(crate) use state::{AppState, Extras};

use self::error::error_response;

use crate::{config::Config, error::code};

/// The whole application as one axum router: Hearth's routes, then an
/// application's (`extra`; a path both have is an error), all inside one
/// middleware stack.
pub(crate) fn router(state: AppState, extra: Option<Router>) -> Result<Router, String> {
    let config = state.config.clone();
    let extras = Extras {
        db: state.db.clone(),
        auth: state.auth.clone(),
    };
    let metrics_endpoint = metrics::endpoint(&config, state.db.reads());
    let dashboard = state.admin.is_some().then(|| admin::routes(state.clone()));
    let mut routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/files/{id}", get(files::download))
        .route("/auth/apple/callback", post(oauth::apple_callback))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .fallback(not_found)
        .with_state(state);
    if let Some(dashboard) = dashboard {
        routes = merge(routes, dashboard)?;
    }
    if let Some(extra) = extra {
        routes = merge(routes, extra)?;
    }
    // Inside the router, so requests are labelled by their route pattern.
    if let Some(endpoint) = metrics_endpoint {
        routes = merge(
            routes,
            Router::new().route("/metrics", get(metrics::scrape).with_state(endpoint)),
        )?
        .layer(axum::middleware::from_fn(metrics::track_http));
    }
    Ok(routes
        .layer(axum::Extension(extras))
        // Outermost first: ids are cleaned and assigned before the trace span
        // opens, so every log line of a request carries its id.
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(axum::middleware::from_fn(request_id::discard_unsafe))
                .layer(SetRequestIdLayer::new(
                    request_id::HEADER.clone(),
                    MakeRequestUuid,
                ))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_id::make_span)
                        // One line per request (status, latency) at the
                        // default log level; 5xx are logged as errors.
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(request_id::HEADER.clone()))
                .layer(CatchPanicLayer::custom(|_| {
                    error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal error",
                        code::INTERNAL,
                    )
                }))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    config.request_timeout,
                ))
                .layer(CompressionLayer::new())
                .layer(cors(&config)),
        ))
}

/// `a` and `b` as one router; axum refuses a path (or fallback) both have
/// by panicking, which becomes an error naming it.
pub(crate) fn merge<S: Clone + Send + Sync + 'static>(
    a: Router<S>,
    b: Router<S>,
) -> Result<Router<S>, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.merge(b))).map_err(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("overlapping routes");
        format!("cannot add the application's routes: {reason}")
    })
}

/// Browsers may call the API from any origin unless origins are listed.
/// Bearer tokens travel in a header, not cookies, so no credentials mode.
fn cors(config: &Config) -> CorsLayer {
    let origins = if config.cors_origins.is_empty() {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(
            config
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
            header::RANGE,
            header::IF_NONE_MATCH,
            header::IF_RANGE,
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::CONTENT_RANGE,
            header::CONTENT_DISPOSITION,
            header::ETAG,
        ])
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "no such route", code::NOT_FOUND)
}
