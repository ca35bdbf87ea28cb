//! Applying what the provider says about a call to the call, its row and its run, inside the
//! caller's transaction. Shared by webhooks ([`super::Engine::apply_call_event`]) and recovery
//! (which asks `get-call` and applies the answer as if the final event had arrived).
//!
//! Lock order, everywhere: call, then run, then row. The row is decided exactly once per
//! attempt: when its call first becomes final (the call row is locked, and its status is only
//! ever moved by a conditional update).

use chrono::{DateTime, Utc};
use rivvi_domain::analytics::is_opted_out;
use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::{RunId, RunRowId};
use rivvi_domain::lifecycle::{CallEvent, CallOutcome, CallStatus, RowEvent, RowStatus, RunEvent, RunStatus};
use rivvi_domain::retry::{RetryDecision, RetryableOutcome};
use rivvi_domain::Patch;
use rivvi_persistence::calls::{self, CallChange, CallRecord};
use rivvi_persistence::run_rows::{self, RowUpdate};
use rivvi_persistence::runs::{self, RunRecord, RunUpdate};
use rivvi_persistence::{campaigns, OrgScope};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use super::{Engine, EngineError};
use crate::provider::ProviderCall;

/// Where applying a report left the call and its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) call_status: CallStatus,
    /// The row's new status when this report moved it.
    pub(crate) row_status: Option<RowStatus>,
    /// Rows skipped because the patient opted out on this call (see `opt_out`), to publish
    /// once the transaction commits.
    pub(crate) skipped: Vec<(RunId, RunRowId)>,
}

impl Applied {
    fn of(call_status: CallStatus, row_status: Option<RowStatus>) -> Self {
        Applied { call_status, row_status, skipped: Vec::new() }
    }
}

/// How an attempt ended, for deciding its row.
#[derive(Debug, Clone)]
pub(crate) struct Settlement {
    pub(crate) outcome: CallOutcome,
    /// What the retry policy sees (`None`: never retried).
    pub(crate) retryable: Option<RetryableOutcome>,
    /// Whether the provider accepted the call (a row still `dialing` moves through `in_call`).
    pub(crate) placed: bool,
    /// The campaign's analysis fields, by key.
    pub(crate) analysis: Option<Value>,
    /// Why the attempt failed, without patient data.
    pub(crate) last_error: Option<String>,
}

impl Engine {
    /// Applies the provider's view of `call` (locked by the caller in `conn`'s transaction).
    ///
    /// - A call already final keeps its status; later reports only add detail (transcript,
    ///   analysis, timestamps). `call_analyzed` may reclassify the outcome (an answered call that
    ///   was a voicemail greeting); the row keeps the decision it got but records the outcome and
    ///   analysis.
    /// - A final report on a live call finishes it (`end`, `fail` or `not_connected` by the
    ///   domain's call machine) and decides the row.
    /// - A live report starts the call if it was only registered, and moves a row still
    ///   `dialing` to `in_call`.
    /// - A final report or analysis of an outbound call saying the patient opted out honours it
    ///   (`opt_out`): the attempt is final whatever the retry policy says, the number goes on the
    ///   do-not-call list and its pending rows are skipped.
    pub(crate) async fn apply_report(
        &self,
        conn: &impl ConnectionTrait,
        scope: &OrgScope,
        call: &CallRecord,
        report: &ProviderCall,
        now: DateTime<Utc>,
    ) -> Result<Applied, EngineError> {
        let mut change = change_from(report);
        let finished = report.finished();
        let custom = custom_analysis(report);
        let opted_out = call.direction == Direction::Outbound && is_opted_out(custom.as_ref());

        if call.status.is_final() {
            if report.call_analysis.is_some() {
                change.outcome = finished.map(|f| f.outcome);
            }
            let outcome = change.outcome;
            calls::update(conn, scope, &self.keys, call.id, call.status, None, change, now).await?;
            if let (Some(row_id), true) = (call.row_id, outcome.is_some() || custom.is_some()) {
                run_rows::record_result(conn, scope, &self.keys, row_id, call.attempt, outcome, custom, now)
                    .await?;
            }
            let mut applied = Applied::of(call.status, None);
            if opted_out {
                applied.skipped = self.honour_opt_out(conn, scope, call, now).await?;
            }
            return Ok(applied);
        }

        match finished {
            Some(finished) => {
                let event = match finished.status {
                    CallStatus::Error => CallEvent::Fail,
                    // The domain knows `not_connected` only from `registered`: a call we saw start
                    // and that then "never connected" is a provider error.
                    CallStatus::NotConnected if call.status == CallStatus::Registered => {
                        CallEvent::NotConnected
                    }
                    CallStatus::NotConnected => CallEvent::Fail,
                    _ => CallEvent::End,
                };
                change.outcome = Some(finished.outcome);
                let Some(status) =
                    calls::update(conn, scope, &self.keys, call.id, call.status, Some(event), change, now)
                        .await?
                else {
                    return Ok(Applied::of(call.status, None));
                };
                let settlement = Settlement {
                    outcome: finished.outcome,
                    // A patient who asked not to be called again is not: the attempt is final.
                    retryable: RetryableOutcome::from_call(status, finished.outcome).filter(|_| !opted_out),
                    placed: true,
                    analysis: custom,
                    last_error: None,
                };
                let row_status = self.settle_row(conn, scope, call, settlement, now).await?;
                let mut applied = Applied::of(status, row_status);
                if opted_out {
                    applied.skipped = self.honour_opt_out(conn, scope, call, now).await?;
                }
                Ok(applied)
            }
            None => {
                let event = (report.call_status == CallStatus::Ongoing
                    && call.status == CallStatus::Registered)
                    .then_some(CallEvent::Start);
                let status = calls::update(conn, scope, &self.keys, call.id, call.status, event, change, now)
                    .await?
                    .unwrap_or(call.status);
                let row_status = self.mark_placed(conn, scope, call, now).await?;
                Ok(Applied::of(status, row_status))
            }
        }
    }

