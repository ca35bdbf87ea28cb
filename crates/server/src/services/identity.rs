//! Users, organizations and memberships kept in step with Clerk, which owns them: one delivery of
//! Clerk's webhook is applied once, in one transaction, and audit-logged as the webhook's doing.
//!
//! The delivery is recorded first by its id (Svix's `svix-id`), so a replay changes nothing and
//! answers [`ClerkOutcome::Duplicate`]; an event that lacks a field it needs fails
//! [`ServiceError::Invalid`] and the transaction is dropped, so nothing is written, not even the
//! delivery (Clerk's retry gets the same answer).

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::{OrgId, UserId};
use rivvi_domain::Role;
use rivvi_persistence::{identity, webhook_events};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::Deserialize;
use serde_json::Value;

use super::{audit_trail, ServiceError, ServiceResult};
use crate::state::AppState;

/// The `source` of Clerk's deliveries in `webhook_events` and of its changes in the audit log.
const SOURCE: &str = "clerk";

/// One Clerk event as delivered: its type (`user.created`, ...) and its `data`, in Clerk's shape,
/// which [`apply_clerk_event`] reads field by field (Clerk adds fields freely; only the ones
/// used must be present).
#[derive(Debug, Clone, Deserialize)]
pub struct ClerkEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClerkOutcome {
    /// The event changed what it names (or confirmed it).
    Applied,
    /// An event type Rivvi does not use; recorded, nothing else written.
    Ignored,
    /// This delivery id was seen before; nothing written.
    Duplicate,
}

impl ClerkOutcome {
    /// The label stored in `webhook_events.outcome` and answered to Clerk as `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClerkOutcome::Applied => "applied",
            ClerkOutcome::Ignored => "ignored",
            ClerkOutcome::Duplicate => "duplicate",
        }
    }
}

/// Applies the delivery `delivery_id` of `event` once: records the delivery, applies the event,
/// writes its audit entry, all in one transaction.
// No `err` here: the transport logs a refused delivery as a warning and a failure as an error.
#[tracing::instrument(skip_all, fields(event = %event.kind))]
pub async fn apply_clerk_event(
    state: &AppState,
    delivery_id: &str,
    event: &ClerkEvent,
) -> ServiceResult<ClerkOutcome> {
    let txn = state.db.begin().await?;
    let receipt = webhook_events::record_once(&txn, SOURCE, delivery_id).await?;
    if !receipt.first_time {
        txn.rollback().await?;
        return Ok(ClerkOutcome::Duplicate);
    }
    let outcome = apply(&txn, event).await?;
    webhook_events::mark_processed(&txn, receipt.id, outcome.as_str()).await?;
    txn.commit().await?;
    if outcome == ClerkOutcome::Applied {
        // After the commit, so a request resolving meanwhile cannot remember what was before it.
        // Only this instance's callers: the others keep theirs up to `CALLER_LIFETIME` (issue 13).
        state.auth_cache.forget_callers();
    }
    tracing::info!(event = %event.kind, outcome = outcome.as_str(), "Clerk webhook applied");
    Ok(outcome)
}

