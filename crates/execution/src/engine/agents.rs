//! The provider agent behind a campaign, and the published version each run pins (DESIGN.md §6).
//!
//! - [`Engine::provision_agent`]: for a campaign created without an agent, creates its Retell
//!   LLM and agent, recording each in `managed_agents` as soon as it exists; an attempt that
//!   failed half-way is resumed by the next one, which updates what exists instead of making
//!   it again.
//! - [`Engine::publish_agent_version`]: before a run is written, publishes an agent version that
//!   carries exactly the run's composed prompt, voicemail text and analysis fields (on a managed
//!   agent: update the LLM and the agent's draft, then publish it), or, for an agent an operator
//!   attached, publishes its current draft as is. Published versions are immutable, so what the
//!   run's calls use never changes afterwards.
//!
//! A managed agent has one draft, so publications of one campaign must not interleave (run A's
//! prompt published under run B's version): they hold a campaign lock (a PostgreSQL advisory
//! lock shared by every instance, plus this instance's mutex, which is all SQLite needs).

use rivvi_domain::campaign::{AgentId, AnalysisField};
use rivvi_domain::ids::CampaignId;
use rivvi_persistence::managed_agents::{self, ManagedAgent};
use rivvi_persistence::prompt_versions::PublishedAgent;
use rivvi_persistence::{engine_queries, OrgScope};
use sea_orm::{prelude::Uuid, ConnectionTrait, DatabaseTransaction, DbBackend, TransactionTrait};

use super::{Engine, EngineError};
use crate::provider::{AgentConfig, AnalysisFieldSpec, LlmSettings};

/// What a managed agent version holds.
#[derive(Debug, Clone, Copy)]
pub struct AgentContent<'a> {
    /// The campaign's name (the agent's name at the provider).
    pub campaign_name: &'a str,
    /// The composed prompt.
    pub prompt: &'a str,
    /// The static voicemail text; `None` hangs up on machines.
    pub voicemail_message: Option<&'a str>,
    /// The campaign's post-call analysis fields (the version also asks for the built-in
    /// opt-out field).
    pub analysis_fields: &'a [AnalysisField],
}

/// A campaign's newly provisioned agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedAgent {
    /// The `managed_agents` record, to be linked to the campaign when it is written.
    pub record_id: Uuid,
    /// The agent the campaign's calls run on.
    pub agent_id: AgentId,
}

impl Engine {
    /// Creates (or finishes creating) a Retell LLM and agent for a campaign about to be written,
    /// holding `content`. See the module docs.
    pub async fn provision_agent(
        &self,
        scope: &OrgScope,
        content: AgentContent<'_>,
    ) -> Result<ProvisionedAgent, EngineError> {
        // Two instances must not resume the same unfinished record.
        let _one_at_a_time = self.agent_lock.lock().await;
        let _shared = self.shared_lock(&format!("provision:{}", scope.org_id())).await?;
        let record = managed_agents::resumable(&self.db, scope).await?;
        let llm = LlmSettings { general_prompt: content.prompt.to_owned(), begin_message: None };
        let llm_id = match &record.llm_id {
            Some(llm_id) => {
                self.provider.update_llm(llm_id, &llm).await?;
                llm_id.clone()
            }
            None => {
                let llm_id = self.provider.create_llm(&llm).await?;
                self.record(managed_agents::set_llm(&self.db, scope, record.id, &llm_id).await, &llm_id)?;
                llm_id
            }
        };
        let settings = self.agent_settings(content, &llm_id);
        let agent_id = match &record.agent_id {
            Some(agent_id) => {
                self.provider.update_agent(agent_id, &settings).await?;
                agent_id.clone()
            }
            None => {
                let (agent_id, _draft) = self.provider.create_agent(&settings).await?;
                self.record(
                    managed_agents::set_agent(&self.db, scope, record.id, &agent_id).await,
                    &agent_id,
                )?;
                agent_id
            }
        };
        let agent_id = AgentId::parse(&agent_id).map_err(|_| {
            EngineError::Provider(crate::provider::ProviderError::Protocol(format!(
                "the provider named its agent {agent_id:?}"
            )))
        })?;
        Ok(ProvisionedAgent { record_id: record.id, agent_id })
    }

