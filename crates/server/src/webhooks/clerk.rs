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

use super::signature::{verify_svix, SignatureError};
use crate::services::identity::{self, ClerkEvent};
use crate::services::ServiceError;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
enum ClerkWebhookError {
    #[error("webhook signing secret is not configured")]
    NotConfigured,
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("invalid event: {0}")]
    Invalid(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl IntoResponse for ClerkWebhookError {
    fn into_response(self) -> Response {
        let status = match &self {
            ClerkWebhookError::NotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            ClerkWebhookError::Signature(_) => StatusCode::UNAUTHORIZED,
            ClerkWebhookError::Invalid(_) => StatusCode::BAD_REQUEST,
            ClerkWebhookError::Internal(err) => {
                tracing::error!(error = ?err, "applying a Clerk webhook failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

/// An event missing a field it needs is the sender's fault (`missing id`); anything else is ours.
impl From<ServiceError> for ClerkWebhookError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(errors) => {
                let reasons = errors.errors().iter().map(|e| format!("{} {}", e.reason, e.field));
                ClerkWebhookError::Invalid(reasons.collect::<Vec<_>>().join("; "))
            }
            other => ClerkWebhookError::Internal(other.into()),
        }
    }
}

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&state, &headers, &body).await {
        Ok(outcome) => (StatusCode::OK, Json(json!({"status": outcome}))).into_response(),
        Err(err) => {
            if !matches!(err, ClerkWebhookError::Internal(_)) {
                tracing::warn!(reason = %err, "Clerk webhook refused");
            }
            err.into_response()
        }
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'static str, ClerkWebhookError> {
    let secret =
        state.settings.auth.webhook_signing_secret.as_ref().ok_or(ClerkWebhookError::NotConfigured)?;
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(ClerkWebhookError::Signature(SignatureError::MissingHeader(name)))
    };
    let (id, timestamp, signature) =
        (header("svix-id")?, header("svix-timestamp")?, header("svix-signature")?);
    verify_svix(secret.expose(), id, timestamp, signature, body, chrono::Utc::now().timestamp())?;

    let event: ClerkEvent =
        serde_json::from_slice(body).map_err(|e| ClerkWebhookError::Invalid(e.to_string()))?;
    let outcome = identity::apply_clerk_event(state, id, &event).await?;
    Ok(outcome.as_str())
}
