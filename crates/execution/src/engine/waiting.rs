//! Why a running run's pending rows are not being dialled, and until when: the dispatcher's own
//! checks (`dispatch.rs`), asked in the same order without claiming anything.

use chrono::{DateTime, TimeDelta, Utc};
use rivvi_domain::lifecycle::RunStatus;
use rivvi_domain::waiting::{WaitReason, Waiting};
use rivvi_persistence::runs::RunRecord;
use rivvi_persistence::{calls, waiting, OrgScope};

use super::org::OrgContext;
use super::{Engine, EngineError};

impl Engine {
    /// The run's pending rows by why they wait at `now`; empty unless the run is running (a
    /// draft, scheduled or paused run says why by its status).
    pub async fn waiting(
        &self,
        scope: &OrgScope,
        run: &RunRecord,
        now: DateTime<Utc>,
    ) -> Result<Vec<Waiting>, EngineError> {
        if run.status != RunStatus::Running {
            return Ok(Vec::new());
        }
        let pending = waiting::pending_rows(&self.db, scope, run.id, now).await?;
        let mut groups = Vec::new();
        if pending.due > 0 {
            let org = OrgContext::load(&self.db, scope.org_id()).await?;
            let (reason, until) = self.why_due_rows_wait(&org, now).await?;
            groups.push(group(reason, pending.due, until));
        }
        if pending.window > 0 {
            groups.push(group(WaitReason::OutsidePatientWindow, pending.window, pending.window_until));
        }
        if pending.retry > 0 {
            groups.push(group(WaitReason::RetryScheduled, pending.retry, pending.retry_until));
        }
        if pending.do_not_call > 0 {
            groups.push(group(WaitReason::DoNotCall, pending.do_not_call, None));
        }
        Ok(groups)
    }

    /// What keeps rows that are due from being claimed: the organization-wide checks of a
    /// dispatch step, first one first.
    async fn why_due_rows_wait(
        &self,
        org: &OrgContext,
        now: DateTime<Utc>,
    ) -> Result<(WaitReason, Option<DateTime<Utc>>), EngineError> {
        if org.caller_number.is_none() {
            return Ok((WaitReason::NoCallerNumber, None));
        }
        if !org.is_open(now) {
            return Ok((WaitReason::OutsideOfficeHours, org.hours.next_opening(org.zone, now)));
        }
        let scope = &org.scope;
        if calls::count_active(&self.db, scope).await? >= u64::from(org.concurrent_call_limit) {
            return Ok((WaitReason::ConcurrencyFull, None));
        }
        let minute_ago = now - TimeDelta::seconds(60);
        if calls::count_created_since(&self.db, scope, minute_ago).await? >= u64::from(org.calls_per_minute) {
            let oldest = calls::oldest_created_since(&self.db, scope, minute_ago).await?;
            return Ok((WaitReason::CallsPerMinute, oldest.map(|at| at + TimeDelta::seconds(60))));
        }
        Ok((WaitReason::Due, None))
    }
}

fn group(reason: WaitReason, rows: u64, until: Option<DateTime<Utc>>) -> Waiting {
    Waiting { reason, rows: u32::try_from(rows).unwrap_or(u32::MAX), until }
}
