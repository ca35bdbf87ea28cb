//! A guard in front of rspc-axum, which handles some bad requests badly: input that is not JSON
//! gets `404 []`, and a body over the limit would panic inside it. This layer buffers the body
//! under the configured limit and checks that the input is JSON, answering rspc-shaped errors.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method == Method::GET {
        let input = parts
            .uri
            .query()
            .and_then(form_urlencoded_input)
            .map(|input| serde_json::from_str::<serde_json::Value>(&input));
        if let Some(Err(err)) = input {
            return error_response(StatusCode::BAD_REQUEST, 400, &format!("input is not valid JSON: {err}"));
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    if parts.method != Method::POST {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            405,
            "use GET for queries and POST for mutations",
        );
    }
    let bytes = match to_bytes(body, state.settings.body_limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                413,
                &format!("request body exceeds {} bytes", state.settings.body_limit),
            )
        }
    };
    if !bytes.is_empty() {
        if let Err(err) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            return error_response(StatusCode::BAD_REQUEST, 400, &format!("body is not valid JSON: {err}"));
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn form_urlencoded_input(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "input").map(|(_, v)| v.into_owned())
}

/// An error in the shape `@rspc/client` reads, so the frontend shows the message.
pub fn error_response(status: StatusCode, code: u16, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "result": {"type": "error", "data": {"code": code, "message": message}}
    });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}
