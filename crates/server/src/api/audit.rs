//! `audit.list`: an organization's audit log, for its admins (`services::audit`).

use chrono::{DateTime, Utc};
use rivvi_domain::audit::{AuditAction, AuditKind};
use rivvi_domain::ids::OrgId;
use rivvi_domain::ids::{AuditEntryId, UserId};
use rivvi_domain::Role;
use rivvi_persistence::audit::{AuditActor, AuditEntry, AuditFilter};
use rspc::{Router, RouterBuilder};
use serde::Serialize;
use specta::Type;

use super::error::ApiResult;
use super::paging::check_time_range;
use super::Ctx;
use crate::services::audit;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new().query("list", procedure!(list))
}

paged_input! {
    #[derive(Default)]
    pub struct ListAudit {
        /// `organization`, `campaign`, `membership`, ...
        #[specta(optional)]
        pub entity_type: Option<String>,
        #[specta(optional)]
        pub entity_id: Option<String>,
        #[specta(optional)]
        pub actor_user_id: Option<UserId>,
        /// Inclusive lower bound.
        #[specta(optional)]
        pub from: Option<DateTime<Utc>>,
        /// Exclusive upper bound.
        #[specta(optional)]
        pub to: Option<DateTime<Utc>>,
        /// `read`: only reads of patient data (who saw which patient, call, run rows, preview or
        /// export); `change`: only changes. Default both.
        #[specta(optional)]
        pub kind: Option<AuditKind>,
        /// Operators only: act in this organization (the access is audited there).
        #[specta(optional)]
        pub org_id: Option<OrgId>,
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogEntry {
    pub id: AuditEntryId,
    /// `user`, `super_admin`, `webhook` or `system`.
    pub actor_kind: String,
    pub actor_user_id: Option<UserId>,
    /// A Clerk user id, a webhook source or a system component.
    pub actor_label: String,
    pub action: String,
    /// Whether the entry records a read of patient data or a change.
    pub kind: AuditKind,
    pub entity_type: String,
    pub entity_id: Option<String>,
    /// A change: names of the fields that changed, never their values. A read: `rows=<n>`, then
    /// what was read (`patient:<id>`, `call:<id>`, or a page of run rows: `offset=<n>`,
    /// `limit=<n>`, `status=<s>`), never a value.
    pub changed_fields: Vec<String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

page_output! {
    pub struct AuditPage { entries: AuditLogEntry }
}

async fn list(ctx: &Ctx, input: ListAudit) -> ApiResult<AuditPage> {
    let caller = ctx.require_in(Role::Admin, input.org_id).await?;
    check_time_range(input.from, input.to)?;
    let page = input.page()?;
    let filter = AuditFilter {
        entity_type: input.entity_type.filter(|s| !s.trim().is_empty()),
        entity_id: input.entity_id.filter(|s| !s.trim().is_empty()),
        actor_user_id: input.actor_user_id,
        from: input.from,
        to: input.to,
        kind: input.kind,
        page,
    };
    let (entries, total) = audit::list(&ctx.state, &caller, &filter).await?;
    Ok(AuditPage::of(page, entries, total, view))
}

fn view(entry: AuditEntry) -> AuditLogEntry {
    let (actor_kind, actor_user_id, actor_label) = match entry.actor {
        AuditActor::User { user_id, label } => ("user", Some(user_id), label),
        AuditActor::SuperAdmin { user_id, label } => ("super_admin", Some(user_id), label),
        AuditActor::Webhook { source } => ("webhook", None, source),
        AuditActor::System { label } => ("system", None, label),
    };
    AuditLogEntry {
        id: entry.id,
        actor_kind: actor_kind.to_owned(),
        actor_user_id,
        actor_label,
        kind: entry.action.parse::<AuditAction>().map_or(AuditKind::Change, AuditAction::kind),
        action: entry.action,
        entity_type: entry.entity_type,
        entity_id: entry.entity_id,
        changed_fields: entry.changed_fields,
        request_id: entry.request_id,
        created_at: entry.created_at,
    }
}
