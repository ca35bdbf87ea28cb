//! Run lifecycle: what `runs.start`, `runs.pause`, `runs.resume`, `runs.cancel` and
//! `runs.schedule` do, each validated by the domain's run state machine.
//!
//! The free functions take a connection so a procedure can run them inside its own transaction,
//! next to its audit entry; they lock the run (`FOR UPDATE` on PostgreSQL), so call them inside
//! a transaction. The [`Engine`] methods open one themselves.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::RunId;
use rivvi_domain::lifecycle::{RunEvent, RunStatus};
use rivvi_persistence::runs::{self, RunUpdate};
use rivvi_persistence::{run_rows, OrgScope};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{Engine, EngineError};

/// Starts a ready or scheduled run now (`started_at` is set on the first start).
pub async fn start(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    now: DateTime<Utc>,
) -> Result<RunStatus, EngineError> {
    apply(conn, scope, run_id, RunEvent::Start, RunUpdate::default(), now).await
}

/// Pauses a running run: no new calls start; calls in flight finish and their rows are decided
/// as usual. `reason` is free text without patient data.
pub async fn pause(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<RunStatus, EngineError> {
    apply(
        conn,
        scope,
        run_id,
        RunEvent::Pause,
        RunUpdate { pause_reason: Some(reason), ..RunUpdate::default() },
        now,
    )
    .await
}

/// Resumes a paused run (its pause reason is cleared).
pub async fn resume(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    now: DateTime<Utc>,
) -> Result<RunStatus, EngineError> {
    apply(conn, scope, run_id, RunEvent::Resume, RunUpdate::default(), now).await
}

/// Cancels a run and every pending row of it. Rows dialing or in a call finish their attempt;
/// a retry they would earn cancels them instead. Returns the new status and how many rows were
/// cancelled now.
pub async fn cancel(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    now: DateTime<Utc>,
) -> Result<(RunStatus, u64), EngineError> {
    let status = apply(conn, scope, run_id, RunEvent::Cancel, RunUpdate::default(), now).await?;
    let cancelled = run_rows::cancel_pending(conn, scope, run_id, now).await?;
    Ok((status, cancelled))
}

/// Schedules a ready run, or moves a scheduled run's start, to `at`. The scheduler starts it at
/// the first tick at or after `at` (a time in the past starts it at the next tick).
pub async fn schedule(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<RunStatus, EngineError> {
    apply(
        conn,
        scope,
        run_id,
        RunEvent::Schedule,
        RunUpdate { scheduled_at: Some(Some(at)), ..RunUpdate::default() },
        now,
    )
    .await
}

/// Takes a scheduled run back to ready (its start time is cleared).
pub async fn unschedule(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    now: DateTime<Utc>,
) -> Result<RunStatus, EngineError> {
    apply(conn, scope, run_id, RunEvent::Unschedule, RunUpdate::default(), now).await
}

/// Locks the run, checks `event` against the domain's machine, and writes it.
async fn apply(
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

impl Engine {
    /// [`start`] in its own transaction, at the engine clock's now.
    pub async fn start_run(&self, scope: &OrgScope, run_id: RunId) -> Result<RunStatus, EngineError> {
        let txn = self.db.begin().await?;
        let status = start(&txn, scope, run_id, self.clock.now()).await?;
        txn.commit().await?;
        tracing::info!(org_id = %scope, run_id = %run_id, "run started");
        Ok(status)
    }

    /// [`pause`] in its own transaction, at the engine clock's now.
    pub async fn pause_run(
        &self,
        scope: &OrgScope,
        run_id: RunId,
        reason: Option<String>,
    ) -> Result<RunStatus, EngineError> {
        let txn = self.db.begin().await?;
        let status = pause(&txn, scope, run_id, reason, self.clock.now()).await?;
        txn.commit().await?;
        tracing::info!(org_id = %scope, run_id = %run_id, "run paused");
        Ok(status)
    }

    /// [`resume`] in its own transaction, at the engine clock's now.
    pub async fn resume_run(&self, scope: &OrgScope, run_id: RunId) -> Result<RunStatus, EngineError> {
        let txn = self.db.begin().await?;
        let status = resume(&txn, scope, run_id, self.clock.now()).await?;
        txn.commit().await?;
        tracing::info!(org_id = %scope, run_id = %run_id, "run resumed");
        Ok(status)
    }

    /// [`cancel`] in its own transaction, at the engine clock's now.
    pub async fn cancel_run(&self, scope: &OrgScope, run_id: RunId) -> Result<RunStatus, EngineError> {
        let txn = self.db.begin().await?;
        let (status, cancelled) = cancel(&txn, scope, run_id, self.clock.now()).await?;
        txn.commit().await?;
        tracing::info!(org_id = %scope, run_id = %run_id, cancelled_rows = cancelled, "run cancelled");
        Ok(status)
    }

    /// [`schedule`] in its own transaction, at the engine clock's now.
    pub async fn schedule_run(
        &self,
        scope: &OrgScope,
        run_id: RunId,
        at: DateTime<Utc>,
    ) -> Result<RunStatus, EngineError> {
        let txn = self.db.begin().await?;
        let status = schedule(&txn, scope, run_id, at, self.clock.now()).await?;
        txn.commit().await?;
        tracing::info!(org_id = %scope, run_id = %run_id, "run scheduled");
        Ok(status)
    }

    /// [`unschedule`] in its own transaction, at the engine clock's now.
    pub async fn unschedule_run(&self, scope: &OrgScope, run_id: RunId) -> Result<RunStatus, EngineError> {
        let txn = self.db.begin().await?;
        let status = unschedule(&txn, scope, run_id, self.clock.now()).await?;
        txn.commit().await?;
        Ok(status)
    }
}
