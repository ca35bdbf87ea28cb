//! The organization's calls, for staff reading what happened: a filtered page of summaries
//! (numbers only by their last four digits) and one call in full.

use rivvi_domain::ids::CallId;
use rivvi_persistence::calls::{self, CallDetail, CallFilter, CallListEntry};
use rivvi_persistence::Page;

use super::ServiceResult;
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
pub async fn get(state: &AppState, caller: &OrgCaller, id: CallId) -> ServiceResult<CallDetail> {
    Ok(calls::get_detail(&state.db, &caller.scope, &state.keys, id).await?)
}
