//! Retell's request bodies, as `retell-sdk` 5.x types them (`CallCreatePhoneCallParams`). Shared
//! by the client (which writes them) and the simulator (which reads them).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::provider::CreateCall;

/// `POST /v2/create-phone-call`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePhoneCallRequest {
    /// The caller number, E.164 (a number owned at Retell).
    pub from_number: String,
    /// The number to call, E.164.
    pub to_number: String,
    /// One-off agent for this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_agent_id: Option<String>,
    /// One-off agent version (Retell accepts a number or a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_agent_version: Option<Value>,
    /// Prompt variables (PHI).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retell_llm_dynamic_variables: BTreeMap<String, String>,
    /// Stored on the call, echoed in webhooks. Ids only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Per-call agent settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_override: Option<AgentOverride>,
}

impl fmt::Debug for CreatePhoneCallRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatePhoneCallRequest")
            .field("override_agent_id", &self.override_agent_id)
            .field("dynamic_variables", &self.retell_llm_dynamic_variables.keys().collect::<Vec<_>>())
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// `agent_override`: settings for this call only, so a shared agent is never modified.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentOverride {
    /// Agent-level settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSettings>,
}

/// `agent_override.agent`: the subset Rivvi sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// The values to extract after the call (`string`/`enum`/`boolean`/`number` items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_call_analysis_data: Option<Vec<Value>>,
}

impl From<&CreateCall> for CreatePhoneCallRequest {
    fn from(call: &CreateCall) -> Self {
        let agent_override = (!call.analysis_fields.is_empty()).then(|| AgentOverride {
            agent: Some(AgentSettings {
                post_call_analysis_data: Some(call.analysis_fields.iter().map(|f| f.to_retell()).collect()),
            }),
        });
        CreatePhoneCallRequest {
            from_number: call.from_number.clone(),
            to_number: call.to_number.clone(),
            override_agent_id: call.override_agent_id.clone(),
            override_agent_version: None,
            retell_llm_dynamic_variables: call.dynamic_variables.clone(),
            metadata: serde_json::to_value(call.metadata).ok(),
            agent_override,
        }
    }
}

/// An error body. The simulator writes `error_message`; reading also accepts `message` and
/// `error`, since the exact key of Retell's error bodies is not part of its typed SDK.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    #[serde(default, alias = "message", alias = "error")]
    pub error_message: String,
}
