//! `POST /webhooks/clerk`: users, organizations and memberships synced from Clerk (Svix-signed).
//!
//! The transport only: the signature is checked on the raw body first, the body is parsed, and
//! [`services::identity::apply_clerk_event`](crate::services::identity::apply_clerk_event) records the delivery by its `svix-id` (a replay
//! changes nothing), applies the event and audit-logs it in one transaction. A delivery that
//! fails validation writes nothing. The answer is `{"status": outcome}`, or `{"error": reason}`
//! with 503 (no signing secret configured), 401 (signature), 400 (body or event) or 500.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::ApiError;
use crate::auth::svix::{verify_svix, SignatureError};
use crate::services::identity::{self, ClerkEvent};
use crate::state::AppState;

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&state, &headers, &body).await {
        Ok(outcome) => (StatusCode::OK, Json(json!({"status": outcome}))).into_response(),
        Err(err) => {
            if !matches!(err, ApiError::Internal(_)) {
                tracing::warn!(reason = %err, "Clerk webhook refused");
            }
            err.into_response()
        }
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<&'static str, ApiError> {
    let secret = state
        .settings
        .auth
        .webhook_signing_secret
        .as_ref()
        .ok_or(ApiError::Unavailable("webhook signing secret is not configured"))?;
    let header = |name: &'static str| {
        headers.get(name).and_then(|v| v.to_str().ok()).ok_or(SignatureError::MissingHeader(name))
    };
    let (id, timestamp, signature) =
        (header("svix-id")?, header("svix-timestamp")?, header("svix-signature")?);
    verify_svix(secret.expose(), id, timestamp, signature, body, chrono::Utc::now().timestamp())?;

    let event: ClerkEvent =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedBody(format!("invalid event: {e}")))?;
    let outcome = identity::apply_clerk_event(state, id, &event).await?;
    Ok(outcome.as_str())
}
