//! `/metrics`: off by default, Prometheus text when enabled, guarded by a
//! bearer token, and refused in production without one.

use api::config::{Config, ConfigError};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const TOKEN: &str = "metrics-token-for-tests-0123456789";
/// Production will also demand a JWT secret (the auth work); give it one.
const JWT_SECRET: &str = "a-jwt-secret-for-the-metrics-config-tests-0123456789";

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("sent")
}

/// The sample line of `metric` whose labels include every one of `labels`.
fn sample<'a>(body: &'a str, metric: &str, labels: &[&str]) -> Option<&'a str> {
    body.lines().find(|line| {
        line.starts_with(&format!("{metric}{{")) && labels.iter().all(|l| line.contains(l))
    })
}

fn value(line: &str) -> f64 {
    line.rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no value in {line}"))
}

#[test]
fn metrics_config_is_off_by_default_and_checked() {
    let default = config(&[]).expect("valid");
    assert!(!default.metrics.enabled);
    assert_eq!(default.metrics.token, None);

    let err = config(&[("METRICS_ENABLED", "maybe")]).expect_err("not a flag");
    assert_eq!(err.variable, "METRICS_ENABLED");

    let err = config(&[("METRICS_TOKEN", "short")]).expect_err("too short");
    assert_eq!(err.variable, "METRICS_TOKEN");

    let err = config(&[
        ("HEARTH_ENV", "production"),
        ("JWT_SECRET", JWT_SECRET),
        ("METRICS_ENABLED", "true"),
    ])
    .expect_err("production needs a token");
    assert_eq!(err.variable, "METRICS_TOKEN");
    assert!(err.to_string().contains("METRICS_TOKEN"), "{err}");

    let ok = config(&[
        ("HEARTH_ENV", "production"),
        ("JWT_SECRET", JWT_SECRET),
        ("METRICS_ENABLED", "true"),
        ("METRICS_TOKEN", TOKEN),
    ])
    .expect("production with a token");
    assert!(ok.metrics.enabled);
    assert!(
        !format!("{:?}", ok.metrics).contains(TOKEN),
        "the token is not printed"
    );
}

#[tokio::test]
async fn metrics_are_not_served_unless_enabled() {
    let app = spawn_app().await;
    assert_eq!(scrape(&app, None).await.status(), 404);
}

#[tokio::test]
async fn counts_graphql_operations_http_routes_and_pool_usage() {
    let app = spawn_app_with(|c| c.metrics.enabled = true).await;
    for _ in 0..2 {
        let (status, body) = app
            .graphql(
                "query MetricsProbeUsers { users(first: 1) { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = app
        .graphql("query MetricsProbeBroken { noSuchField }", json!({}))
        .await;
    assert_eq!(status, 400);

    let response = scrape(&app, None).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = response.text().await.expect("text");

    let ok = sample(
        &body,
        "graphql_operations_total",
        &[
            r#"operation="MetricsProbeUsers""#,
            r#"type="query""#,
            r#"outcome="ok""#,
        ],
    )
    .unwrap_or_else(|| panic!("no ok counter in\n{body}"));
    assert_eq!(value(ok), 2.0, "{ok}");
    let failed = sample(
        &body,
        "graphql_operations_total",
        &[
            r#"operation="MetricsProbeBroken""#,
            r#"outcome="GRAPHQL_VALIDATION_FAILED""#,
        ],
    )
    .unwrap_or_else(|| panic!("no failure counter in\n{body}"));
    assert_eq!(value(failed), 1.0);
    assert!(
        sample(
            &body,
            "graphql_operation_duration_seconds_bucket",
            &[r#"operation="MetricsProbeUsers""#, r#"le="+Inf""#],
        )
        .is_some_and(|line| value(line) == 2.0),
        "latency histogram per operation:\n{body}"
    );
    // Other tests in this process share the recorder: at least ours.
    let http = sample(
        &body,
        "http_requests_total",
        &[r#"route="/graphql""#, r#"method="POST""#, r#"status="200""#],
    )
    .unwrap_or_else(|| panic!("no HTTP counter in\n{body}"));
    assert!(value(http) >= 2.0, "{http}");
    assert!(
        sample(
            &body,
            "http_request_duration_seconds_bucket",
            &[r#"route="/graphql""#]
        )
        .is_some()
    );
    assert!(
        sample(&body, "db_pool_connections", &[r#"state="idle""#]).is_some(),
        "pool gauges:\n{body}"
    );
    assert!(body.contains("db_pool_max_connections 10"), "{body}");
}

#[tokio::test]
async fn unknown_paths_are_labelled_by_route_not_by_path() {
    let app = spawn_app_with(|c| c.metrics.enabled = true).await;
    let response = app
        .client
        .get(app.url("/no/such/path/7f3a9c"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 404);
    let body = scrape(&app, None).await.text().await.expect("text");
    assert!(!body.contains("7f3a9c"), "raw paths never become labels");
    assert!(
        sample(
            &body,
            "http_requests_total",
            &[r#"route="unmatched""#, r#"status="404""#]
        )
        .is_some(),
        "{body}"
    );
}

#[tokio::test]
async fn a_token_guards_the_endpoint() {
    let app = spawn_app_with(|c| {
        c.metrics.enabled = true;
        c.metrics.token = Some(TOKEN.to_owned());
    })
    .await;
    let missing = scrape(&app, None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = missing.json().await.expect("JSON error body");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    assert_eq!(
        scrape(&app, Some("metrics-token-for-tests-0123456780"))
            .await
            .status(),
        401
    );
    let allowed = scrape(&app, Some(TOKEN)).await;
    assert_eq!(allowed.status(), 200);
    assert!(
        allowed
            .text()
            .await
            .expect("text")
            .contains("db_pool_max_connections")
    );
}
