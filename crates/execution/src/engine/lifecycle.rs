//! Run lifecycle: what `runs.start`, `runs.pause`, `runs.resume`, `runs.cancel` and
//! `runs.schedule` do, each validated by the domain's run state machine.
//!
//! [`Engine::change_run`] is the one front door: the API's use case and the engine tests both
//! call it, so every change is checked, written and audit-logged in one transaction the same way.

use chrono::{DateTime, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::RunId;
use rivvi_domain::lifecycle::{RunEvent, RunStatus};
use rivvi_domain::Patch;
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
use rivvi_persistence::runs::{self, RunRecord, RunUpdate};
use rivvi_persistence::{run_rows, OrgScope};
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::bus::{BusEvent, BusEventKind};

use super::{Engine, EngineError};

/// Longest pause reason, in characters.
pub const MAX_PAUSE_REASON: usize = 120;

/// A change a person (or the system) asks of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunChange {
    /// A ready or scheduled run starts now (`started_at` is set on the first start).
    Start,
    /// No new calls start; calls in flight finish and their rows are decided as usual. The
    /// reason is free text without patient data, at most [`MAX_PAUSE_REASON`] characters.
    Pause {
        /// Why, for the people watching the run.
        reason: Option<String>,
    },
    /// A paused run goes on (its pause reason is cleared).
    Resume,
    /// The run and every pending row of it stop for good. Rows dialing or in a call finish
    /// their attempt; a retry they would earn cancels them instead.
    Cancel,
    /// A ready run is scheduled, or a scheduled run's start moved, to `at` (in the future). The
    /// scheduler starts it at the first tick at or after `at`.
    Schedule {
        /// When the run starts by itself.
        at: DateTime<Utc>,
    },
}

impl RunChange {
    fn audit_action(&self) -> AuditAction {
        match self {
            RunChange::Start => AuditAction::RunStarted,
            RunChange::Pause { .. } => AuditAction::RunPaused,
            RunChange::Resume => AuditAction::RunResumed,
            RunChange::Cancel => AuditAction::RunCancelled,
            RunChange::Schedule { .. } => AuditAction::RunScheduled,
        }
    }
}

/// Who asked for a change, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedBy {
    /// The person or component.
    pub actor: AuditActor,
    /// The request that carried the change, when there was one.
    pub request_id: Option<String>,
}

impl Engine {
    /// Applies `change` to a run of the organization at the engine clock's now: checks it
    /// against the run state machine, writes it and its audit entry in one transaction, and
    /// wakes the dispatcher when the run is running. Answers the run as stored after the change.
    pub async fn change_run(
        &self,
        scope: &OrgScope,
        run_id: RunId,
        change: RunChange,
        by: &ChangedBy,
    ) -> Result<RunRecord, EngineError> {
        let now = self.clock.now();
        let action = change.audit_action();
        let txn = self.db.begin().await?;
        let cancelled_rows = apply_change(&txn, scope, run_id, change, now).await?;
        audit::record(
            &txn,
            AuditRecord {
                org: Some(scope.org_id()),
                actor: by.actor.clone(),
                action: action.as_str().to_owned(),
                entity_type: action.entity().to_owned(),
                entity_id: Some(run_id.to_string()),
                changed_fields: vec!["status".into()],
                request_id: by.request_id.clone(),
            },
        )
        .await?;
        let record = runs::get(&txn, scope, run_id).await?;
        txn.commit().await?;
        tracing::info!(org_id = %scope, run_id = %run_id, action = action.as_str(), cancelled_rows, "run changed");
        if record.status == RunStatus::Running {
            // Dial now rather than at the next tick.
            self.wake();
        }
        // Every instance's dispatcher and every live subscriber hears of it.
        self.publish(&[BusEvent::run(BusEventKind::RunChanged, scope.org_id(), run_id)]).await;
        Ok(record)
    }
}

/// Checks and writes one change; answers how many pending rows a cancel cancelled.
async fn apply_change(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    change: RunChange,
    now: DateTime<Utc>,
) -> Result<u64, EngineError> {
    let (event, update) = match change {
        RunChange::Start => (RunEvent::Start, RunUpdate::default()),
        RunChange::Pause { reason } => {
            let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
            if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_PAUSE_REASON) {
                return Err(EngineError::Invalid {
                    field: "reason",
                    reason: format!("must be at most {MAX_PAUSE_REASON} characters"),
                });
            }
            (RunEvent::Pause, RunUpdate { pause_reason: Patch::to(reason), ..RunUpdate::default() })
        }
        RunChange::Resume => (RunEvent::Resume, RunUpdate::default()),
        RunChange::Cancel => (RunEvent::Cancel, RunUpdate::default()),
        RunChange::Schedule { at } => {
            if at <= now {
                return Err(EngineError::Invalid {
                    field: "scheduledAt",
                    reason: "must be in the future".into(),
                });
            }
            (RunEvent::Schedule, RunUpdate { scheduled_at: Patch::Set(at), ..RunUpdate::default() })
        }
    };
    transition(conn, scope, run_id, event, update, now).await?;
    match event {
        RunEvent::Cancel => Ok(run_rows::cancel_pending(conn, scope, run_id, now).await?),
        _ => Ok(0),
    }
}

/// Locks the run (`FOR UPDATE` on PostgreSQL), checks `event` against the domain's machine, and
/// writes it.
async fn transition(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    event: RunEvent,
    update: RunUpdate,
    now: DateTime<Utc>,
) -> Result<RunStatus, EngineError> {
    let run = runs::get_for_update(conn, scope, run_id).await?;
    run.status.transition(event)?;
    runs::transition(conn, scope, run_id, run.status, event, update, now)
        .await?
        .ok_or(EngineError::Concurrent(run_id))
}
