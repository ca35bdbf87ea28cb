//! The dispatcher: turns due rows into calls, per organization, inside its office hours and
//! limits.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use rivvi_domain::campaign::{CampaignDefinition, PatientField};
use rivvi_domain::ids::{CallId, OrgId, RunId, RunRowId};
use rivvi_domain::lifecycle::{CallEvent, CallOutcome, CallStatus, RowEvent, RowStatus};
use rivvi_domain::retry::RetryableOutcome;
use rivvi_domain::{IanaZone, Patch, PhoneNumber};
use rivvi_persistence::calls::{self, CallChange, NewOutboundCall};
use rivvi_persistence::patients::{self, PatientFields};
use rivvi_persistence::prompt_versions::PublishedAgent;
use rivvi_persistence::run_rows::{self, RowUpdate, RunRowRecord};
use rivvi_persistence::runs::RunRecord;
use rivvi_persistence::{campaigns, do_not_call, engine_queries, OrgScope};
use sea_orm::{ConnectionTrait, TransactionTrait};

use futures_util::StreamExt;

use super::org::OrgContext;
use super::report::Settlement;
use super::{error_chain, Engine, EngineError};
use crate::bus::BusEvent;
use crate::provider::{AnalysisFieldSpec, CallMetadata, CreateCall, ProviderError};

/// The skip reason of a row whose number is on the do-not-call list.
pub(crate) const SKIPPED_DO_NOT_CALL: &str = "do_not_call";

/// What one [`Engine::dispatch_tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchOutcome {
    /// Calls the provider accepted.
    pub dialed: u32,
    /// Rows skipped because their number is on the organization's do-not-call list.
    pub skipped_dnc: u32,
    /// Rows put back until 08:00 in the patient's own time zone.
    pub deferred_quiet_hours: u32,
    /// Rows skipped because they have no usable phone number.
    pub skipped_invalid: u32,
    /// Create-call requests that failed (each counts an attempt).
    pub provider_errors: u32,
    /// Of `provider_errors`, those whose call may nevertheless exist: left for recovery, never
    /// redialled under the same attempt.
    pub awaiting_reconciliation: u32,
    /// Organizations with running runs whose office hours are closed now.
    pub orgs_outside_office_hours: u32,
    /// Organizations another instance was dispatching (its lock was taken).
    pub orgs_busy_elsewhere: u32,
    /// Organizations with running runs but no caller number configured.
    pub orgs_without_caller_number: u32,
    /// Organizations or dials this tick gave up on after an error (logged; tried again next tick
    /// or left to recovery).
    pub errors: u32,
}

impl DispatchOutcome {
    /// Whether nothing at all happened.
    pub fn is_empty(&self) -> bool {
        *self == DispatchOutcome::default()
    }
}

/// What the provider said to one create-call request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialled {
    /// It accepted the call.
    Placed,
    /// It refused: the attempt counts and the retry policy applies.
    Refused,
    /// The answer was lost; the call may exist and is left for recovery.
    MayExist,
}

impl Dialled {
    fn label(self) -> &'static str {
        match self {
            Dialled::Placed => "placed",
            Dialled::Refused => "refused",
            Dialled::MayExist => "unknown",
        }
    }
}

/// A call written and committed, about to be requested from the provider.
struct PreparedDial {
    scope: OrgScope,
    call_id: CallId,
    create: CreateCall,
}

/// What became of one claimed row inside the dispatch transaction.
enum Prepared {
    Dial(Box<PreparedDial>),
    SkippedDnc,
    SkippedInvalid,
    Deferred,
    /// Lost a race for the row (it moved under us): nothing to do.
    Gone,
}

/// Everything a claimed row needs from its run, read once per run per tick.
struct RunContext<'a> {
    run: &'a RunRecord,
    /// The campaign with the run's frozen variables, analysis fields and voicemail text.
    definition: CampaignDefinition,
    instructions: Option<String>,
    /// The run's frozen fields and the built-in opt-out field.
    analysis_fields: Vec<AnalysisFieldSpec>,
    /// The published agent version the run pinned (`None` for runs from before pinning).
    agent: Option<PublishedAgent>,
}

