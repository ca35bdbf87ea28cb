//! The provider objects Rivvi created for its campaigns (a Retell LLM and an agent each).
//!
//! Provisioning talks to the provider between database writes, so it records each step as it
//! goes: a row before the first object is made, the LLM id once the LLM exists, the agent id once
//! the agent exists, and the campaign once the campaign row is written. Whatever fails in between
//! leaves a row saying what was made; [`resumable`] hands it to the next attempt, which carries on
//! from there instead of making the same objects again.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CampaignId, OrgId};
use sea_orm::prelude::Uuid;
use sea_orm::{ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entities::managed_agents;
use crate::org_owned::{update_row, InOrg};
use crate::time::now;
use crate::{OrgScope, Result};

/// One managed agent, as far as it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedAgent {
    pub id: Uuid,
    pub org_id: OrgId,
    /// Set once the campaign exists.
    pub campaign_id: Option<CampaignId>,
    /// Set once the Retell LLM exists.
    pub llm_id: Option<String>,
    /// Set once the agent exists.
    pub agent_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The organization's unfinished provisioning (no campaign yet), oldest first, or a new record.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn resumable(conn: &impl ConnectionTrait, scope: &OrgScope) -> Result<ManagedAgent> {
    let unfinished = managed_agents::Entity::find()
        .in_org(scope)
        .filter(managed_agents::Column::CampaignId.is_null())
        .order_by_asc(managed_agents::Column::CreatedAt)
        .order_by_asc(managed_agents::Column::Id)
        .one(conn)
        .await?;
    if let Some(row) = unfinished {
        return Ok(row.into());
    }
    let at = now();
    let row = managed_agents::Model {
        id: Uuid::now_v7(),
        org_id: scope.org_id().as_uuid(),
        campaign_id: None,
        llm_id: None,
        agent_id: None,
        created_at: at,
        updated_at: at,
    };
    managed_agents::Entity::insert(managed_agents::ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await?;
    Ok(row.into())
}

/// Records the LLM a provisioning created.
pub async fn set_llm(conn: &impl ConnectionTrait, scope: &OrgScope, id: Uuid, llm_id: &str) -> Result<()> {
    update(conn, scope, id, managed_agents::ActiveModel { llm_id: Set(Some(llm_id.to_owned())), ..blank() })
        .await
}

/// Records the agent a provisioning created.
pub async fn set_agent(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: Uuid,
    agent_id: &str,
) -> Result<()> {
    update(
        conn,
        scope,
        id,
        managed_agents::ActiveModel { agent_id: Set(Some(agent_id.to_owned())), ..blank() },
    )
    .await
}

/// Ties a finished provisioning to its campaign (in the transaction that writes the campaign).
pub async fn link(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: Uuid,
    campaign_id: CampaignId,
) -> Result<()> {
    update(
        conn,
        scope,
        id,
        managed_agents::ActiveModel { campaign_id: Set(Some(campaign_id.as_uuid())), ..blank() },
    )
    .await
}

/// The managed agent of a campaign; `None` when its operator attached an existing agent.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, campaign_id = %campaign_id), err(level = "debug"))]
pub async fn of_campaign(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    campaign_id: CampaignId,
) -> Result<Option<ManagedAgent>> {
    let row = managed_agents::Entity::find()
        .in_org(scope)
        .filter(managed_agents::Column::CampaignId.eq(campaign_id.as_uuid()))
        .one(conn)
        .await?;
    Ok(row.map(ManagedAgent::from))
}

fn blank() -> managed_agents::ActiveModel {
    managed_agents::ActiveModel {
        id: NotSet,
        org_id: NotSet,
        campaign_id: NotSet,
        llm_id: NotSet,
        agent_id: NotSet,
        created_at: NotSet,
        updated_at: Set(now()),
    }
}

async fn update(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: Uuid,
    change: managed_agents::ActiveModel,
) -> Result<()> {
    update_row(conn, scope, managed_agents::Entity::update_many().set(change), "managed agent", id).await
}

impl From<managed_agents::Model> for ManagedAgent {
    fn from(row: managed_agents::Model) -> Self {
        ManagedAgent {
            id: row.id,
            org_id: OrgId(row.org_id),
            campaign_id: row.campaign_id.map(CampaignId),
            llm_id: row.llm_id,
            agent_id: row.agent_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