/// Applies one event; [`ClerkOutcome::Ignored`] for event types Rivvi does not use.
async fn apply(conn: &impl ConnectionTrait, event: &ClerkEvent) -> ServiceResult<ClerkOutcome> {
    let data = &event.data;
    match event.kind.as_str() {
        "user.created" | "user.updated" => {
            let profile = identity::UserProfile {
                email: primary_email(data),
                first_name: text(data, "first_name"),
                last_name: text(data, "last_name"),
                image_url: text(data, "image_url"),
            };
            identity::upsert_user_by_clerk_id(conn, &required(data, "id")?, Some(&profile)).await?;
        }
        "user.deleted" => {
            // A user deleted before ever signing in is still recorded as deleted, so a token
            // minted before the deletion cannot create them afresh.
            let clerk_user_id = required(data, "id")?;
            identity::upsert_user_by_clerk_id(conn, &clerk_user_id, None).await?;
            identity::soft_delete_user(conn, &clerk_user_id).await?;
        }
        "organization.created" | "organization.updated" => {
            let clerk_org_id = required(data, "id")?;
            let name = required(data, "name")?;
            let existing = identity::find_org_by_clerk_id(conn, &clerk_org_id).await?;
            let is_operator = existing.as_ref().is_some_and(|o| o.is_operator);
            let org = identity::upsert_org_by_clerk_id(
                conn,
                &clerk_org_id,
                Some(&name),
                text(data, "slug").as_deref(),
                is_operator,
            )
            .await?;
            let action = if existing.is_some() {
                AuditAction::OrganizationUpdated
            } else {
                AuditAction::OrganizationCreated
            };
            let fields = if existing.is_some() { vec!["name".into(), "slug".into()] } else { Vec::new() };
            audit_trail::record_by_webhook(conn, SOURCE, org.id, action, org.id, fields).await?;
        }
        "organization.deleted" => {
            let clerk_org_id = required(data, "id")?;
            if let Some(org) = identity::find_org_by_clerk_id(conn, &clerk_org_id).await? {
                identity::soft_delete_org(conn, &clerk_org_id).await?;
                let action = AuditAction::OrganizationDeleted;
                audit_trail::record_by_webhook(conn, SOURCE, org.id, action, org.id, Vec::new()).await?;
            }
        }
        "organizationMembership.created" | "organizationMembership.updated" => {
            let (org_id, user_id) = membership_parties(conn, data).await?;
            let role = Role::from_clerk(&required(data, "role")?);
            let existed = identity::find_membership(conn, org_id, user_id).await?.is_some();
            let membership =
                identity::upsert_membership(conn, org_id, user_id, role, text(data, "id").as_deref()).await?;
            let action =
                if existed { AuditAction::MembershipUpdated } else { AuditAction::MembershipCreated };
            let fields = vec!["role".into()];
            audit_trail::record_by_webhook(conn, SOURCE, org_id, action, membership.id, fields).await?;
        }
        "organizationMembership.deleted" => {
            let (org_id, user_id) = membership_parties(conn, data).await?;
            if let Some(existing) = identity::find_membership(conn, org_id, user_id).await? {
                identity::delete_membership(conn, org_id, user_id).await?;
                let action = AuditAction::MembershipDeleted;
                audit_trail::record_by_webhook(conn, SOURCE, org_id, action, existing.id, Vec::new()).await?;
            }
        }
        _ => return Ok(ClerkOutcome::Ignored),
    }
    Ok(ClerkOutcome::Applied)
}

/// The organization and user of a membership event, created just in time when unknown.
async fn membership_parties(conn: &impl ConnectionTrait, data: &Value) -> ServiceResult<(OrgId, UserId)> {
    let org = data.get("organization").ok_or_else(|| missing("organization"))?;
    let user = data.get("public_user_data").ok_or_else(|| missing("public_user_data"))?;
    let clerk_org_id = required(org, "id")?;
    let clerk_user_id = required(user, "user_id")?;
    let org_id = match identity::find_org_by_clerk_id(conn, &clerk_org_id).await? {
        Some(org) => org.id,
        None => {
            let name = text(org, "name");
            let slug = text(org, "slug");
            identity::upsert_org_by_clerk_id(conn, &clerk_org_id, name.as_deref(), slug.as_deref(), false)
                .await?
                .id
        }
    };
    let user_id = match identity::find_user_by_clerk_id(conn, &clerk_user_id).await? {
        Some(user) => user.id,
        None => {
            let profile = identity::UserProfile {
                email: text(user, "identifier"),
                first_name: text(user, "first_name"),
                last_name: text(user, "last_name"),
                image_url: text(user, "image_url"),
            };
            identity::upsert_user_by_clerk_id(conn, &clerk_user_id, Some(&profile)).await?.id
        }
    };
    Ok((org_id, user_id))
}

/// A field the event needs is absent or empty; it is named by its key in Clerk's payload.
fn missing(key: &str) -> ServiceError {
    ServiceError::invalid(key, "missing")
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn required(value: &Value, key: &str) -> ServiceResult<String> {
    text(value, key).ok_or_else(|| missing(key))
}

/// Clerk sends every address with the id of the primary one.
fn primary_email(data: &Value) -> Option<String> {
    let primary = data.get("primary_email_address_id").and_then(Value::as_str);
    let addresses = data.get("email_addresses").and_then(Value::as_array)?;
    addresses
        .iter()
        .find(|a| primary.is_some() && a.get("id").and_then(Value::as_str) == primary)
        .or_else(|| addresses.first())
        .and_then(|a| text(a, "email_address"))
}
