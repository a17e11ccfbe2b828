//! The outermost middleware: request ids, the request timeout, problem+json rendering
//! (with the active defects), the `slow-responses` defect, and request metrics.

use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::defects::Defect;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct RouteStats {
    /// by (method, status)
    counts: BTreeMap<(&'static str, u16), u64>,
    buckets: [u64; BUCKETS.len()],
    sum_seconds: f64,
    count: u64,
}

/// HTTP request counters and latency histograms by route.
#[derive(Default)]
pub(crate) struct Metrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
}

impl Metrics {
    fn record(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        // Keys are allocated once per route and (method, status), not per request.
        if !routes.contains_key(route) {
            routes.insert(route.to_string(), RouteStats::default());
        }
        let Some(stats) = routes.get_mut(route) else {
            return;
        };
        *stats.counts.entry((method, status)).or_default() += 1;
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                stats.buckets[i] += 1;
            }
        }
        stats.sum_seconds += secs;
        stats.count += 1;
    }

    /// Prometheus text of the HTTP metrics.
    pub(crate) fn render(&self, out: &mut String) {
        let Ok(routes) = self.routes.lock() else {
            return;
        };
        out.push_str(
            "# HELP flowgate_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE flowgate_http_requests_total counter\n");
        for (route, stats) in routes.iter() {
            for ((method, status), n) in &stats.counts {
                let _ = writeln!(
                    out,
                    "flowgate_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP flowgate_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE flowgate_http_request_duration_seconds histogram\n");
        for (route, stats) in routes.iter() {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "flowgate_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    stats.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "flowgate_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(
                out,
                "flowgate_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                stats.sum_seconds
            );
            let _ = writeln!(
                out,
                "flowgate_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                stats.count
            );
        }
    }
}

pub(crate) async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut id_buf = Uuid::encode_buffer();
    let request_id: &str = Uuid::new_v4().hyphenated().encode_lower(&mut id_buf);
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = method_name(req.method());
    let is_api = req.uri().path().starts_with("/api/");

    let mut res = match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(%route, "request timed out");
            ApiError::unavailable().into_response()
        }
    };
    if let Some(err) = res.extensions_mut().remove::<ApiError>() {
        res = err.render(request_id, &state.defects, res);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    if is_api && state.defects.is_on(Defect::SlowResponses) {
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    state
        .metrics
        .record(route, method, res.status().as_u16(), started.elapsed());
    res
}

/// The method as a label: the standard ones by name, anything else as one label (a client
/// cannot grow the metrics with invented methods).
fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
