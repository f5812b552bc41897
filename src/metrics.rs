//! Prometheus metrics: request counts and latency histograms by method, route template and
//! status. Route templates (`/scim/v2/{org}/Users/{id}`), not paths, keep the number of
//! series bounded whatever clients request.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<SeriesKey, Series>>,
    /// The change feed and webhook deliveries.
    pub webhooks: crate::webhooks::metrics::FeedMetrics,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    method: String,
    route: String,
    status: u16,
}

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    /// Observations per bucket (not cumulative); the last slot is +Inf.
    buckets: [u64; BUCKETS.len() + 1],
}

impl Metrics {
    fn observe(&self, key: SeriesKey, seconds: f64) {
        let slot = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        let mut series = self.series.lock().expect("metrics lock");
        let s = series.entry(key).or_default();
        s.count += 1;
        s.sum_seconds += seconds;
        s.buckets[slot] += 1;
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let series = self.series.lock().expect("metrics lock");
        let mut out = String::new();
        out.push_str("# HELP gatehouse_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE gatehouse_http_requests_total counter\n");
        for (k, s) in series.iter() {
            let _ = writeln!(
                out,
                "gatehouse_http_requests_total{{{}}} {}",
                labels(k),
                s.count
            );
        }
        out.push_str("# HELP gatehouse_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE gatehouse_http_request_duration_seconds histogram\n");
        for (k, s) in series.iter() {
            let labels = labels(k);
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i];
                let _ = writeln!(
                    out,
                    "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        self.webhooks.render(&mut out);
        out
    }
}

fn labels(k: &SeriesKey) -> String {
    format!(
        "method=\"{}\",route=\"{}\",status=\"{}\"",
        k.method,
        k.route.replace('\\', "\\\\").replace('"', "\\\""),
        k.status
    )
}

/// Middleware that times every request and counts it under its route template.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        // Unmatched paths are all one series: they are chosen by clients.
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let key = SeriesKey {
        method,
        route,
        status: response.status().as_u16(),
    };
    state.metrics.observe(key, started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::default();
        let key = |s| SeriesKey {
            method: "GET".into(),
            route: "/healthz".into(),
            status: s,
        };
        m.observe(key(200), 0.002);
        m.observe(key(200), 0.2);
        m.observe(key(503), 9.0);
        let text = m.render();
        let l = r#"method="GET",route="/healthz",status="200""#;
        assert!(
            text.contains(&format!("gatehouse_http_requests_total{{{l}}} 2")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"0.001\"}} 0")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"0.0025\"}} 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"0.25\"}} 2")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"+Inf\"}} 2")),
            "{text}"
        );
        assert!(text.contains(r#"status="503",le="5"} 0"#), "{text}");
    }
}
