//! The append-only history of a campaign's composed prompts: who changed what, when and why.
//!
//! Version numbers count up per campaign (a unique index backs them); rows are never updated or
//! deleted. Prompt text is configuration written by operators and staff, not patient data.
//!
//! A run's version is its snapshot: besides the composed prompt and voicemail text, the provider
//! agent version published with exactly them and the variables and analysis fields frozen at
//! `runs.create`, so later campaign edits change later runs only.

use chrono::{DateTime, Utc};
use rivvi_domain::campaign::{AnalysisField, VariableDefinition};
use rivvi_domain::ids::{CampaignId, PromptVersionId, RunId, UserId};
use rivvi_domain::stored::Stored;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::entities::prompt_versions;
use crate::time::now;
use crate::{campaigns, OrgScope, Page, PersistenceError, Result};

/// The provider agent version a run's calls use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedAgent {
    /// The provider's agent id.
    pub agent_id: String,
    /// A published (immutable) version of it.
    pub version: u32,
}

/// What a run froze besides its prompt: the campaign's variables and analysis fields then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrozenFields {
    pub variables: Vec<VariableDefinition>,
    pub analysis_fields: Vec<AnalysisField>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PromptVersionRecord {
    pub id: PromptVersionId,
    pub campaign_id: CampaignId,
    pub run_id: Option<RunId>,
    pub number: u32,
    pub base_prompt: String,
    pub run_instructions: Option<String>,
    pub composed_prompt: String,
    pub voicemail_message: Option<String>,
    /// Unified diff of the composed prompt against the previous version.
    pub diff: String,
    pub author_user_id: Option<UserId>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    /// Set on run versions: the agent version every call of the run names.
    pub agent: Option<PublishedAgent>,
    /// Set on run versions written since runs pin them (older runs read the campaign's).
    pub frozen: Option<FrozenFields>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewPromptVersion {
    pub run_id: Option<RunId>,
    pub base_prompt: String,
    pub run_instructions: Option<String>,
    pub composed_prompt: String,
    pub voicemail_message: Option<String>,
    pub diff: String,
    pub author_user_id: Option<UserId>,
    pub reason: String,
    pub agent: Option<PublishedAgent>,
    pub frozen: Option<FrozenFields>,
}

/// Appends the next version of a campaign of `scope` (NotFound for another organization's).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, campaign_id = %campaign_id), err(level = "debug"))]
pub async fn append(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    campaign_id: CampaignId,
    new: NewPromptVersion,
) -> Result<PromptVersionRecord> {
    campaigns::get(conn, scope, campaign_id).await?;
    let number = latest_number(conn, campaign_id).await? + 1;
    let row = prompt_versions::Model {
        id: PromptVersionId::new().as_uuid(),
        campaign_id: campaign_id.as_uuid(),
        run_id: new.run_id.map(|r| r.as_uuid()),
        number: i32::try_from(number).unwrap_or(i32::MAX),
        base_prompt: new.base_prompt,
        run_instructions: new.run_instructions,
        composed_prompt: new.composed_prompt,
        voicemail_message: new.voicemail_message,
        diff: new.diff,
        author_user_id: new.author_user_id.map(|u| u.as_uuid()),
        reason: new.reason,
        created_at: now(),
        agent_id: new.agent.as_ref().map(|a| a.agent_id.clone()),
        agent_version: new.agent.as_ref().map(|a| i32::try_from(a.version).unwrap_or(i32::MAX)),
        variables: new.frozen.as_ref().map(|f| json(&f.variables)).transpose()?,
        analysis_fields: new.frozen.as_ref().map(|f| json(&f.analysis_fields)).transpose()?,
    };
    prompt_versions::Entity::insert(prompt_versions::ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await?;
    row.try_into()
}

/// The newest version of a campaign of `scope`, if any.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, campaign_id = %campaign_id), err(level = "debug"))]
pub async fn latest(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    campaign_id: CampaignId,
) -> Result<Option<PromptVersionRecord>> {
    campaigns::get(conn, scope, campaign_id).await?;
    let row = prompt_versions::Entity::find()
        .filter(prompt_versions::Column::CampaignId.eq(campaign_id.as_uuid()))
        .order_by_desc(prompt_versions::Column::Number)
        .one(conn)
        .await?;
    row.map(PromptVersionRecord::try_from).transpose()
}

/// A campaign's versions, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, campaign_id = %campaign_id), err(level = "debug"))]
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    campaign_id: CampaignId,
    page: Page,
) -> Result<(Vec<PromptVersionRecord>, u64)> {
    campaigns::get(conn, scope, campaign_id).await?;
    let query =
        prompt_versions::Entity::find().filter(prompt_versions::Column::CampaignId.eq(campaign_id.as_uuid()));
    let (rows, total) = page.fetch(conn, query, |q| q.order_by_desc(prompt_versions::Column::Number)).await?;
    let versions = rows.into_iter().map(PromptVersionRecord::try_from).collect::<Result<Vec<_>>>()?;
    Ok((versions, total))
}

async fn latest_number(conn: &impl ConnectionTrait, campaign_id: CampaignId) -> Result<u32> {
    let row = prompt_versions::Entity::find()
        .filter(prompt_versions::Column::CampaignId.eq(campaign_id.as_uuid()))
        .order_by_desc(prompt_versions::Column::Number)
        .one(conn)
        .await?;
    Ok(row.map_or(0, |r| u32::try_from(r.number).unwrap_or(0)))
}

/// One version of a campaign of `scope` (NotFound for another organization's).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, version_id = %id), err(level = "debug"))]
pub async fn get(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    campaign_id: CampaignId,
    id: PromptVersionId,
) -> Result<PromptVersionRecord> {
    campaigns::get(conn, scope, campaign_id).await?;
    prompt_versions::Entity::find_by_id(id.as_uuid())
        .filter(prompt_versions::Column::CampaignId.eq(campaign_id.as_uuid()))
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("prompt version", id))?
        .try_into()
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|_| PersistenceError::Invalid {
        field: "prompt_version",
        reason: "cannot be written as JSON".into(),
    })
}

