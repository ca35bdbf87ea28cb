//! `campaigns.*`: members read their organization's campaigns; operators (super admins) create
//! and change campaigns for any organization, named by an explicit `orgId` (`services::campaigns`).

use chrono::{DateTime, Utc};
use rivvi_domain::campaign::{CampaignDefinition, CampaignUpdate, NewCampaign};
use rivvi_domain::ids::{CampaignId, OrgId, PromptVariationId, PromptVersionId, RunId, UserId};
use rivvi_domain::prompt::VariationWarning;
use rivvi_domain::Role;
use rivvi_persistence::prompt_variations::PromptVariation as StoredVariation;
use rspc::{Router, RouterBuilder};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::ApiResult;
use super::Ctx;
use crate::services::{campaigns, prompt_variations};
use rivvi_persistence::campaigns::Campaign as StoredCampaign;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("list", procedure!(list))
        .query("get", procedure!(get))
        .query("promptHistory", procedure!(prompt_history))
        .mutation("create", procedure!(create))
        .mutation("update", procedure!(update))
        .mutation("suggestPromptVariation", procedure!(suggest_prompt_variation))
        .mutation("applyPromptVariation", procedure!(apply_prompt_variation))
}

/// A campaign: its validated configuration plus identity and bookkeeping.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    pub id: CampaignId,
    pub org_id: OrgId,
    pub config: CampaignDefinition,
    pub current_prompt_version_id: Option<PromptVersionId>,
    /// Inbound campaigns: the published agent version inbound calls are answered with.
    pub inbound_agent_version: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

paged_input! {
    /// `orgId` is honoured for super admins only; everyone else sees their own organization.
    #[derive(Default)]
    pub struct ListCampaigns {
        #[specta(optional)]
        pub org_id: Option<OrgId>,
    }
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetCampaign {
    pub id: CampaignId,
    /// For super admins reading another organization's campaign.
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

paged_input! {
    pub struct PromptHistoryQuery {
        pub campaign_id: CampaignId,
        /// For super admins reading another organization's campaign.
        #[specta(optional)]
        pub org_id: Option<OrgId>,
    }
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

page_output! {
    pub struct PromptHistory { versions: PromptVersion }
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuggestPromptVariation {
    /// A campaign of the caller's organization.
    pub campaign_id: CampaignId,
    /// What to change, in plain words ("mention free parking and be warmer"), 1..=2000
    /// characters. Never put patient data here: it goes to a language model.
    pub request: String,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyPromptVariation {
    /// The organization the variation's campaign belongs to.
    pub org_id: OrgId,
    pub variation_id: PromptVariationId,
}

/// A suggested variation of a campaign's prompt: a draft until applied or pinned by a run.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromptVariation {
    pub variation_id: PromptVariationId,
    pub campaign_id: CampaignId,
    pub request: String,
    pub proposed_prompt: String,
    /// What changed, in the model's words.
    pub summary: String,
    /// Unified diff of the proposal against the campaign's prompt it varied.
    pub diff: String,
    /// Dropped or invented placeholders, length problems: any warning blocks using it.
    pub warnings: Vec<VariationWarning>,
    /// The prompt version it became, once an operator applied it.
    pub applied_version_id: Option<PromptVersionId>,
    pub author_user_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl From<StoredVariation> for PromptVariation {
    fn from(v: StoredVariation) -> Self {
        PromptVariation {
            variation_id: v.id,
            campaign_id: v.campaign_id,
            request: v.request,
            proposed_prompt: v.proposed_prompt,
            summary: v.summary,
            diff: v.diff,
            warnings: v.warnings,
            applied_version_id: v.applied.map(|a| a.version_id),
            author_user_id: v.author_user_id,
            created_at: v.created_at,
        }
    }
}

page_output! {
    pub struct CampaignPage { campaigns: Campaign }
}

async fn list(ctx: &Ctx, input: ListCampaigns) -> ApiResult<CampaignPage> {
    let caller = ctx.require(Role::Member)?;
    let page = input.page()?;
    let (found, total) = campaigns::list(&ctx.state, &caller, input.org_id, page).await?;
    Ok(CampaignPage::of(page, found, total, Campaign::from))
}

async fn get(ctx: &Ctx, input: GetCampaign) -> ApiResult<Campaign> {
    let caller = ctx.require(Role::Member)?;
    Ok(campaigns::get(&ctx.state, &caller, input.id, input.org_id).await?.into())
}

async fn create(ctx: &Ctx, input: CreateCampaign) -> ApiResult<Campaign> {
    let caller = ctx.require(Role::SuperAdmin)?;
    Ok(campaigns::create(&ctx.state, &caller, input.org_id, input.campaign).await?.into())
}

async fn update(ctx: &Ctx, input: UpdateCampaign) -> ApiResult<Campaign> {
    let caller = ctx.require(Role::SuperAdmin)?;
    Ok(campaigns::update(&ctx.state, &caller, input.org_id, input.id, input.patch).await?.into())
}

async fn prompt_history(ctx: &Ctx, input: PromptHistoryQuery) -> ApiResult<PromptHistory> {
    let caller = ctx.require(Role::Member)?;
    let page = input.page()?;
    let (versions, total) =
        campaigns::prompt_history(&ctx.state, &caller, input.campaign_id, input.org_id, page).await?;
    Ok(PromptHistory::of(page, versions, total, |v| PromptVersion {
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
    }))
}

impl From<StoredCampaign> for Campaign {
    fn from(campaign: StoredCampaign) -> Self {
        Campaign {
            id: campaign.id,
            org_id: campaign.org_id,
            config: campaign.definition,
            current_prompt_version_id: campaign.current_prompt_version_id,
            inbound_agent_version: campaign.inbound_agent_version,
            created_at: campaign.created_at,
            updated_at: campaign.updated_at,
        }
    }
}

async fn suggest_prompt_variation(ctx: &Ctx, input: SuggestPromptVariation) -> ApiResult<PromptVariation> {
    let caller = ctx.require(Role::Member)?;
    Ok(prompt_variations::suggest(&ctx.state, &caller, input.campaign_id, &input.request).await?.into())
}

async fn apply_prompt_variation(ctx: &Ctx, input: ApplyPromptVariation) -> ApiResult<Campaign> {
    let caller = ctx.require(Role::SuperAdmin)?;
    Ok(prompt_variations::apply(&ctx.state, &caller, input.org_id, input.variation_id).await?.into())
}
