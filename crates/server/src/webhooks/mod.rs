//! Signed callbacks from providers, transport only. Each verifies its signature on the raw body
//! before parsing, calls one use case (`services::identity`, `services::inbound`, or the engine's
//! `apply_call_event`) and maps its result to the HTTP answer the provider expects; errors become
//! `{"error": ...}` answers through `api::error`, like every other route's.

pub mod clerk;
pub mod retell;
pub mod retell_inbound;

/// A webhook refused by the rate limit (`http::limits`), in the same `{"error": ...}` shape as
/// every other webhook error; the limiter adds `Retry-After`.
pub fn too_many_requests(message: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::TOO_MANY_REQUESTS, axum::Json(serde_json::json!({ "error": message })))
        .into_response()
}
