//! Oversight: an operator (super admin) acts in a clinic by naming it (`orgId`), for the reads
//! and the run lifecycle changes that take one. The organization must exist; the access is
//! audited there with the operator as actor, and so is every change made in it. Anyone else
//! naming another organization is refused (400 naming `orgId`), so a clinic cannot probe others.

use rivvi_domain::ids::OrgId;
use rivvi_domain::Role;
use rivvi_persistence::{organizations, OrgScope};
use sea_orm::TransactionTrait;

use super::{audit_trail, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// The caller as it acts: in its own organization, or (operators only) in the one named.
pub async fn acting_in(
    state: &AppState,
    caller: OrgCaller,
    org_id: Option<OrgId>,
) -> ServiceResult<OrgCaller> {
    let Some(org) = org_id.filter(|org| *org != caller.scope.org_id()) else {
        return Ok(caller);
    };
    if caller.role != Role::SuperAdmin {
        return Err(ServiceError::invalid("orgId", "only operators may act in another organization"));
    }
    let txn = state.db.begin().await?;
    organizations::get_by_id(&txn, org).await?;
    audit_trail::record_access(&txn, &caller, org).await?;
    txn.commit().await?;
    Ok(OrgCaller { scope: OrgScope::for_verified_org(org), ..caller })
}
