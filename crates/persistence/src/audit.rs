//! The append-only audit log: who changed what, when, through which request. Entries name the
//! changed fields, never their values, so the log holds no PHI. Write the entry with the same
//! connection (transaction) as the change it records.

use chrono::{DateTime, Utc};
use rivvi_domain::audit::{AuditAction, AuditKind};
use rivvi_domain::ids::{AuditEntryId, OrgId, UserId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use crate::entities::audit_log;
use crate::org_owned::InOrg;
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditActor {
    /// A member of the organization. `label` is how to show them (name or email).
    User { user_id: UserId, label: String },
    /// A Rivvi operator, possibly acting on another organization.
    SuperAdmin { user_id: UserId, label: String },
    /// A verified webhook; `source` such as `clerk` or `retell`.
    Webhook { source: String },
    /// The engine or a maintenance task; `label` names it.
    System { label: String },
}

impl AuditActor {
    /// The stored `actor_kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            AuditActor::User { .. } => "user",
            AuditActor::SuperAdmin { .. } => "super_admin",
            AuditActor::Webhook { .. } => "webhook",
            AuditActor::System { .. } => "system",
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        match self {
            AuditActor::User { user_id, .. } | AuditActor::SuperAdmin { user_id, .. } => Some(*user_id),
            AuditActor::Webhook { .. } | AuditActor::System { .. } => None,
        }
    }

    fn label(&self) -> &str {
        match self {
            AuditActor::User { label, .. } | AuditActor::SuperAdmin { label, .. } => label,
            AuditActor::Webhook { source } => source,
            AuditActor::System { label } => label,
        }
    }

    fn from_stored(kind: &str, user_id: Option<uuid::Uuid>, label: String) -> Result<Self> {
        let corrupt = || PersistenceError::Corrupt { table: "audit_log", column: "actor_kind" };
        Ok(match kind {
            "user" => AuditActor::User { user_id: UserId(user_id.ok_or_else(corrupt)?), label },
            "super_admin" => AuditActor::SuperAdmin { user_id: UserId(user_id.ok_or_else(corrupt)?), label },
            "webhook" => AuditActor::Webhook { source: label },
            "system" => AuditActor::System { label },
            _ => return Err(corrupt()),
        })
    }
}

/// An entry to write.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// `None` only for super admin actions outside any organization.
    pub org: Option<OrgId>,
    pub actor: AuditActor,
    /// Such as `campaign.update`.
    pub action: String,
    /// Such as `campaign`.
    pub entity_type: String,
    pub entity_id: Option<String>,
    /// Names of the changed fields; never values.
    pub changed_fields: Vec<String>,
    pub request_id: Option<String>,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    pub org_id: Option<OrgId>,
    pub actor: AuditActor,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub changed_fields: Vec<String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Which entries to list. Every filter is optional; `from` is inclusive, `to` exclusive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_user_id: Option<UserId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only reads of patient data, or only changes.
    pub kind: Option<AuditKind>,
    pub page: Page,
}

/// Appends an entry.
#[tracing::instrument(
    level = "debug",
    skip_all,
    fields(org_id = ?entry.org.map(|org| org.to_string()), action = %entry.action),
    err(level = "debug")
)]
pub async fn record(conn: &impl ConnectionTrait, entry: AuditRecord) -> Result<AuditEntry> {
    let row = audit_log::Model {
        id: AuditEntryId::new().as_uuid(),
        org_id: entry.org.map(|org| org.as_uuid()),
        actor_kind: entry.actor.kind().to_owned(),
        actor_user_id: entry.actor.user_id().map(|user| user.as_uuid()),
        actor_label: entry.actor.label().to_owned(),
        action: entry.action,
        entity_type: entry.entity_type,
        entity_id: entry.entity_id,
        changes: Value::from(entry.changed_fields),
        request_id: entry.request_id,
        created_at: now(),
    };
    audit_log::Entity::insert(audit_log::ActiveModel::from(row.clone())).exec_without_returning(conn).await?;
    row.try_into()
}

/// The organization's entries matching `filter`, newest first, with the total count.
/// Records a read of patient data (the access log) on `conn`, which must be the transaction of
/// the read it records. On PostgreSQL that transaction then commits without waiting for the WAL
/// flush (`SET LOCAL synchronous_commit = off`): the flush would otherwise make every read a
/// durable write and cost more than the read itself (docs/benchmarks.md). The entry is still
/// written before the data is answered, and visible at once; only a crash of PostgreSQL itself in
/// the next moments (at most three `wal_writer_delay`s, 600 ms by default) can lose it. Changes
/// keep the full durability of [`record`].
pub async fn record_access(conn: &impl ConnectionTrait, entry: AuditRecord) -> Result<AuditEntry> {
    if conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        conn.execute_unprepared("SET LOCAL synchronous_commit = off").await?;
    }
    record(conn, entry).await
}

#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    filter: &AuditFilter,
) -> Result<(Vec<AuditEntry>, u64)> {
    let mut query = audit_log::Entity::find().in_org(scope);
    if let Some(entity_type) = &filter.entity_type {
        query = query.filter(audit_log::Column::EntityType.eq(entity_type.as_str()));
    }
    if let Some(entity_id) = &filter.entity_id {
        query = query.filter(audit_log::Column::EntityId.eq(entity_id.as_str()));
    }
    if let Some(user) = filter.actor_user_id {
        query = query.filter(audit_log::Column::ActorUserId.eq(user.as_uuid()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::Column::CreatedAt.lt(to));
    }
    if let Some(kind) = filter.kind {
        let actions: Vec<&str> = AuditAction::of_kind(kind).map(AuditAction::as_str).collect();
        query = query.filter(audit_log::Column::Action.is_in(actions));
    }
    // v7 ids are time-ordered: a stable order among entries of the same microsecond.
    let (rows, total) = filter
        .page
        .fetch(conn, query, |q| {
            q.order_by_desc(audit_log::Column::CreatedAt).order_by_desc(audit_log::Column::Id)
        })
        .await?;
    let entries = rows.into_iter().map(AuditEntry::try_from).collect::<Result<Vec<_>>>()?;
    Ok((entries, total))
}

impl TryFrom<audit_log::Model> for AuditEntry {
    type Error = PersistenceError;

    fn try_from(row: audit_log::Model) -> Result<Self> {
        let changed_fields = match row.changes {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(field) => Ok(field),
                    _ => Err(PersistenceError::Corrupt { table: "audit_log", column: "changes" }),
                })
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(PersistenceError::Corrupt { table: "audit_log", column: "changes" }),
        };
        Ok(AuditEntry {
            id: AuditEntryId(row.id),
            org_id: row.org_id.map(OrgId),
            actor: AuditActor::from_stored(&row.actor_kind, row.actor_user_id, row.actor_label)?,
            action: row.action,
            entity_type: row.entity_type,
            entity_id: row.entity_id,
            changed_fields,
            request_id: row.request_id,
            created_at: row.created_at,
        })
    }
}
