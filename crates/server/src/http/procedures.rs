//! Per-procedure measurements: `rivvi_rpc_requests_total{procedure, code}` (the rspc error code
//! by name, or `ok`) and `rivvi_rpc_request_duration_seconds{procedure}`, and one log line per
//! failed call with its procedure, code and request id (never its input: it may hold PHI).
//!
//! Over HTTP each request is one call, read from its path and its answer's body; over the
//! websocket each query and mutation message is one call, measured by `http::websocket`.
//! Subscriptions are not counted.
//!
//! rspc-axum answers every procedure error with HTTP 200 and the code in the body; the answer
//! leaves here with that code as its HTTP status (400, 401, 403, 404, 409, 429, 500...), so load
//! balancers, logs and monitoring see what happened. The body is unchanged: `@rspc/client`
//! 0.3.1's fetch transport reads the body whatever the status and throws its `RSPCError(code,
//! message)` as before (checked by the TypeScript client test).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::rpc_guard::error_response;
use crate::api::Ctx;

/// The label of a path that names no procedure: labels must come from a fixed set, or anyone
/// could mint series by requesting made-up paths.
const UNKNOWN: &str = "unknown";

/// The procedure keys of the router: only these become labels.
pub struct ProcedureKeys(HashSet<String>);

impl ProcedureKeys {
    pub fn of(router: &rspc::Router<Ctx>) -> Arc<Self> {
        let keys =
            router.queries().keys().chain(router.mutations().keys()).chain(router.subscriptions().keys());
        Arc::new(Self(keys.cloned().collect()))
    }

    fn label(&self, key: &str) -> String {
        if self.0.contains(key) {
            key.to_owned()
        } else {
            UNKNOWN.to_owned()
        }
    }
}

/// How a call ended: `None` for success, else its rspc error code (numeric, as on the wire).
pub type Outcome = Option<i32>;

/// The name of an rspc error code, as the TypeScript client spells its `ErrorCode`s; codes only
/// this server answers (414, 429, 431) by their HTTP names.
fn code_name(code: i32) -> &'static str {
    match code {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_SUPPORTED",
        408 => "TIMEOUT",
        409 => "CONFLICT",
        412 => "PRECONDITION_FAILED",
        413 => "PAYLOAD_TOO_LARGE",
        414 => "URI_TOO_LONG",
        429 => "TOO_MANY_REQUESTS",
        431 => "REQUEST_HEADER_FIELDS_TOO_LARGE",
        499 => "CLIENT_CLOSED_REQUEST",
        500 => "INTERNAL_SERVER_ERROR",
        other if other < 500 => "OTHER_CLIENT_ERROR",
        _ => "OTHER_SERVER_ERROR",
    }
}

/// Counts and times one call, and logs it if it failed.
pub fn record(
    keys: &ProcedureKeys,
    procedure: &str,
    outcome: Outcome,
    elapsed: Duration,
    request_id: Option<&str>,
    transport: &'static str,
) {
    let label = keys.label(procedure);
    let code = outcome.map_or("ok", code_name);
    metrics::counter!("rivvi_rpc_requests_total", "procedure" => label.clone(), "code" => code).increment(1);
    metrics::histogram!("rivvi_rpc_request_duration_seconds", "procedure" => label.clone())
        .record(elapsed.as_secs_f64());
    let Some(number) = outcome else { return };
    let request_id = request_id.unwrap_or_default();
    match number {
        500.. => {
            tracing::error!(procedure = %label, code, code.number = number, request_id, transport, "procedure failed")
        }
        // Counted above; a line per refusal would let a flood write the logs.
        429 => {
            tracing::debug!(procedure = %label, code, code.number = number, request_id, transport, "procedure refused")
        }
        _ => {
            tracing::warn!(procedure = %label, code, code.number = number, request_id, transport, "procedure failed")
        }
    }
}

/// The HTTP side: every `/rspc/<key>` request but the websocket upgrade, measured and answered
/// with its code as HTTP status.
pub async fn track(State(keys): State<Arc<ProcedureKeys>>, request: Request, next: Next) -> Response {
    // Nested under /rspc, the path is `/<key>`.
    let procedure = request.uri().path().trim_start_matches('/').to_owned();
    if procedure == "ws" {
        return next.run(request).await;
    }
    let request_id = crate::telemetry::request_id(request.headers());
    let started = Instant::now();
    let response = next.run(request).await;
    // rspc's answers are built in memory: collecting the body moves it, it copies nothing.
    let (parts, body) = response.into_parts();
    let (response, outcome) = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            let outcome = outcome_of(parts.status, &bytes);
            (Response::from_parts(parts, Body::from(bytes)), outcome)
        }
        Err(err) => {
            tracing::error!(error = %err, "reading a procedure's answer failed");
            (error_response(StatusCode::INTERNAL_SERVER_ERROR, 500, "internal error"), Some(500))
        }
    };
    record(&keys, &procedure, outcome, started.elapsed(), request_id.as_deref(), "http");
    with_status_of(response, outcome)
}

