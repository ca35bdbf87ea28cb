//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// The process is up and serving.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can do useful work: its database and its object storage answer.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (database, storage) = tokio::join!(state.db.ping(), state.storage.ping());
    if let Err(err) = &database {
        tracing::warn!(error = %err, "readiness check: database unreachable");
    }
    if let Err(err) = &storage {
        tracing::warn!(error = %err, "readiness check: object storage unreachable");
    }
    let label = |ok: bool| if ok { "ok" } else { "unreachable" };
    let ready = database.is_ok() && storage.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": label(database.is_ok()),
        "storage": label(storage.is_ok()),
    });
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
