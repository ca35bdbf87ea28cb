//! The HTTP face of the built-in Retell simulator (`rivvi_execution::simulator`): Retell's
//! `POST /v2/create-phone-call` and `GET /v2/get-call/{call_id}` with its JSON shapes, status
//! codes and Bearer auth, so the production [`RetellClient`] is what talks to it.
//!
//! Mounted under a prefix (such as `/simulator/retell`), which makes the client's base URL
//! `http://<addr>/simulator/retell`.
//!
//! [`RetellClient`]: rivvi_execution::retell::RetellClient

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rivvi_domain::lifecycle::CallOutcome;
use rivvi_execution::retell::api::{CreatePhoneCallRequest, ErrorBody};
use rivvi_execution::simulator::{SimError, Simulator};
use subtle::ConstantTimeEq;

/// The simulator's routes, relative to wherever they are nested. Generic over the outer router's
/// state so it nests into the application router as is.
///
/// With `scripting` (test settings only), `POST /script` also sets the outcomes of the next calls
/// to a number, so a test driving the server over HTTP can make a patient not answer.
pub fn router<S>(simulator: Arc<Simulator>, scripting: bool) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut routes = Router::new()
        .route("/v2/create-phone-call", post(create_phone_call))
        .route("/v2/get-call/:call_id", get(get_call));
    if scripting {
        routes = routes.route("/script", post(script));
    }
    routes.with_state(simulator)
}

/// The body of `POST /script`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Script {
    /// E.164, as the engine dials it.
    to_number: String,
    outcomes: Vec<CallOutcome>,
}

/// 204 once the outcomes are queued; 400 for a body that is not a [`Script`].
async fn script(State(sim): State<Arc<Simulator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Script>(&body) {
        Ok(script) => {
            sim.script_outcomes(&script.to_number, script.outcomes);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => error(StatusCode::BAD_REQUEST, &format!("invalid script: {err}")),
    }
}

/// 201 with the registered call; 400 for a bad body or number; 401 without the API key; 500
/// when a failure was injected.
async fn create_phone_call(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&sim, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let request = match serde_json::from_slice::<CreatePhoneCallRequest>(&body) {
        Ok(request) => request,
        // Only the position: serde's message may quote the body, which holds PHI.
        Err(err) => {
            let message = format!("invalid request body at line {} column {}", err.line(), err.column());
            return error(StatusCode::BAD_REQUEST, &message);
        }
    };
    match sim.create_phone_call(request) {
        Ok(call) => (StatusCode::CREATED, Json(call)).into_response(),
        Err(err) => sim_error(&err),
    }
}

/// 200 with the call as it stands now; 404 for an unknown id; 401 without the API key.
async fn get_call(
    State(sim): State<Arc<Simulator>>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
) -> Response {
    if !authorized(&sim, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    match sim.get_phone_call(&call_id) {
        Ok(call) => Json(call).into_response(),
        Err(err) => sim_error(&err),
    }
}

fn authorized(sim: &Simulator, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(sim.api_key().as_bytes()))
}

fn sim_error(err: &SimError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, &err.to_string())
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(ErrorBody { error_message: message.to_owned() })).into_response()
}
