//! Opt-outs honoured as they are heard. Under the TCPA a called party may revoke consent by any
//! reasonable means, a spoken "stop calling me" included, and the revocation must be honoured
//! promptly: it cannot wait for staff to read a transcript.
//!
//! Every call asks its analysis for the built-in `opted_out` field
//! ([`crate::provider::AnalysisFieldSpec::requested`]). When an outbound call's analysis says
//! yes ([`rivvi_domain::analytics::is_opted_out`], the one definition analytics counts too), the
//! transaction that applies the report also:
//!
//! - puts the number called on the organization's do-not-call list, once: a replayed or second
//!   report finds the entry and changes nothing. The reason names the call, never the number;
//! - audit-logs the addition (`do_not_call.added`, actor `system`, naming the call) when it was
//!   new;
//! - skips every pending row of the organization's unfinished runs for that number (the call's
//!   own row too, if a retry had already put it back), with the dispatcher's `do_not_call` skip
//!   reason, so the runs' views show it at once.
//!
//! The dispatcher checks the list before every dial, so a row this misses (one in a call right
//! now that earns a retry, or one whose patient record carries another number) is skipped when
//! it is claimed, never dialled.

use chrono::{DateTime, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::{RunId, RunRowId};
use rivvi_domain::lifecycle::{RowEvent, RowStatus};
use rivvi_domain::Patch;
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
use rivvi_persistence::calls::{self, CallRecord};
use rivvi_persistence::run_rows::{self, RowUpdate};
use rivvi_persistence::{do_not_call, OrgScope};
use sea_orm::ConnectionTrait;

use super::dispatch::SKIPPED_DO_NOT_CALL;
use super::{Engine, EngineError};

impl Engine {
    /// Honours the opt-out heard on `call` (an outbound call, locked by the caller) inside the
    /// caller's transaction; answers the rows it skipped, to publish once it commits.
    pub(crate) async fn honour_opt_out(
        &self,
        conn: &impl ConnectionTrait,
        scope: &OrgScope,
        call: &CallRecord,
        now: DateTime<Utc>,
    ) -> Result<Vec<(RunId, RunRowId)>, EngineError> {
        let number = calls::get_content(conn, scope, &self.keys, call.id).await?.to_number;
        let reason = format!("opted out during call {}", call.id);
        let (entry, added) =
            do_not_call::add_if_absent(conn, scope, &self.keys, &number, &reason, None, now).await?;
        if added {
            let action = AuditAction::DoNotCallAdded;
            audit::record(
                conn,
                AuditRecord {
                    org: Some(scope.org_id()),
                    actor: AuditActor::System { label: format!("opt-out in call {}", call.id) },
                    action: action.as_str().to_owned(),
                    entity_type: action.entity().to_owned(),
                    entity_id: Some(entry.id.to_string()),
                    changed_fields: vec!["phone".into(), "reason".into()],
                    request_id: None,
                },
            )
            .await?;
            tracing::info!(org_id = %scope, call_id = %call.id, entry_id = %entry.id, "patient opted out during a call; number added to the do-not-call list");
        }

        let mut pending = run_rows::pending_for_phone_key(conn, scope, &entry.phone_key).await?;
        if let Some(own) = call.row_id.filter(|id| !pending.iter().any(|row| row.id == *id)) {
            let row = run_rows::state(conn, scope, own, false).await?;
            if row.status == RowStatus::Pending {
                pending.push(row);
            }
        }
        let mut skipped = Vec::with_capacity(pending.len());
        for row in pending {
            let update = RowUpdate {
                skip_reason: Patch::Set(SKIPPED_DO_NOT_CALL.to_owned()),
                next_attempt_at: Patch::Clear,
                ..RowUpdate::default()
            };
            // A row claimed meanwhile is no longer pending: the dispatcher decides it (a dial it
            // already wrote cannot be taken back).
            let moved = run_rows::transition(
                conn,
                scope,
                row.id,
                RowStatus::Pending,
                &[RowEvent::Skip],
                None,
                update,
                now,
            )
            .await?;
            if moved.is_some() {
                skipped.push((row.run_id, row.id));
            }
        }
        if !skipped.is_empty() {
            tracing::info!(org_id = %scope, call_id = %call.id, rows = skipped.len(), "pending rows of an opted-out number skipped");
        }
        Ok(skipped)
    }
}
