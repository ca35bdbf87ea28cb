//! Campaigns of one organization. Operators configure them; members read them.
//!
//! A campaign goes in and comes out as the domain's [`CampaignDefinition`]: its lists (variables,
//! analysis fields, retry policy) are JSON columns written from the validated values and decoded
//! once when the row is read, straight into the domain types, without validating them again.

use chrono::{DateTime, Utc};
use rivvi_domain::campaign::{
    AgentId, AnalysisField, CampaignDefinition, CampaignField, CampaignStatus, Direction, StoredCampaign,
    VariableDefinition,
};
use rivvi_domain::ids::{CampaignId, OrgId, PromptVersionId, UserId};
use rivvi_domain::retry::RetryPolicy;
use rivvi_domain::stored::Stored;
use rivvi_domain::Patch;
use sea_orm::prelude::Uuid;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    Set,
};
use serde_json::Value;

use crate::entities::campaigns;
use crate::json_text::JsonText;
use crate::org_owned::{update_row, InOrg};
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

/// A stored campaign: its configuration plus identity and bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: CampaignId,
    pub org_id: OrgId,
    pub definition: CampaignDefinition,
    pub current_prompt_version_id: Option<PromptVersionId>,
    /// Inbound campaigns: the published agent version the inbound webhook answers with.
    pub inbound_agent_version: Option<u32>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to a campaign: `None` (or [`Patch::Keep`]) leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignChange {
    pub name: Option<String>,
    pub status: Option<CampaignStatus>,
    pub agent_id: Option<AgentId>,
    pub base_prompt: Option<String>,
    pub voicemail_message: Patch<String>,
    pub variables: Option<Vec<VariableDefinition>>,
    pub analysis_fields: Option<Vec<AnalysisField>>,
    pub retry_policy: Option<RetryPolicy>,
    /// Must name a version of this campaign, written in the same transaction (prompt versioning
    /// owns this field; nothing here checks it).
    pub current_prompt_version_id: Patch<PromptVersionId>,
}

impl CampaignChange {
    /// The change that writes `fields` of `definition` (an update the domain validated).
    pub fn of(definition: &CampaignDefinition, fields: &[CampaignField]) -> Self {
        let has = |field: CampaignField| fields.contains(&field);
        CampaignChange {
            name: has(CampaignField::Name).then(|| definition.name().to_owned()),
            status: has(CampaignField::Status).then(|| definition.status()),
            agent_id: has(CampaignField::AgentId).then(|| definition.agent_id().clone()),
            base_prompt: has(CampaignField::BasePrompt).then(|| definition.base_prompt().to_owned()),
            voicemail_message: match has(CampaignField::VoicemailMessage) {
                true => Patch::to(definition.voicemail_message().map(str::to_owned)),
                false => Patch::Keep,
            },
            variables: has(CampaignField::Variables).then(|| definition.variables().to_vec()),
            analysis_fields: has(CampaignField::AnalysisFields)
                .then(|| definition.analysis_fields().to_vec()),
            retry_policy: has(CampaignField::RetryPolicy).then(|| definition.retry_policy().clone()),
            current_prompt_version_id: Patch::Keep,
        }
    }

    /// Points the campaign at a new current prompt version.
    pub fn prompt_version(version: PromptVersionId) -> Self {
        CampaignChange { current_prompt_version_id: Patch::Set(version), ..Default::default() }
    }

    /// The names of the fields this change sets, for the audit log.
    pub fn changed_fields(&self) -> Vec<&'static str> {
        let set = [
            (self.name.is_some(), "name"),
            (self.status.is_some(), "status"),
            (self.agent_id.is_some(), "agent_id"),
            (self.base_prompt.is_some(), "base_prompt"),
            (!self.voicemail_message.is_keep(), "voicemail_message"),
            (self.variables.is_some(), "variables"),
            (self.analysis_fields.is_some(), "analysis_fields"),
            (self.retry_policy.is_some(), "retry_policy"),
            (!self.current_prompt_version_id.is_keep(), "current_prompt_version_id"),
        ];
        set.into_iter().filter(|(is_set, _)| *is_set).map(|(_, name)| name).collect()
    }
}