    /// Publishes the agent version a new run of `campaign_id` pins. See the module docs.
    pub async fn publish_agent_version(
        &self,
        scope: &OrgScope,
        campaign_id: CampaignId,
        agent_id: &AgentId,
        content: AgentContent<'_>,
    ) -> Result<PublishedAgent, EngineError> {
        let _one_at_a_time = self.agent_lock.lock().await;
        let _shared = self.shared_lock(&format!("agent:{campaign_id}")).await?;
        let managed = managed_agents::of_campaign(&self.db, scope, campaign_id).await?;
        let version = match managed {
            Some(ManagedAgent { llm_id: Some(llm_id), agent_id: Some(managed_id), .. })
                if managed_id == agent_id.as_str() =>
            {
                let llm = LlmSettings { general_prompt: content.prompt.to_owned(), begin_message: None };
                self.provider.update_llm(&llm_id, &llm).await?;
                let draft =
                    self.provider.update_agent(&managed_id, &self.agent_settings(content, &llm_id)).await?;
                self.provider.publish_agent_version(&managed_id, draft.version).await?;
                draft.version
            }
            // An attached agent (or one an operator put in place of the managed one): Rivvi
            // versions it as it stands.
            _ => self.publish_current_draft(agent_id.as_str()).await?,
        };
        tracing::info!(campaign_id = %campaign_id, agent_id = %agent_id, version, "agent version published for a run");
        Ok(PublishedAgent { agent_id: agent_id.to_string(), version })
    }

    /// On PostgreSQL, a transaction holding the advisory lock `key` (shared by every instance)
    /// until it is dropped; it writes nothing, everything else goes through the pool. SQLite
    /// has one instance, which [`Engine::agent_lock`] already serializes: `None`.
    async fn shared_lock(&self, key: &str) -> Result<Option<DatabaseTransaction>, EngineError> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let txn = self.db.begin().await?;
        engine_queries::lock_key(&txn, key).await?;
        Ok(Some(txn))
    }

    /// Publishes an agent's draft; with none (everything published), the latest version.
    async fn publish_current_draft(&self, agent_id: &str) -> Result<u32, EngineError> {
        let versions = self.provider.agent_versions(agent_id).await?;
        if let Some(draft) = versions.iter().filter(|v| !v.published).max_by_key(|v| v.version) {
            self.provider.publish_agent_version(agent_id, draft.version).await?;
            return Ok(draft.version);
        }
        versions.iter().map(|v| v.version).max().ok_or_else(|| {
            EngineError::Provider(crate::provider::ProviderError::Protocol(format!(
                "agent {agent_id} has no versions"
            )))
        })
    }

    fn agent_settings(&self, content: AgentContent<'_>, llm_id: &str) -> AgentConfig {
        AgentConfig {
            name: content.campaign_name.to_owned(),
            llm_id: llm_id.to_owned(),
            voicemail_message: content.voicemail_message.map(str::to_owned),
            analysis_fields: AnalysisFieldSpec::requested(content.analysis_fields),
            webhook_url: self.settings.agent_webhook_url.clone(),
        }
    }

    /// A provider object exists but could not be recorded: say which, loudly, so an operator can
    /// find it (the error itself goes back to the caller).
    fn record(
        &self,
        written: Result<(), rivvi_persistence::PersistenceError>,
        provider_id: &str,
    ) -> Result<(), EngineError> {
        written.map_err(|err| {
            tracing::error!(provider_id, error = %err, "a provider object was created but could not be recorded");
            EngineError::Persistence(err)
        })
    }
}
