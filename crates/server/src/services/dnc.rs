//! The organization's do-not-call list, kept by its admins. The dialler checks every number
//! against it before it calls (by the number's HMAC phone key). Every change is audit-logged with
//! field names only: the number never reaches the audit log.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::validation::{single_line, ValidationErrors};
use rivvi_domain::PhoneNumber;
use rivvi_persistence::do_not_call::{self, DoNotCallEntry, DoNotCallRecord};
use rivvi_persistence::Page;
use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::{audit_trail, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// Longest reason, in characters.
const MAX_REASON: usize = 500;

/// Which entry `dnc.remove` names.
#[derive(Debug, Clone)]
pub enum Listed {
    /// A number in any common format.
    Phone(String),
    Id(Uuid),
}

/// A page of the list with its numbers opened, with the total.
pub async fn list(
    state: &AppState,
    caller: &OrgCaller,
    page: Page,
) -> ServiceResult<(Vec<DoNotCallEntry>, u64)> {
    Ok(do_not_call::list_with_numbers(&state.db, &caller.scope, &state.keys, page).await?)
}

/// Lists a number (normalised to E.164); a number already listed answers its entry, unchanged
/// (`false`).
pub async fn add(
    state: &AppState,
    caller: &OrgCaller,
    phone: &str,
    reason: Option<&str>,
) -> ServiceResult<(DoNotCallRecord, PhoneNumber, bool)> {
    let mut errors = ValidationErrors::new();
    let phone = errors.check("phone", PhoneNumber::parse(phone.trim()));
    let reason = match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => errors.check("reason", single_line(reason, MAX_REASON)),
        None => Some(String::new()),
    };
    let (Some(phone), Some(reason), true) = (phone, reason, errors.is_empty()) else {
        return Err(errors.into());
    };
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let (record, added) = do_not_call::add_if_absent(
        &txn,
        &caller.scope,
        &state.keys,
        phone.as_str(),
        &reason,
        Some(caller.user_id),
        now,
    )
    .await?;
    if added {
        let fields = vec!["phone".to_owned(), "reason".to_owned()];
        audit_trail::record(
            &txn,
            caller,
            caller.scope.org_id(),
            AuditAction::DoNotCallAdded,
            record.id,
            fields,
        )
        .await?;
    }
    txn.commit().await?;
    Ok((record, phone, added))
}

/// Removes an entry; `None` when the number was not listed (nothing to remove, nothing logged).
/// An id that names no entry of the organization is not found.
pub async fn remove(state: &AppState, caller: &OrgCaller, target: Listed) -> ServiceResult<Option<Uuid>> {
    let phone = match &target {
        Listed::Phone(phone) => {
            Some(PhoneNumber::parse(phone.trim()).map_err(|e| ServiceError::invalid("phone", e))?)
        }
        Listed::Id(_) => None,
    };
    let scope = &caller.scope;
    let txn = state.db.begin().await?;
    let id = match (target, phone) {
        (Listed::Id(id), _) => id,
        (Listed::Phone(_), phone) => {
            let phone = phone.as_ref().map(PhoneNumber::as_str).unwrap_or_default();
            match do_not_call::find(&txn, scope, &state.keys, phone).await? {
                Some(entry) => entry.id,
                None => {
                    txn.rollback().await?;
                    return Ok(None);
                }
            }
        }
    };
    if !do_not_call::remove_by_id(&txn, scope, id).await? {
        txn.rollback().await?;
        return Err(ServiceError::not_found("do-not-call entry"));
    }
    audit_trail::record(&txn, caller, scope.org_id(), AuditAction::DoNotCallRemoved, id, vec![]).await?;
    txn.commit().await?;
    Ok(Some(id))
}
