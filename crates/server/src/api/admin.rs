//! `admin.*`: operator (super admin) procedures that reach any organization by explicit id.
//! Every read of one organization is audit-logged in that organization.

use rivvi_domain::ids::OrgId;
use rivvi_domain::lifecycle::RunStatus;
use rivvi_domain::office_hours::OfficeHoursInput;
use rivvi_domain::organization::OrganizationUpdate;
use rivvi_domain::{Patch, Role};
use rspc::{Router, RouterBuilder};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::ApiResult;
use super::organizations::Organization;
use super::paging::count;
use super::runs::{run_view, Run};
use super::Ctx;
use super::{campaign_requests, phone_numbers};
use crate::services::organizations::{self, OrganizationRequest};
use crate::services::runs;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("organizations.list", procedure!(list))
        .query("organizations.get", procedure!(get))
        .mutation("organizations.create", procedure!(create))
        .mutation("organizations.update", procedure!(update))
        .query("runs.list", procedure!(list_runs))
        .subscription("engine.health", |t| t(super::live::engine_health))
        .query("phoneNumbers.list", procedure!(phone_numbers::list))
        .query("campaignRequests.list", procedure!(campaign_requests::admin_list))
        .mutation("campaignRequests.update", procedure!(campaign_requests::admin_update))
        .mutation("campaignRequests.fulfil", procedure!(campaign_requests::admin_fulfil))
        .mutation("phoneNumbers.assign", procedure!(phone_numbers::assign))
        .mutation("phoneNumbers.release", procedure!(phone_numbers::release))
}

paged_input! {
    pub struct OrganizationSearch {
        /// Matches name, slug or Clerk id, case-insensitively.
        #[specta(optional)]
        pub search: Option<String>,
    }
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ById {
    pub id: OrgId,
}

page_output! {
    pub struct OrganizationPage { organizations: Organization }
}

/// An organization created by an operator ahead of its Clerk webhook.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrganization {
    /// The Clerk organization id (`org_…`).
    pub clerk_org_id: String,
    pub name: String,
    #[specta(optional)]
    pub slug: Option<String>,
    #[specta(optional)]
    pub time_zone: Option<String>,
    #[specta(optional)]
    pub office_hours: Option<OfficeHoursInput>,
    #[specta(optional)]
    pub caller_number: Option<String>,
    #[specta(optional)]
    pub concurrent_call_limit: Option<i32>,
    #[specta(optional)]
    pub calls_per_minute: Option<i32>,
}

async fn list(ctx: &Ctx, input: OrganizationSearch) -> ApiResult<OrganizationPage> {
    ctx.require(Role::SuperAdmin)?;
    let page = input.page()?;
    let (records, total) = organizations::list_all(&ctx.state, input.search.as_deref(), page).await?;
    Ok(OrganizationPage::of(page, records, total, Organization::from))
}

async fn get(ctx: &Ctx, input: ById) -> ApiResult<Organization> {
    let caller = ctx.require(Role::SuperAdmin)?;
    Ok(organizations::open(&ctx.state, &caller, input.id).await?.into())
}

async fn create(ctx: &Ctx, input: CreateOrganization) -> ApiResult<Organization> {
    let caller = ctx.require(Role::SuperAdmin)?;
    let request = OrganizationRequest {
        clerk_org_id: input.clerk_org_id,
        name: input.name,
        slug: input.slug,
        settings: OrganizationUpdate {
            name: None,
            time_zone: input.time_zone,
            office_hours: input.office_hours,
            caller_number: input.caller_number.map_or(Patch::Keep, Patch::Set),
            concurrent_call_limit: input.concurrent_call_limit,
            calls_per_minute: input.calls_per_minute,
            // Retention starts at its defaults; `admin.organizations.update` changes it.
            ..OrganizationUpdate::default()
        },
    };
    Ok(organizations::create(&ctx.state, &caller, request).await?.into())
}

/// `admin.organizations.update`: an operator changes a clinic's settings, under the same rules
/// as the clinic admin's `organizations.update`, audited in the clinic with the operator as actor.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminOrganizationUpdate {
    pub id: OrgId,
    pub patch: OrganizationUpdate,
}

async fn update(ctx: &Ctx, input: AdminOrganizationUpdate) -> ApiResult<Organization> {
    let caller = ctx.require_in(Role::SuperAdmin, Some(input.id)).await?;
    Ok(organizations::update(&ctx.state, &caller, input.patch).await?.into())
}

paged_input! {
    pub struct RunSearch {
        /// Only this organization's runs.
        #[specta(optional)]
        pub org_id: Option<OrgId>,
        /// Only runs in this status.
        #[specta(optional)]
        pub status: Option<RunStatus>,
    }
}

/// A run on the operators' dashboard.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunOverview {
    pub run: Run,
    pub org_id: OrgId,
    pub rows_total: u32,
    /// Rows completed, failed, skipped or cancelled.
    pub rows_final: u32,
    /// The error a row of the run recorded last.
    pub last_error: Option<String>,
}

page_output! {
    pub struct RunOverviewPage { runs: RunOverview }
}

async fn list_runs(ctx: &Ctx, input: RunSearch) -> ApiResult<RunOverviewPage> {
    ctx.require(Role::SuperAdmin)?;
    let page = input.page()?;
    let (found, total) = runs::list_all(&ctx.state, input.org_id, input.status, page).await?;
    Ok(RunOverviewPage::of(page, found, total, |o| RunOverview {
        org_id: o.run.org_id,
        run: run_view(o.run),
        rows_total: count(o.rows_total),
        rows_final: count(o.rows_final),
        last_error: o.last_error,
    }))
}
