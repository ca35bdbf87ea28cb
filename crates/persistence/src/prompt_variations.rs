//! AI-suggested prompt variations of a campaign: drafts with their author, request, proposal,
//! diff and warnings, applied at most once. Prompt text is configuration, not patient data.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CampaignId, PromptVariationId, PromptVersionId, UserId};
use rivvi_domain::prompt::VariationWarning;
use sea_orm::{ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::entities::prompt_variations;
use crate::org_owned::InOrg;
use crate::time::now;
use crate::{OrgScope, PersistenceError, Result};

/// A stored variation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptVariation {
    pub id: PromptVariationId,
    pub campaign_id: CampaignId,
    pub author_user_id: Option<UserId>,
    /// What the user asked for, in their words.
    pub request: String,
    /// The base prompt it varies.
    pub base_prompt: String,
    pub proposed_prompt: String,
    pub summary: String,
    /// Unified diff of the proposal against [`PromptVariation::base_prompt`].
    pub diff: String,
    /// Findings of the checks; any blocks applying.
    pub warnings: Vec<VariationWarning>,
    /// Set once an operator made it the campaign's prompt.
    pub applied: Option<Applied>,
    pub created_at: DateTime<Utc>,
}

/// When and by whom a variation became the campaign's prompt, and which version it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version_id: PromptVersionId,
    pub by: Option<UserId>,
    pub at: DateTime<Utc>,
}

/// A variation to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPromptVariation {
    pub campaign_id: CampaignId,
    pub author_user_id: Option<UserId>,
    pub request: String,
    pub base_prompt: String,
    pub proposed_prompt: String,
    pub summary: String,
    pub diff: String,
    pub warnings: Vec<VariationWarning>,
}

/// Stores a draft variation of a campaign of `scope`.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn create(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    new: NewPromptVariation,
) -> Result<PromptVariation> {
    crate::campaigns::get(conn, scope, new.campaign_id).await?;
    let warnings = serde_json::to_value(&new.warnings).map_err(|_| PersistenceError::Invalid {
        field: "warnings",
        reason: "cannot be written as JSON".into(),
    })?;
    let row = prompt_variations::Model {
        id: PromptVariationId::new().as_uuid(),
        org_id: scope.org_id().as_uuid(),
        campaign_id: new.campaign_id.as_uuid(),
        author_user_id: new.author_user_id.map(|u| u.as_uuid()),
        request: new.request,
        base_prompt: new.base_prompt,
        proposed_prompt: new.proposed_prompt,
        summary: new.summary,
        diff: new.diff,
        warnings,
        applied_version_id: None,
        applied_by: None,
        applied_at: None,
        created_at: now(),
    };
    prompt_variations::Entity::insert(prompt_variations::ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await?;
    row.try_into()
}

/// A variation of `scope`; another organization's is not found.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, variation_id = %id), err(level = "debug"))]
pub async fn get(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: PromptVariationId,
) -> Result<PromptVariation> {
    prompt_variations::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("prompt variation", id))?
        .try_into()
}

/// Marks a variation applied as `version_id`; `false` when it already was (nothing changes).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, variation_id = %id), err(level = "debug"))]
pub async fn mark_applied(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: PromptVariationId,
    version_id: PromptVersionId,
    by: Option<UserId>,
) -> Result<bool> {
    let change = prompt_variations::ActiveModel {
        id: NotSet,
        org_id: NotSet,
        campaign_id: NotSet,
        author_user_id: NotSet,
        request: NotSet,
        base_prompt: NotSet,
        proposed_prompt: NotSet,
        summary: NotSet,
        diff: NotSet,
        warnings: NotSet,
        applied_version_id: Set(Some(version_id.as_uuid())),
        applied_by: Set(by.map(|u| u.as_uuid())),
        applied_at: Set(Some(now())),
        created_at: NotSet,
    };
    let done = prompt_variations::Entity::update_many()
        .set(change)
        .filter(prompt_variations::Column::Id.eq(id.as_uuid()))
        .filter(prompt_variations::Column::AppliedVersionId.is_null())
        .in_org(scope)
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

impl TryFrom<prompt_variations::Model> for PromptVariation {
    type Error = PersistenceError;

    fn try_from(row: prompt_variations::Model) -> Result<Self> {
        let warnings = serde_json::from_value(row.warnings)
            .map_err(|_| PersistenceError::Corrupt { table: "prompt_variations", column: "warnings" })?;
        let applied = match (row.applied_version_id, row.applied_at) {
            (Some(version), Some(at)) => {
                Some(Applied { version_id: PromptVersionId(version), by: row.applied_by.map(UserId), at })
            }
            _ => None,
        };
        Ok(PromptVariation {
            id: PromptVariationId(row.id),
            campaign_id: CampaignId(row.campaign_id),
            author_user_id: row.author_user_id.map(UserId),
            request: row.request,
            base_prompt: row.base_prompt,
            proposed_prompt: row.proposed_prompt,
            summary: row.summary,
            diff: row.diff,
            warnings,
            applied,
            created_at: row.created_at,
        })
    }
}