fn frozen<T>(value: Value, column: &'static str) -> Result<Vec<T>>
where
    Stored<T>: DeserializeOwned,
{
    let stored: Vec<Stored<T>> = serde_json::from_value(value)
        .map_err(|_| PersistenceError::Corrupt { table: "prompt_versions", column })?;
    Ok(stored.into_iter().map(Stored::into_inner).collect())
}

impl TryFrom<prompt_versions::Model> for PromptVersionRecord {
    type Error = PersistenceError;

    fn try_from(row: prompt_versions::Model) -> Result<Self> {
        let agent = match (row.agent_id, row.agent_version) {
            (Some(agent_id), Some(version)) => Some(PublishedAgent {
                agent_id,
                version: u32::try_from(version).map_err(|_| PersistenceError::Corrupt {
                    table: "prompt_versions",
                    column: "agent_version",
                })?,
            }),
            _ => None,
        };
        let frozen = match (row.variables, row.analysis_fields) {
            (Some(variables), Some(fields)) => Some(FrozenFields {
                variables: frozen(variables, "variables")?,
                analysis_fields: frozen(fields, "analysis_fields")?,
            }),
            _ => None,
        };
        Ok(PromptVersionRecord {
            id: PromptVersionId(row.id),
            campaign_id: CampaignId(row.campaign_id),
            run_id: row.run_id.map(RunId),
            number: u32::try_from(row.number).unwrap_or(0),
            base_prompt: row.base_prompt,
            run_instructions: row.run_instructions,
            composed_prompt: row.composed_prompt,
            voicemail_message: row.voicemail_message,
            diff: row.diff,
            author_user_id: row.author_user_id.map(UserId),
            reason: row.reason,
            created_at: row.created_at,
            agent,
            frozen,
        })
    }
}
