//! `POST /webhooks/clerk`: users, organizations and memberships synced from Clerk (Svix-signed).
//!
//! The signature is checked on the raw body first; then, in one transaction, the delivery is
//! recorded by its `svix-id` (a replay changes nothing), the event is applied and audit-logged.
//! A delivery that fails validation writes nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::OrgId;
use rivvi_domain::Role;
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
use rivvi_persistence::{identity, webhook_events};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::Deserialize;
use serde_json::{json, Value};

use super::signature::{verify_svix, SignatureError};
use crate::state::AppState;

const SOURCE: &str = "clerk";

#[derive(Debug, thiserror::Error)]
enum ClerkWebhookError {
    #[error("webhook signing secret is not configured")]
    NotConfigured,
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("invalid event: {0}")]
    Invalid(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl IntoResponse for ClerkWebhookError {
    fn into_response(self) -> Response {
        let status = match &self {
            ClerkWebhookError::NotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            ClerkWebhookError::Signature(_) => StatusCode::UNAUTHORIZED,
            ClerkWebhookError::Invalid(_) => StatusCode::BAD_REQUEST,
            ClerkWebhookError::Internal(err) => {
                tracing::error!(error = ?err, "applying a Clerk webhook failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

impl From<rivvi_persistence::PersistenceError> for ClerkWebhookError {
    fn from(err: rivvi_persistence::PersistenceError) -> Self {
        ClerkWebhookError::Internal(err.into())
    }
}

impl From<sea_orm::DbErr> for ClerkWebhookError {
    fn from(err: sea_orm::DbErr) -> Self {
        ClerkWebhookError::Internal(err.into())
    }
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    data: Value,
}

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&state, &headers, &body).await {
        Ok(outcome) => (StatusCode::OK, Json(json!({"status": outcome}))).into_response(),
        Err(err) => {
            if !matches!(err, ClerkWebhookError::Internal(_)) {
                tracing::warn!(reason = %err, "Clerk webhook refused");
            }
            err.into_response()
        }
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'static str, ClerkWebhookError> {
    let secret =
        state.settings.auth.webhook_signing_secret.as_ref().ok_or(ClerkWebhookError::NotConfigured)?;
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(ClerkWebhookError::Signature(SignatureError::MissingHeader(name)))
    };
    let (id, timestamp, signature) =
        (header("svix-id")?, header("svix-timestamp")?, header("svix-signature")?);
    verify_svix(secret.expose(), id, timestamp, signature, body, chrono::Utc::now().timestamp())?;

    let event: Event = serde_json::from_slice(body).map_err(|e| ClerkWebhookError::Invalid(e.to_string()))?;
    let txn = state.db.begin().await?;
    let receipt = webhook_events::record_once(&txn, SOURCE, id).await?;
    if !receipt.first_time {
        txn.rollback().await?;
        return Ok("duplicate");
    }
    let outcome = apply(&txn, &event).await?;
    webhook_events::mark_processed(&txn, receipt.id, outcome).await?;
    txn.commit().await?;
    tracing::info!(event = %event.kind, outcome, "Clerk webhook applied");
    Ok(outcome)
}

/// Applies one event; returns `applied` or `ignored` (event types Rivvi does not use).
async fn apply(conn: &impl ConnectionTrait, event: &Event) -> Result<&'static str, ClerkWebhookError> {
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
            record(conn, org.id, action, org.id.to_string(), fields).await?;
        }
        "organization.deleted" => {
            let clerk_org_id = required(data, "id")?;
            if let Some(org) = identity::find_org_by_clerk_id(conn, &clerk_org_id).await? {
                identity::soft_delete_org(conn, &clerk_org_id).await?;
                record(conn, org.id, AuditAction::OrganizationDeleted, org.id.to_string(), Vec::new())
                    .await?;
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
            record(conn, org_id, action, membership.id.to_string(), vec!["role".into()]).await?;
        }
        "organizationMembership.deleted" => {
            let (org_id, user_id) = membership_parties(conn, data).await?;
            if let Some(existing) = identity::find_membership(conn, org_id, user_id).await? {
                identity::delete_membership(conn, org_id, user_id).await?;
                record(conn, org_id, AuditAction::MembershipDeleted, existing.id.to_string(), Vec::new())
                    .await?;
            }
        }
        _ => return Ok("ignored"),
    }
    Ok("applied")
}

/// The organization and user of a membership event, created just in time when unknown.
async fn membership_parties(
    conn: &impl ConnectionTrait,
    data: &Value,
) -> Result<(OrgId, rivvi_domain::ids::UserId), ClerkWebhookError> {
    let org =
        data.get("organization").ok_or_else(|| ClerkWebhookError::Invalid("missing organization".into()))?;
    let user = data
        .get("public_user_data")
        .ok_or_else(|| ClerkWebhookError::Invalid("missing public_user_data".into()))?;
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

async fn record(
    conn: &impl ConnectionTrait,
    org_id: OrgId,
    action: AuditAction,
    entity_id: String,
    changed_fields: Vec<String>,
) -> Result<(), ClerkWebhookError> {
    audit::record(
        conn,
        AuditRecord {
            org: Some(org_id),
            actor: AuditActor::Webhook { source: SOURCE.into() },
            action: action.as_str().to_owned(),
            entity_type: action.entity().to_owned(),
            entity_id: Some(entity_id),
            changed_fields,
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn required(value: &Value, key: &str) -> Result<String, ClerkWebhookError> {
    text(value, key).ok_or_else(|| ClerkWebhookError::Invalid(format!("missing {key}")))
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
