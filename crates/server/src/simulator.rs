//! The HTTP face of the built-in Retell simulator (`rivvi_execution::simulator`): Retell's
//! `POST /v2/create-phone-call`, `GET /v2/get-call/{call_id}`, `POST /create-retell-llm`,
//! `PATCH /update-retell-llm/{llm_id}`, `POST /create-agent`, `PATCH /update-agent/{agent_id}`,
//! `POST /publish-agent-version/{agent_id}` and `GET /get-agent-versions/{agent_id}`, with its
//! JSON shapes, status codes and Bearer auth, so the production [`RetellClient`] is what talks
//! to it.
//!
//! Mounted under a prefix (such as `/simulator/retell`), which makes the client's base URL
//! `http://<addr>/simulator/retell`.
//!
//! [`RetellClient`]: rivvi_execution::retell::RetellClient

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use rivvi_domain::lifecycle::CallOutcome;
use rivvi_execution::retell::api::{
    AgentRequest, CreatePhoneCallRequest, ErrorBody, PublishAgentVersionRequest, RetellLlmRequest,
};
use rivvi_execution::simulator::{SimError, Simulator};
use serde::de::DeserializeOwned;

/// The simulator's routes, relative to wherever they are nested. Generic over the outer router's
/// state so it nests into the application router as is.
///
/// With `scripting` (test settings only), `POST /script` also sets the outcomes of the next calls
/// to a number, so a test driving the server over HTTP can make a patient not answer (or, with
/// `optOut`, ask not to be called again on the next call that reaches them),
/// `POST /script-agent-failures` makes the next LLM/agent requests fail, and `GET /heard` lists
/// what each call ran on (agent version and prompt).
pub fn router<S>(simulator: Arc<Simulator>, scripting: bool) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut routes = Router::new()
        .route("/v2/create-phone-call", post(create_phone_call))
        .route("/v2/get-call/:call_id", get(get_call))
        .route("/create-retell-llm", post(create_retell_llm))
        .route("/update-retell-llm/:llm_id", patch(update_retell_llm))
        .route("/create-agent", post(create_agent))
        .route("/update-agent/:agent_id", patch(update_agent))
        .route("/publish-agent-version/:agent_id", post(publish_agent_version))
        .route("/get-agent-versions/:agent_id", get(get_agent_versions));
    if scripting {
        routes = routes
            .route("/script", post(script))
            .route("/script-agent-failures", post(script_agent_failures))
            .route("/heard", get(heard));
    }
    routes.with_state(simulator)
}

/// The body of `POST /script`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Script {
    /// E.164, as the engine dials it.
    to_number: String,
    #[serde(default)]
    outcomes: Vec<CallOutcome>,
    /// The patient says "Please stop calling me." on the next call that reaches them.
    #[serde(default)]
    opt_out: bool,
}

/// 204 once the outcomes are queued; 400 for a body that is not a [`Script`].
async fn script(State(sim): State<Arc<Simulator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Script>(&body) {
        Ok(script) => {
            if script.opt_out {
                sim.script_opt_out(&script.to_number);
            }
            sim.script_outcomes(&script.to_number, script.outcomes);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => error(StatusCode::BAD_REQUEST, &format!("invalid script: {err}")),
    }
}

/// The body of `POST /script-agent-failures`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFailures {
    /// How many LLM/agent requests fail next (0 stops).
    count: u32,
}

/// 204 once set; 400 for a body that is not an [`AgentFailures`].
async fn script_agent_failures(State(sim): State<Arc<Simulator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<AgentFailures>(&body) {
        Ok(failures) => {
            sim.fail_next_agent_requests(failures.count);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => error(StatusCode::BAD_REQUEST, &format!("invalid script: {err}")),
    }
}

/// One call and what it ran on, for `GET /heard`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Heard {
    call_id: String,
    to_number: String,
    agent_id: String,
    agent_version: u32,
    prompt: String,
    voicemail_message: Option<String>,
}

