//! Provider call webhooks, applied once each, in any order.

use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::{CallId, OrgId, RunId};
use rivvi_domain::lifecycle::{CallStatus, RowStatus};
use rivvi_persistence::calls::{self, CallRecord};
use rivvi_persistence::{engine_queries, webhook_events, OrgScope};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{Engine, EngineError, WEBHOOK_SOURCE};
use crate::retell::webhook::{CallEvent, CallEventKind};

/// What [`Engine::apply_call_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The event was applied (possibly changing nothing, when it arrived after a later one).
    Applied {
        /// Our call.
        call_id: CallId,
        /// Its organization.
        org_id: OrgId,
        /// Its run, for outbound calls.
        run_id: Option<RunId>,
        /// Its status now.
        call_status: CallStatus,
        /// The row's new status, when this event moved it.
        row_status: Option<RowStatus>,
    },
    /// This event (same provider call, same kind) was applied before: nothing changed.
    Duplicate,
    /// No call of ours has this provider id: recorded and ignored.
    UnknownCall,
    /// An event kind the engine does not act on (such as transcript updates): not recorded.
    Ignored,
}

/// The ids every call of ours carries in its provider metadata: an outbound call's full
/// [`CallMetadata`](crate::provider::CallMetadata), or an inbound call's `{call_id, org_id}`.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
struct CallIds {
    call_id: CallId,
    org_id: OrgId,
}

impl Engine {
    /// Applies a verified provider webhook, in one transaction with its replay record
    /// (`webhook_events`, keyed by provider call id and event kind): a replay changes nothing,
    /// and a failure rolls the record back so the provider's retry is treated as new.
    ///
    /// Order-tolerant: a `call_started` after `call_ended` adds its timestamp but does not move
    /// the call back; the row is decided once, by whichever final report comes first. A call
    /// whose create answer was lost is found by our call id in the event's metadata and linked.
    ///
    /// Inbound calls (written when Retell asked how to answer them, before it had a call id) are
    /// found the same way, by the `call_id` and `org_id` we put in their metadata, and get their
    /// provider id on the first event. Their status and details move like an outbound call's,
    /// but they never touch a run row: a callback is not an attempt, so the outbound row keeps
    /// its status, attempts and retry schedule (it does not count as reaching the patient either:
    /// the row machine has no edge from `pending` to `completed`, and the inbound agent's goal is
    /// not the campaign's; staff see the callback on the row through its related call).
    #[tracing::instrument(level = "debug", skip_all, fields(provider_call_id = %event.call.call_id, event = %event.event), err(level = "debug"))]
    pub async fn apply_call_event(&self, event: &CallEvent) -> Result<ApplyOutcome, EngineError> {
        if !matches!(
            event.event,
            CallEventKind::CallStarted | CallEventKind::CallEnded | CallEventKind::CallAnalyzed
        ) {
            return Ok(ApplyOutcome::Ignored);
        }
        let now = self.clock.now();
        let key = format!("{}:{}", event.call.call_id, event.event);
        let txn = self.db.begin().await?;
        let receipt = webhook_events::record_once(&txn, WEBHOOK_SOURCE, &key).await?;
        if !receipt.first_time {
            txn.commit().await?;
            return Ok(ApplyOutcome::Duplicate);
        }
        let Some(found) = self.find_call(&txn, event, now).await? else {
            webhook_events::mark_processed(&txn, receipt.id, "ignored: unknown call").await?;
            txn.commit().await?;
            tracing::info!(provider_call_id = %event.call.call_id, "webhook about an unknown call ignored");
            return Ok(ApplyOutcome::UnknownCall);
        };
        let scope = OrgScope::for_verified_org(found.org_id);
        let call = calls::get_for_update(&txn, &scope, found.id).await?;
        let applied = match call.direction {
            Direction::Outbound => self.apply_report(&txn, &scope, &call, &event.call, now).await?,
            // Seen without a run or row, whatever is stored, so no row or run can move.
            Direction::Inbound => {
                let detached = CallRecord { run_id: None, row_id: None, ..call.clone() };
                self.apply_report(&txn, &scope, &detached, &event.call, now).await?
            }
        };
        webhook_events::mark_processed(&txn, receipt.id, "applied").await?;
        txn.commit().await?;
        // Its row changed (live subscribers re-read it); a call that ended frees its slot for
        // the next row, on whichever instance dispatches for the organization.
        let ended = applied.call_status.is_final() && !call.status.is_final();
        let row = if call.direction == Direction::Outbound { call.row_id } else { None };
        if ended || applied.row_status.is_some() {
            self.publish_row(found.org_id, call.run_id.filter(|_| row.is_some()), row, ended).await;
        }
        self.publish_rows(found.org_id, &applied.skipped).await;
        Ok(ApplyOutcome::Applied {
            call_id: call.id,
            org_id: found.org_id,
            run_id: call.run_id,
            call_status: applied.call_status,
            row_status: applied.row_status,
        })
    }

    /// Our call for the event: by provider id, or by our id in the metadata when the provider id
    /// was never stored (then it is stored now, once).
    async fn find_call(
        &self,
        conn: &impl ConnectionTrait,
        event: &CallEvent,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<CallRecord>, EngineError> {
        let provider_call_id = &event.call.call_id;
        if let Some(call) = engine_queries::find_call_by_provider_id(conn, provider_call_id).await? {
            return Ok(Some(call));
        }
        let Some(metadata) =
            event.call.metadata.clone().and_then(|m| serde_json::from_value::<CallIds>(m).ok())
        else {
            return Ok(None);
        };
        let Some(call) = engine_queries::find_call(conn, metadata.call_id).await? else {
            return Ok(None);
        };
        if call.org_id != metadata.org_id {
            return Ok(None);
        }
        let scope = OrgScope::for_verified_org(call.org_id);
        if call.provider_call_id.is_none()
            && calls::set_provider_call_id(conn, &scope, call.id, provider_call_id, now).await?
        {
            tracing::info!(org_id = %call.org_id, call_id = %call.id, "call linked to its provider id by webhook");
            return Ok(Some(call));
        }
        // The dispatcher stored the id meanwhile (its transaction held the call while this one
        // waited): read it again. A call holding a different id is not this event's.
        Ok(engine_queries::find_call_by_provider_id(conn, provider_call_id).await?)
    }
}