/// A failed call's answer with its rspc code as the HTTP status (see the module docs); answers
/// that already carry an error status (the guard's, the limiter's) keep theirs.
fn with_status_of(mut response: Response, outcome: Outcome) -> Response {
    let status = outcome
        .and_then(|code| u16::try_from(code).ok())
        .filter(|code| (400..=599).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok());
    if let (Some(status), StatusCode::OK) = (status, response.status()) {
        *response.status_mut() = status;
    }
    response
}

/// The outcome an answer reports: its body's rspc error code, else its HTTP status.
fn outcome_of(status: StatusCode, body: &[u8]) -> Outcome {
    // rspc-axum serialises its `jsonrpc::Response` struct in field order, so a success starts
    // with exactly this; checking it spares parsing large results.
    const SUCCESS: &[u8] = br#"{"jsonrpc":"2.0","id":null,"result":{"type":"response""#;
    if status.is_success() && body.starts_with(SUCCESS) {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Envelope {
        result: Inner,
    }
    #[derive(serde::Deserialize)]
    #[serde(tag = "type", content = "data", rename_all = "camelCase")]
    enum Inner {
        Error {
            code: i32,
        },
        #[serde(other)]
        Other,
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope { result: Inner::Error { code } }) => Some(code),
        _ if status.is_success() => None,
        _ => Some(i32::from(status.as_u16())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reports_its_rspc_code_or_its_status() {
        let ok = br#"{"jsonrpc":"2.0","id":null,"result":{"type":"response","data":{"id":"x"}}}"#;
        assert_eq!(outcome_of(StatusCode::OK, ok), None);
        let not_found = br#"{"jsonrpc":"2.0","id":null,"result":{"type":"error","data":{"code":404,"message":"run not found","data":null}}}"#;
        assert_eq!(outcome_of(StatusCode::OK, not_found), Some(404));
        // The guard's and the limiter's answers (serde_json's key order).
        let limited = br#"{"id":null,"jsonrpc":"2.0","result":{"data":{"code":429,"message":"slow down"},"type":"error"}}"#;
        assert_eq!(outcome_of(StatusCode::TOO_MANY_REQUESTS, limited), Some(429));
        assert_eq!(outcome_of(StatusCode::NOT_FOUND, b"[]"), Some(404));
        assert_eq!(code_name(404), "NOT_FOUND");
        assert_eq!(code_name(418), "OTHER_CLIENT_ERROR");
    }

    /// Log lines written while a test runs.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl tracing_subscriber::fmt::MakeWriter<'_> for Captured {
        type Writer = Captured;
        fn make_writer(&self) -> Captured {
            self.clone()
        }
    }

    #[test]
    fn a_failed_call_logs_one_line_with_its_procedure_code_and_request_id() {
        let keys = ProcedureKeys::of(&crate::api::router());
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .finish();

        tracing::subscriber::with_default(subscriber, || {
            let ms = Duration::from_millis(3);
            record(&keys, "runs.get", Some(404), ms, Some("req-not-found"), "http");
            record(&keys, "calls.get", Some(500), ms, Some("req-internal"), "websocket");
            record(&keys, "runs.get", Some(429), ms, Some("req-limited"), "http");
            record(&keys, "runs.get", None, ms, Some("req-ok"), "http");
        });

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "one line per failure, none for success or (at info) a 429:\n{text}");
        let (warn, error) = (lines[0], lines[1]);
        assert!(warn.contains("WARN") && warn.contains("procedure failed"), "{warn}");
        for part in
            ["procedure=runs.get", "code=\"NOT_FOUND\"", "request_id=\"req-not-found\"", "transport=\"http\""]
        {
            assert!(warn.contains(part), "{part} in {warn}");
        }
        assert!(error.contains("ERROR") && error.contains("code=\"INTERNAL_SERVER_ERROR\""), "{error}");
        assert!(
            error.contains("procedure=calls.get") && error.contains("request_id=\"req-internal\""),
            "{error}"
        );
    }
}
