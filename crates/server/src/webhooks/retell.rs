//! `POST /webhooks/retell`: call events from the voice provider (or the built-in simulator).
//!
//! The `x-retell-signature` is verified on the raw body before parsing; the engine then records
//! the event once and applies it in one transaction. Every accepted event answers 200 (a
//! replay or an unknown call included), so the provider does not retry what we have; a database
//! failure answers 500 so it does.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rivvi_execution::engine::ApplyOutcome;
use rivvi_execution::retell::webhook::{verify, CallEvent, SIGNATURE_HEADER};
use serde_json::json;

use crate::api::ApiError;
use crate::state::AppState;

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let signed_ms = match verify_signature(&state, &headers, &body) {
        Ok((_, signed_ms)) => signed_ms,
        Err(refused) => return refused.into_response(),
    };
    let event: CallEvent = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(err) => return ApiError::MalformedBody(format!("not a call event: {err}")).into_response(),
    };
    // The engine publishes what changed (rows, runs, calls that ended) once it is committed.
    match state.engine.apply_call_event(&event).await {
        Ok(outcome) => {
            let status = match outcome {
                ApplyOutcome::Applied { .. } => {
                    let lag_ms = state.clock.now_ms().saturating_sub(signed_ms).max(0);
                    state.engine.record_webhook_lag(Duration::from_millis(lag_ms.unsigned_abs()));
                    "applied"
                }
                ApplyOutcome::Duplicate => "duplicate",
                ApplyOutcome::UnknownCall => "unknown_call",
                _ => "ignored",
            };
            (StatusCode::OK, Json(json!({"status": status}))).into_response()
        }
        Err(err) => ApiError::Internal(err.into()).into_response(),
    }
}

/// Checks `x-retell-signature` on the raw `body` (Retell signs every webhook, call events and
/// inbound calls alike, with the API key). The signature header and when the provider signed it
/// (unix ms), when it verifies.
pub(super) fn verify_signature<'h>(
    state: &AppState,
    headers: &'h HeaderMap,
    body: &[u8],
) -> Result<(&'h str, i64), ApiError> {
    let Some(signature) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::Unverified("missing x-retell-signature".to_owned()));
    };
    match verify(state.retell_webhook_key.expose(), signature, body, state.clock.now_ms()) {
        Ok(signed_ms) => Ok((signature, signed_ms)),
        Err(err) => {
            tracing::warn!(reason = %err, "Retell webhook refused");
            Err(ApiError::Unverified(err.to_string()))
        }
    }
}
