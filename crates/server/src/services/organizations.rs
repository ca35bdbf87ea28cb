//! Organizations: the caller's own (read by members, changed by admins), and every organization
//! for operators, who list, open (audited) and create them ahead of Clerk's webhook.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::OrgId;
use rivvi_domain::organization::{
    CallsPerMinute, ConcurrentCallLimit, NumberPurpose, OrgName, OrgSettings, OrganizationUpdate,
    TranscriptRetentionDays, UploadRetentionDays,
};
use rivvi_domain::validation::ValidationErrors;
use rivvi_domain::Patch;
use rivvi_persistence::identity::{self, MemberRecord};
use rivvi_persistence::organizations::{self, NewOrganization, OrgSettingsChange, OrganizationRecord};
use rivvi_persistence::phone_numbers::{self, NewAssignment};
use rivvi_persistence::{OrgScope, Page};
use sea_orm::TransactionTrait;

use super::error::conflict_as;
use super::{audit_trail, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// Longest slug, in bytes.
const MAX_SLUG: usize = 120;

/// An organization an operator creates before Clerk's webhook announces it.
#[derive(Debug, Clone)]
pub struct OrganizationRequest {
    /// The Clerk organization id (`org_…`).
    pub clerk_org_id: String,
    pub name: String,
    pub slug: Option<String>,
    /// Its first settings, under `organizations.update`'s rules (`name` is ignored).
    pub settings: OrganizationUpdate,
}

pub async fn current(state: &AppState, caller: &OrgCaller) -> ServiceResult<OrganizationRecord> {
    Ok(organizations::get(&state.db, &caller.scope).await?)
}

/// A page of the organization's members, with the total.
pub async fn members(
    state: &AppState,
    caller: &OrgCaller,
    page: Page,
) -> ServiceResult<(Vec<MemberRecord>, u64)> {
    Ok(identity::list_members(&state.db, &caller.scope, page).await?)
}

/// Changes the caller's organization's settings; an update that changes nothing writes nothing.
#[tracing::instrument(skip_all, fields(org_id = %caller.scope), err)]
pub async fn update(
    state: &AppState,
    caller: &OrgCaller,
    update: OrganizationUpdate,
) -> ServiceResult<OrganizationRecord> {
    let update = update.validate()?;
    let txn = state.db.begin().await?;
    let current = organizations::get(&txn, &caller.scope).await?;
    let mut settings = settings_of(&current)?;
    let changed = settings.apply(update);
    if changed.is_empty() {
        txn.rollback().await?;
        return Ok(current);
    }
    if changed.contains(&"callerNumber") {
        if let Some(number) = &settings.caller_number {
            let own = phone_numbers::assigned_to(&txn, &caller.scope, number).await?;
            if !own.is_some_and(|n| n.purpose.allows_outbound()) {
                return Err(ServiceError::invalid(
                    "callerNumber",
                    "is not one of this organization's outbound numbers (organizations.phoneNumbers lists them; \
                     an operator assigns numbers)",
                ));
            }
        }
    }
    let change = change_for(settings, &changed);
    let updated = organizations::update_settings(&txn, &caller.scope, change).await?;
    let fields = changed.iter().map(|f| (*f).to_owned()).collect();
    audit_trail::record(&txn, caller, current.id, AuditAction::OrganizationUpdated, current.id, fields)
        .await?;
    txn.commit().await?;
    // No remembered caller reads these settings today; clearing anyway keeps the rule simple
    // (every identity write clears) and is cheap for a rare admin action.
    state.auth_cache.forget_callers();
    Ok(updated)
}

/// Every organization (operators), optionally matching `search`, with the total.
pub async fn list_all(
    state: &AppState,
    search: Option<&str>,
    page: Page,
) -> ServiceResult<(Vec<OrganizationRecord>, u64)> {
    Ok(organizations::list(&state.db, search, page.limit, page.offset).await?)
}

/// Any organization by id (operators); the read is logged in that organization.
pub async fn open(state: &AppState, caller: &OrgCaller, id: OrgId) -> ServiceResult<OrganizationRecord> {
    let txn = state.db.begin().await?;
    let record = organizations::get_by_id(&txn, id).await?;
    audit_trail::record(&txn, caller, record.id, AuditAction::OrganizationAccessed, record.id, vec![])
        .await?;
    txn.commit().await?;
    Ok(record)
}

/// Creates an organization (operators). It is the operator organization when its Clerk id is
/// `RIVVI_OPERATOR_ORG`.
#[tracing::instrument(skip_all, err)]
pub async fn create(
    state: &AppState,
    caller: &OrgCaller,
    request: OrganizationRequest,
) -> ServiceResult<OrganizationRecord> {
    let mut errors = ValidationErrors::new();
    let clerk_org_id = request.clerk_org_id.trim().to_owned();
    if !clerk_org_id.starts_with("org_")
        || clerk_org_id.len() > 64
        || clerk_org_id.chars().any(char::is_whitespace)
    {
        errors.push("clerkOrgId", "must be a Clerk organization id such as org_2abc");
    }
    let name = errors.check("name", OrgName::parse(&request.name));
    let slug = request.slug.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if slug.as_ref().is_some_and(|s| s.len() > MAX_SLUG) {
        errors.push("slug", format!("must be at most {MAX_SLUG} characters"));
    }
    let settings = match (OrganizationUpdate { name: None, ..request.settings }).validate() {
        Ok(settings) => Some(settings),
        Err(nested) => {
            errors.nest("", nested);
            None
        }
    };
    let (Some(name), Some(settings), true) = (name, settings, errors.is_empty()) else {
        return Err(errors.into());
    };

    let new = NewOrganization {
        is_operator: state.auth.operator_org() == Some(clerk_org_id.as_str()),
        clerk_org_id,
        name: name.as_str().to_owned(),
        slug,
        time_zone: settings.time_zone,
        office_hours: settings.office_hours,
        caller_number: settings.caller_number.into_change().flatten(),
        concurrent_call_limit: settings.concurrent_call_limit.map(|l| l.get()),
        calls_per_minute: settings.calls_per_minute.map(|l| l.get()),
    };
    let caller_number = new.caller_number.clone();
    let retention = OrgSettingsChange {
        upload_retention_days: settings.upload_retention_days.map(|d| d.get()),
        transcript_retention_days: settings.transcript_retention_days.map(|d| d.get()),
        ..OrgSettingsChange::default()
    };
    let txn = state.db.begin().await?;
    let record = organizations::create(&txn, new)
        .await
        .map_err(conflict_as("an organization with this clerkOrgId already exists"))?;
    // Created with the default retention; a chosen one is written in the same transaction (an
    // empty change writes nothing).
    let record =
        organizations::update_settings(&txn, &OrgScope::for_verified_org(record.id), retention).await?;
    // An operator creating an organization with a caller number assigns it that number.
    if let Some(number) = caller_number {
        let scope = OrgScope::for_verified_org(record.id);
        let assignment = NewAssignment {
            number,
            purpose: NumberPurpose::Both,
            inbound_campaign_id: None,
            retell_number_id: None,
        };
        phone_numbers::assign(&txn, &scope, assignment)
            .await
            .map_err(conflict_as("callerNumber is assigned to another organization"))?;
    }
    audit_trail::record(&txn, caller, record.id, AuditAction::OrganizationCreated, record.id, vec![]).await?;
    txn.commit().await?;
    // Every identity write clears the remembered callers (see `auth::cache`).
    state.auth_cache.forget_callers();
    Ok(record)
}

/// The stored settings as the domain's. The zone, hours and number already are domain values;
/// the name and limits are checked against the domain's rules here (stored ones that break them
/// are a bug, not bad input).
fn settings_of(record: &OrganizationRecord) -> ServiceResult<OrgSettings> {
    let corrupt = |what: &str| ServiceError::corrupt(format_args!("organization {what}"));
    Ok(OrgSettings {
        name: OrgName::parse(&record.name).map_err(|_| corrupt("name"))?,
        time_zone: record.time_zone,
        office_hours: record.office_hours.clone(),
        caller_number: record.caller_number.clone(),
        concurrent_call_limit: ConcurrentCallLimit::parse(record.concurrent_call_limit.into())
            .map_err(|_| corrupt("concurrent call limit"))?,
        calls_per_minute: CallsPerMinute::parse(record.calls_per_minute.into())
            .map_err(|_| corrupt("calls per minute"))?,
        upload_retention_days: UploadRetentionDays::parse(record.upload_retention_days.into())
            .map_err(|_| corrupt("upload retention"))?,
        transcript_retention_days: TranscriptRetentionDays::parse(record.transcript_retention_days.into())
            .map_err(|_| corrupt("transcript retention"))?,
    })
}

/// The storage change for the fields `OrgSettings::apply` reported as changed.
fn change_for(settings: OrgSettings, changed: &[&str]) -> OrgSettingsChange {
    let has = |name: &str| changed.contains(&name);
    OrgSettingsChange {
        name: has("name").then(|| settings.name.into()),
        time_zone: has("timeZone").then_some(settings.time_zone),
        office_hours: has("officeHours").then_some(settings.office_hours),
        caller_number: match has("callerNumber") {
            true => Patch::to(settings.caller_number),
            false => Patch::Keep,
        },
        concurrent_call_limit: has("concurrentCallLimit").then(|| settings.concurrent_call_limit.get()),
        calls_per_minute: has("callsPerMinute").then(|| settings.calls_per_minute.get()),
        upload_retention_days: has("uploadRetentionDays").then(|| settings.upload_retention_days.get()),
        transcript_retention_days: has("transcriptRetentionDays")
            .then(|| settings.transcript_retention_days.get()),
    }
}
