//! The organization's calls, for staff reading what happened: a filtered page of summaries
//! (numbers only by their last four digits) and one call in full.

use rivvi_domain::ids::CallId;
use rivvi_persistence::calls::{self, CallDetail, CallFilter, CallListEntry};
use rivvi_persistence::Page;

use rivvi_domain::audit::AuditAction;
use sea_orm::TransactionTrait;

use super::{audit_trail, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

pub async fn list(
    state: &AppState,
    caller: &OrgCaller,
    filter: &CallFilter,
    page: Page,
) -> ServiceResult<(Vec<CallListEntry>, u64)> {
    Ok(calls::list(&state.db, &caller.scope, &state.keys, filter, page).await?)
}

/// One call with its numbers, transcript and summary opened.
/// The read is recorded in the access log (the call holds the numbers and the conversation).
pub async fn get(state: &AppState, caller: &OrgCaller, id: CallId) -> ServiceResult<CallDetail> {
    let txn = state.db.begin().await?;
    let detail = calls::get_detail(&txn, &caller.scope, &state.keys, id).await?;
    let ids = std::iter::once(format!("call:{id}"))
        .chain(detail.call.patient_id.map(|patient| format!("patient:{patient}")));
    audit_trail::record_read(&txn, caller, AuditAction::CallViewed, Some(id.to_string()), 1, ids).await?;
    txn.commit().await?;
    Ok(detail)
}
