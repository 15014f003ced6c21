//! Prometheus metrics, kept in process: requests by endpoint, model and status, and latency
//! histograms by endpoint and model. Labels are low-cardinality (no ids).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;

use crate::AppState;

/// Latency histogram bucket bounds in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

/// The metric names Nuri exports.
pub mod names {
    /// Counter: requests by endpoint, model and status.
    pub const REQUESTS: &str = "nuri_requests_total";
    /// Histogram: request latency by endpoint and model.
    pub const LATENCY: &str = "nuri_request_duration_seconds";
}

/// In-process metrics registry.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(&'static str, String, u16), u64>>,
    latency: Mutex<HashMap<(&'static str, String), Histogram>>,
}

impl Metrics {
    /// Counts one request and its latency (time to response head for streams).
    pub fn observe(&self, endpoint: &'static str, model: &str, status: u16, elapsed: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            match r.get_mut(&(endpoint, model.to_owned(), status)) {
                Some(n) => *n += 1,
                None => {
                    r.insert((endpoint, model.to_owned(), status), 1);
                }
            }
        }
        let secs = elapsed.as_secs_f64();
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry((endpoint, model.to_owned())).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += secs;
            h.total += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {} Requests by endpoint, model and status.",
            names::REQUESTS
        );
        let _ = writeln!(out, "# TYPE {} counter", names::REQUESTS);
        if let Ok(r) = self.requests.lock() {
            let mut rows: Vec<_> = r.iter().collect();
            rows.sort();
            for ((endpoint, model, status), n) in rows {
                let _ = writeln!(
                    out,
                    "{}{{endpoint=\"{endpoint}\",model=\"{}\",status=\"{status}\"}} {n}",
                    names::REQUESTS,
                    escape(model)
                );
            }
        }
        let _ = writeln!(out, "# HELP {} Request latency in seconds.", names::LATENCY);
        let _ = writeln!(out, "# TYPE {} histogram", names::LATENCY);
        if let Ok(l) = self.latency.lock() {
            let mut rows: Vec<_> = l.iter().collect();
            rows.sort_by(|a, b| a.0.cmp(b.0));
            for ((endpoint, model), h) in rows {
                let labels = format!("endpoint=\"{endpoint}\",model=\"{}\"", escape(model));
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{}_bucket{{{labels},le=\"{bound}\"}} {}",
                        names::LATENCY,
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "{}_bucket{{{labels},le=\"+Inf\"}} {}",
                    names::LATENCY,
                    h.total
                );
                let _ = writeln!(out, "{}_sum{{{labels}}} {}", names::LATENCY, h.sum);
                let _ = writeln!(out, "{}_count{{{labels}}} {}", names::LATENCY, h.total);
            }
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(crate) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render_text(),
    )
}
