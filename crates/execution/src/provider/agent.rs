//! The provider side of a campaign: a Retell LLM holding the composed prompt, an agent holding
//! the voicemail behaviour, analysis fields and webhook URL, and the agent's published versions,
//! which are immutable. A run pins one published version; every call of the run names it.

use super::AnalysisFieldSpec;

/// What a Retell LLM holds: the prompt the agent follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmSettings {
    /// The composed prompt (`general_prompt`), `{{placeholders}}` filled per call from the
    /// dynamic variables.
    pub general_prompt: String,
    /// What the agent says first (`begin_message`); `None` lets the model open.
    pub begin_message: Option<String>,
}

/// What a Rivvi-managed agent holds besides its LLM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// Shown in the provider's dashboard (`agent_name`).
    pub name: String,
    /// The Retell LLM that answers (`response_engine`).
    pub llm_id: String,
    /// Spoken when a machine answers (`voicemail_option` static text); `None` hangs up.
    pub voicemail_message: Option<String>,
    /// Extracted after each call (`post_call_analysis_data`).
    pub analysis_fields: Vec<AnalysisFieldSpec>,
    /// Where call events go (`webhook_url`); `None` keeps the account-level URL.
    pub webhook_url: Option<String>,
}

/// One version of an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentVersion {
    /// The version number (Retell counts from 0).
    pub version: u32,
    /// Published versions are immutable; the latest unpublished one is the draft.
    pub published: bool,
}

/// An agent version a run pins: what every call of the run sends as `override_agent_id` and
/// `override_agent_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedAgent {
    /// The provider's agent id.
    pub agent_id: String,
    /// A published version of it.
    pub version: u32,
}
