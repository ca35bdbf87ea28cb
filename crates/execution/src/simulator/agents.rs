//! The simulator's Retell LLMs and agents, with Retell's versioning: an update changes the latest
//! draft, publishing freezes a draft in place (with the LLM's prompt as it was then) and opens the
//! next draft, and a call names a published version (or takes the latest one).
//!
//! An agent id the simulator did not create stands for one an operator configured in Retell's
//! dashboard: reading its versions or publishing it makes it appear, on an LLM holding
//! [`DASHBOARD_PROMPT`], with one draft.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SimError;
use crate::provider::AnalysisFieldSpec;
use crate::retell::api::{
    AgentRequest, AgentResponse, ResponseEngine, RetellLlmRequest, RetellLlmResponse, VoicemailAction,
    VoicemailOption,
};
use crate::retell::DEFAULT_VOICE_ID;

/// The prompt of an agent "configured in the dashboard" (see the module docs).
pub const DASHBOARD_PROMPT: &str = "You are calling {{first_name}} on behalf of the clinic's care team.";

/// What a call of a given agent version runs on: what the simulator says the patient heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeardAgent {
    /// The agent.
    pub agent_id: String,
    /// The version the call used.
    pub version: u32,
    /// The LLM's prompt in that version.
    pub prompt: String,
    /// The voicemail text in that version.
    pub voicemail_message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Llm {
    general_prompt: String,
    begin_message: Option<String>,
    modified_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AgentVersionState {
    request: AgentRequest,
    /// The LLM's prompt frozen at publication; drafts read the LLM live.
    frozen_prompt: Option<String>,
    published: bool,
    modified_ms: i64,
}

/// Kept in a file when the simulator is given one ([`super::SimulatorConfig::agents_file`]), as
/// Retell keeps them: a campaign's managed agent outlives a restart of the server.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Agents {
    llms: HashMap<String, Llm>,
    /// Versions by agent, index = version number.
    agents: HashMap<String, Vec<AgentVersionState>>,
}

