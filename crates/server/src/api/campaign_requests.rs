//! `campaignRequests.*` (a clinic asks for a campaign and follows it) and
//! `admin.campaignRequests.*` (operators take, decline or fulfil requests; mounted by `admin`).

use chrono::{DateTime, Utc};
use rivvi_domain::campaign::request::CampaignRequestInput;
use rivvi_domain::ids::{CampaignId, CampaignRequestId, OrgId, UploadId, UserId};
use rivvi_domain::lifecycle::CampaignRequestStatus;
use rivvi_domain::Role;
use rivvi_persistence::campaign_requests::CampaignRequest as StoredRequest;
use rspc::{Router, RouterBuilder};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::ApiResult;
use super::Ctx;
use crate::services::campaign_requests;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("list", procedure!(list))
        .query("get", procedure!(get))
        .mutation("create", procedure!(create))
}

/// A clinic's request for a campaign.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CampaignRequest {
    pub id: CampaignRequestId,
    pub org_id: OrgId,
    pub requested_by: Option<UserId>,
    pub name: String,
    pub goal: String,
    pub description: String,
    pub desired_variables: Vec<String>,
    pub sample_upload_id: Option<UploadId>,
    /// `YYYY-MM-DD`.
    pub due_date: Option<String>,
    pub status: CampaignRequestStatus,
    /// The operator's latest note (why it was declined, what is happening).
    pub note: Option<String>,
    /// The campaign built for it, once fulfilled.
    pub campaign_id: Option<CampaignId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredRequest> for CampaignRequest {
    fn from(r: StoredRequest) -> Self {
        CampaignRequest {
            id: r.id,
            org_id: r.org_id,
            requested_by: r.requested_by,
            name: r.name,
            goal: r.goal,
            description: r.description,
            desired_variables: r.desired_variables,
            sample_upload_id: r.sample_upload_id,
            due_date: r.due_date.map(|d| d.format("%Y-%m-%d").to_string()),
            status: r.status,
            note: r.note,
            campaign_id: r.campaign_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestById {
    pub id: CampaignRequestId,
    /// Operators only: act in this organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

paged_input! {
    pub struct ListRequests {
        /// Operators only: act in this organization (the access is audited there).
        #[specta(optional)]
        pub org_id: Option<OrgId>,
    }
}

paged_input! {
    pub struct SearchRequests {
        /// Only this organization's.
        #[specta(optional)]
        pub org_id: Option<OrgId>,
        /// Only requests in this status.
        #[specta(optional)]
        pub status: Option<CampaignRequestStatus>,
    }
}

page_output! {
    pub struct CampaignRequestPage { requests: CampaignRequest }
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRequest {
    pub id: CampaignRequestId,
    /// `in_progress` (take it) or `rejected` (decline it; a note is required).
    pub status: CampaignRequestStatus,
    #[specta(optional)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FulfilRequest {
    pub id: CampaignRequestId,
    /// The campaign built for it, in the requesting organization.
    pub campaign_id: CampaignId,
}

async fn create(ctx: &Ctx, input: CampaignRequestInput) -> ApiResult<CampaignRequest> {
    let caller = ctx.require(Role::Admin)?;
    Ok(campaign_requests::create(&ctx.state, &caller, input).await?.into())
}

async fn list(ctx: &Ctx, input: ListRequests) -> ApiResult<CampaignRequestPage> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let page = input.page()?;
    let (found, total) = campaign_requests::list(&ctx.state, &caller, page).await?;
    Ok(CampaignRequestPage::of(page, found, total, CampaignRequest::from))
}

async fn get(ctx: &Ctx, input: RequestById) -> ApiResult<CampaignRequest> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    Ok(campaign_requests::get(&ctx.state, &caller, input.id).await?.into())
}

pub(super) async fn admin_list(ctx: &Ctx, input: SearchRequests) -> ApiResult<CampaignRequestPage> {
    ctx.require(Role::SuperAdmin)?;
    let page = input.page()?;
    let (found, total) = campaign_requests::list_all(&ctx.state, input.org_id, input.status, page).await?;
    Ok(CampaignRequestPage::of(page, found, total, CampaignRequest::from))
}

pub(super) async fn admin_update(ctx: &Ctx, input: UpdateRequest) -> ApiResult<CampaignRequest> {
    let caller = ctx.require(Role::SuperAdmin)?;
    Ok(campaign_requests::update(&ctx.state, &caller, input.id, input.status, input.note).await?.into())
}

pub(super) async fn admin_fulfil(ctx: &Ctx, input: FulfilRequest) -> ApiResult<CampaignRequest> {
    let caller = ctx.require(Role::SuperAdmin)?;
    Ok(campaign_requests::fulfil(&ctx.state, &caller, input.id, input.campaign_id).await?.into())
}
