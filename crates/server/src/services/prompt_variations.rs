//! AI-assisted prompt variations (issue 11): a member asks for a change in plain words, an
//! OpenAI-compatible model proposes a whole prompt, and the proposal is stored as a draft with
//! its diff and the checks' warnings. An operator can make a clean draft the campaign's prompt
//! (`apply`); a member can pin it for one run (`runs.create { promptVariationId }`).
//!
//! Only the campaign's texts and the request go to the model, never patient data. A proposal
//! that drops a placeholder the campaign fills, or invents one, carries warnings and cannot be
//! used; the checks run again when it is used, against the campaign as it is then.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::campaign::{CampaignDefinition, CampaignUpdate};
use rivvi_domain::ids::{CampaignId, OrgId, PromptVariationId};
use rivvi_domain::prompt::{self, VariationWarning};
use rivvi_domain::validation::multi_line;
use rivvi_execution::bus::BusEvent;
use rivvi_execution::llm::VariationRequest;
use rivvi_persistence::campaigns::{self as stored_campaigns, Campaign};
use rivvi_persistence::prompt_variations::{self, NewPromptVariation, PromptVariation};
use rivvi_persistence::OrgScope;
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{audit_trail, campaigns, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// The longest request a user may write.
pub const MAX_REQUEST_CHARS: usize = 2_000;

/// Asks the model for a variation of a campaign of the caller's organization and stores it as a
/// draft, audited. A model failure (timeout, rate limit, unusable answer) stores nothing.
#[tracing::instrument(skip_all, fields(org_id = %caller.scope, campaign_id = %campaign_id), err)]
pub async fn suggest(
    state: &AppState,
    caller: &OrgCaller,
    campaign_id: CampaignId,
    request: &str,
) -> ServiceResult<PromptVariation> {
    let request = multi_line(request, MAX_REQUEST_CHARS).map_err(|e| ServiceError::invalid("request", e))?;
    let campaign = stored_campaigns::get(&state.db, &caller.scope, campaign_id).await?;
    let definition = &campaign.definition;
    let declared = declared(definition);
    let asked = VariationRequest {
        campaign_name: definition.name().to_owned(),
        base_prompt: definition.base_prompt().to_owned(),
        declared_placeholders: declared.clone(),
        request: request.clone(),
    };
    let proposal = state.llm.propose_variation(&asked).await?;
    let warnings = prompt::check_variation(&declared, definition.base_prompt(), &proposal.proposed_prompt);
    let new = NewPromptVariation {
        campaign_id,
        author_user_id: Some(caller.user_id),
        request,
        base_prompt: definition.base_prompt().to_owned(),
        diff: prompt::diff(definition.base_prompt(), &proposal.proposed_prompt),
        proposed_prompt: proposal.proposed_prompt,
        summary: proposal.summary,
        warnings,
    };
    let txn = state.db.begin().await?;
    let variation = prompt_variations::create(&txn, &caller.scope, new).await?;
    let org = caller.scope.org_id();
    let action = AuditAction::PromptVariationSuggested;
    audit_trail::record(&txn, caller, org, action, variation.id, vec!["request".into()]).await?;
    txn.commit().await?;
    Ok(variation)
}

/// One variation of the caller's organization.
pub async fn get(
    state: &AppState,
    caller: &OrgCaller,
    id: PromptVariationId,
) -> ServiceResult<PromptVariation> {
    Ok(prompt_variations::get(&state.db, &caller.scope, id).await?)
}

/// Makes a clean variation the campaign's base prompt (operators, naming the organization):
/// through the campaign update (validated, a new prompt version, audited), in one transaction
/// with marking the variation applied and its own audit entry.
#[tracing::instrument(skip_all, fields(org_id = %org_id, variation_id = %id), err)]
pub async fn apply(
    state: &AppState,
    caller: &OrgCaller,
    org_id: OrgId,
    id: PromptVariationId,
) -> ServiceResult<Campaign> {
    let scope = OrgScope::for_verified_org(org_id);
    let txn = state.db.begin().await?;
    let variation = prompt_variations::get(&txn, &scope, id).await?;
    if variation.applied.is_some() {
        return Err(ServiceError::Conflict("this variation was already applied".into()));
    }
    let current = stored_campaigns::get(&txn, &scope, variation.campaign_id).await?;
    usable(&variation, &current.definition, "variationId")?;
    let patch =
        CampaignUpdate { base_prompt: Some(variation.proposed_prompt.clone()), ..CampaignUpdate::default() };
    let campaign = campaigns::update_in(&txn, caller, org_id, variation.campaign_id, patch).await?;
    let version = campaign.current_prompt_version_id.ok_or_else(|| {
        ServiceError::Internal(anyhow::anyhow!("an applied variation left no prompt version"))
    })?;
    if !prompt_variations::mark_applied(&txn, &scope, id, version, Some(caller.user_id)).await? {
        return Err(ServiceError::Conflict("this variation was already applied".into()));
    }
    audit_trail::record(
        &txn,
        caller,
        org_id,
        AuditAction::PromptVariationApplied,
        id,
        vec!["base_prompt".into()],
    )
    .await?;
    txn.commit().await?;
    super::live::publish(state, &[BusEvent::campaign(org_id, campaign.id)]).await;
    Ok(campaign)
}

/// The variation's prompt, for a run of `campaign_id` (`runs.create { promptVariationId }`),
/// once it passes the checks against the campaign as it is now.
pub async fn prompt_for_run(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: PromptVariationId,
    campaign_id: CampaignId,
    definition: &CampaignDefinition,
) -> ServiceResult<PromptVariation> {
    const FIELD: &str = "promptVariationId";
    let variation = prompt_variations::get(conn, scope, id).await.map_err(|e| match e {
        rivvi_persistence::PersistenceError::NotFound { .. } => ServiceError::not_found("prompt variation"),
        other => other.into(),
    })?;
    if variation.campaign_id != campaign_id {
        return Err(ServiceError::invalid(FIELD, "is a variation of another campaign"));
    }
    usable(&variation, definition, FIELD)?;
    Ok(variation)
}

/// Refuses a variation with warnings, from when it was made or against the campaign now (its
/// variables may have changed since).
fn usable(variation: &PromptVariation, definition: &CampaignDefinition, field: &str) -> ServiceResult<()> {
    if !variation.warnings.is_empty() {
        return Err(ServiceError::invalid(
            field,
            format!("cannot be used: {}", messages(&variation.warnings)),
        ));
    }
    let now =
        prompt::check_variation(&declared(definition), definition.base_prompt(), &variation.proposed_prompt);
    if !now.is_empty() {
        return Err(ServiceError::invalid(
            field,
            format!("no longer matches the campaign's variables: {}", messages(&now)),
        ));
    }
    Ok(())
}

fn declared(definition: &CampaignDefinition) -> Vec<String> {
    definition.variables().iter().map(|v| v.key().to_owned()).collect()
}

fn messages(warnings: &[VariationWarning]) -> String {
    warnings.iter().map(|w| w.message.as_str()).collect::<Vec<_>>().join("; ")
}
