//! The append-only history of a campaign's composed prompts: who changed what, when and why.
//!
//! Version numbers count up per campaign (a unique index backs them); rows are never updated or
//! deleted. Prompt text is configuration written by operators and staff, not patient data.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CampaignId, PromptVersionId, RunId, UserId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::prompt_versions;
use crate::time::now;
use crate::{campaigns, OrgScope, Page, Result};

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
    };
    prompt_versions::Entity::insert(prompt_versions::ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await?;
    Ok(row.into())
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
    Ok(row.map(PromptVersionRecord::from))
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
    Ok((rows.into_iter().map(PromptVersionRecord::from).collect(), total))
}

async fn latest_number(conn: &impl ConnectionTrait, campaign_id: CampaignId) -> Result<u32> {
    let row = prompt_versions::Entity::find()
        .filter(prompt_versions::Column::CampaignId.eq(campaign_id.as_uuid()))
        .order_by_desc(prompt_versions::Column::Number)
        .one(conn)
        .await?;
    Ok(row.map_or(0, |r| u32::try_from(r.number).unwrap_or(0)))
}

impl From<prompt_versions::Model> for PromptVersionRecord {
    fn from(row: prompt_versions::Model) -> Self {
        PromptVersionRecord {
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
        }
    }
}
