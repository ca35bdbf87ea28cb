//! Recovery: what a dead instance left behind, and calls whose final webhook never came.

use chrono::{DateTime, Utc};
use rivvi_domain::lifecycle::{CallEvent, CallOutcome, CallStatus, RowEvent, RowStatus};
use rivvi_domain::retry::RetryableOutcome;
use rivvi_domain::Patch;
use rivvi_persistence::calls::{self, CallChange, CallRecord};
use rivvi_persistence::engine_queries::{self, LeasedRow};
use rivvi_persistence::run_rows::{self, RowUpdate};
use rivvi_persistence::OrgScope;
use sea_orm::TransactionTrait;

use super::report::Settlement;
use super::{error_chain, Engine, EngineError};
use crate::provider::ProviderError;

/// The disconnection reason recorded on a dial whose fate was never learned.
pub const DIAL_OUTCOME_UNKNOWN: &str = "dial_outcome_unknown";
/// The disconnection reason recorded on a call the provider says it does not know.
pub const PROVIDER_CALL_NOT_FOUND: &str = "provider_call_not_found";

/// What one [`Engine::recover_tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoverOutcome {
    /// Rows claimed but never dialled (no call was written): back to pending, attempt not
    /// counted.
    pub released: u32,
    /// Calls the provider reported finished, applied as if their final event had arrived.
    pub reconciled: u32,
    /// Calls the provider reports still going (looked at again later).
    pub still_live: u32,
    /// Dials whose provider id was never learned, past the longest plausible call: failed dials
    /// (the attempt counts).
    pub unknown_dials: u32,
    /// Dials whose provider id was never learned, still inside the longest plausible call: their
    /// slot stays taken, the row waits.
    pub waiting: u32,
    /// Calls the provider does not know: failed dials.
    pub lost_calls: u32,
    /// Rows or calls this tick gave up on after an error (logged; tried again later).
    pub errors: u32,
}

impl RecoverOutcome {
    /// Whether nothing at all happened.
    pub fn is_empty(&self) -> bool {
        *self == RecoverOutcome::default()
    }
}

impl Engine {
    /// Reconciles, by asking the provider and never by redialling:
    ///
    /// - rows still `dialing` whose lease expired before `now`: with no call written, the dial
    ///   never happened (back to pending, attempt not counted); with a provider id, the provider
    ///   says what happened; without one (the create answer was lost), the call may exist: it
    ///   keeps its slot until [`super::EngineSettings::max_call_duration`] after it was written
    ///   (a webhook naming it links it meanwhile), then counts as a failed dial;
    /// - calls `registered`/`ongoing` not updated for
    ///   [`super::EngineSettings::max_call_duration`]: a finished call is applied as if its final
    ///   event had arrived; one the provider does not know is a failed dial.
    pub async fn recover_tick(&self, now: DateTime<Utc>) -> Result<RecoverOutcome, EngineError> {
        let mut outcome = RecoverOutcome::default();
        let workload = engine_queries::workload(&self.db, now).await?;
        metrics::gauge!("rivvi_engine_active_calls").set(workload.active_calls as f64);
        metrics::gauge!("rivvi_engine_due_rows").set(workload.due_rows as f64);
        for leased in engine_queries::expired_leases(&self.db, now, self.settings.recover_batch).await? {
            let (org_id, row_id) = (leased.org_id, leased.row.id);
            if let Err(err) = self.recover_row(leased, now, &mut outcome).await {
                tracing::warn!(org_id = %org_id, row_id = %row_id, error = %error_chain(&err), "recovering a row failed");
                outcome.errors += 1;
            }
        }
        let stale_before = now - self.settings.max_call_duration;
        for call in engine_queries::stale_calls(&self.db, stale_before, self.settings.recover_batch).await? {
            let (org_id, call_id) = (call.org_id, call.id);
            if let Err(err) = self.reconcile_call(&call, now, &mut outcome).await {
                tracing::warn!(org_id = %org_id, call_id = %call_id, error = %error_chain(&err), "reconciling a call failed");
                outcome.errors += 1;
            }
        }
        Ok(outcome)
    }

