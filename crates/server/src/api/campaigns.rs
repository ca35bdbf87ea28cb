//! `campaigns.*`: members read their organization's campaigns; operators (super admins) create
//! and change campaigns for any organization, named by an explicit `orgId`.

use chrono::{DateTime, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::campaign::{CampaignDefinition, CampaignUpdate, NewCampaign};
use rivvi_domain::ids::{CampaignId, OrgId, PromptVersionId};
use rivvi_domain::Role;
use rivvi_persistence::campaigns::{self, CampaignChange, CampaignRecord};
use rivvi_persistence::{organizations, OrgScope};
use rspc::{Router, RouterBuilder};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use specta::Type;

use super::context::OrgCaller;
use super::error::{ApiError, ApiResult};
use super::{audit_trail, Ctx, Input};

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("list", |t| {
            t(|ctx: Ctx, input: Input<ListCampaigns>| async move { Ok(list(&ctx, input.parse()?).await?) })
        })
        .query("get", |t| {
            t(|ctx: Ctx, input: Input<GetCampaign>| async move { Ok(get(&ctx, input.parse()?).await?) })
        })
        .mutation("create", |t| {
            t(|ctx: Ctx, input: Input<CreateCampaign>| async move { Ok(create(&ctx, input.parse()?).await?) })
        })
        .mutation("update", |t| {
            t(|ctx: Ctx, input: Input<UpdateCampaign>| async move { Ok(update(&ctx, input.parse()?).await?) })
        })
}

/// A campaign: its validated configuration plus identity and bookkeeping.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    pub id: CampaignId,
    pub org_id: OrgId,
    pub config: CampaignDefinition,
    pub current_prompt_version_id: Option<PromptVersionId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `orgId` is honoured for super admins only; everyone else sees their own organization.
