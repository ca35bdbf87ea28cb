//! `dnc.*`: the organization's do-not-call list, kept by its admins.
//!
//! The dialler checks every number against this list before it calls (by the number's HMAC phone
//! key); admins add numbers in any common format (normalised to E.164 here), read the list back
//! with the numbers, and remove entries by number or id. Every change is audit-logged in its own
//! transaction with field names only: the number never reaches the audit log.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::UserId;
use rivvi_domain::Role;
use rivvi_persistence::do_not_call::DoNotCallRecord;
use rspc::{Router, RouterBuilder};
use serde::{Deserialize, Serialize};
use specta::Type;
use uuid::Uuid;

use super::error::{ApiError, ApiResult};
use super::paging::Pagination;
use super::Ctx;
use crate::services::dnc::{self, Listed};

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("list", procedure!(list))
        .mutation("add", procedure!(add))
        .mutation("remove", procedure!(remove))
}

// ---------------------------------------------------------------- inputs

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddNumber {
    /// Any common format (`(312) 555-0143`, `+13125550143`); stored as E.164.
    pub phone: String,
    /// Why (such as `patient asked on 2026-11-20`); one line.
    #[specta(optional)]
    pub reason: Option<String>,
}

/// Exactly one of `phone` and `id`.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveNumber {
    #[specta(optional)]
    pub phone: Option<String>,
    #[specta(optional)]
    pub id: Option<Uuid>,
}

// ---------------------------------------------------------------- outputs

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DoNotCallEntry {
    pub id: Uuid,
    /// E.164; null for an entry written before numbers were kept (add the number again to fill it).
    pub phone: Option<String>,
    /// The HMAC of the number the dialler checks.
    pub phone_key: String,
    pub reason: String,
    pub added_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

page_output! {
    pub struct DoNotCallPage { entries: DoNotCallEntry }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AddedNumber {
    pub entry: DoNotCallEntry,
    /// False when the number was already listed: the existing entry, unchanged.
    pub added: bool,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RemovedNumber {
    /// False when the number was not listed.
    pub removed: bool,
    /// The removed entry.
    pub id: Option<Uuid>,
}

// ---------------------------------------------------------------- procedures

async fn list(ctx: &Ctx, input: Pagination) -> ApiResult<DoNotCallPage> {
    let caller = ctx.require_in(Role::Admin, input.org_id).await?;
    let page = input.page()?;
    let (entries, total) = dnc::list(&ctx.state, &caller, page).await?;
    Ok(DoNotCallPage::of(page, entries, total, |e| entry_view(e.record, e.number)))
}

async fn add(ctx: &Ctx, input: AddNumber) -> ApiResult<AddedNumber> {
    let caller = ctx.require(Role::Admin)?;
    let (record, phone, added) = dnc::add(&ctx.state, &caller, &input.phone, input.reason.as_deref()).await?;
    Ok(AddedNumber { entry: entry_view(record, Some(phone.as_str().to_owned())), added })
}

async fn remove(ctx: &Ctx, input: RemoveNumber) -> ApiResult<RemovedNumber> {
    let caller = ctx.require(Role::Admin)?;
    let target = match (input.phone, input.id) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("id", "give either phone or id, not both")),
        (None, None) => return Err(ApiError::invalid("phone", "give the phone number or the entry id")),
        (Some(phone), None) => Listed::Phone(phone),
        (None, Some(id)) => Listed::Id(id),
    };
    let removed = dnc::remove(&ctx.state, &caller, target).await?;
    Ok(RemovedNumber { removed: removed.is_some(), id: removed })
}

fn entry_view(record: DoNotCallRecord, phone: Option<String>) -> DoNotCallEntry {
    DoNotCallEntry {
        id: record.id,
        phone,
        phone_key: record.phone_key,
        reason: record.reason,
        added_by: record.added_by,
        created_at: record.created_at,
    }
}