    async fn recover_row(
        &self,
        leased: LeasedRow,
        now: DateTime<Utc>,
        outcome: &mut RecoverOutcome,
    ) -> Result<(), EngineError> {
        let scope = OrgScope::for_verified_org(leased.org_id);
        let row = leased.row;
        let Some(call) = calls::find_for_attempt(&self.db, &scope, row.id, row.attempts).await? else {
            // The call row is committed with the claim, before the provider is asked: without
            // one, nothing was dialled.
            let update =
                RowUpdate { next_attempt_at: Patch::Set(now), uncount_attempt: true, ..RowUpdate::default() };
            let moved = run_rows::transition(
                &self.db,
                &scope,
                row.id,
                RowStatus::Dialing,
                &[RowEvent::Release],
                Some(row.attempts),
                update,
                now,
            )
            .await?;
            if moved.is_some() {
                outcome.released += 1;
                self.publish_row(leased.org_id, Some(row.run_id), Some(row.id), false).await;
            }
            return Ok(());
        };
        if call.provider_call_id.is_some() {
            return self.reconcile_call(&call, now, outcome).await;
        }
        if call.status.is_final() {
            // Decided without a provider id (a refused create whose row update was lost).
            let txn = self.db.begin().await?;
            let call = calls::get_for_update(&txn, &scope, call.id).await?;
            let settlement = Settlement {
                outcome: call.outcome.unwrap_or(CallOutcome::Failed),
                retryable: call.outcome.and_then(|o| RetryableOutcome::from_call(call.status, o)),
                placed: false,
                analysis: None,
                last_error: None,
            };
            self.settle_row(&txn, &scope, &call, settlement, now).await?;
            txn.commit().await?;
            self.publish_row(call.org_id, call.run_id, call.row_id, true).await;
            return Ok(());
        }
        let gives_up_at = call.created_at + self.settings.max_call_duration;
        if now < gives_up_at {
            run_rows::extend_lease(
                &self.db,
                &scope,
                row.id,
                row.attempts,
                gives_up_at,
                &self.instance_id,
                now,
            )
            .await?;
            outcome.waiting += 1;
            return Ok(());
        }
        let txn = self.db.begin().await?;
        let call = calls::get_for_update(&txn, &scope, call.id).await?;
        // A webhook may have linked it since it was read.
        if call.provider_call_id.is_none() && call.status == CallStatus::Registered {
            let failed = self
                .fail_call(
                    &txn,
                    &scope,
                    &call,
                    DIAL_OUTCOME_UNKNOWN,
                    "dial outcome unknown: the create-call answer was lost",
                    now,
                )
                .await?;
            if failed {
                outcome.unknown_dials += 1;
            }
        }
        txn.commit().await?;
        self.publish_row(call.org_id, call.run_id, call.row_id, true).await;
        Ok(())
    }

    /// Asks the provider about a call we know the provider id of, and applies the answer.
    async fn reconcile_call(
        &self,
        call: &CallRecord,
        now: DateTime<Utc>,
        outcome: &mut RecoverOutcome,
    ) -> Result<(), EngineError> {
        let Some(provider_call_id) = call.provider_call_id.as_deref() else {
            return Ok(());
        };
        let scope = OrgScope::for_verified_org(call.org_id);
        let report =
            match tokio::time::timeout(self.settings.dial_timeout, self.provider.get_call(provider_call_id))
                .await
            {
                Ok(report) => report,
                Err(_) => Err(ProviderError::Timeout),
            };
        let txn = self.db.begin().await?;
        let call = calls::get_for_update(&txn, &scope, call.id).await?;
        let mut skipped = Vec::new();
        match report {
            Ok(report) => {
                let finished = report.finished().is_some();
                skipped = self.apply_report(&txn, &scope, &call, &report, now).await?.skipped;
                if finished {
                    outcome.reconciled += 1;
                } else {
                    calls::touch(&txn, &scope, call.id, now).await?;
                    outcome.still_live += 1;
                }
            }
            Err(ProviderError::NotFound(_)) => {
                if !call.status.is_final()
                    && self
                        .fail_call(
                            &txn,
                            &scope,
                            &call,
                            PROVIDER_CALL_NOT_FOUND,
                            "the provider does not know the call",
                            now,
                        )
                        .await?
                {
                    outcome.lost_calls += 1;
                }
            }
            Err(err) => {
                txn.rollback().await?;
                return Err(EngineError::Provider(err));
            }
        }
        txn.commit().await?;
        self.publish_row(call.org_id, call.run_id, call.row_id, true).await;
        self.publish_rows(call.org_id, &skipped).await;
        Ok(())
    }

    /// Ends a live call as a failed dial (`error`, outcome failed, `reason`) and decides its row
    /// as `dial_failed` under the retry policy: the attempt may have rung, so it counts.
    async fn fail_call(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        scope: &OrgScope,
        call: &CallRecord,
        reason: &str,
        last_error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, EngineError> {
        let change = CallChange {
            outcome: Some(CallOutcome::Failed),
            disconnection_reason: Some(reason.to_owned()),
            ..CallChange::default()
        };
        let status =
            calls::update(conn, scope, &self.keys, call.id, call.status, Some(CallEvent::Fail), change, now)
                .await?;
        if status.is_none() {
            return Ok(false);
        }
        let settlement = Settlement {
            outcome: CallOutcome::Failed,
            retryable: Some(RetryableOutcome::DialFailed),
            placed: false,
            analysis: None,
            last_error: Some(last_error.to_owned()),
        };
        self.settle_row(conn, scope, call, settlement, now).await?;
        Ok(true)
    }
}
