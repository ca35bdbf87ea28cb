//! The HTTP face of the built-in LLM stand-in (`rivvi_execution::llm::stand_in`): OpenAI's
//! `POST /v1/chat/completions` with its JSON shapes, status codes and Bearer auth, so the
//! production [`LlmClient`] is what talks to it.
//!
//! Mounted under a prefix (such as `/llm-stand-in`), which makes the client's base URL
//! `http://<addr>/llm-stand-in/v1`.
//!
//! [`LlmClient`]: rivvi_execution::llm::LlmClient

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rivvi_execution::llm::{LlmStandIn, StandInReply};

/// The stand-in's routes, relative to wherever they are nested. Generic over the outer router's
/// state so it nests into the application router as is.
pub fn router<S>(stand_in: Arc<LlmStandIn>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/v1/chat/completions", post(chat_completions)).with_state(stand_in)
}

/// 200 with a chat completion (after a scripted delay, if any); 400 for a request it cannot
/// answer; 401 without the key; 429 or 500 when scripted.
async fn chat_completions(
    State(stand_in): State<Arc<LlmStandIn>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply =
        if authorized(&stand_in, &headers) { stand_in.answer(&body) } else { StandInReply::unauthorized() };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(reply.body)).into_response();
    if let Some(seconds) = reply.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn authorized(stand_in: &LlmStandIn, headers: &HeaderMap) -> bool {
    crate::auth::bearer_matches(headers, stand_in.api_key())
}