    /// Moves the call's row from `dialing` to `in_call` when it is still at the call's attempt:
    /// the provider has the call.
    pub(crate) async fn mark_placed(
        &self,
        conn: &impl ConnectionTrait,
        scope: &OrgScope,
        call: &CallRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<RowStatus>, EngineError> {
        let Some(row_id) = call.row_id else {
            return Ok(None);
        };
        Ok(run_rows::transition(
            conn,
            scope,
            row_id,
            RowStatus::Dialing,
            &[RowEvent::CallPlaced],
            Some(call.attempt),
            RowUpdate::default(),
            now,
        )
        .await?)
    }

    /// Decides the row of a call that just became final, under the campaign's retry policy:
    /// pending again at the retry time, or completed (reached, voicemail) or failed. A retry in a
    /// cancelled run cancels the row instead. A row that has moved to another attempt, or is no
    /// longer dialing or in a call, is left alone. Completes the run when this was its last open
    /// row.
    pub(crate) async fn settle_row(
        &self,
        conn: &impl ConnectionTrait,
        scope: &OrgScope,
        call: &CallRecord,
        settlement: Settlement,
        now: DateTime<Utc>,
    ) -> Result<Option<RowStatus>, EngineError> {
        let (Some(run_id), Some(row_id), Some(campaign_id)) = (call.run_id, call.row_id, call.campaign_id)
        else {
            return Ok(None);
        };
        let run = runs::get_for_update(conn, scope, run_id).await?;
        let row = run_rows::state(conn, scope, row_id, true).await?;
        if row.attempts != call.attempt || !matches!(row.status, RowStatus::Dialing | RowStatus::InCall) {
            return Ok(None);
        }
        let definition = campaigns::get(conn, scope, campaign_id).await?.definition;
        let mut events = Vec::with_capacity(3);
        if row.status == RowStatus::Dialing && settlement.placed {
            events.push(RowEvent::CallPlaced);
        }
        let mut update = RowUpdate {
            outcome: Patch::Set(settlement.outcome),
            last_error: Patch::to(settlement.last_error),
            ..RowUpdate::default()
        };
        match definition.retry_policy().decide(settlement.retryable, row.attempts, now) {
            RetryDecision::RetryAt(_) if run.status.is_final() => {
                events.extend([RowEvent::Retry, RowEvent::Cancel]);
                update.next_attempt_at = Patch::Clear;
            }
            RetryDecision::RetryAt(at) => {
                events.push(RowEvent::Retry);
                update.next_attempt_at = Patch::Set(at);
            }
            RetryDecision::Final => {
                let reached = matches!(settlement.outcome, CallOutcome::Reached | CallOutcome::Voicemail);
                events.push(if reached { RowEvent::Complete } else { RowEvent::Fail });
                update.next_attempt_at = Patch::Clear;
            }
        }
        let status =
            run_rows::transition(conn, scope, row_id, row.status, &events, Some(call.attempt), update, now)
                .await?;
        if let (Some(_), Some(analysis)) = (status, settlement.analysis) {
            // The row is still at this attempt (the transition above checked it, under the lock).
            run_rows::record_result(conn, scope, &self.keys, row_id, call.attempt, None, Some(analysis), now)
                .await?;
        }
        if status.is_some_and(RowStatus::is_final) {
            self.complete_if_done(conn, scope, &run, now).await?;
        }
        Ok(status)
    }

    /// Completes a running or paused run (locked by the caller) that has no open row left.
    pub(crate) async fn complete_if_done(
        &self,
        conn: &impl ConnectionTrait,
        scope: &OrgScope,
        run: &RunRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<RunStatus>, EngineError> {
        if !matches!(run.status, RunStatus::Running | RunStatus::Paused) {
            return Ok(None);
        }
        if run_rows::open_count(conn, scope, run.id).await? > 0 {
            return Ok(None);
        }
        let status =
            runs::transition(conn, scope, run.id, run.status, RunEvent::Complete, RunUpdate::default(), now)
                .await?;
        if status.is_some() {
            tracing::info!(org_id = %scope, run_id = %run.id, "run completed");
        }
        Ok(status)
    }
}

/// The details a report carries, as a call change (status and outcome are decided by the
/// caller).
fn change_from(report: &ProviderCall) -> CallChange {
    let instant = |ms: Option<i64>| ms.and_then(DateTime::from_timestamp_millis);
    CallChange {
        outcome: None,
        started_at: instant(report.start_timestamp),
        ended_at: instant(report.end_timestamp),
        duration_ms: report.duration_ms,
        disconnection_reason: report.disconnection_reason.as_ref().map(|r| r.as_str().to_owned()),
        transcript: report.transcript.clone().filter(|t| !t.is_empty()),
        summary: report.call_analysis.as_ref().and_then(|a| a.call_summary.clone()).filter(|s| !s.is_empty()),
        recording_url: report.recording_url.clone(),
        analysis: report.call_analysis.as_ref().map(|a| {
            json!({
                "custom": a.custom_analysis_data,
                "inVoicemail": a.in_voicemail,
                "userSentiment": a.user_sentiment,
                "callSuccessful": a.call_successful,
            })
        }),
    }
}

/// The campaign's analysis fields from a report that carries an analysis.
fn custom_analysis(report: &ProviderCall) -> Option<Value> {
    report.call_analysis.as_ref().map(|a| Value::Object(a.custom_analysis_data.clone()))
}
