//! Turns verified claims into our own ids, creating unknown users, organizations and memberships
//! just in time (the Clerk webhook fills in names later).
//!
//! The common case (everything known, role unchanged) is reads only; writes happen once per new
//! user, organization or role change, in one transaction with their audit entries. A resolution
//! that wrote clears the remembered callers ([`super::AuthCache::forget_callers`]), as every
//! identity write does.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::OrgId;
use rivvi_domain::Role;
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
use rivvi_persistence::identity;
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::claims::SessionClaims;
use super::{ActiveOrg, AuthError, Caller};
use crate::state::AppState;

/// The caller behind verified claims; `Ok(Err(..))` when the claims are valid but the user has
/// been deleted.
pub async fn caller(state: &AppState, claims: &SessionClaims) -> anyhow::Result<Result<Caller, AuthError>> {
    let txn = state.db.begin().await?;
    let mut wrote = false;
    let user = match identity::find_user_by_clerk_id(&txn, &claims.sub).await? {
        Some(user) => user,
        None => {
            wrote = true;
            let profile = identity::UserProfile { email: claims.email.clone(), ..Default::default() };
            identity::upsert_user_by_clerk_id(&txn, &claims.sub, Some(&profile)).await?
        }
    };
    if user.deleted_at.is_some() {
        return Ok(Err(AuthError::InvalidToken("user has been deleted".into())));
    }

    let org = match claims.active_org() {
        None => None,
        Some(claim) => {
            let is_operator = state.auth.operator_org() == Some(claim.clerk_org_id.as_str());
            let org = match identity::find_org_by_clerk_id(&txn, &claim.clerk_org_id).await? {
                Some(org) if org.is_operator == is_operator => org,
                existing => {
                    wrote = true;
                    let org = identity::upsert_org_by_clerk_id(
                        &txn,
                        &claim.clerk_org_id,
                        None,
                        claim.slug.as_deref(),
                        is_operator,
                    )
                    .await?;
                    if existing.is_none() {
                        audit_system(&txn, org.id, AuditAction::OrganizationCreated, org.id.to_string())
                            .await?;
                    }
                    org
                }
            };
            // A deleted organization is no active organization: org procedures answer 403.
            match org.deleted_at {
                Some(_) => None,
                None => {
                    let clerk_role = Role::from_clerk(&claim.clerk_role);
                    wrote |= sync_membership(&txn, org.id, user.id, clerk_role).await?;
                    let role = if is_operator { Role::SuperAdmin } else { clerk_role };
                    Some(ActiveOrg { org_id: org.id, clerk_org_id: claim.clerk_org_id, role })
                }
            }
        }
    };
    txn.commit().await?;
    if wrote {
        // A role written here from this token must not stay shadowed by a caller remembered from
        // another token of the same user, which would skip writing its own role back.
        state.auth_cache.forget_callers();
    }
    Ok(Ok(Caller { user_id: user.id, clerk_user_id: user.clerk_user_id, org }))
}

/// Keeps the membership table in step with the role the token states; true when it wrote.
async fn sync_membership(
    conn: &impl ConnectionTrait,
    org_id: OrgId,
    user_id: rivvi_domain::ids::UserId,
    role: Role,
) -> anyhow::Result<bool> {
    let action = match identity::find_membership(conn, org_id, user_id).await? {
        Some(existing) if existing.role == role => return Ok(false),
        Some(_) => AuditAction::MembershipUpdated,
        None => AuditAction::MembershipCreated,
    };
    let membership = identity::upsert_membership(conn, org_id, user_id, role, None).await?;
    audit_system(conn, org_id, action, membership.id.to_string()).await?;
    Ok(true)
}

async fn audit_system(
    conn: &impl ConnectionTrait,
    org_id: OrgId,
    action: AuditAction,
    entity_id: String,
) -> anyhow::Result<()> {
    audit::record(
        conn,
        AuditRecord {
            org: Some(org_id),
            actor: AuditActor::System { label: "session token".into() },
            action: action.as_str().to_owned(),
            entity_type: action.entity().to_owned(),
            entity_id: Some(entity_id),
            changed_fields: Vec::new(),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}