/// 200 with every call placed on a versioned agent, oldest first: what each patient heard.
async fn heard(State(sim): State<Arc<Simulator>>) -> Response {
    let calls: Vec<Heard> = sim
        .heard_calls()
        .into_iter()
        .map(|(call_id, to_number, heard)| Heard {
            call_id,
            to_number,
            agent_id: heard.agent_id,
            agent_version: heard.version,
            prompt: heard.prompt,
            voicemail_message: heard.voicemail_message,
        })
        .collect();
    Json(calls).into_response()
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

/// 201 with the new LLM.
async fn create_retell_llm(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    match authorized_body::<RetellLlmRequest>(&sim, &headers, &body) {
        Ok(request) => match sim.create_retell_llm(request) {
            Ok(llm) => (StatusCode::CREATED, Json(llm)).into_response(),
            Err(err) => sim_error(&err),
        },
        Err(refused) => *refused,
    }
}

/// 200 with the LLM; 404 for an unknown id.
async fn update_retell_llm(
    State(sim): State<Arc<Simulator>>,
    headers: HeaderMap,
    Path(llm_id): Path<String>,
    body: Bytes,
) -> Response {
    match authorized_body::<RetellLlmRequest>(&sim, &headers, &body) {
        Ok(request) => answer(sim.update_retell_llm(&llm_id, request)),
        Err(refused) => *refused,
    }
}

/// 201 with the new agent (version 0, a draft); 400 for an unknown LLM.
async fn create_agent(State(sim): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    match authorized_body::<AgentRequest>(&sim, &headers, &body) {
        Ok(request) => match sim.create_agent(request) {
            Ok(agent) => (StatusCode::CREATED, Json(agent)).into_response(),
            Err(err) => sim_error(&err),
        },
        Err(refused) => *refused,
    }
}

/// 200 with the agent's draft; 404 for an unknown id.
async fn update_agent(
    State(sim): State<Arc<Simulator>>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    body: Bytes,
) -> Response {
    match authorized_body::<AgentRequest>(&sim, &headers, &body) {
        Ok(request) => answer(sim.update_agent(&agent_id, request)),
        Err(refused) => *refused,
    }
}

/// 200 without a body (the SDK types the answer as `void`); 400 for a version that is not a
/// draft; 404 for an unknown agent.
async fn publish_agent_version(
    State(sim): State<Arc<Simulator>>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    body: Bytes,
) -> Response {
    match authorized_body::<PublishAgentVersionRequest>(&sim, &headers, &body) {
        Ok(request) => match sim.publish_agent_version(&agent_id, request) {
            Ok(()) => StatusCode::OK.into_response(),
            Err(err) => sim_error(&err),
        },
        Err(refused) => *refused,
    }
}

/// 200 with every version, oldest first; 404 for an unknown agent.
async fn get_agent_versions(
    State(sim): State<Arc<Simulator>>,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
) -> Response {
    if !authorized(&sim, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    answer(sim.get_agent_versions(&agent_id))
}

/// The request body as `T`, once the API key checks out; otherwise the 401 or 400 to answer.
fn authorized_body<T: DeserializeOwned>(
    sim: &Simulator,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Box<Response>> {
    if !authorized(sim, headers) {
        return Err(Box::new(error(StatusCode::UNAUTHORIZED, "Unauthorized")));
    }
    serde_json::from_slice::<T>(body).map_err(|err| {
        let message = format!("invalid request body at line {} column {}", err.line(), err.column());
        Box::new(error(StatusCode::BAD_REQUEST, &message))
    })
}

fn answer<T: serde::Serialize>(result: Result<T, SimError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(err) => sim_error(&err),
    }
}

fn authorized(sim: &Simulator, headers: &HeaderMap) -> bool {
    crate::auth::bearer_matches(headers, sim.api_key())
}

fn sim_error(err: &SimError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, &err.to_string())
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(ErrorBody { error_message: message.to_owned() })).into_response()
}
