//! `POST /webhooks/retell/inbound`: Retell asks how to answer a patient calling one of our
//! organizations' numbers, and must hear back within 10 s.
//!
//! The transport only; the use case (who is calling, about what, the call recorded) is
//! [`services::inbound::answer_inbound_call`](crate::services::inbound::answer_inbound_call).
//!
//! 1. `x-retell-signature` is verified on the raw body exactly as for call events (a forged or
//!    stale request answers 401 and writes nothing); a body that is not a `call_inbound` request
//!    answers 400 and writes nothing.
//! 2. The use case runs under a deadline, with the request's signature as its replay key (the
//!    signature's digest covers the body and the timestamp, so it names this exact delivery).
//! 3. The answer carries the use case's dynamic variables for the inbound agent and metadata with
//!    ids only (our call id and organization id), which Retell echoes in the call's later
//!    webhooks to `POST /webhooks/retell`, where the engine links them to the call written here.
//!
//! Retell always gets an answer: a replay, a number no organization owns, a failure or a slow
//! database answer 200 with generic variables and no metadata (logged), because the patient is on
//! the line and a retry only keeps them waiting.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rivvi_execution::engine::error_chain;
use rivvi_execution::retell::webhook::{InboundAnswer, InboundRequest, InboundResponse};
use serde_json::json;

use super::retell::verify_signature;
use crate::api::ApiError;
use crate::services::inbound::{self, InboundOutcome};
use crate::state::AppState;

/// The `event` of an inbound call request.
const INBOUND_EVENT: &str = "call_inbound";

/// Retell waits 10 s for an answer (then retries, while the patient hears ringing). Past this
/// much, the transaction is abandoned (rolled back) and a generic answer goes out in time.
const ANSWER_DEADLINE: Duration = Duration::from_secs(8);

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = match verify_signature(&state, &headers, &body) {
        Ok((signature, _signed_ms)) => signature,
        Err(refused) => return refused.into_response(),
    };
    let request: InboundRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return ApiError::MalformedBody(format!("not a call_inbound request: {err}")).into_response()
        }
    };
    if request.event != INBOUND_EVENT {
        return ApiError::MalformedBody("not a call_inbound request: event must be call_inbound".into())
            .into_response();
    }
    // The signature names this exact delivery (its digest covers the body and the timestamp).
    let replay_key = format!("{INBOUND_EVENT}:{}", signature.trim().to_ascii_lowercase());
    let answered = tokio::time::timeout(
        ANSWER_DEADLINE,
        inbound::answer_inbound_call(&state, &request.call_inbound, &replay_key),
    )
    .await;
    let call_inbound = match answered {
        Ok(Ok(InboundOutcome::Answered { call_id, org_id, variables, agent })) => InboundAnswer {
            override_agent_id: agent.as_ref().map(|a| a.agent_id.clone()),
            override_agent_version: agent.and_then(|a| a.version),
            dynamic_variables: Some(variables),
            metadata: Some(json!({"call_id": call_id, "org_id": org_id, "direction": "inbound"})),
        },
        Ok(Ok(InboundOutcome::Generic)) => generic_answer(),
        Ok(Err(err)) => {
            tracing::error!(error = %error_chain(&err), "answering an inbound call failed; answered generically");
            generic_answer()
        }
        Err(_) => {
            tracing::error!(
                deadline_ms = ANSWER_DEADLINE.as_millis(),
                "answering an inbound call took too long; answered generically"
            );
            generic_answer()
        }
    };
    (StatusCode::OK, Json(InboundResponse { call_inbound })).into_response()
}

/// An answer without organization or patient data, and (no call being recorded) no metadata.
fn generic_answer() -> InboundAnswer {
    InboundAnswer {
        override_agent_id: None,
        override_agent_version: None,
        dynamic_variables: Some(inbound::generic_variables()),
        metadata: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generic_answer_has_every_key_and_no_patient_data_or_metadata() {
        let answer = generic_answer();
        let variables = answer.dynamic_variables.unwrap();
        assert_eq!(variables["caller_known"], "false");
        assert_eq!(variables["has_open_outreach"], "false");
        assert_eq!(variables["shared_phone"], "false");
        for key in
            ["organization_name", "patient_first_name", "first_name", "campaign_name", "last_call_outcome"]
        {
            assert_eq!(variables[key], "", "{key}");
        }
        assert!(answer.metadata.is_none());
    }
}
