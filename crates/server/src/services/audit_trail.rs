//! Audit entries for the changes (and operator reads) use cases make, by a signed-in caller or a
//! verified webhook, written on the change's own transaction so the entry commits with what it
//! records.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::OrgId;
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
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
    let entry = Entry { org, action, entity_id: entity_id.to_string(), changed_fields };
    write(conn, caller.audit_actor(), caller.request_id.clone(), entry).await
}

/// Records `action` on `entity_id` in `org`, done by a verified webhook from `source` (such as
/// `clerk`) rather than by a signed-in caller; such a change has no request id.
pub async fn record_by_webhook(
    conn: &impl ConnectionTrait,
    source: &str,
    org: OrgId,
    action: AuditAction,
    entity_id: impl ToString,
    changed_fields: Vec<String>,
) -> ServiceResult<()> {
    let actor = AuditActor::Webhook { source: source.to_owned() };
    let entry = Entry { org, action, entity_id: entity_id.to_string(), changed_fields };
    write(conn, actor, None, entry).await
}

/// What an entry records, whoever the actor.
struct Entry {
    org: OrgId,
    action: AuditAction,
    entity_id: String,
    changed_fields: Vec<String>,
}

async fn write(
    conn: &impl ConnectionTrait,
    actor: AuditActor,
    request_id: Option<String>,
    entry: Entry,
) -> ServiceResult<()> {
    audit::record(
        conn,
        AuditRecord {
            org: Some(entry.org),
            actor,
            action: entry.action.as_str().to_owned(),
            entity_type: entry.action.entity().to_owned(),
            entity_id: Some(entry.entity_id),
            changed_fields: entry.changed_fields,
            request_id,
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
