//! `admin.*`: operator (super admin) procedures that reach any organization by explicit id.
//! Every read of one organization is audit-logged in that organization.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::OrgId;
use rivvi_domain::office_hours::OfficeHoursInput;
use rivvi_domain::organization::{OrgName, OrganizationUpdate};
use rivvi_domain::validation::ValidationErrors;
use rivvi_domain::Role;
use rivvi_persistence::organizations::{self, NewOrganization};
use rspc::{Router, RouterBuilder};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::{ApiError, ApiResult};
use super::organizations::{has_more, saturating_u32, Organization, Pagination};
use super::{audit_trail, Ctx, Input};

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("organizations.list", |t| {
            t(|ctx: Ctx, input: Input<OrganizationSearch>| async move { Ok(list(&ctx, input.parse()?).await?) })
        })
        .query("organizations.get", |t| {
            t(|ctx: Ctx, input: Input<ById>| async move { Ok(get(&ctx, input.parse()?).await?) })
        })
        .mutation("organizations.create", |t| {
            t(|ctx: Ctx, input: Input<CreateOrganization>| async move { Ok(create(&ctx, input.parse()?).await?) })
        })
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrganizationSearch {
    /// Matches name, slug or Clerk id, case-insensitively.
    #[serde(default)]
    #[specta(optional)]
    pub search: Option<String>,
    #[serde(default)]
    #[specta(optional)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[specta(optional)]
    pub offset: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ById {
    pub id: OrgId,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationPage {
    pub organizations: Vec<Organization>,
    pub total: u32,
    pub has_more: bool,
}

/// An organization created by an operator ahead of its Clerk webhook.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrganization {
    /// The Clerk organization id (`org_…`).
    pub clerk_org_id: String,
    pub name: String,
    #[serde(default)]
    #[specta(optional)]
    pub slug: Option<String>,
    #[serde(default)]
    #[specta(optional)]
    pub time_zone: Option<String>,
    #[serde(default)]
    #[specta(optional)]
    pub office_hours: Option<OfficeHoursInput>,
    #[serde(default)]
    #[specta(optional)]
    pub caller_number: Option<String>,
    #[serde(default)]
    #[specta(optional)]
    pub concurrent_call_limit: Option<i32>,
    #[serde(default)]
    #[specta(optional)]
    pub calls_per_minute: Option<i32>,
}

async fn list(ctx: &Ctx, input: OrganizationSearch) -> ApiResult<OrganizationPage> {
    ctx.require(Role::SuperAdmin)?;
    let page = Pagination { limit: input.limit, offset: input.offset }.page()?;
    let (records, total) =
        organizations::list(&ctx.state.db, input.search.as_deref(), page.limit, page.offset).await?;
    let has_more = has_more(page, records.len(), total);
    Ok(OrganizationPage {
        organizations: records.into_iter().map(Organization::try_from).collect::<ApiResult<_>>()?,
        total: saturating_u32(total),
        has_more,
    })
}

async fn get(ctx: &Ctx, input: ById) -> ApiResult<Organization> {
    let caller = ctx.require(Role::SuperAdmin)?;
    let txn = ctx.state.db.begin().await?;
    let record = organizations::get_by_id(&txn, input.id).await?;
    audit_trail::record(
        &txn,
        ctx,
        &caller,
        Some(record.id),
        AuditAction::OrganizationAccessed,
        record.id,
        vec![],
    )
    .await?;
    txn.commit().await?;
    record.try_into()
}

async fn create(ctx: &Ctx, input: CreateOrganization) -> ApiResult<Organization> {
    let caller = ctx.require(Role::SuperAdmin)?;
    let mut errors = ValidationErrors::new();
    let clerk_org_id = input.clerk_org_id.trim().to_owned();
    if !clerk_org_id.starts_with("org_")
        || clerk_org_id.len() > 64
        || clerk_org_id.chars().any(char::is_whitespace)
    {
        errors.push("clerkOrgId", "must be a Clerk organization id such as org_2abc");
    }
    let name = errors.check("name", OrgName::parse(&input.name));
    let slug = input.slug.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if slug.as_ref().is_some_and(|s| s.len() > 120) {
        errors.push("slug", "must be at most 120 characters");
    }
    // The settings fields share `organizations.update`'s rules.
    let settings = OrganizationUpdate {
        name: None,
        time_zone: input.time_zone,
        office_hours: input.office_hours,
        caller_number: input.caller_number.map(Some),
        concurrent_call_limit: input.concurrent_call_limit,
        calls_per_minute: input.calls_per_minute,
    }
    .validate();
    let settings = match settings {
        Ok(settings) => Some(settings),
        Err(nested) => {
            errors.nest("", nested);
            None
        }
    };
    let (Some(name), Some(settings)) = (name, settings) else { return Err(errors.into()) };
    if !errors.is_empty() {
        return Err(errors.into());
    }

    let new = NewOrganization {
        clerk_org_id,
        name: name.as_str().to_owned(),
        slug,
        time_zone: settings.time_zone.map(|z| z.to_string()),
        office_hours: settings
            .office_hours
            .map(|h| serde_json::to_value(h).map_err(anyhow::Error::from))
            .transpose()?,
        caller_number: settings.caller_number.flatten().map(|n| n.to_string()),
        concurrent_call_limit: settings.concurrent_call_limit.map(|l| l.get()),
        calls_per_minute: settings.calls_per_minute.map(|l| l.get()),
        is_operator: ctx.state.auth.operator_org() == Some(input.clerk_org_id.trim()),
    };
    let txn = ctx.state.db.begin().await?;
    let record = organizations::create(&txn, new).await.map_err(|err| match err {
        rivvi_persistence::PersistenceError::Conflict { .. } => {
            ApiError::Conflict("an organization with this clerkOrgId already exists".into())
        }
        other => other.into(),
    })?;
    audit_trail::record(
        &txn,
        ctx,
        &caller,
        Some(record.id),
        AuditAction::OrganizationCreated,
        record.id,
        vec![],
    )
    .await?;
    txn.commit().await?;
    record.try_into()
}
