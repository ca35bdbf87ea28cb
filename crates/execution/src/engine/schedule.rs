//! The scheduler: starts due scheduled runs, completes finished ones and says which running runs
//! are waiting for office hours.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{OrgId, RunId};
use rivvi_domain::lifecycle::{RunEvent, RunStatus};
use rivvi_persistence::runs::{self, RunUpdate};
use rivvi_persistence::{engine_queries, run_rows, OrgScope};
use sea_orm::TransactionTrait;

use crate::bus::{BusEvent, BusEventKind};

use super::org::OrgContext;
use super::{error_chain, Engine, EngineError};

/// Scheduled runs started per tick, at most.
const START_BATCH: u64 = 100;

/// A running run outside its organization's office hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRun {
    /// The run.
    pub run_id: RunId,
    /// Its organization.
    pub org_id: OrgId,
    /// When the office hours open next (`None`: no open day configured).
    pub opens_at: Option<DateTime<Utc>>,
}

/// What one [`Engine::schedule_tick`] did and saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleOutcome {
    /// Scheduled runs whose time came, now running.
    pub started: Vec<RunId>,
    /// Running or paused runs that had no open row left, now completed.
    pub completed: Vec<RunId>,
    /// Running runs inside their organization's office hours (the dispatcher serves them).
    pub in_office_hours: Vec<RunId>,
    /// Running runs waiting for office hours to open: a condition, not a status.
    pub waiting: Vec<WaitingRun>,
    /// Runs this tick gave up on after an error (logged; tried again next tick).
    pub errors: u32,
}

impl Engine {
    /// Starts scheduled runs whose `scheduled_at` has come, completes running or paused runs
    /// with no pending, dialing or in-call row left, and reports for every running run whether
    /// its organization's office hours are open at `now` (in the organization's zone, across
    /// daylight-saving changes) and, if not, when they open.
    pub async fn schedule_tick(&self, now: DateTime<Utc>) -> Result<ScheduleOutcome, EngineError> {
        let mut outcome = ScheduleOutcome::default();
        for run in engine_queries::runs_due_to_start(&self.db, now, START_BATCH).await? {
            let scope = OrgScope::for_verified_org(run.org_id);
            match self.start_due(&scope, run.id, now).await {
                Ok(true) => outcome.started.push(run.id),
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(org_id = %run.org_id, run_id = %run.id, error = %error_chain(&err), "starting a scheduled run failed");
                    outcome.errors += 1;
                }
            }
        }

        let mut orgs: HashMap<OrgId, Option<OrgContext>> = HashMap::new();
        for run in engine_queries::live_runs(&self.db).await? {
            let scope = OrgScope::for_verified_org(run.org_id);
            match self.complete_if_no_open_row(&scope, run.id, now).await {
                Ok(true) => {
                    outcome.completed.push(run.id);
                    continue;
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(org_id = %run.org_id, run_id = %run.id, error = %error_chain(&err), "completing a run failed");
                    outcome.errors += 1;
                    continue;
                }
            }
            if run.status != RunStatus::Running {
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(entry) = orgs.entry(run.org_id) {
                let org = match OrgContext::load(&self.db, run.org_id).await {
                    Ok(org) => Some(org),
                    Err(err) => {
                        tracing::warn!(org_id = %run.org_id, error = %error_chain(&err), "organization settings could not be read");
                        outcome.errors += 1;
                        None
                    }
                };
                entry.insert(org);
            }
            let Some(Some(org)) = orgs.get(&run.org_id) else {
                continue;
            };
            if org.is_open(now) {
                outcome.in_office_hours.push(run.id);
            } else {
                let opens_at = org.hours.next_opening(org.zone, now);
                outcome.waiting.push(WaitingRun { run_id: run.id, org_id: run.org_id, opens_at });
            }
        }
        Ok(outcome)
    }

    /// Starts a scheduled run if it is still scheduled and due.
    async fn start_due(
        &self,
        scope: &OrgScope,
        run_id: RunId,
        now: DateTime<Utc>,
    ) -> Result<bool, EngineError> {
        let txn = self.db.begin().await?;
        let run = runs::get_for_update(&txn, scope, run_id).await?;
        let due = run.status == RunStatus::Scheduled && run.scheduled_at.is_some_and(|at| at <= now);
        let started = if due {
            runs::transition(&txn, scope, run_id, run.status, RunEvent::Start, RunUpdate::default(), now)
                .await?
                .is_some()
        } else {
            false
        };
        txn.commit().await?;
        if started {
            tracing::info!(org_id = %scope, run_id = %run_id, "scheduled run started");
            self.publish(&[BusEvent::run(BusEventKind::RunChanged, scope.org_id(), run_id)]).await;
        }
        Ok(started)
    }

    /// Completes a run with no open row (a backstop for runs whose last rows were skipped or
    /// cancelled rather than called).
    async fn complete_if_no_open_row(
        &self,
        scope: &OrgScope,
        run_id: RunId,
        now: DateTime<Utc>,
    ) -> Result<bool, EngineError> {
        // A cheap check first, without a transaction: most live runs have open rows.
        if run_rows::open_count(&self.db, scope, run_id).await? > 0 {
            return Ok(false);
        }
        let txn = self.db.begin().await?;
        let run = runs::get_for_update(&txn, scope, run_id).await?;
        let completed = self.complete_if_done(&txn, scope, &run, now).await?.is_some();
        txn.commit().await?;
        if completed {
            self.publish(&[BusEvent::run(BusEventKind::RunChanged, scope.org_id(), run_id)]).await;
        }
        Ok(completed)
    }
}
