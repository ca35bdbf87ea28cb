//! Audit entries for the changes (and operator reads) use cases make, written on the change's
//! own transaction so the entry commits with what it records.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::OrgId;
use rivvi_persistence::audit::{self, AuditRecord};
use sea_orm::ConnectionTrait;

use super::ServiceResult;
use crate::auth::OrgCaller;

/// Records `action` on `entity_id` in `org` (the organization whose data changed, which for a
/// super admin is usually not their own). `changed_fields` are names only, never values.
pub async fn record(
    conn: &impl ConnectionTrait,
    caller: &OrgCaller,
    org: OrgId,
    action: AuditAction,
    entity_id: impl ToString,
    changed_fields: Vec<String>,
) -> ServiceResult<()> {
    audit::record(
        conn,
        AuditRecord {
            org: Some(org),
            actor: caller.audit_actor(),
            action: action.as_str().to_owned(),
            entity_type: action.entity().to_owned(),
            entity_id: Some(entity_id.to_string()),
            changed_fields,
            request_id: caller.request_id.clone(),
        },
    )
    .await?;
    Ok(())
}

/// Logs a super admin's read of another organization's data, in that organization; a read of
/// the caller's own organization is not an access worth logging.
pub async fn record_access(conn: &impl ConnectionTrait, caller: &OrgCaller, org: OrgId) -> ServiceResult<()> {
    if org == caller.scope.org_id() {
        return Ok(());
    }
    record(conn, caller, org, AuditAction::OrganizationAccessed, org, vec![]).await
}
