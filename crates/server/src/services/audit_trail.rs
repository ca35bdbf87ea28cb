//! Audit entries for the changes (and operator reads) use cases make, by a signed-in caller or a
//! verified webhook, written on the change's own transaction so the entry commits with what it
//! records.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::{OrgId, RunId};
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
use rivvi_persistence::patients::{AddedPhone, PhoneSource};
use sea_orm::{ConnectionTrait, DatabaseTransaction};

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

/// Records that a number was added to a patient's contact points: the entry names the patient,
/// the contact point and, for a sheet, the run created from it; never the number.
pub async fn phone_added(
    conn: &impl ConnectionTrait,
    caller: &OrgCaller,
    added: &AddedPhone,
    source: PhoneSource,
    run: Option<RunId>,
) -> ServiceResult<()> {
    let mut fields = vec![format!("contactPoint:{}", added.id), format!("source={}", source.as_str())];
    fields.extend(run.map(|run| format!("run:{run}")));
    let org = caller.scope.org_id();
    record(conn, caller, org, AuditAction::PatientPhoneAdded, added.patient_id, fields).await
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

/// Records that the caller read patient data: `action` (a read, see `AuditAction::kind`) on
/// `entity_id` when one entity was read, how many `rows` came back and which (`ids`, such as
/// `patient:<uuid>`, when they are stored entities); never a value. HIPAA's audit controls
/// (45 CFR 164.312(b)) ask who saw which record, not only who changed it. Written in the
/// organization whose data it is, on `txn`, the read's own transaction (see
/// `audit::record_access` for its durability).
pub async fn record_read(
    txn: &DatabaseTransaction,
    caller: &OrgCaller,
    action: AuditAction,
    entity_id: Option<String>,
    rows: usize,
    ids: impl IntoIterator<Item = String>,
) -> ServiceResult<()> {
    debug_assert_eq!(action.kind(), rivvi_domain::audit::AuditKind::Read, "{action} is not a read");
    let mut fields = vec![format!("rows={rows}")];
    fields.extend(ids);
    audit::record_access(
        txn,
        AuditRecord {
            org: Some(caller.scope.org_id()),
            actor: caller.audit_actor(),
            action: action.as_str().to_owned(),
            entity_type: action.entity().to_owned(),
            entity_id,
            changed_fields: fields,
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
