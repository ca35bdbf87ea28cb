//! Retell's request and response bodies, as `retell-sdk` 5.x types them
//! (`CallCreatePhoneCallParams`; `LlmCreateParams`/`LlmUpdateParams`/`LlmResponse`;
//! `AgentCreateParams`/`AgentUpdateParams`/`AgentResponse`/`AgentPublishParams`). Shared by the
//! client (which writes requests and reads responses) and the simulator (which does the reverse).
//! Only the fields Rivvi sets or reads are here; the rest keep the provider's defaults.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::provider::{AgentConfig, AgentVersion, AnalysisFieldSpec, CreateCall, LlmSettings};

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
            override_agent_version: call.override_agent_version.map(Value::from),
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

/// `POST /create-retell-llm` and `PATCH /update-retell-llm/{llm_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetellLlmRequest {
    /// The prompt.
    #[serde(default)]
    pub general_prompt: Option<String>,
    /// The agent's first words; absent lets the model open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_message: Option<String>,
    /// Who speaks first: `agent` on outbound calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_speaker: Option<String>,
}

impl From<&LlmSettings> for RetellLlmRequest {
    fn from(settings: &LlmSettings) -> Self {
        RetellLlmRequest {
            general_prompt: Some(settings.general_prompt.clone()),
            begin_message: settings.begin_message.clone(),
            start_speaker: Some("agent".to_owned()),
        }
    }
}

/// `LlmResponse`: the fields Rivvi reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetellLlmResponse {
    /// `llm_…`.
    pub llm_id: String,
    /// The LLM's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Whether this version is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_published: Option<bool>,
    /// The prompt.
    #[serde(default)]
    pub general_prompt: Option<String>,
    /// The agent's first words.
    #[serde(default)]
    pub begin_message: Option<String>,
    /// Unix ms.
    pub last_modification_timestamp: i64,
}

/// `response_engine` of type `retell-llm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseEngine {
    /// Always `retell-llm` here.
    #[serde(rename = "type")]
    pub kind: String,
    /// The LLM.
    pub llm_id: String,
    /// A version of the LLM; absent means its latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// `voicemail_option`: what the agent does when a machine answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoicemailOption {
    /// `static_text` with the campaign's message, or `hangup`.
    pub action: VoicemailAction,
}

/// `voicemail_option.action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VoicemailAction {
    /// Say exactly this text.
    StaticText {
        /// The message.
        text: String,
    },
    /// Let the LLM write the message from this prompt (not used by Rivvi; read for completeness).
    Prompt {
        /// The instruction.
        text: String,
    },
    /// Hang up without a message.
    Hangup,
    /// Transfer the call (not used by Rivvi).
    BridgeTransfer,
}

/// `POST /create-agent` and `PATCH /update-agent/{agent_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRequest {
    /// The LLM that answers.
    pub response_engine: ResponseEngine,
    /// The voice (required on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    /// Shown in Retell's dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// Voicemail behaviour.
    #[serde(default)]
    pub voicemail_option: Option<VoicemailOption>,
    /// Analysis fields (`string`/`enum`/`boolean`/`number` items).
    #[serde(default)]
    pub post_call_analysis_data: Option<Vec<Value>>,
    /// Where this agent's call events go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

impl AgentRequest {
    /// The body for `settings`, speaking with `voice_id`.
    pub fn new(settings: &AgentConfig, voice_id: &str) -> Self {
        let action = match &settings.voicemail_message {
            Some(text) => VoicemailAction::StaticText { text: text.clone() },
            None => VoicemailAction::Hangup,
        };
        AgentRequest {
            response_engine: ResponseEngine {
                kind: "retell-llm".to_owned(),
                llm_id: settings.llm_id.clone(),
                version: None,
            },
            voice_id: Some(voice_id.to_owned()),
            agent_name: Some(settings.name.clone()),
            voicemail_option: Some(VoicemailOption { action }),
            post_call_analysis_data: Some(
                settings.analysis_fields.iter().map(AnalysisFieldSpec::to_retell).collect(),
            ),
            webhook_url: settings.webhook_url.clone(),
        }
    }

    /// The voicemail text, if the action is static text.
    pub fn voicemail_text(&self) -> Option<&str> {
        match self.voicemail_option.as_ref().map(|o| &o.action) {
            Some(VoicemailAction::StaticText { text }) => Some(text),
            _ => None,
        }
    }
}

/// `AgentResponse`: the fields Rivvi reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentResponse {
    /// The agent's id.
    pub agent_id: String,
    /// This version's number.
    pub version: u32,
    /// Whether this version is published.
    #[serde(default)]
    pub is_published: Option<bool>,
    /// The LLM that answers.
    pub response_engine: ResponseEngine,
    /// The voice.
    pub voice_id: String,
    /// Dashboard name.
    #[serde(default)]
    pub agent_name: Option<String>,
    /// Voicemail behaviour.
    #[serde(default)]
    pub voicemail_option: Option<VoicemailOption>,
    /// Analysis fields.
    #[serde(default)]
    pub post_call_analysis_data: Option<Vec<Value>>,
    /// Where call events go.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Unix ms.
    pub last_modification_timestamp: i64,
}

impl AgentResponse {
    /// The version this answer describes.
    pub fn agent_version(&self) -> AgentVersion {
        AgentVersion { version: self.version, published: self.is_published.unwrap_or(false) }
    }
}

/// `POST /publish-agent-version/{agent_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishAgentVersionRequest {
    /// The draft version to publish.
    pub version: u32,
    /// Shown beside the version in Retell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_description: Option<String>,
}