impl Engine {
    /// Places the calls that are due at `now`, for every organization with running runs:
    ///
    /// 1. skips organizations whose office hours are closed (their runs wait; they are not
    ///    paused) or that have no caller number;
    /// 2. in one transaction per organization, under its dispatch lock (PostgreSQL advisory lock;
    ///    another instance holding it means "not this tick"): free slots = concurrent call limit
    ///    − active calls, bounded by calls per minute − calls created in the last 60 s; claims
    ///    that many due rows; per row checks the do-not-call list (skipped) and the patient's
    ///    08:00–21:00 window in their own zone (back to pending until the window opens); writes
    ///    the call `registered` for the rest, and commits;
    /// 3. asks the provider for each call, outside any transaction, and stores its id (the row
    ///    goes `in_call`). A refused request counts the attempt and goes through the retry policy
    ///    as `dial_failed`; one whose call may exist anyway is left for recovery.
    pub async fn dispatch_tick(&self, now: DateTime<Utc>) -> Result<DispatchOutcome, EngineError> {
        let mut by_org: BTreeMap<OrgId, Vec<RunRecord>> = BTreeMap::new();
        for run in engine_queries::live_runs(&self.db).await? {
            if run.status == rivvi_domain::lifecycle::RunStatus::Running {
                by_org.entry(run.org_id).or_default().push(run);
            }
        }
        let mut outcome = DispatchOutcome::default();
        for (org_id, runs) in by_org {
            let org = match OrgContext::load(&self.db, org_id).await {
                Ok(org) => org,
                Err(err) => {
                    tracing::warn!(org_id = %org_id, error = %error_chain(&err), "dispatch skipped an organization");
                    outcome.errors += 1;
                    continue;
                }
            };
            if !org.is_open(now) {
                outcome.orgs_outside_office_hours += 1;
                continue;
            }
            let Some(caller) = org.caller_number.clone() else {
                outcome.orgs_without_caller_number += 1;
                continue;
            };
            let prepared = match self.prepare_org(&org, &caller, &runs, now, &mut outcome).await {
                Ok((prepared, touched)) => {
                    let events: Vec<BusEvent> = touched
                        .into_iter()
                        .map(|(run, row)| BusEvent::row(org_id, run, row, false))
                        .collect();
                    self.publish(&events).await;
                    prepared
                }
                Err(err) => {
                    tracing::warn!(org_id = %org_id, error = %error_chain(&err), "dispatch failed for an organization");
                    outcome.errors += 1;
                    continue;
                }
            };
            let mut dials = futures_util::stream::iter(prepared)
                .map(|dial| async move {
                    let call_id = dial.call_id;
                    (call_id, self.dial(*dial, now).await)
                })
                .buffer_unordered(self.settings.dials_at_once.max(1));
            while let Some((call_id, dialled)) = dials.next().await {
                match dialled {
                    Ok(Dialled::Placed) => outcome.dialed += 1,
                    Ok(Dialled::Refused) => outcome.provider_errors += 1,
                    Ok(Dialled::MayExist) => {
                        outcome.provider_errors += 1;
                        outcome.awaiting_reconciliation += 1;
                    }
                    Err(err) => {
                        tracing::warn!(org_id = %org_id, call_id = %call_id, error = %error_chain(&err), "recording a dial failed; recovery will reconcile it");
                        outcome.errors += 1;
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Step 2 for one organization: the dispatch transaction.
    async fn prepare_org(
        &self,
        org: &OrgContext,
        caller: &PhoneNumber,
        runs: &[RunRecord],
        now: DateTime<Utc>,
        outcome: &mut DispatchOutcome,
    ) -> Result<(Vec<Box<PreparedDial>>, Vec<(RunId, RunRowId)>), EngineError> {
        let scope = &org.scope;
        let txn = self.db.begin().await?;
        if !engine_queries::try_lock_org_for_dispatch(&txn, scope.org_id()).await? {
            txn.rollback().await?;
            outcome.orgs_busy_elsewhere += 1;
            return Ok((Vec::new(), Vec::new()));
        }
        let active = calls::count_active(&txn, scope).await?;
        let recent = calls::count_created_since(&txn, scope, now - TimeDelta::seconds(60)).await?;
        let free = u64::from(org.concurrent_call_limit)
            .saturating_sub(active)
            .min(u64::from(org.calls_per_minute).saturating_sub(recent))
            .min(u64::from(self.settings.max_claims_per_tick));
        let mut slots = u32::try_from(free).unwrap_or(0);
        let mut prepared = Vec::new();
        // Rows this transaction moved (claimed and dialled, skipped or deferred), in order.
        let mut touched = Vec::new();
        for run in runs {
            if slots == 0 {
                break;
            }
            let current = campaigns::get(&txn, scope, run.campaign_id).await?.definition;
            // What the run pinned at creation; runs from before pinning read the campaign.
            let (definition, instructions, agent) = match engine_queries::pinned_version(&txn, run).await? {
                Some(version) => {
                    let definition = match version.frozen {
                        Some(frozen) => current.as_frozen(
                            frozen.variables,
                            frozen.analysis_fields,
                            version.voicemail_message,
                        ),
                        None => current,
                    };
                    (definition, version.run_instructions, version.agent)
                }
                None => (current, None, None),
            };
            let analysis_fields = AnalysisFieldSpec::requested(definition.analysis_fields());
            let context = RunContext { run, definition, instructions, analysis_fields, agent };
            let lease_until = now + self.settings.lease;
            let rows = run_rows::claim_due(
                &txn,
                scope,
                &self.keys,
                run.id,
                now,
                slots,
                lease_until,
                &self.instance_id,
            )
            .await?;
            for row in rows {
                let row_id = row.id;
                let prepared_row = self.prepare_row(&txn, org, caller, &context, row, now).await?;
                if !matches!(prepared_row, Prepared::Gone) {
                    touched.push((run.id, row_id));
                }
                match prepared_row {
                    Prepared::Dial(dial) => {
                        prepared.push(dial);
                        slots = slots.saturating_sub(1);
                    }
                    Prepared::SkippedDnc => outcome.skipped_dnc += 1,
                    Prepared::SkippedInvalid => outcome.skipped_invalid += 1,
                    Prepared::Deferred => outcome.deferred_quiet_hours += 1,
                    Prepared::Gone => {}
                }
            }
        }
        txn.commit().await?;
        Ok((prepared, touched))
    }

    /// One claimed row, inside the dispatch transaction.
    async fn prepare_row(
        &self,
        conn: &impl ConnectionTrait,
        org: &OrgContext,
        caller: &PhoneNumber,
        context: &RunContext<'_>,
        row: RunRowRecord,
        now: DateTime<Utc>,
    ) -> Result<Prepared, EngineError> {
        let scope = &org.scope;
        let definition = &context.definition;
        let variable = |role: PatientField| {
            definition
                .variable_for(role)
                .and_then(|v| row.content.variables.get(v.key()))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let patient = match row.patient_id {
            Some(id) => Some(patients::fields(conn, scope, &self.keys, id).await?),
            None => None,
        };
        let phone = variable(PatientField::Phone)
            .or(patient.as_ref().map(|p| p.phone.as_str()))
            .and_then(|p| PhoneNumber::parse(p).ok());
        let not_now = |reason: &str| RowUpdate {
            skip_reason: Patch::Set(reason.to_owned()),
            next_attempt_at: Patch::Clear,
            uncount_attempt: true,
            ..RowUpdate::default()
        };
        let Some(phone) = phone else {
            let moved =
                self.release_row(conn, scope, &row, RowEvent::Skip, not_now("invalid_phone"), now).await?;
            return Ok(if moved { Prepared::SkippedInvalid } else { Prepared::Gone });
        };
        if do_not_call::contains(conn, scope, &self.keys, phone.as_str()).await? {
            let moved = self
                .release_row(conn, scope, &row, RowEvent::Skip, not_now(SKIPPED_DO_NOT_CALL), now)
                .await?;
            return Ok(if moved { Prepared::SkippedDnc } else { Prepared::Gone });
        }
        let zone = patient_zone(variable(PatientField::TimeZone), &phone, org.zone);
        if !self.patient_window.is_open(zone, now) {
            let opens = self.patient_window.next_opening(zone, now).unwrap_or(now + TimeDelta::hours(1));
            let update = RowUpdate {
                next_attempt_at: Patch::Set(opens),
                uncount_attempt: true,
                ..RowUpdate::default()
            };
            let moved = self.release_row(conn, scope, &row, RowEvent::Release, update, now).await?;
            return Ok(if moved { Prepared::Deferred } else { Prepared::Gone });
        }

        let run = context.run;
        let call_id = CallId::new();
        calls::create_outbound(
            conn,
            scope,
            &self.keys,
            NewOutboundCall {
                id: call_id,
                run_id: run.id,
                row_id: row.id,
                campaign_id: run.campaign_id,
                patient_id: row.patient_id,
                attempt: row.attempts,
                from_number: caller.as_str().to_owned(),
                to_number: phone.as_str().to_owned(),
                local: Some(org.local_stamp(now)),
                created_at: now,
            },
        )
        .await?;
        let names = Names::of(patient.as_ref(), &variable);
        let create = CreateCall {
            from_number: caller.as_str().to_owned(),
            to_number: phone.as_str().to_owned(),
            override_agent_id: Some(match &context.agent {
                Some(pinned) => pinned.agent_id.clone(),
                None => definition.agent_id().to_string(),
            }),
            override_agent_version: context.agent.as_ref().map(|pinned| pinned.version),
            dynamic_variables: dynamic_variables(&row, org, caller, context, &names, &phone),
            // The run's frozen fields and the built-in opt-out, per call: a managed version
            // carries them already, an attached agent (which Rivvi never edits) may not.
            analysis_fields: context.analysis_fields.clone(),
            metadata: CallMetadata {
                org_id: scope.org_id(),
                campaign_id: run.campaign_id,
                run_id: run.id,
                row_id: row.id,
                call_id,
                attempt: row.attempts,
            },
        };
        Ok(Prepared::Dial(Box::new(PreparedDial { scope: *scope, call_id, create })))
    }

    /// Gives back a claimed row that was not dialled (skip or release), taking its attempt back.
    async fn release_row(
        &self,
        conn: &impl ConnectionTrait,
        scope: &OrgScope,
        row: &RunRowRecord,
        event: RowEvent,
        update: RowUpdate,
        now: DateTime<Utc>,
    ) -> Result<bool, EngineError> {
        let moved = run_rows::transition(
            conn,
            scope,
            row.id,
            RowStatus::Dialing,
            &[event],
            Some(row.attempts),
            update,
            now,
        )
        .await?;
        Ok(moved.is_some())
    }

    /// Step 3 for one call: ask the provider, then record what it said.
    async fn dial(&self, dial: PreparedDial, now: DateTime<Utc>) -> Result<Dialled, EngineError> {
        let PreparedDial { scope, call_id, create } = dial;
        let (org_id, run_id, row_id) = (scope.org_id(), create.metadata.run_id, create.metadata.row_id);
        let asked = std::time::Instant::now();
        let answer =
            match tokio::time::timeout(self.settings.dial_timeout, self.provider.create_call(create)).await {
                Ok(answer) => answer,
                Err(_) => Err(ProviderError::Timeout),
            };
        let dialled = match &answer {
            Ok(_) => Dialled::Placed,
            Err(err) if err.call_may_exist() => Dialled::MayExist,
            Err(_) => Dialled::Refused,
        };
        metrics::histogram!("rivvi_provider_create_call_seconds").record(asked.elapsed().as_secs_f64());
        metrics::counter!("rivvi_engine_dials_total", "result" => dialled.label()).increment(1);
        self.health.dial(dialled != Dialled::Placed);
        match answer {
            Ok(provider_call) => {
                let txn = self.db.begin().await?;
                let call = calls::get_for_update(&txn, &scope, call_id).await?;
                match call.provider_call_id.as_deref() {
                    None => {
                        calls::set_provider_call_id(&txn, &scope, call_id, &provider_call.call_id, now)
                            .await?;
                    }
                    // A webhook linked it first, by the metadata.
                    Some(known) if known == provider_call.call_id => {}
                    Some(_) => {
                        tracing::error!(org_id = %scope, call_id = %call_id, "provider answered a different call id than the one already stored");
                    }
                }
                if !call.status.is_final() {
                    self.mark_placed(&txn, &scope, &call, now).await?;
                }
                txn.commit().await?;
                self.publish_row(org_id, Some(run_id), Some(row_id), false).await;
            }
            Err(err) if err.call_may_exist() => {
                tracing::warn!(org_id = %scope, call_id = %call_id, error = %err, "create-call answer lost; the call may exist, recovery will reconcile it");
            }
            Err(err) => {
                tracing::warn!(org_id = %scope, call_id = %call_id, error = %err, "provider refused a call; the attempt counts");
                let txn = self.db.begin().await?;
                let call = calls::get_for_update(&txn, &scope, call_id).await?;
                if call.status == CallStatus::Registered && call.provider_call_id.is_none() {
                    let change = CallChange {
                        outcome: Some(CallOutcome::Failed),
                        ended_at: Some(now),
                        disconnection_reason: Some("dial_failed".to_owned()),
                        ..CallChange::default()
                    };
                    let status = calls::update(
                        &txn,
                        &scope,
                        &self.keys,
                        call_id,
                        CallStatus::Registered,
                        Some(CallEvent::NotConnected),
                        change,
                        now,
                    )
                    .await?;
                    if status.is_some() {
                        let settlement = Settlement {
                            outcome: CallOutcome::Failed,
                            retryable: Some(RetryableOutcome::DialFailed),
                            placed: false,
                            analysis: None,
                            last_error: Some(err.to_string()),
                        };
                        self.settle_row(&txn, &scope, &call, settlement, now).await?;
                    }
                }
                txn.commit().await?;
                self.publish_row(org_id, Some(run_id), Some(row_id), true).await;
            }
        }
        Ok(dialled)
    }
}

/// The patient's zone for the calling window: the row's time zone column when it names a valid
/// zone, else the zone of the number's NANP area code, else the organization's.
pub(crate) fn patient_zone(column: Option<&str>, phone: &PhoneNumber, org_zone: Tz) -> Tz {
    column
        .and_then(|z| IanaZone::parse(z).ok())
        .map(IanaZone::tz)
        .or_else(|| phone.nanp_time_zone())
        .unwrap_or(org_zone)
}

/// The patient's names for the prompt: the patient record's (ingestion split a whole-name
/// column), else the row's first/last name columns.
struct Names {
    first: String,
    last: String,
}

impl Names {
    fn of<'a>(patient: Option<&PatientFields>, variable: &impl Fn(PatientField) -> Option<&'a str>) -> Names {
        match patient {
            Some(p) => Names { first: p.first_name.clone(), last: p.last_name.clone() },
            None => Names {
                first: variable(PatientField::FirstName).unwrap_or_default().to_owned(),
                last: variable(PatientField::LastName).unwrap_or_default().to_owned(),
            },
        }
    }
}

/// The row's variables plus the engine's built-ins (which win over a row variable of the same
/// name), all strings: the contract in `rivvi_domain::campaign::builtins::ENGINE_VARIABLES`.
fn dynamic_variables(
    row: &RunRowRecord,
    org: &OrgContext,
    caller: &PhoneNumber,
    context: &RunContext<'_>,
    names: &Names,
    phone: &PhoneNumber,
) -> BTreeMap<String, String> {
    let mut variables = row.content.variables.clone();
    let attempt = row.attempts.max(1);
    let builtins = [
        ("organization_name", org.name.clone()),
        ("organization_phone", caller.as_str().to_owned()),
        ("campaign_name", context.definition.name().to_owned()),
        ("run_instructions", context.instructions.clone().unwrap_or_default()),
        ("patient_first_name", names.first.clone()),
        ("patient_last_name", names.last.clone()),
        ("patient_phone", phone.as_str().to_owned()),
        ("first_name", names.first.clone()),
        ("last_name", names.last.clone()),
        ("phone", phone.as_str().to_owned()),
        ("attempt", attempt.to_string()),
        ("retry_count", (attempt - 1).to_string()),
    ];
    for (name, value) in builtins {
        variables.insert(name.to_owned(), value);
    }
    variables
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patient_zone_comes_from_the_column_then_the_area_code_then_the_organization() {
        let chicago = PhoneNumber::parse("+13125550143").unwrap();
        let foreign = PhoneNumber::parse("+442079460000").unwrap();
        let org = chrono_tz::America::New_York;
        assert_eq!(patient_zone(Some("America/Denver"), &chicago, org), chrono_tz::America::Denver);
        assert_eq!(patient_zone(Some("not a zone"), &chicago, org), chrono_tz::America::Chicago);
        assert_eq!(patient_zone(None, &chicago, org), chrono_tz::America::Chicago);
        assert_eq!(patient_zone(None, &foreign, org), org);
    }
}