/// A page of the organization's campaigns, by name, with how many there are in all.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list(conn: &impl ConnectionTrait, scope: &OrgScope, page: Page) -> Result<(Vec<Campaign>, u64)> {
    let query = campaigns::Entity::find().in_org(scope);
    let (rows, total) = page
        .fetch_counted::<_, CampaignRecord>(conn, query, |q| {
            q.order_by_asc(campaigns::Column::Name).order_by_asc(campaigns::Column::Id)
        })
        .await?;
    let found = rows.into_iter().map(Campaign::try_from).collect::<Result<Vec<_>>>()?;
    Ok((found, total))
}

/// One campaign of the organization; a campaign of another organization is not found.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, campaign_id = %id), err(level = "debug"))]
pub async fn get(conn: &impl ConnectionTrait, scope: &OrgScope, id: CampaignId) -> Result<Campaign> {
    campaigns::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .into_model::<CampaignRecord>()
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("campaign", id))?
        .try_into()
}

/// Creates a campaign in the organization. A name already used there is a `Conflict` on
/// [`crate::constraints::CAMPAIGNS_ORG_ID_NAME`].
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn create(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    definition: &CampaignDefinition,
    created_by: Option<UserId>,
) -> Result<Campaign> {
    create_as(conn, scope, CampaignId::new(), definition, created_by, None).await
}

/// [`create`] with an id chosen beforehand (the provider's agent version was published for it
/// before the row exists) and, for an inbound campaign, that version.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn create_as(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CampaignId,
    definition: &CampaignDefinition,
    created_by: Option<UserId>,
    inbound_agent_version: Option<u32>,
) -> Result<Campaign> {
    let at = now();
    let row = campaigns::Model {
        id: id.as_uuid(),
        org_id: scope.org_id().as_uuid(),
        name: definition.name().to_owned(),
        direction: definition.direction().as_str().to_owned(),
        status: definition.status().as_str().to_owned(),
        agent_id: definition.agent_id().to_string(),
        base_prompt: definition.base_prompt().to_owned(),
        voicemail_message: definition.voicemail_message().map(str::to_owned),
        variables: column(definition.variables())?,
        analysis_fields: column(definition.analysis_fields())?,
        retry_policy: column(definition.retry_policy())?,
        current_prompt_version_id: None,
        inbound_agent_version: inbound_agent_version.map(|v| i32::try_from(v).unwrap_or(i32::MAX)),
        created_by: created_by.map(|user| user.as_uuid()),
        created_at: at,
        updated_at: at,
    };
    campaigns::Entity::insert(campaigns::ActiveModel::from(row.clone())).exec_without_returning(conn).await?;
    Ok(Campaign {
        id: CampaignId(row.id),
        org_id: scope.org_id(),
        definition: definition.clone(),
        current_prompt_version_id: None,
        inbound_agent_version,
        created_by,
        created_at: at,
        updated_at: at,
    })
}

/// Applies `change` to a campaign of the organization and returns it as stored. An empty change
/// writes nothing.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, campaign_id = %id), err(level = "debug"))]
pub async fn update(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CampaignId,
    change: CampaignChange,
) -> Result<Campaign> {
    if change.changed_fields().is_empty() {
        return get(conn, scope, id).await;
    }
    let json = |value: Option<Value>| value.map_or(NotSet, Set);
    let row = campaigns::ActiveModel {
        name: change.name.map_or(NotSet, Set),
        status: change.status.map_or(NotSet, |s| Set(s.as_str().to_owned())),
        agent_id: change.agent_id.map_or(NotSet, |a| Set(a.to_string())),
        base_prompt: change.base_prompt.map_or(NotSet, Set),
        voicemail_message: change.voicemail_message.into_change().map_or(NotSet, Set),
        variables: json(change.variables.as_deref().map(column).transpose()?),
        analysis_fields: json(change.analysis_fields.as_deref().map(column).transpose()?),
        retry_policy: json(change.retry_policy.as_ref().map(column).transpose()?),
        current_prompt_version_id: change
            .current_prompt_version_id
            .into_change()
            .map_or(NotSet, |version| Set(version.map(|v| v.as_uuid()))),
        updated_at: Set(now()),
        ..Default::default()
    };
    write(conn, scope, id, row).await?;
    get(conn, scope, id).await
}

