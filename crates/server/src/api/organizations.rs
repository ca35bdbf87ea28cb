//! `organizations.*`: the caller's own organization (`services::organizations`).

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{OrgId, UserId};
use rivvi_domain::office_hours::OfficeHours;
use rivvi_domain::organization::OrganizationUpdate;
use rivvi_domain::Role;
use rivvi_persistence::organizations::OrganizationRecord;
use rspc::{Router, RouterBuilder};
use serde::Serialize;
use specta::Type;

use super::error::ApiResult;
use super::paging::Pagination;
use super::Ctx;
use crate::services::organizations;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("getCurrent", |t| t(|ctx: Ctx, _: ()| async move { Ok(get_current(&ctx).await?) }))
        .query("isSuperAdmin", |t| t(|ctx: Ctx, _: ()| async move { Ok(is_super_admin(&ctx)?) }))
        .query("getMembers", procedure!(get_members))
        .query("phoneNumbers", |t| {
            t(|ctx: Ctx, _: ()| async move { Ok(super::phone_numbers::own(&ctx).await?) })
        })
        .mutation("update", procedure!(update))
        .subscription("events", |t| t(super::live::org_events))
}

/// An organization as the frontend sees it.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: OrgId,
    pub clerk_org_id: String,
    pub name: String,
    pub slug: Option<String>,
    pub time_zone: String,
    pub office_hours: OfficeHours,
    pub caller_number: Option<String>,
    pub concurrent_call_limit: u32,
    pub calls_per_minute: u32,
    /// Days an upload is kept after the last run made from it ended (or after it was uploaded,
    /// when no run was made from it); then the file is deleted (the runs keep every cell).
    pub upload_retention_days: u32,
    /// Days a call's transcript, summary and recording URL are kept after the call ended; then
    /// they are cleared (the analysis stays).
    pub transcript_retention_days: u32,
    pub is_operator: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<OrganizationRecord> for Organization {
    fn from(record: OrganizationRecord) -> Self {
        Organization {
            id: record.id,
            clerk_org_id: record.clerk_org_id,
            name: record.name,
            slug: record.slug,
            time_zone: record.time_zone.into(),
            office_hours: record.office_hours,
            caller_number: record.caller_number.map(String::from),
            concurrent_call_limit: record.concurrent_call_limit,
            calls_per_minute: record.calls_per_minute,
            upload_retention_days: record.upload_retention_days,
            transcript_retention_days: record.transcript_retention_days,
            is_operator: record.is_operator,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: UserId,
    pub clerk_user_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

page_output! {
    pub struct MemberList { members: Member }
}

async fn get_current(ctx: &Ctx) -> ApiResult<Organization> {
    let caller = ctx.require(Role::Member)?;
    Ok(organizations::current(&ctx.state, &caller).await?.into())
}

fn is_super_admin(ctx: &Ctx) -> ApiResult<bool> {
    let caller = ctx.caller()?;
    Ok(caller.org.as_ref().is_some_and(|org| org.role == Role::SuperAdmin))
}

async fn get_members(ctx: &Ctx, input: Pagination) -> ApiResult<MemberList> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let page = input.page()?;
    let (members, total) = organizations::members(&ctx.state, &caller, page).await?;
    Ok(MemberList::of(page, members, total, |m| Member {
        user_id: m.user.id,
        clerk_user_id: m.user.clerk_user_id,
        email: m.user.email,
        first_name: m.user.first_name,
        last_name: m.user.last_name,
        image_url: m.user.image_url,
        role: m.role,
        joined_at: m.joined_at,
    }))
}

async fn update(ctx: &Ctx, input: OrganizationUpdate) -> ApiResult<Organization> {
    let caller = ctx.require(Role::Admin)?;
    Ok(organizations::update(&ctx.state, &caller, input).await?.into())
}
