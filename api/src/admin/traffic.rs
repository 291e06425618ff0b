//! Request and error rates for the overview, read from the Prometheus
//! recorder (`METRICS_ENABLED`): nothing is counted twice and the request
//! path pays nothing for the dashboard. A rate needs two readings, so each
//! overview keeps its reading; the rate is taken against the oldest one of
//! the last few minutes, or since start-up when there is none yet.

use std::{
    collections::VecDeque,
    sync::Mutex,
    time::{Duration, Instant},
};

use metrics_exporter_prometheus::PrometheusHandle;

/// Readings older than this are dropped; the rate covers at most this long.
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// A rate over less than this is noise: fall back to since start-up.
const SHORTEST: Duration = Duration::from_secs(30);

/// The counters the overview reads, summed over their labels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Totals {
    /// `http_requests_total`.
    pub(crate) requests: f64,
    /// Of those, answered with a 5xx status.
    pub(crate) server_errors: f64,
    /// `graphql_operations_total`.
    pub(crate) operations: f64,
    /// Of those, answered with any error (bad input included).
    pub(crate) operation_errors: f64,
}

impl Totals {
    /// Sums the counters out of the Prometheus text format.
    pub(crate) fn parse(text: &str) -> Self {
        let mut totals = Totals::default();
        for line in text.lines() {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            if let Some(labels) = series.strip_prefix("http_requests_total") {
                totals.requests += value;
                if labels.contains("status=\"5") {
                    totals.server_errors += value;
                }
            } else if let Some(labels) = series.strip_prefix("graphql_operations_total") {
                totals.operations += value;
                if !labels.contains("outcome=\"ok\"") {
                    totals.operation_errors += value;
                }
            }
        }
        totals
    }
}

/// What the overview shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rates {
    pub(crate) requests_per_sec: f64,
    /// Share of requests answered 5xx, 0 to 1 (`None`: no requests).
    pub(crate) server_error_share: Option<f64>,
    /// Share of GraphQL operations answered with an error, 0 to 1.
    pub(crate) operation_error_share: Option<f64>,
    /// How long the rates cover.
    pub(crate) over: Duration,
    /// Since start-up, for lack of an earlier reading.
    pub(crate) since_start: bool,
}

pub(crate) struct Traffic {
    handle: Option<PrometheusHandle>,
    started: Instant,
    readings: Mutex<VecDeque<(Instant, Totals)>>,
}

impl Traffic {
    /// `handle` is `None` when metrics are off.
    pub(crate) fn new(handle: Option<PrometheusHandle>, started: Instant) -> Self {
        Traffic {
            handle,
            started,
            readings: Mutex::new(VecDeque::new()),
        }
    }

    /// The rates now; `None` when metrics are off.
    pub(crate) fn rates(&self) -> Option<Rates> {
        let now_totals = Totals::parse(&self.handle.as_ref()?.render());
        let now = Instant::now();
        let mut readings = self
            .readings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while readings
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > WINDOW)
        {
            readings.pop_front();
        }
        let earlier = readings
            .front()
            .copied()
            .filter(|(at, _)| now.duration_since(*at) >= SHORTEST);
        readings.push_back((now, now_totals));
        drop(readings);
        let (since, before, since_start) = match earlier {
            Some((at, totals)) => (at, totals, false),
            None => (self.started, Totals::default(), true),
        };
        Some(rates_between(
            before,
            now_totals,
            now.duration_since(since),
            since_start,
        ))
    }
}

fn rates_between(before: Totals, after: Totals, over: Duration, since_start: bool) -> Rates {
    let share = |part: f64, whole: f64| (whole > 0.0).then(|| part / whole);
    let requests = after.requests - before.requests;
    let operations = after.operations - before.operations;
    Rates {
        requests_per_sec: requests / over.as_secs_f64().max(1.0),
        server_error_share: share(after.server_errors - before.server_errors, requests),
        operation_error_share: share(after.operation_errors - before.operation_errors, operations),
        over,
        since_start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_the_counters_over_their_labels() {
        let text = "\
# TYPE http_requests_total counter
http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"} 90
http_requests_total{route=\"/graphql\",method=\"POST\",status=\"503\"} 4
http_requests_total{route=\"/health/ready\",method=\"GET\",status=\"500\"} 1
http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 5
http_request_duration_seconds_sum{route=\"/graphql\",method=\"POST\",status=\"200\"} 1.5
graphql_operations_total{operation=\"Feed\",type=\"query\",outcome=\"ok\"} 30
graphql_operations_total{operation=\"Post\",type=\"mutation\",outcome=\"BAD_USER_INPUT\"} 10
db_statements_total 7
";
        let totals = Totals::parse(text);
        assert_eq!(
            totals,
            Totals {
                requests: 100.0,
                server_errors: 5.0,
                operations: 40.0,
                operation_errors: 10.0,
            }
        );
        let later = Totals {
            requests: 160.0,
            server_errors: 5.0,
            operations: 40.0,
            operation_errors: 10.0,
        };
        let rates = rates_between(totals, later, Duration::from_secs(60), false);
        assert_eq!(rates.requests_per_sec, 1.0);
        assert_eq!(rates.server_error_share, Some(0.0));
        assert_eq!(rates.operation_error_share, None);
    }
}
