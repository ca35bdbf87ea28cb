//! Campaigns: members read their organization's; operators (super admins) create and change
//! campaigns for any organization, named by an explicit id. Every change of the base prompt or
//! voicemail appends a prompt version.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::campaign::{CampaignDefinition, CampaignField, CampaignUpdate, Direction, NewCampaign};
use rivvi_domain::ids::{CampaignId, OrgId};
use rivvi_domain::validation::ValidationErrors;
use rivvi_domain::{prompt, Role};
use rivvi_execution::bus::BusEvent;
use rivvi_execution::engine::AgentContent;
use rivvi_persistence::campaigns::{self, Campaign, CampaignChange};
use rivvi_persistence::managed_agents;
use rivvi_persistence::prompt_versions::{self, NewPromptVersion, PromptVersionRecord};
use rivvi_persistence::{organizations, OrgScope, Page};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};

use super::error::conflict_as;
use super::{audit_trail, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

const NAME_TAKEN: &str = "a campaign with this name already exists in the organization";

/// The scope a read runs in: the caller's own organization, or for a super admin the one named
/// (the access is logged there). Naming another organization without operator rights looks like
/// a missing campaign.
pub async fn read_scope(
    conn: &impl ConnectionTrait,
    caller: &OrgCaller,
    org_id: Option<OrgId>,
) -> ServiceResult<OrgScope> {
    match org_id {
        Some(org_id) if org_id != caller.scope.org_id() && caller.role == Role::SuperAdmin => {
            let scope = operator_scope(conn, org_id).await?;
            audit_trail::record_access(conn, caller, org_id).await?;
            Ok(scope)
        }
        Some(org_id) if org_id != caller.scope.org_id() => Err(ServiceError::not_found("campaign")),
        _ => Ok(caller.scope),
    }
}

/// Whether a read names an organization other than the caller's, and so needs [`read_scope`]'s
/// checks and access log in a transaction; a read of one's own campaigns is a single query.
fn names_another_org(caller: &OrgCaller, org_id: Option<OrgId>) -> bool {
    org_id.is_some_and(|org_id| org_id != caller.scope.org_id())
}

/// A super admin's scope in the organization named, which must exist. The caller logs the
/// access: a read with [`audit_trail::record_access`], a change with its own entry.
async fn operator_scope(conn: &impl ConnectionTrait, org_id: OrgId) -> ServiceResult<OrgScope> {
    let scope = OrgScope::for_verified_org(org_id);
    organizations::get(conn, &scope).await?;
    Ok(scope)
}

/// One campaign's validated configuration.
pub async fn definition(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CampaignId,
) -> ServiceResult<CampaignDefinition> {
    Ok(campaigns::get(conn, scope, id).await?.definition)
}

/// A page of the campaigns of the caller's organization (or, for a super admin, of the one
/// named), with how many there are in all.
pub async fn list(
    state: &AppState,
    caller: &OrgCaller,
    org_id: Option<OrgId>,
    page: Page,
) -> ServiceResult<(Vec<Campaign>, u64)> {
    if !names_another_org(caller, org_id) {
        return Ok(campaigns::list(&state.db, &caller.scope, page).await?);
    }
    let txn = state.db.begin().await?;
    let scope = read_scope(&txn, caller, org_id).await?;
    let found = campaigns::list(&txn, &scope, page).await?;
    txn.commit().await?;
    Ok(found)
}

pub async fn get(
    state: &AppState,
    caller: &OrgCaller,
    id: CampaignId,
    org_id: Option<OrgId>,
) -> ServiceResult<Campaign> {
    if !names_another_org(caller, org_id) {
        return Ok(campaigns::get(&state.db, &caller.scope, id).await?);
    }
    let txn = state.db.begin().await?;
    let scope = read_scope(&txn, caller, org_id).await?;
    let campaign = campaigns::get(&txn, &scope, id).await?;
    txn.commit().await?;
    Ok(campaign)
}

/// A new campaign in the organization named, with its first prompt version (operators only).
#[tracing::instrument(skip_all, fields(org_id = %org_id), err)]
pub async fn create(
    state: &AppState,
    caller: &OrgCaller,
    org_id: OrgId,
    campaign: NewCampaign,
) -> ServiceResult<Campaign> {
    let definition = campaign.validate().map_err(|e| nested("campaign", e))?;
    let scope = operator_scope(&state.db, org_id).await?;
    // Without an agent id, Rivvi creates the campaign's LLM and agent first (recorded as they
    // are made; a failure here writes no campaign, and the next attempt resumes the record).
    let (definition, managed) = match definition.agent_id().is_unprovisioned() {
        true => {
            let content = AgentContent {
                campaign_name: definition.name(),
                prompt: definition.base_prompt(),
                voicemail_message: definition.voicemail_message(),
                analysis_fields: definition.analysis_fields(),
            };
            let provisioned = state.engine.provision_agent(&scope, content).await?;
            (definition.with_agent(provisioned.agent_id), Some(provisioned.record_id))
        }
        false => (definition, None),
    };
    // An inbound campaign answers calls with a published version of its agent, made before the
    // campaign is written (a provider failure writes no campaign).
    let id = CampaignId::new();
    let inbound_version = match definition.direction() {
        Direction::Inbound => Some(publish_inbound(state, &scope, id, &definition).await?),
        Direction::Outbound => None,
    };
    let txn = state.db.begin().await?;
    let record = campaigns::create_as(&txn, &scope, id, &definition, Some(caller.user_id), inbound_version)
        .await
        .map_err(conflict_as(NAME_TAKEN))?;
    if let Some(record_id) = managed {
        managed_agents::link(&txn, &scope, record_id, record.id).await?;
    }
    audit_trail::record(&txn, caller, org_id, AuditAction::CampaignCreated, record.id, vec![]).await?;
    let version =
        save_prompt_version(&txn, caller, &scope, record.id, &definition, "campaign created").await?;
    let record =
        campaigns::update(&txn, &scope, record.id, CampaignChange::prompt_version(version.id)).await?;
    txn.commit().await?;
    super::live::publish(state, &[BusEvent::campaign(org_id, record.id)]).await;
    Ok(record)
}

/// Applies a patch to a campaign of the organization named (operators only); the merged
/// campaign is validated as a whole, and a prompt change appends a version.
#[tracing::instrument(skip_all, fields(org_id = %org_id, campaign_id = %id), err)]
pub async fn update(
    state: &AppState,
    caller: &OrgCaller,
    org_id: OrgId,
    id: CampaignId,
    patch: CampaignUpdate,
) -> ServiceResult<Campaign> {
    // An inbound campaign whose answer changes gets a new published agent version first.
    let scope = operator_scope(&state.db, org_id).await?;
    let current = campaigns::get(&state.db, &scope, id).await?;
    let inbound_version = match current.definition.direction() {
        Direction::Inbound => {
            let merged = patch.clone().validate(&current.definition).map_err(|e| nested("patch", e))?;
            let answers_differently = merged.changed.iter().any(|field| {
                matches!(
                    field,
                    CampaignField::BasePrompt
                        | CampaignField::VoicemailMessage
                        | CampaignField::AnalysisFields
                        | CampaignField::AgentId
                        | CampaignField::Name
                )
            });
            match answers_differently {
                true => Some(publish_inbound(state, &scope, id, &merged.definition).await?),
                false => None,
            }
        }
        Direction::Outbound => None,
    };
    let txn = state.db.begin().await?;
    let record = update_in(&txn, caller, org_id, id, patch).await?;
    let record = match inbound_version {
        Some(version) => {
            campaigns::set_inbound_agent_version(&txn, &scope, id, version).await?;
            campaigns::get(&txn, &scope, id).await?
        }
        None => record,
    };
    txn.commit().await?;
    super::live::publish(state, &[BusEvent::campaign(org_id, record.id)]).await;
    Ok(record)
}

/// Publishes the agent version an inbound campaign answers with: its prompt, voicemail text and
/// analysis fields as `definition` has them.
async fn publish_inbound(
    state: &AppState,
    scope: &OrgScope,
    id: CampaignId,
    definition: &CampaignDefinition,
) -> ServiceResult<u32> {
    let content = AgentContent {
        campaign_name: definition.name(),
        prompt: definition.base_prompt(),
        voicemail_message: definition.voicemail_message(),
        analysis_fields: definition.analysis_fields(),
    };
    Ok(state.engine.publish_agent_version(scope, id, definition.agent_id(), content).await?.version)
}

/// [`update`] inside the caller's transaction (applying a prompt variation commits it together
/// with marking the variation applied).
pub(super) async fn update_in(
    txn: &DatabaseTransaction,
    caller: &OrgCaller,
    org_id: OrgId,
    id: CampaignId,
    patch: CampaignUpdate,
) -> ServiceResult<Campaign> {
    let scope = operator_scope(txn, org_id).await?;
    let current = campaigns::get(txn, &scope, id).await?;
    let valid = patch.validate(&current.definition).map_err(|e| nested("patch", e))?;
    if valid.changed.is_empty() {
        // Nothing changed, but the answer still shows the campaign: a read, logged as one.
        audit_trail::record_access(txn, caller, org_id).await?;
        return Ok(current);
    }
    let has = |field: CampaignField| valid.changed.contains(&field);
    let change = CampaignChange::of(&valid.definition, &valid.changed);
    let record = campaigns::update(txn, &scope, id, change).await.map_err(conflict_as(NAME_TAKEN))?;
    let record = match valid.prompt_changed() {
        false => record,
        true => {
            let reason = match (has(CampaignField::BasePrompt), has(CampaignField::VoicemailMessage)) {
                (true, true) => "base prompt and voicemail changed",
                (true, false) => "base prompt changed",
                _ => "voicemail changed",
            };
            let version =
                save_prompt_version(txn, caller, &scope, record.id, &valid.definition, reason).await?;
            campaigns::update(txn, &scope, record.id, CampaignChange::prompt_version(version.id)).await?
        }
    };
    let fields = valid.changed.iter().map(|f| f.as_str().to_owned()).collect();
    audit_trail::record(txn, caller, org_id, AuditAction::CampaignUpdated, record.id, fields).await?;
    Ok(record)
}

/// A page of a campaign's prompt versions, newest first, with the total.
pub async fn prompt_history(
    state: &AppState,
    caller: &OrgCaller,
    campaign_id: CampaignId,
    org_id: Option<OrgId>,
    page: Page,
) -> ServiceResult<(Vec<PromptVersionRecord>, u64)> {
    let txn = state.db.begin().await?;
    let scope = read_scope(&txn, caller, org_id).await?;
    let versions = prompt_versions::list(&txn, &scope, campaign_id, page).await?;
    txn.commit().await?;
    Ok(versions)
}

/// Appends a prompt version for the campaign's current base prompt and voicemail, with its diff
/// against the previous version, and logs it.
async fn save_prompt_version(
    conn: &impl ConnectionTrait,
    caller: &OrgCaller,
    scope: &OrgScope,
    campaign_id: CampaignId,
    definition: &CampaignDefinition,
    reason: &str,
) -> ServiceResult<PromptVersionRecord> {
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
            agent: None,
            frozen: None,
        },
    )
    .await?;
    audit_trail::record(conn, caller, scope.org_id(), AuditAction::PromptVersionCreated, version.id, vec![])
        .await?;
    Ok(version)
}

/// Field paths of a nested input (`campaign.basePrompt`), so the frontend can find the field.
fn nested(prefix: &str, errors: ValidationErrors) -> ServiceError {
    let mut nested = ValidationErrors::new();
    nested.nest(prefix, errors);
    nested.into()
}
