//! Audit entries for procedure mutations, written on the mutation's own transaction.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::OrgId;
use rivvi_domain::Role;
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
use sea_orm::ConnectionTrait;

use super::context::{Ctx, OrgCaller};
use super::error::ApiResult;

/// Who the caller is, for the log: super admins are marked as such wherever they act.
pub fn actor(caller: &OrgCaller) -> AuditActor {
    let label = caller.clerk_user_id.clone();
    match caller.role {
        Role::SuperAdmin => AuditActor::SuperAdmin { user_id: caller.user_id, label },
        Role::Admin | Role::Member => AuditActor::User { user_id: caller.user_id, label },
    }
}

/// Records `action` on `entity_id` in `org` (the organization whose data changed, which for a
/// super admin is usually not their own). `changed_fields` are names only, never values.
pub async fn record(
    conn: &impl ConnectionTrait,
    ctx: &Ctx,
    caller: &OrgCaller,
    org: Option<OrgId>,
    action: AuditAction,
    entity_id: impl ToString,
    changed_fields: Vec<String>,
) -> ApiResult<()> {
    audit::record(
        conn,
        AuditRecord {
            org,
            actor: actor(caller),
            action: action.as_str().to_owned(),
            entity_type: action.entity().to_owned(),
            entity_id: Some(entity_id.to_string()),
            changed_fields,
            request_id: ctx.request_id.clone(),
        },
    )
    .await?;
    Ok(())
}
