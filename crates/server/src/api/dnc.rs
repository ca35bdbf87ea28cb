//! `dnc.*`: the organization's do-not-call list, kept by its admins.
//!
//! The dialler checks every number against this list before it calls (by the number's HMAC phone
//! key); admins add numbers in any common format (normalised to E.164 here), read the list back
//! with the numbers, and remove entries by number or id. Every change is audit-logged in its own
//! transaction with field names only: the number never reaches the audit log.

use chrono::{DateTime, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::UserId;
use rivvi_domain::validation::{single_line, ValidationErrors};
use rivvi_domain::{PhoneNumber, Role};
use rivvi_persistence::do_not_call::{self, DoNotCallRecord};
use rspc::{Router, RouterBuilder};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use specta::Type;
use uuid::Uuid;

use super::error::{ApiError, ApiResult};
use super::organizations::{has_more, saturating_u32, Pagination};
use super::{audit_trail, Ctx, Input};

/// Longest reason, in characters.
const MAX_REASON: usize = 500;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("list", |t| {
            t(|ctx: Ctx, input: Input<Pagination>| async move { Ok(list(&ctx, input.parse()?).await?) })
        })
        .mutation("add", |t| {
            t(|ctx: Ctx, input: Input<AddNumber>| async move { Ok(add(&ctx, input.parse()?).await?) })
        })
        .mutation("remove", |t| {
            t(|ctx: Ctx, input: Input<RemoveNumber>| async move { Ok(remove(&ctx, input.parse()?).await?) })
        })
}

// ---------------------------------------------------------------- inputs

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddNumber {
    /// Any common format (`(312) 555-0143`, `+13125550143`); stored as E.164.
    pub phone: String,
    /// Why (such as `patient asked on 2026-11-20`); one line.
    #[serde(default)]
    #[specta(optional)]
    pub reason: Option<String>,
}

/// Exactly one of `phone` and `id`.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveNumber {
    #[serde(default)]
    #[specta(optional)]
    pub phone: Option<String>,
    #[serde(default)]
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

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DoNotCallPage {
    pub entries: Vec<DoNotCallEntry>,
    pub total: u32,
    pub has_more: bool,
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
    let caller = ctx.require(Role::Admin)?;
    let page = input.page()?;
    let (entries, total) =
        do_not_call::list_with_numbers(&ctx.state.db, &caller.scope, &ctx.state.keys, page).await?;
    let has_more = has_more(page, entries.len(), total);
    Ok(DoNotCallPage {
        entries: entries.into_iter().map(|e| entry_view(e.record, e.number)).collect(),
        total: saturating_u32(total),
        has_more,
    })
}

async fn add(ctx: &Ctx, input: AddNumber) -> ApiResult<AddedNumber> {
    let caller = ctx.require(Role::Admin)?;
    let mut errors = ValidationErrors::new();
    let phone = errors.check("phone", PhoneNumber::parse(input.phone.trim()));
    let reason = match input.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => errors.check("reason", single_line(reason, MAX_REASON)),
        None => Some(String::new()),
    };
    let (Some(phone), Some(reason), true) = (phone, reason, errors.is_empty()) else {
        return Err(errors.into());
    };
    let now = ctx.state.clock.now();
    let txn = ctx.state.db.begin().await?;
    let (record, added) = do_not_call::add_if_absent(
        &txn,
        &caller.scope,
        &ctx.state.keys,
        phone.as_str(),
        &reason,
        Some(caller.user_id),
        now,
    )
    .await?;
    if added {
        let org = Some(caller.scope.org_id());
        let fields = vec!["phone".to_owned(), "reason".to_owned()];
        audit_trail::record(&txn, ctx, &caller, org, AuditAction::DoNotCallAdded, record.id, fields).await?;
    }
    txn.commit().await?;
    Ok(AddedNumber { entry: entry_view(record, Some(phone.as_str().to_owned())), added })
}

async fn remove(ctx: &Ctx, input: RemoveNumber) -> ApiResult<RemovedNumber> {
    let caller = ctx.require(Role::Admin)?;
    let target = match (input.phone.as_deref(), input.id) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("id", "give either phone or id, not both")),
        (None, None) => return Err(ApiError::invalid("phone", "give the phone number or the entry id")),
        (Some(phone), None) => Target::Phone(
            PhoneNumber::parse(phone.trim()).map_err(|e| ApiError::invalid("phone", e.to_string()))?,
        ),
        (None, Some(id)) => Target::Id(id),
    };
    let scope = &caller.scope;
    let txn = ctx.state.db.begin().await?;
    let id = match target {
        Target::Id(id) => id,
        Target::Phone(phone) => {
            match do_not_call::find(&txn, scope, &ctx.state.keys, phone.as_str()).await? {
                Some(entry) => entry.id,
                // Not listed: nothing to remove, nothing to log.
                None => {
                    txn.rollback().await?;
                    return Ok(RemovedNumber { removed: false, id: None });
                }
            }
        }
    };
    if !do_not_call::remove_by_id(&txn, scope, id).await? {
        txn.rollback().await?;
        return Err(ApiError::not_found("do-not-call entry"));
    }
    audit_trail::record(&txn, ctx, &caller, Some(scope.org_id()), AuditAction::DoNotCallRemoved, id, vec![])
        .await?;
    txn.commit().await?;
    Ok(RemovedNumber { removed: true, id: Some(id) })
}

/// What `dnc.remove` names.
enum Target {
    Phone(PhoneNumber),
    Id(Uuid),
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