impl Agents {
    /// The agents kept in `path`, or none when there is no file yet. A file that does not read
    /// is left alone (logged) and the simulator starts empty.
    pub(super) fn load(path: &std::path::Path) -> Agents {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!(path = %path.display(), error = %err, "simulator agents file unreadable: starting empty");
                Agents::default()
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Agents::default(),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "simulator agents file unreadable: starting empty");
                Agents::default()
            }
        }
    }

    /// Writes the agents to `path` (a temporary file renamed over it, so a crash leaves the
    /// previous state whole). Failing is logged: the simulator goes on in memory.
    pub(super) fn save(&self, path: &std::path::Path) {
        let written = serde_json::to_vec(self).map_err(std::io::Error::other).and_then(|bytes| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let temp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
            std::fs::write(&temp, bytes)?;
            std::fs::rename(&temp, path)
        });
        if let Err(err) = written {
            tracing::warn!(path = %path.display(), error = %err, "simulator agents not saved");
        }
    }

    pub(super) fn create_llm(&mut self, request: RetellLlmRequest, now_ms: i64) -> RetellLlmResponse {
        let llm_id = format!("llm_{}", uuid::Uuid::new_v4().simple());
        let llm = Llm {
            general_prompt: request.general_prompt.unwrap_or_default(),
            begin_message: request.begin_message,
            modified_ms: now_ms,
        };
        let answer = llm_response(&llm_id, &llm);
        self.llms.insert(llm_id, llm);
        answer
    }

    pub(super) fn update_llm(
        &mut self,
        llm_id: &str,
        request: RetellLlmRequest,
        now_ms: i64,
    ) -> Result<RetellLlmResponse, SimError> {
        let llm = self.llms.get_mut(llm_id).ok_or(SimError::NotFound)?;
        if let Some(prompt) = request.general_prompt {
            llm.general_prompt = prompt;
        }
        llm.begin_message = request.begin_message;
        llm.modified_ms = now_ms;
        Ok(llm_response(llm_id, llm))
    }

    pub(super) fn create_agent(
        &mut self,
        request: AgentRequest,
        now_ms: i64,
    ) -> Result<AgentResponse, SimError> {
        self.check_engine(&request.response_engine)?;
        if request.voice_id.as_deref().is_none_or(str::is_empty) {
            return Err(SimError::InvalidRequest("voice_id is required".into()));
        }
        let agent_id = format!("agent_{}", uuid::Uuid::new_v4().simple());
        let draft = AgentVersionState { request, frozen_prompt: None, published: false, modified_ms: now_ms };
        let answer = agent_response(&agent_id, 0, &draft);
        self.agents.insert(agent_id, vec![draft]);
        Ok(answer)
    }

    /// Replaces the latest draft's settings (Retell's `update-agent` without `version`).
    pub(super) fn update_agent(
        &mut self,
        agent_id: &str,
        request: AgentRequest,
        now_ms: i64,
    ) -> Result<AgentResponse, SimError> {
        self.check_engine(&request.response_engine)?;
        let versions = self.agents.get_mut(agent_id).ok_or(SimError::NotFound)?;
        let number = versions.len() - 1;
        let draft = &mut versions[number];
        let voice_id = request.voice_id.clone().or_else(|| draft.request.voice_id.clone());
        draft.request = AgentRequest { voice_id, ..request };
        draft.modified_ms = now_ms;
        Ok(agent_response(agent_id, number, draft))
    }

    /// An agent id seen for the first time, as if configured in the dashboard.
    fn dashboard_agent(&mut self, agent_id: &str, now_ms: i64) {
        if self.agents.contains_key(agent_id) || !agent_id.starts_with("agent_") {
            return;
        }
        let llm = RetellLlmRequest {
            general_prompt: Some(DASHBOARD_PROMPT.to_owned()),
            begin_message: None,
            start_speaker: Some("agent".to_owned()),
        };
        let llm_id = self.create_llm(llm, now_ms).llm_id;
        let request = AgentRequest {
            response_engine: ResponseEngine { kind: "retell-llm".to_owned(), llm_id, version: None },
            voice_id: Some(DEFAULT_VOICE_ID.to_owned()),
            agent_name: Some(agent_id.to_owned()),
            voicemail_option: Some(VoicemailOption { action: VoicemailAction::Hangup }),
            post_call_analysis_data: None,
            webhook_url: None,
        };
        let draft = AgentVersionState { request, frozen_prompt: None, published: false, modified_ms: now_ms };
        self.agents.insert(agent_id.to_owned(), vec![draft]);
    }

    /// Publishes a draft in place and opens the next draft as a copy of it.
    pub(super) fn publish(&mut self, agent_id: &str, version: u32, now_ms: i64) -> Result<(), SimError> {
        self.dashboard_agent(agent_id, now_ms);
        let versions = self.agents.get_mut(agent_id).ok_or(SimError::NotFound)?;
        let index = usize::try_from(version).unwrap_or(usize::MAX);
        let draft = versions
            .get_mut(index)
            .ok_or_else(|| SimError::InvalidRequest(format!("agent version {version} does not exist")))?;
        if draft.published {
            return Err(SimError::InvalidRequest(format!("agent version {version} is already published")));
        }
        let llm = self
            .llms
            .get(&draft.request.response_engine.llm_id)
            .ok_or_else(|| SimError::InvalidRequest("the agent's llm does not exist".into()))?;
        draft.frozen_prompt = Some(llm.general_prompt.clone());
        draft.published = true;
        draft.modified_ms = now_ms;
        let next = AgentVersionState { frozen_prompt: None, published: false, ..draft.clone() };
        if index + 1 == versions.len() {
            versions.push(next);
        }
        Ok(())
    }

    pub(super) fn versions(&mut self, agent_id: &str, now_ms: i64) -> Result<Vec<AgentResponse>, SimError> {
        self.dashboard_agent(agent_id, now_ms);
        let versions = self.agents.get(agent_id).ok_or(SimError::NotFound)?;
        Ok(versions.iter().enumerate().map(|(n, v)| agent_response(agent_id, n, v)).collect())
    }

    /// What a call of `agent_id` at `version` runs on: that published version, or without a
    /// version the latest published one (the draft if none is). `None` for agents the simulator
    /// did not create (calls then run on its built-in script).
    pub(super) fn resolve(
        &self,
        agent_id: &str,
        version: Option<&Value>,
    ) -> Result<Option<HeardAgent>, SimError> {
        let Some(versions) = self.agents.get(agent_id) else {
            return match version {
                Some(_) => Err(SimError::InvalidRequest(format!("agent {agent_id} not found"))),
                None => Ok(None),
            };
        };
        let (number, chosen) = match version {
            Some(v) => {
                let number = version_number(v).ok_or_else(|| {
                    SimError::InvalidRequest("override_agent_version must be a number".into())
                })?;
                let chosen = versions
                    .get(usize::try_from(number).unwrap_or(usize::MAX))
                    .filter(|v| v.published)
                    .ok_or_else(|| {
                        SimError::InvalidRequest(format!("agent version {number} is not a published version"))
                    })?;
                (number, chosen)
            }
            None => {
                let (n, chosen) = versions
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|(_, v)| v.published)
                    .unwrap_or((versions.len() - 1, &versions[versions.len() - 1]));
                (u32::try_from(n).unwrap_or(u32::MAX), chosen)
            }
        };
        let prompt = match &chosen.frozen_prompt {
            Some(prompt) => prompt.clone(),
            None => self
                .llms
                .get(&chosen.request.response_engine.llm_id)
                .map(|l| l.general_prompt.clone())
                .unwrap_or_default(),
        };
        Ok(Some(HeardAgent {
            agent_id: agent_id.to_owned(),
            version: number,
            prompt,
            voicemail_message: chosen.request.voicemail_text().map(str::to_owned),
        }))
    }

    /// The analysis fields of a resolved agent version.
    pub(super) fn fields(&self, heard: &HeardAgent) -> Option<Vec<AnalysisFieldSpec>> {
        let versions = self.agents.get(&heard.agent_id)?;
        let version = versions.get(usize::try_from(heard.version).ok()?)?;
        let items = version.request.post_call_analysis_data.as_ref()?;
        Some(items.iter().filter_map(AnalysisFieldSpec::from_retell).collect())
    }

    fn check_engine(&self, engine: &ResponseEngine) -> Result<(), SimError> {
        if engine.kind != "retell-llm" {
            return Err(SimError::InvalidRequest("response_engine.type must be retell-llm".into()));
        }
        if !self.llms.contains_key(&engine.llm_id) {
            return Err(SimError::InvalidRequest(format!("llm {} not found", engine.llm_id)));
        }
        Ok(())
    }
}

/// Retell accepts a version as a number or a numeric string.
fn version_number(value: &Value) -> Option<u32> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn llm_response(llm_id: &str, llm: &Llm) -> RetellLlmResponse {
    RetellLlmResponse {
        llm_id: llm_id.to_owned(),
        version: Some(0),
        is_published: Some(false),
        general_prompt: Some(llm.general_prompt.clone()),
        begin_message: llm.begin_message.clone(),
        last_modification_timestamp: llm.modified_ms,
    }
}

fn agent_response(agent_id: &str, number: usize, version: &AgentVersionState) -> AgentResponse {
    let request = &version.request;
    AgentResponse {
        agent_id: agent_id.to_owned(),
        version: u32::try_from(number).unwrap_or(u32::MAX),
        is_published: Some(version.published),
        response_engine: request.response_engine.clone(),
        voice_id: request.voice_id.clone().unwrap_or_default(),
        agent_name: request.agent_name.clone(),
        voicemail_option: request.voicemail_option.clone(),
        post_call_analysis_data: request.post_call_analysis_data.clone(),
        webhook_url: request.webhook_url.clone(),
        last_modification_timestamp: version.modified_ms,
    }
}
