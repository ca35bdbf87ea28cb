//! `organizations.*`: the caller's own organization.

use chrono::{DateTime, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::{OrgId, UserId};
use rivvi_domain::office_hours::OfficeHours;
use rivvi_domain::organization::{OrgName, OrgSettings, OrganizationUpdate};
use rivvi_domain::phone::PhoneNumber;
use rivvi_domain::time_zone::IanaZone;
use rivvi_domain::Role;
use rivvi_persistence::identity;
use rivvi_persistence::organizations::{self, OrgSettingsChange, OrganizationRecord};
use rivvi_persistence::Page;
use rspc::{Router, RouterBuilder};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::{ApiError, ApiResult};
use super::{audit_trail, Ctx, Input};

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("getCurrent", |t| t(|ctx: Ctx, _: ()| async move { Ok(get_current(&ctx).await?) }))
        .query("isSuperAdmin", |t| t(|ctx: Ctx, _: ()| async move { Ok(is_super_admin(&ctx)?) }))
        .query("getMembers", |t| {
            t(|ctx: Ctx, input: Input<Pagination>| async move { Ok(get_members(&ctx, input.parse()?).await?) })
        })
        .mutation("update", |t| {
            t(|ctx: Ctx, input: Input<OrganizationUpdate>| async move { Ok(update(&ctx, input.parse()?).await?) })
        })
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
    pub is_operator: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<OrganizationRecord> for Organization {
    type Error = ApiError;

    fn try_from(record: OrganizationRecord) -> ApiResult<Self> {
        let office_hours = serde_json::from_value(record.office_hours)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored office hours do not parse: {e}")))?;
        Ok(Organization {
            id: record.id,
            clerk_org_id: record.clerk_org_id,
            name: record.name,
            slug: record.slug,
            time_zone: record.time_zone,
            office_hours,
            caller_number: record.caller_number,
            concurrent_call_limit: record.concurrent_call_limit,
            calls_per_minute: record.calls_per_minute,
            is_operator: record.is_operator,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }
}

/// Limit/offset paging; `limit` is 1..=100 (default 50).
#[derive(Debug, Clone, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pagination {
    #[serde(default)]
    #[specta(optional)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[specta(optional)]
    pub offset: Option<u32>,
}

impl Pagination {
    pub fn page(&self) -> ApiResult<Page> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid("limit", "must be between 1 and 100"));
        }
        Ok(Page::new(limit.into(), self.offset.unwrap_or(0).into()))
    }
}

/// Checks a list filter's `from` (inclusive) / `to` (exclusive) pair: when both are given, `to`
/// must come after `from` (a 400 naming `to`).
pub fn check_time_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> ApiResult<()> {
    match (from, to) {
        (Some(from), Some(to)) if to <= from => Err(ApiError::invalid("to", "must be after from")),
        _ => Ok(()),
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

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MemberList {
    pub members: Vec<Member>,
    pub total: u32,
    pub has_more: bool,
}

async fn get_current(ctx: &Ctx) -> ApiResult<Organization> {
    let caller = ctx.require(Role::Member)?;
    organizations::get(&ctx.state.db, &caller.scope).await?.try_into()
}

fn is_super_admin(ctx: &Ctx) -> ApiResult<bool> {
    let caller = ctx.caller()?;
    Ok(caller.org.as_ref().is_some_and(|org| org.role == Role::SuperAdmin))
}

async fn get_members(ctx: &Ctx, input: Pagination) -> ApiResult<MemberList> {
    let caller = ctx.require(Role::Member)?;
    let page = input.page()?;
    let (members, total) = identity::list_members(&ctx.state.db, &caller.scope, page).await?;
    let has_more = has_more(page, members.len(), total);
    Ok(MemberList {
        members: members
            .into_iter()
            .map(|m| Member {
                user_id: m.user.id,
                clerk_user_id: m.user.clerk_user_id,
                email: m.user.email,
                first_name: m.user.first_name,
                last_name: m.user.last_name,
                image_url: m.user.image_url,
                role: m.role,
                joined_at: m.joined_at,
            })
            .collect(),
        total: saturating_u32(total),
        has_more,
    })
}

async fn update(ctx: &Ctx, input: OrganizationUpdate) -> ApiResult<Organization> {
    let caller = ctx.require(Role::Admin)?;
    let update = input.validate()?;
    let txn = ctx.state.db.begin().await?;
    let current = organizations::get(&txn, &caller.scope).await?;
    let mut settings = settings_of(&current)?;
    let changed = settings.apply(update);
    if changed.is_empty() {
        txn.rollback().await?;
        return current.try_into();
    }
    let change = change_for(&settings, &changed)?;
    let updated = organizations::update_settings(&txn, &caller.scope, change).await?;
    let fields = changed.iter().map(|f| (*f).to_owned()).collect();
    audit_trail::record(
        &txn,
        ctx,
        &caller,
        Some(current.id),
        AuditAction::OrganizationUpdated,
        current.id,
        fields,
    )
    .await?;
    txn.commit().await?;
    updated.try_into()
}

/// The stored settings as domain values; a stored value that does not parse is a bug, not bad input.
pub(super) fn settings_of(record: &OrganizationRecord) -> ApiResult<OrgSettings> {
    let corrupt =
        |what: &str| ApiError::Internal(anyhow::anyhow!("stored organization {what} does not parse"));
    Ok(OrgSettings {
        name: OrgName::parse(&record.name).map_err(|_| corrupt("name"))?,
        time_zone: IanaZone::parse(&record.time_zone).map_err(|_| corrupt("time zone"))?,
        office_hours: serde_json::from_value(record.office_hours.clone())
            .map_err(|_| corrupt("office hours"))?,
        caller_number: record
            .caller_number
            .as_deref()
            .map(PhoneNumber::parse_e164_strict)
            .transpose()
            .map_err(|_| corrupt("caller number"))?,
        concurrent_call_limit: rivvi_domain::organization::ConcurrentCallLimit::parse(
            record.concurrent_call_limit.into(),
        )
        .map_err(|_| corrupt("concurrent call limit"))?,
        calls_per_minute: rivvi_domain::organization::CallsPerMinute::parse(record.calls_per_minute.into())
            .map_err(|_| corrupt("calls per minute"))?,
    })
}

/// The storage change for the fields `OrgSettings::apply` reported as changed.
fn change_for(settings: &OrgSettings, changed: &[&str]) -> ApiResult<OrgSettingsChange> {
    let has = |name: &str| changed.contains(&name);
    Ok(OrgSettingsChange {
        name: has("name").then(|| settings.name.as_str().to_owned()),
        time_zone: has("timeZone").then(|| settings.time_zone.to_string()),
        office_hours: match has("officeHours") {
            true => Some(serde_json::to_value(&settings.office_hours).map_err(anyhow::Error::from)?),
            false => None,
        },
        caller_number: has("callerNumber").then(|| settings.caller_number.as_ref().map(|n| n.to_string())),
        concurrent_call_limit: has("concurrentCallLimit").then(|| settings.concurrent_call_limit.get()),
        calls_per_minute: has("callsPerMinute").then(|| settings.calls_per_minute.get()),
    })
}

/// Whether rows remain after a page that returned `returned` of `total`.
pub(super) fn has_more(page: Page, returned: usize, total: u64) -> bool {
    page.offset + (returned as u64) < total
}

pub(super) fn saturating_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}