/// Writes the set columns of `row` to a campaign of the organization (NotFound otherwise).
async fn write(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CampaignId,
    row: campaigns::ActiveModel,
) -> Result<()> {
    update_row(conn, scope, campaigns::Entity::update_many().set(row), "campaign", id.as_uuid()).await
}

/// The organization's active inbound campaigns, by name.
pub async fn active_inbound(conn: &impl ConnectionTrait, scope: &OrgScope) -> Result<Vec<Campaign>> {
    let rows = campaigns::Entity::find()
        .in_org(scope)
        .filter(campaigns::Column::Direction.eq(Direction::Inbound.as_str()))
        .filter(campaigns::Column::Status.eq(CampaignStatus::Active.as_str()))
        .order_by_asc(campaigns::Column::Name)
        .into_model::<CampaignRecord>()
        .all(conn)
        .await?;
    rows.into_iter().map(Campaign::try_from).collect()
}

/// Records the agent version an inbound campaign now answers with.
pub async fn set_inbound_agent_version(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CampaignId,
    version: u32,
) -> Result<()> {
    let row = campaigns::ActiveModel {
        inbound_agent_version: Set(Some(i32::try_from(version).unwrap_or(i32::MAX))),
        ..Default::default()
    };
    write(conn, scope, id, row).await
}

/// A JSON column's value, written in the domain's own (camelCase) form.
fn column<T: serde::Serialize + ?Sized>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|_| PersistenceError::Invalid {
        field: "campaign",
        reason: "cannot be written as JSON".into(),
    })
}

fn stored_list<T>(stored: Vec<Stored<T>>) -> Vec<T> {
    stored.into_iter().map(Stored::into_inner).collect()
}

fn parsed<T: std::str::FromStr>(text: &str, column: &'static str) -> Result<T> {
    text.parse().map_err(|_| PersistenceError::Corrupt { table: "campaigns", column })
}

/// A campaign row as read: the JSON columns stay text until [`Campaign::try_from`] decodes each
/// once into its domain type, as written (validated then, so not checked again: [`Stored`]).
#[derive(FromQueryResult)]
struct CampaignRecord {
    id: Uuid,
    org_id: Uuid,
    name: String,
    direction: String,
    status: String,
    agent_id: String,
    base_prompt: String,
    voicemail_message: Option<String>,
    variables: JsonText,
    analysis_fields: JsonText,
    retry_policy: JsonText,
    current_prompt_version_id: Option<Uuid>,
    inbound_agent_version: Option<i32>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CampaignRecord> for Campaign {
    type Error = PersistenceError;

    fn try_from(row: CampaignRecord) -> Result<Self> {
        const TABLE: &str = "campaigns";
        let definition = CampaignDefinition::from_stored(StoredCampaign {
            direction: parsed::<Direction>(&row.direction, "direction")?,
            status: parsed::<CampaignStatus>(&row.status, "status")?,
            agent_id: AgentId::parse(&row.agent_id)
                .map_err(|_| PersistenceError::Corrupt { table: TABLE, column: "agent_id" })?,
            variables: stored_list(row.variables.decode(TABLE, "variables")?),
            analysis_fields: stored_list(row.analysis_fields.decode(TABLE, "analysis_fields")?),
            retry_policy: row.retry_policy.decode::<Stored<RetryPolicy>>(TABLE, "retry_policy")?.into_inner(),
            name: row.name,
            base_prompt: row.base_prompt,
            voicemail_message: row.voicemail_message,
        });
        Ok(Campaign {
            id: CampaignId(row.id),
            org_id: OrgId(row.org_id),
            definition,
            current_prompt_version_id: row.current_prompt_version_id.map(PromptVersionId),
            inbound_agent_version: row.inbound_agent_version.and_then(|v| u32::try_from(v).ok()),
            created_by: row.created_by.map(UserId),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
