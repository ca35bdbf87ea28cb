//! Campaigns of one organization. Operators configure them; members read them.
//!
//! `variables`, `analysis_fields` and `retry_policy` are JSON values here; the typed domain
//! definitions are parsed and validated before a change reaches this module.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CampaignId, OrgId, PromptVersionId, UserId};
use sea_orm::{ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::Value;

use crate::entities::campaigns;
use crate::org_owned::InOrg;
use crate::time::now;
use crate::{OrgScope, PersistenceError, Result};

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    pub id: CampaignId,
    pub org_id: OrgId,
    pub name: String,
    /// `outbound` | `inbound`.
    pub direction: String,
    /// `active` | `paused` | `archived`.
    pub status: String,
    pub agent_id: String,
    pub base_prompt: String,
    pub voicemail_message: Option<String>,
    pub variables: Value,
    pub analysis_fields: Value,
    pub retry_policy: Value,
    pub current_prompt_version_id: Option<PromptVersionId>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A campaign to create. The status starts as given (normally `active`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    pub name: String,
    pub direction: String,
    pub status: String,
    pub agent_id: String,
    pub base_prompt: String,
    pub voicemail_message: Option<String>,
    pub variables: Value,
    pub analysis_fields: Value,
    pub retry_policy: Value,
    pub created_by: Option<UserId>,
}

/// A change to a campaign. `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignChange {
    pub name: Option<String>,
    pub status: Option<String>,
    pub agent_id: Option<String>,
    pub base_prompt: Option<String>,
    pub voicemail_message: Option<Option<String>>,
    pub variables: Option<Value>,
    pub analysis_fields: Option<Value>,
    pub retry_policy: Option<Value>,
    /// Must name a version of this campaign, written in the same transaction (prompt versioning
    /// owns this field; nothing here checks it).
    pub current_prompt_version_id: Option<Option<PromptVersionId>>,
}

impl CampaignChange {
    /// The names of the fields this change sets, for the audit log.
    pub fn changed_fields(&self) -> Vec<&'static str> {
        let set = [
            (self.name.is_some(), "name"),
            (self.status.is_some(), "status"),
            (self.agent_id.is_some(), "agent_id"),
            (self.base_prompt.is_some(), "base_prompt"),
            (self.voicemail_message.is_some(), "voicemail_message"),
            (self.variables.is_some(), "variables"),
            (self.analysis_fields.is_some(), "analysis_fields"),
            (self.retry_policy.is_some(), "retry_policy"),
            (self.current_prompt_version_id.is_some(), "current_prompt_version_id"),
        ];
        set.into_iter().filter(|(is_set, _)| *is_set).map(|(_, name)| name).collect()
    }
}

/// The organization's campaigns, by name.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list(conn: &impl ConnectionTrait, scope: &OrgScope) -> Result<Vec<CampaignRecord>> {
    let rows = campaigns::Entity::find()
        .in_org(scope)
        .order_by_asc(campaigns::Column::Name)
        .order_by_asc(campaigns::Column::Id)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(CampaignRecord::from).collect())
}

/// One campaign of the organization; a campaign of another organization is not found.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, campaign_id = %id), err(level = "debug"))]
pub async fn get(conn: &impl ConnectionTrait, scope: &OrgScope, id: CampaignId) -> Result<CampaignRecord> {
    campaigns::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .map(CampaignRecord::from)
        .ok_or_else(|| PersistenceError::not_found("campaign", id))
}

/// Creates a campaign in the organization. A name already used there is a `Conflict` on
/// [`crate::constraints::CAMPAIGNS_ORG_ID_NAME`].
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn create(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    new: NewCampaign,
) -> Result<CampaignRecord> {
    let at = now();
    let row = campaigns::Model {
        id: CampaignId::new().as_uuid(),
        org_id: scope.org_id().as_uuid(),
        name: new.name,
        direction: new.direction,
        status: new.status,
        agent_id: new.agent_id,
        base_prompt: new.base_prompt,
        voicemail_message: new.voicemail_message,
        variables: new.variables,
        analysis_fields: new.analysis_fields,
        retry_policy: new.retry_policy,
        current_prompt_version_id: None,
        created_by: new.created_by.map(|user| user.as_uuid()),
        created_at: at,
        updated_at: at,
    };
    campaigns::Entity::insert(campaigns::ActiveModel::from(row.clone())).exec_without_returning(conn).await?;
    Ok(row.into())
}

/// Applies `change` to a campaign of the organization and returns it as stored. An empty change
/// writes nothing.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, campaign_id = %id), err(level = "debug"))]
pub async fn update(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CampaignId,
    change: CampaignChange,
) -> Result<CampaignRecord> {
    if change.changed_fields().is_empty() {
        return get(conn, scope, id).await;
    }
    let row = campaigns::ActiveModel {
        name: change.name.map_or(NotSet, Set),
        status: change.status.map_or(NotSet, Set),
        agent_id: change.agent_id.map_or(NotSet, Set),
        base_prompt: change.base_prompt.map_or(NotSet, Set),
        voicemail_message: change.voicemail_message.map_or(NotSet, Set),
        variables: change.variables.map_or(NotSet, Set),
        analysis_fields: change.analysis_fields.map_or(NotSet, Set),
        retry_policy: change.retry_policy.map_or(NotSet, Set),
        current_prompt_version_id: change
            .current_prompt_version_id
            .map_or(NotSet, |version| Set(version.map(|v| v.as_uuid()))),
        updated_at: Set(now()),
        ..Default::default()
    };
    let updated = campaigns::Entity::update_many()
        .set(row)
        .filter(campaigns::Column::Id.eq(id.as_uuid()))
        .in_org(scope)
        .exec(conn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(PersistenceError::not_found("campaign", id));
    }
    get(conn, scope, id).await
}

impl From<campaigns::Model> for CampaignRecord {
    fn from(row: campaigns::Model) -> Self {
        CampaignRecord {
            id: CampaignId(row.id),
            org_id: OrgId(row.org_id),
            name: row.name,
            direction: row.direction,
            status: row.status,
            agent_id: row.agent_id,
            base_prompt: row.base_prompt,
            voicemail_message: row.voicemail_message,
            variables: row.variables,
            analysis_fields: row.analysis_fields,
            retry_policy: row.retry_policy,
            current_prompt_version_id: row.current_prompt_version_id.map(PromptVersionId),
            created_by: row.created_by.map(UserId),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
