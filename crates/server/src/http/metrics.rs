//! `GET /metrics` in Prometheus text format, and the HTTP measurements behind it.
//!
//! Served by [`router`] on a listener of its own (`RIVVI_METRICS_LISTEN`, loopback by default),
//! never on the main one: the main port is the public one, and the exposition tells anyone who
//! reads it the traffic, error rates and run activity of every clinic together.
//!
//! The recorder is process-wide (the `metrics` facade has one global recorder), installed once;
//! every server in the process renders the same registry. Labels carry routes, methods, statuses,
//! procedure keys and results, never organization ids or anything about a patient.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket bounds (seconds) of every `*_seconds` histogram: fine below 100 ms, where the webhook
/// and dispatch targets are, coarse above.
const SECONDS_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often histogram samples are folded into their buckets between scrapes.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first (an embedding program's); ours then
        // renders empty rather than taking the process down.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        handle
    })
}

/// The metrics listener's whole router: `GET /metrics`, and a 404 for anything else.
pub fn router() -> Router {
    Router::new().route("/metrics", get(render)).fallback(|| async {
        (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({"error": "only /metrics is served here"})))
    })
}

/// `GET /metrics`.
pub async fn render() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render()).into_response()
}

/// Counts and times every request by method, matched route (never the raw path, which may hold
/// ids or a token) and status.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Folds histogram samples into buckets every [`UPKEEP_EVERY`] until `shutdown`.
pub fn spawn_upkeep<F>(shutdown: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(UPKEEP_EVERY);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => handle().run_upkeep(),
            }
        }
    })
}
