//! `campaigns.*`: members read their organization's campaigns; operators (super admins) create
//! and change campaigns for any organization, named by an explicit `orgId`.

use chrono::{DateTime, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::campaign::{CampaignDefinition, CampaignUpdate, NewCampaign};
use rivvi_domain::ids::{CampaignId, OrgId, PromptVersionId, RunId, UserId};
use rivvi_domain::prompt;
use rivvi_domain::Role;
use rivvi_persistence::campaigns::{self, CampaignChange, CampaignRecord};
use rivvi_persistence::prompt_versions::{self, NewPromptVersion, PromptVersionRecord};
use rivvi_persistence::{organizations, OrgScope};
use rspc::{Router, RouterBuilder};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use specta::Type;

use super::context::OrgCaller;
use super::error::{ApiError, ApiResult};
use super::organizations::{has_more, saturating_u32, Pagination};
use super::{audit_trail, Ctx, Input};

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("list", |t| {
            t(|ctx: Ctx, input: Input<ListCampaigns>| async move { Ok(list(&ctx, input.parse()?).await?) })
        })
        .query("get", |t| {
            t(|ctx: Ctx, input: Input<GetCampaign>| async move { Ok(get(&ctx, input.parse()?).await?) })
        })
        .query("promptHistory", |t| {
            t(|ctx: Ctx, input: Input<PromptHistoryQuery>| async move {
                Ok(prompt_history(&ctx, input.parse()?).await?)
            })
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
            let scope = operator_scope(conn, org_id).await?;
            log_access(ctx, conn, caller, org_id).await?;
            Ok(scope)
        }
        // Naming another organization without operator rights looks like a missing campaign.
        Some(org_id) if org_id != caller.scope.org_id() => Err(ApiError::not_found("campaign")),
        _ => Ok(caller.scope),
    }
}

/// A super admin's scope in the organization named by `orgId`, which must exist. Only the
/// caller logs the access: a read with [`log_access`], a change with its own entry (one row per
/// change, already marked as the super admin's).
async fn operator_scope(conn: &impl ConnectionTrait, org_id: OrgId) -> ApiResult<OrgScope> {
    let scope = OrgScope::for_verified_org(org_id);
    organizations::get(conn, &scope).await?;
    Ok(scope)
}

/// Logs a super admin's read of another organization's data in that organization.
async fn log_access(
    ctx: &Ctx,
    conn: &impl ConnectionTrait,
    caller: &OrgCaller,
    org_id: OrgId,
) -> ApiResult<()> {
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
    Ok(())
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
    let scope = operator_scope(&txn, input.org_id).await?;
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
    let version =
        save_prompt_version(&txn, ctx, &caller, &scope, record.id, &definition, "campaign created").await?;
    let change = CampaignChange { current_prompt_version_id: Some(Some(version.id)), ..Default::default() };
    let record = campaigns::update(&txn, &scope, record.id, change).await?;
    txn.commit().await?;
    record.try_into()
}

/// Appends a prompt version for the campaign's current base prompt and voicemail, with its diff
/// against the previous version, and logs it.
async fn save_prompt_version(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    caller: &OrgCaller,
    scope: &OrgScope,
    campaign_id: CampaignId,
    definition: &CampaignDefinition,
    reason: &str,
) -> ApiResult<PromptVersionRecord> {
    let previous = prompt_versions::latest(conn, scope, campaign_id).await?;
    let composed = prompt::compose(definition.base_prompt(), None);
    let diff = prompt::diff(previous.as_ref().map_or("", |p| p.composed_prompt.as_str()), &composed);
    let version = prompt_versions::append(
        conn,
        scope,
        campaign_id,
        NewPromptVersion {
            run_id: None,
            base_prompt: definition.base_prompt().to_owned(),
            run_instructions: None,
            composed_prompt: composed,
            voicemail_message: definition.voicemail_message().map(str::to_owned),
            diff,
            author_user_id: Some(caller.user_id),
            reason: reason.to_owned(),
        },
    )
    .await?;
    audit_trail::record(
        conn,
        ctx,
        caller,
        Some(scope.org_id()),
        AuditAction::PromptVersionCreated,
        version.id,
        vec![],
    )
    .await?;
    Ok(version)
}

async fn update(ctx: &Ctx, input: UpdateCampaign) -> ApiResult<Campaign> {
    let caller = ctx.require(Role::SuperAdmin)?;
    let txn = ctx.state.db.begin().await?;
    let scope = operator_scope(&txn, input.org_id).await?;
    let current = campaigns::get(&txn, &scope, input.id).await?;
    let definition = definition_of(&current)?;
    let valid = input.patch.validate(&definition).map_err(|e| nest_errors("patch", e))?;
    if valid.changed.is_empty() {
        // Nothing changed, but the answer still shows the campaign: a read, logged as one.
        log_access(ctx, &txn, &caller, input.org_id).await?;
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
    let record = match valid.prompt_changed() {
        false => record,
        true => {
            let reason = match (has(F::BasePrompt), has(F::VoicemailMessage)) {
                (true, true) => "base prompt and voicemail changed",
                (true, false) => "base prompt changed",
                _ => "voicemail changed",
            };
            let version = save_prompt_version(&txn, ctx, &caller, &scope, record.id, d, reason).await?;
            let change =
                CampaignChange { current_prompt_version_id: Some(Some(version.id)), ..Default::default() };
            campaigns::update(&txn, &scope, record.id, change).await?
        }
    };
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

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromptHistoryQuery {
    pub campaign_id: CampaignId,
    /// For super admins reading another organization's campaign.
    #[serde(default)]
    #[specta(optional)]
    pub org_id: Option<OrgId>,
    #[serde(default)]
    #[specta(optional)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[specta(optional)]
    pub offset: Option<u32>,
}

/// One saved version of a campaign's prompt: the access log for prompt changes.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromptVersion {
    pub id: PromptVersionId,
    pub number: u32,
    /// Set for versions pinned by a run (base prompt plus the run's instructions).
    pub run_id: Option<RunId>,
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

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromptHistory {
    pub versions: Vec<PromptVersion>,
    pub total: u32,
    pub has_more: bool,
}

async fn prompt_history(ctx: &Ctx, input: PromptHistoryQuery) -> ApiResult<PromptHistory> {
    let caller = ctx.require(Role::Member)?;
    let page = Pagination { limit: input.limit, offset: input.offset }.page()?;
    let txn = ctx.state.db.begin().await?;
    let scope = read_scope(ctx, &txn, &caller, input.org_id).await?;
    let (versions, total) = prompt_versions::list(&txn, &scope, input.campaign_id, page).await?;
    txn.commit().await?;
    let has_more = has_more(page, versions.len(), total);
    Ok(PromptHistory {
        versions: versions
            .into_iter()
            .map(|v| PromptVersion {
                id: v.id,
                number: v.number,
                run_id: v.run_id,
                base_prompt: v.base_prompt,
                run_instructions: v.run_instructions,
                composed_prompt: v.composed_prompt,
                voicemail_message: v.voicemail_message,
                diff: v.diff,
                author_user_id: v.author_user_id,
                reason: v.reason,
                created_at: v.created_at,
            })
            .collect(),
        total: saturating_u32(total),
        has_more,
    })
}
