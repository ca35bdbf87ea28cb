//! Reading an organization's audit log (its admins).

use rivvi_persistence::audit::{self, AuditEntry, AuditFilter};

use super::ServiceResult;
use crate::auth::OrgCaller;
use crate::state::AppState;

/// A page of the organization's entries matching `filter`, newest first, with the total.
pub async fn list(
    state: &AppState,
    caller: &OrgCaller,
    filter: &AuditFilter,
) -> ServiceResult<(Vec<AuditEntry>, u64)> {
    Ok(audit::list(&state.db, &caller.scope, filter).await?)
}