#[derive(Debug, Clone, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListCampaigns {
    #[serde(default)]
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetCampaign {
    pub id: CampaignId,
    /// For super admins reading another organization's campaign.
    #[serde(default)]
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCampaign {
    /// The organization the campaign belongs to.
    pub org_id: OrgId,
    pub campaign: NewCampaign,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCampaign {
    pub org_id: OrgId,
    pub id: CampaignId,
    /// Absent fields stay as they are; the merged campaign is validated as a whole.
    pub patch: CampaignUpdate,
}

/// The scope a read runs in: the caller's own organization, or for a super admin the one named.
async fn read_scope(
    ctx: &Ctx,
    conn: &impl ConnectionTrait,
    caller: &OrgCaller,
    org_id: Option<OrgId>,
) -> ApiResult<OrgScope> {
    match org_id {
        Some(org_id) if org_id != caller.scope.org_id() && caller.role == Role::SuperAdmin => {
            operator_scope(ctx, conn, caller, org_id).await
        }
        // Naming another organization without operator rights looks like a missing campaign.
        Some(org_id) if org_id != caller.scope.org_id() => Err(ApiError::not_found("campaign")),
        _ => Ok(caller.scope),
    }
}

/// A super admin's scope in another organization: it must exist, and the access is logged there.
async fn operator_scope(
    ctx: &Ctx,
    conn: &impl ConnectionTrait,
    caller: &OrgCaller,
    org_id: OrgId,
) -> ApiResult<OrgScope> {
    let scope = OrgScope::for_verified_org(org_id);
    organizations::get(conn, &scope).await?;
    if org_id != caller.scope.org_id() {
        audit_trail::record(
            conn,
            ctx,
            caller,
            Some(org_id),
            AuditAction::OrganizationAccessed,
            org_id,
            vec![],
        )
        .await?;
    }
    Ok(scope)
}

async fn list(ctx: &Ctx, input: ListCampaigns) -> ApiResult<Vec<Campaign>> {
    let caller = ctx.require(Role::Member)?;
    let txn = ctx.state.db.begin().await?;
    let scope = read_scope(ctx, &txn, &caller, input.org_id).await?;
    let records = campaigns::list(&txn, &scope).await?;
    txn.commit().await?;
    records.into_iter().map(Campaign::try_from).collect()
}

async fn get(ctx: &Ctx, input: GetCampaign) -> ApiResult<Campaign> {
    let caller = ctx.require(Role::Member)?;
    let txn = ctx.state.db.begin().await?;
    let scope = read_scope(ctx, &txn, &caller, input.org_id).await?;
    let record = campaigns::get(&txn, &scope, input.id).await?;
    txn.commit().await?;
    record.try_into()
}

async fn create(ctx: &Ctx, input: CreateCampaign) -> ApiResult<Campaign> {
    let caller = ctx.require(Role::SuperAdmin)?;
    let definition = input.campaign.validate().map_err(|e| nest_errors("campaign", e))?;
    let txn = ctx.state.db.begin().await?;
    let scope = operator_scope(ctx, &txn, &caller, input.org_id).await?;
    let stored = stored_form(&definition)?;
    let record = campaigns::create(
        &txn,
        &scope,
        campaigns::NewCampaign {
            name: definition.name().to_owned(),
            direction: definition.direction().as_str().to_owned(),
            status: definition.status().as_str().to_owned(),
            agent_id: definition.agent_id().to_string(),
            base_prompt: definition.base_prompt().to_owned(),
            voicemail_message: definition.voicemail_message().map(str::to_owned),
            variables: stored["variables"].clone(),
            analysis_fields: stored["analysisFields"].clone(),
            retry_policy: stored["retryPolicy"].clone(),
            created_by: Some(caller.user_id),
        },
    )
    .await
    .map_err(conflict_on_name)?;
    audit_trail::record(
        &txn,
        ctx,
        &caller,
        Some(input.org_id),
        AuditAction::CampaignCreated,
        record.id,
        vec![],
    )
    .await?;
    txn.commit().await?;
    record.try_into()
}

async fn update(ctx: &Ctx, input: UpdateCampaign) -> ApiResult<Campaign> {
    let caller = ctx.require(Role::SuperAdmin)?;
    let txn = ctx.state.db.begin().await?;
    let scope = operator_scope(ctx, &txn, &caller, input.org_id).await?;
    let current = campaigns::get(&txn, &scope, input.id).await?;
    let definition = definition_of(&current)?;
    let valid = input.patch.validate(&definition).map_err(|e| nest_errors("patch", e))?;
    if valid.changed.is_empty() {
        txn.commit().await?;
        return current.try_into();
    }
    let stored = stored_form(&valid.definition)?;
    let has = |field: rivvi_domain::campaign::CampaignField| valid.changed.contains(&field);
    use rivvi_domain::campaign::CampaignField as F;
    let d = &valid.definition;
    let change = CampaignChange {
        name: has(F::Name).then(|| d.name().to_owned()),
        status: has(F::Status).then(|| d.status().as_str().to_owned()),
        agent_id: has(F::AgentId).then(|| d.agent_id().to_string()),
        base_prompt: has(F::BasePrompt).then(|| d.base_prompt().to_owned()),
        voicemail_message: has(F::VoicemailMessage).then(|| d.voicemail_message().map(str::to_owned)),
        variables: has(F::Variables).then(|| stored["variables"].clone()),
        analysis_fields: has(F::AnalysisFields).then(|| stored["analysisFields"].clone()),
        retry_policy: has(F::RetryPolicy).then(|| stored["retryPolicy"].clone()),
        current_prompt_version_id: None,
    };
    let record = campaigns::update(&txn, &scope, input.id, change).await.map_err(conflict_on_name)?;
    let fields = valid.changed.iter().map(|f| f.as_str().to_owned()).collect();
    audit_trail::record(
        &txn,
        ctx,
        &caller,
        Some(input.org_id),
        AuditAction::CampaignUpdated,
        record.id,
        fields,
    )
    .await?;
    txn.commit().await?;
    record.try_into()
}

fn conflict_on_name(err: rivvi_persistence::PersistenceError) -> ApiError {
    match err {
        rivvi_persistence::PersistenceError::Conflict { .. } => {
            ApiError::Conflict("a campaign with this name already exists in the organization".into())
        }
        other => other.into(),
    }
}

/// Field paths of a nested input (`campaign.basePrompt`), so the frontend can find the field.
fn nest_errors(prefix: &str, errors: rivvi_domain::validation::ValidationErrors) -> ApiError {
    let mut nested = rivvi_domain::validation::ValidationErrors::new();
    nested.nest(prefix, errors);
    nested.into()
}

/// The JSON the configuration is stored as (camelCase, as the API speaks it).
fn stored_form(definition: &CampaignDefinition) -> ApiResult<Value> {
    Ok(serde_json::to_value(definition).map_err(anyhow::Error::from)?)
}

/// The stored campaign as a validated definition; failing here means stored data is corrupt.
pub(crate) fn definition_of(record: &CampaignRecord) -> ApiResult<CampaignDefinition> {
    let stored = json!({
        "name": record.name,
        "direction": record.direction,
        "status": record.status,
        "agentId": record.agent_id,
        "basePrompt": record.base_prompt,
        "voicemailMessage": record.voicemail_message,
        "variables": record.variables,
        "analysisFields": record.analysis_fields,
        "retryPolicy": record.retry_policy,
    });
    serde_json::from_value(stored).map_err(|e| {
        ApiError::Internal(anyhow::anyhow!("stored campaign {} does not validate: {e}", record.id))
    })
}

impl TryFrom<CampaignRecord> for Campaign {
    type Error = ApiError;

    fn try_from(record: CampaignRecord) -> ApiResult<Self> {
        Ok(Campaign {
            config: definition_of(&record)?,
            id: record.id,
            org_id: record.org_id,
            current_prompt_version_id: record.current_prompt_version_id,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }
}
