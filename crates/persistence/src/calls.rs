//! Phone calls of one organization: one row per outbound attempt (and, later, per inbound call).
//!
//! The engine writes an outbound call `registered` *before* it asks the provider to dial, so a
//! crash between the two leaves a record that recovery can reconcile instead of redialling. The
//! provider's id (`provider_call_id`, unique) is stored once the provider answers; webhooks find
//! the call by it.
//!
//! Numbers, transcript, summary, recording URL and the structured analysis are sealed (AAD =
//! `calls/<column>/<call id>`); status, outcome and the local time columns are clear so analytics
//! can group by them. The
//! database holds one call per attempt of a row (`ux_calls_row_id_attempt`). Staff read calls
//! through [`list`] (filtered, newest first, the patient's name opened and only the last digits
//! of the number) and [`get_detail`] (everything opened). Times are
//! passed in by the caller (the engine's injected clock), never read from the wall clock here, so
//! "calls created in the last minute" means the same thing to a test's manual clock.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::{CallId, CampaignId, OrgId, PatientId, RunId, RunRowId};
use rivvi_domain::lifecycle::{CallEvent, CallOutcome, CallStatus};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use crate::entities::{calls, patients};
use crate::org_owned::{count_per_value, InOrg};
use crate::sealing::{Aad, Keys};
use crate::{OrgScope, Page, PersistenceError, Result};

const TABLE: &str = "calls";
const PATIENTS_TABLE: &str = "patients";

/// Statuses that hold one of the organization's concurrent call slots.
pub const ACTIVE_STATUSES: [CallStatus; 2] = [CallStatus::Registered, CallStatus::Ongoing];

/// When a call happened on the organization's wall clock, for analytics that group by plain
/// columns on both databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalStamp {
    /// 0..=23.
    pub hour: u32,
    pub date: NaiveDate,
    /// ISO 8601: 1 = Monday … 7 = Sunday.
    pub weekday: u32,
}

/// An outbound call about to be dialled.
#[derive(Clone, PartialEq)]
pub struct NewOutboundCall {
    pub id: CallId,
    pub run_id: RunId,
    pub row_id: RunRowId,
    pub campaign_id: CampaignId,
    pub patient_id: Option<PatientId>,
    /// Which attempt of the row this is, starting at 1.
    pub attempt: u32,
    /// The organization's caller number, E.164 (sealed).
    pub from_number: String,
    /// The patient's number, E.164 (sealed).
    pub to_number: String,
    pub local: Option<LocalStamp>,
    pub created_at: DateTime<Utc>,
}

// PHI (the patient's number): never printed.
impl std::fmt::Debug for NewOutboundCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOutboundCall")
            .field("id", &self.id)
            .field("run_id", &self.run_id)
            .field("row_id", &self.row_id)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// A call's clear columns. Sealed content is read with [`get_content`].
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub id: CallId,
    pub org_id: OrgId,
    pub direction: Direction,
    pub run_id: Option<RunId>,
    pub row_id: Option<RunRowId>,
    pub campaign_id: Option<CampaignId>,
    pub patient_id: Option<PatientId>,
    pub provider_call_id: Option<String>,
    pub status: CallStatus,
    pub outcome: Option<CallOutcome>,
    pub attempt: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub disconnection_reason: Option<String>,
    pub related_call_id: Option<CallId>,
    pub local_hour: Option<u32>,
    pub local_date: Option<NaiveDate>,
    pub local_weekday: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A call's sealed content, opened.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct CallContent {
    pub from_number: String,
    pub to_number: String,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    pub recording_url: Option<String>,
    /// The provider's analysis object.
    pub analysis: Option<Value>,
}

// PHI: never printed.
impl std::fmt::Debug for CallContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallContent(***)")
    }
}

/// Which of a call's times a date range applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallTime {
    /// When the call was written (outbound: just before dialling).
    #[default]
    Created,
    /// When the conversation started; calls never connected have none and never match.
    Started,
}

/// Which calls [`list`] returns; each `None` matches every call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    pub status: Option<CallStatus>,
    pub direction: Option<Direction>,
    pub campaign_id: Option<CampaignId>,
    pub run_id: Option<RunId>,
    pub patient_id: Option<PatientId>,
    /// Inclusive lower bound of `time`.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound of `time`.
    pub to: Option<DateTime<Utc>>,
    pub time: CallTime,
}

/// A patient's name, opened.
#[derive(Clone, PartialEq, Eq)]
pub struct PatientName {
    pub first_name: String,
    pub last_name: String,
}

// PHI: never printed.
impl std::fmt::Debug for PatientName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientName(***)")
    }
}

/// One call of a list: its clear columns, who it was with, and just enough of the number to
/// tell calls apart.
#[derive(Debug, Clone, PartialEq)]
pub struct CallListEntry {
    pub call: CallRecord,
    /// `None` when the call is not linked to a patient (or the patient was erased).
    pub patient_name: Option<PatientName>,
    /// The last four digits of the patient's side of the call (the number dialled, or the
    /// caller's for an inbound call).
    pub patient_phone_last4: String,
}

/// One call with everything sealed opened.
#[derive(Debug, Clone, PartialEq)]
pub struct CallDetail {
    pub call: CallRecord,
    pub content: CallContent,
    pub patient_name: Option<PatientName>,
}

/// What a provider report changes on a call. `None` leaves a column alone; a value overwrites
/// it (reports only ever add detail: a later event carries at least what an earlier one did).
#[derive(Clone, Default, PartialEq)]
pub struct CallChange {
    pub outcome: Option<CallOutcome>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub disconnection_reason: Option<String>,
    /// Sealed before it is stored.
    pub transcript: Option<String>,
    /// Sealed before it is stored.
    pub summary: Option<String>,
    /// Sealed before it is stored.
    pub recording_url: Option<String>,
    /// Sealed (as JSON text) before it is stored.
    pub analysis: Option<Value>,
}

// PHI (transcript, summary): never printed.
impl std::fmt::Debug for CallChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallChange")
            .field("outcome", &self.outcome)
            .field("started_at", &self.started_at)
            .field("ended_at", &self.ended_at)
            .field("disconnection_reason", &self.disconnection_reason)
            .finish_non_exhaustive()
    }
}

/// Writes an outbound call in status `registered`, its numbers sealed.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, call_id = %new.id), err(level = "debug"))]
pub async fn create_outbound(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    new: NewOutboundCall,
) -> Result<CallRecord> {
    insert_registered(conn, scope, keys, new.into()).await
}

/// A call about to be written, whichever way it goes (see [`insert_registered`]).
pub(crate) struct NewCall {
    pub id: CallId,
    pub direction: Direction,
    pub run_id: Option<RunId>,
    pub row_id: Option<RunRowId>,
    pub campaign_id: Option<CampaignId>,
    pub patient_id: Option<PatientId>,
    pub related_call_id: Option<CallId>,
    pub attempt: u32,
    /// Sealed before it is stored.
    pub from_number: String,
    /// Sealed before it is stored.
    pub to_number: String,
    pub local: Option<LocalStamp>,
    pub created_at: DateTime<Utc>,
}

impl From<NewOutboundCall> for NewCall {
    fn from(new: NewOutboundCall) -> Self {
        NewCall {
            id: new.id,
            direction: Direction::Outbound,
            run_id: Some(new.run_id),
            row_id: Some(new.row_id),
            campaign_id: Some(new.campaign_id),
            patient_id: new.patient_id,
            related_call_id: None,
            attempt: new.attempt,
            from_number: new.from_number,
            to_number: new.to_number,
            local: new.local,
            created_at: new.created_at,
        }
    }
}

/// Writes a call in status `registered` with no provider id or report yet, its numbers sealed.
pub(crate) async fn insert_registered(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    new: NewCall,
) -> Result<CallRecord> {
    let id = new.id.as_uuid();
    let row = calls::Model {
        id,
        org_id: scope.org_id().as_uuid(),
        direction: new.direction.as_str().to_owned(),
        run_id: new.run_id.map(|r| r.as_uuid()),
        row_id: new.row_id.map(|r| r.as_uuid()),
        campaign_id: new.campaign_id.map(|c| c.as_uuid()),
        patient_id: new.patient_id.map(|p| p.as_uuid()),
        provider_call_id: None,
        status: CallStatus::Registered.as_str().to_owned(),
        outcome: None,
        from_number_sealed: keys.sealer.seal_str(&aad(id, "from_number_sealed"), &new.from_number)?,
        to_number_sealed: keys.sealer.seal_str(&aad(id, "to_number_sealed"), &new.to_number)?,
        attempt: to_i32("attempt", new.attempt)?,
        started_at: None,
        ended_at: None,
        duration_ms: None,
        disconnection_reason: None,
        transcript_sealed: None,
        summary_sealed: None,
        recording_url: None,
        recording_url_sealed: None,
        analysis: None,
        analysis_sealed: None,
        related_call_id: new.related_call_id.map(|c| c.as_uuid()),
        local_hour: new.local.map(|l| to_i32("local_hour", l.hour)).transpose()?,
        local_date: new.local.map(|l| l.date),
        local_weekday: new.local.map(|l| to_i32("local_weekday", l.weekday)).transpose()?,
        created_at: new.created_at,
        updated_at: new.created_at,
    };
    calls::Entity::insert(calls::ActiveModel::from(row.clone())).exec_without_returning(conn).await?;
    row.try_into()
}

/// One call of the organization.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, call_id = %id), err(level = "debug"))]
pub async fn get(conn: &impl ConnectionTrait, scope: &OrgScope, id: CallId) -> Result<CallRecord> {
    find(conn, scope, id, false).await?.ok_or_else(|| PersistenceError::not_found("call", id))
}

/// One call of the organization, locked until the end of the transaction on PostgreSQL
/// (`FOR UPDATE`; SQLite's single writer needs no lock), so two events about the same call
/// apply one after the other.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, call_id = %id), err(level = "debug"))]
pub async fn get_for_update(conn: &impl ConnectionTrait, scope: &OrgScope, id: CallId) -> Result<CallRecord> {
    find(conn, scope, id, true).await?.ok_or_else(|| PersistenceError::not_found("call", id))
}

async fn find_row(conn: &impl ConnectionTrait, scope: &OrgScope, id: CallId) -> Result<calls::Model> {
    calls::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("call", id))
}

fn open_content(keys: &Keys, row: &calls::Model) -> Result<CallContent> {
    let open = |column: &str, sealed: &[u8]| keys.sealer.open_string(&aad(row.id, column), sealed);
    Ok(CallContent {
        from_number: open("from_number_sealed", &row.from_number_sealed)?,
        to_number: open("to_number_sealed", &row.to_number_sealed)?,
        transcript: row.transcript_sealed.as_deref().map(|s| open("transcript_sealed", s)).transpose()?,
        summary: row.summary_sealed.as_deref().map(|s| open("summary_sealed", s)).transpose()?,
        // The plaintext columns: written before call data was sealed and not moved yet.
        recording_url: match &row.recording_url_sealed {
            Some(sealed) => Some(open("recording_url_sealed", sealed)?),
            None => row.recording_url.clone(),
        },
        analysis: match &row.analysis_sealed {
            Some(sealed) => Some(keys.sealer.open_json(&aad(row.id, "analysis_sealed"), sealed)?),
            None => row.analysis.clone(),
        },
    })
}

/// The opened names of the organization's patients among `ids`, by id (erased ones are absent). The
/// AAD is the patients table's own (`patients/<column>/<patient id>`).
pub(crate) async fn patient_names(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    mut ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, PatientName>> {
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, Vec<u8>, Vec<u8>)> = patients::Entity::find()
        .select_only()
        .column(patients::Column::Id)
        .column(patients::Column::FirstNameSealed)
        .column(patients::Column::LastNameSealed)
        .in_org(scope)
        .filter(patients::Column::Id.is_in(ids))
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|(id, first, last)| {
            let open = |column, sealed: &[u8]| {
                keys.sealer.open_string(&Aad { table: PATIENTS_TABLE, column, row_id: id }, sealed)
            };
            let name = PatientName {
                first_name: open("first_name_sealed", &first)?,
                last_name: open("last_name_sealed", &last)?,
            };
            Ok((id, name))
        })
        .collect()
}

/// The last `n` digits of a phone number (all of them when it has fewer).
fn last_digits(number: &str, n: usize) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(n)..].iter().collect()
}

async fn find(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CallId,
    lock: bool,
) -> Result<Option<CallRecord>> {
    let mut query = calls::Entity::find_by_id(id.as_uuid()).in_org(scope);
    if lock {
        query = query.lock_exclusive();
    }
    query.one(conn).await?.map(CallRecord::try_from).transpose()
}

/// The sealed numbers, transcript and summary of a call of the organization.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, call_id = %id), err(level = "debug"))]
pub async fn get_content(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: CallId,
) -> Result<CallContent> {
    let row = find_row(conn, scope, id).await?;
    open_content(keys, &row)
}

/// One call of the organization with its numbers, transcript, summary and patient name opened.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, call_id = %id), err(level = "debug"))]
pub async fn get_detail(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: CallId,
) -> Result<CallDetail> {
    let row = find_row(conn, scope, id).await?;
    let content = open_content(keys, &row)?;
    let mut names = patient_names(conn, scope, keys, row.patient_id.into_iter().collect()).await?;
    let patient_name = row.patient_id.and_then(|p| names.remove(&p));
    Ok(CallDetail { call: row.try_into()?, content, patient_name })
}

/// The organization's calls matching `filter`, newest first (by creation), with the total.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    filter: &CallFilter,
    page: Page,
) -> Result<(Vec<CallListEntry>, u64)> {
    let query = filtered(scope, filter);
    let (rows, total) = page
        .fetch(conn, query, |q| q.order_by_desc(calls::Column::CreatedAt).order_by_desc(calls::Column::Id))
        .await?;
    let names = patient_names(conn, scope, keys, rows.iter().filter_map(|r| r.patient_id).collect()).await?;
    let entries = rows.into_iter().map(|row| list_entry(keys, row, &names)).collect::<Result<Vec<_>>>()?;
    Ok((entries, total))
}

/// The organization's calls matching `filter` (unordered), for [`list`] and exports.
pub(crate) fn filtered(scope: &OrgScope, filter: &CallFilter) -> sea_orm::Select<calls::Entity> {
    let mut query = calls::Entity::find().in_org(scope);
    if let Some(status) = filter.status {
        query = query.filter(calls::Column::Status.eq(status.as_str()));
    }
    if let Some(direction) = filter.direction {
        query = query.filter(calls::Column::Direction.eq(direction.as_str()));
    }
    if let Some(id) = filter.campaign_id {
        query = query.filter(calls::Column::CampaignId.eq(id.as_uuid()));
    }
    if let Some(id) = filter.run_id {
        query = query.filter(calls::Column::RunId.eq(id.as_uuid()));
    }
    if let Some(id) = filter.patient_id {
        query = query.filter(calls::Column::PatientId.eq(id.as_uuid()));
    }
    let time = match filter.time {
        CallTime::Created => calls::Column::CreatedAt,
        CallTime::Started => calls::Column::StartedAt,
    };
    if let Some(from) = filter.from {
        query = query.filter(time.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(time.lt(to));
    }
    query
}

/// A listed call: its clear columns, the patient's name from `names` and the last four digits of
/// the patient's side of the call.
pub(crate) fn list_entry(
    keys: &Keys,
    row: calls::Model,
    names: &HashMap<Uuid, PatientName>,
) -> Result<CallListEntry> {
    let (column, sealed) = match row.direction.parse::<Direction>() {
        Ok(Direction::Inbound) => ("from_number_sealed", &row.from_number_sealed),
        _ => ("to_number_sealed", &row.to_number_sealed),
    };
    let number = keys.sealer.open_string(&aad(row.id, column), sealed)?;
    let patient_name = row.patient_id.and_then(|p| names.get(&p).cloned());
    Ok(CallListEntry { call: row.try_into()?, patient_name, patient_phone_last4: last_digits(&number, 4) })
}

/// The call placed for attempt `attempt` of a row, if one was written.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, row_id = %row_id, attempt), err(level = "debug"))]
pub async fn find_for_attempt(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    row_id: RunRowId,
    attempt: u32,
) -> Result<Option<CallRecord>> {
    calls::Entity::find()
        .in_org(scope)
        .filter(calls::Column::RowId.eq(row_id.as_uuid()))
        .filter(calls::Column::Attempt.eq(to_i32("attempt", attempt)?))
        .order_by_asc(calls::Column::CreatedAt)
        .one(conn)
        .await?
        .map(CallRecord::try_from)
        .transpose()
}

/// Every call of a row, oldest first.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, row_id = %row_id), err(level = "debug"))]
pub async fn list_for_row(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    row_id: RunRowId,
) -> Result<Vec<CallRecord>> {
    let rows = calls::Entity::find()
        .in_org(scope)
        .filter(calls::Column::RowId.eq(row_id.as_uuid()))
        .order_by_asc(calls::Column::Attempt)
        .order_by_asc(calls::Column::CreatedAt)
        .all(conn)
        .await?;
    rows.into_iter().map(CallRecord::try_from).collect()
}

/// Stores the provider's id on a call that has none yet. `false` when the call already has one
/// (or does not exist): the id is written once.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, call_id = %id), err(level = "debug"))]
pub async fn set_provider_call_id(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CallId,
    provider_call_id: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    let updated = calls::Entity::update_many()
        .col_expr(calls::Column::ProviderCallId, Expr::value(provider_call_id))
        .col_expr(calls::Column::UpdatedAt, Expr::value(at))
        .filter(calls::Column::Id.eq(id.as_uuid()))
        .in_org(scope)
        .filter(calls::Column::ProviderCallId.is_null())
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Applies a provider report to a call that is still `from`: moves the status by `event` (when
/// given; checked against the domain's call state machine, a refused event is an error) and
/// writes the details in `change`. `Ok(None)` when the call is no longer `from` (another report
/// got there first); otherwise the status it now has.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, call_id = %id), err(level = "debug"))]
#[allow(clippy::too_many_arguments)]
pub async fn update(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: CallId,
    from: CallStatus,
    event: Option<CallEvent>,
    change: CallChange,
    at: DateTime<Utc>,
) -> Result<Option<CallStatus>> {
    let to = match event {
        Some(event) => from
            .transition(event)
            .map_err(|e| PersistenceError::Invalid { field: "status", reason: e.to_string() })?,
        None => from,
    };
    let uuid = id.as_uuid();
    let mut query = calls::Entity::update_many()
        .col_expr(calls::Column::Status, Expr::value(to.as_str()))
        .col_expr(calls::Column::UpdatedAt, Expr::value(at));
    if let Some(outcome) = change.outcome {
        query = query.col_expr(calls::Column::Outcome, Expr::value(outcome.as_str()));
    }
    if let Some(t) = change.started_at {
        query = query.col_expr(calls::Column::StartedAt, Expr::value(t));
    }
    if let Some(t) = change.ended_at {
        query = query.col_expr(calls::Column::EndedAt, Expr::value(t));
    }
    if let Some(ms) = change.duration_ms {
        query = query.col_expr(calls::Column::DurationMs, Expr::value(ms));
    }
    if let Some(reason) = change.disconnection_reason {
        query = query.col_expr(calls::Column::DisconnectionReason, Expr::value(reason));
    }
    if let Some(text) = change.transcript {
        let sealed = keys.sealer.seal_str(&aad(uuid, "transcript_sealed"), &text)?;
        query = query.col_expr(calls::Column::TranscriptSealed, Expr::value(sealed));
    }
    if let Some(text) = change.summary {
        let sealed = keys.sealer.seal_str(&aad(uuid, "summary_sealed"), &text)?;
        query = query.col_expr(calls::Column::SummarySealed, Expr::value(sealed));
    }
    if let Some(url) = change.recording_url {
        let sealed = keys.sealer.seal_str(&aad(uuid, "recording_url_sealed"), &url)?;
        query = query.col_expr(calls::Column::RecordingUrlSealed, Expr::value(sealed));
    }
    if let Some(analysis) = change.analysis {
        let sealed = keys.sealer.seal_json(&aad(uuid, "analysis_sealed"), &analysis)?;
        query = query.col_expr(calls::Column::AnalysisSealed, Expr::value(sealed));
    }
    let updated = query
        .filter(calls::Column::Id.eq(uuid))
        .in_org(scope)
        .filter(calls::Column::Status.eq(from.as_str()))
        .exec(conn)
        .await?;
    Ok((updated.rows_affected == 1).then_some(to))
}

/// Marks a call as looked at (recovery asked the provider and it is still going), so it is not
/// asked again before the next interval.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, call_id = %id), err(level = "debug"))]
pub async fn touch(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CallId,
    at: DateTime<Utc>,
) -> Result<()> {
    calls::Entity::update_many()
        .col_expr(calls::Column::UpdatedAt, Expr::value(at))
        .filter(calls::Column::Id.eq(id.as_uuid()))
        .in_org(scope)
        .exec(conn)
        .await?;
    Ok(())
}

/// Outbound calls of the organization holding a concurrency slot (`registered` or `ongoing`):
/// counted from the table, never from a counter.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn count_active(conn: &impl ConnectionTrait, scope: &OrgScope) -> Result<u64> {
    Ok(calls::Entity::find()
        .in_org(scope)
        .filter(calls::Column::Direction.eq(Direction::Outbound.as_str()))
        .filter(calls::Column::Status.is_in(ACTIVE_STATUSES.map(|s| s.as_str())))
        .count(conn)
        .await?)
}

/// When the oldest outbound call of the organization created at or after `since` was created
/// (the calls-per-minute budget frees a slot a minute after it).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn oldest_created_since(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    since: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    Ok(calls::Entity::find()
        .in_org(scope)
        .filter(calls::Column::Direction.eq(Direction::Outbound.as_str()))
        .filter(calls::Column::CreatedAt.gte(since))
        .select_only()
        .column(calls::Column::CreatedAt)
        .order_by_asc(calls::Column::CreatedAt)
        .limit(1)
        .into_tuple::<DateTime<Utc>>()
        .one(conn)
        .await?)
}

/// Outbound calls of the organization created at or after `since` (the calls-per-minute budget).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn count_created_since(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    since: DateTime<Utc>,
) -> Result<u64> {
    Ok(calls::Entity::find()
        .in_org(scope)
        .filter(calls::Column::Direction.eq(Direction::Outbound.as_str()))
        .filter(calls::Column::CreatedAt.gte(since))
        .count(conn)
        .await?)
}

/// A run's calls that still hold a slot (`registered` or `ongoing`).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn list_active_for_run(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
) -> Result<Vec<CallRecord>> {
    let rows = calls::Entity::find()
        .in_org(scope)
        .filter(calls::Column::RunId.eq(run_id.as_uuid()))
        .filter(calls::Column::Status.is_in(ACTIVE_STATUSES.map(|s| s.as_str())))
        .order_by_asc(calls::Column::CreatedAt)
        .all(conn)
        .await?;
    rows.into_iter().map(CallRecord::try_from).collect()
}

/// How many of a run's calls ended with each outcome (`None`: not finished yet).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn counts_by_outcome(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
) -> Result<Vec<(Option<CallOutcome>, u64)>> {
    let of_run = calls::Column::RunId.eq(run_id.as_uuid());
    let counts = count_per_value::<calls::Entity>(conn, scope, of_run, calls::Column::Outcome).await?;
    let corrupt = |_| PersistenceError::Corrupt { table: TABLE, column: "outcome" };
    counts
        .into_iter()
        .map(|(outcome, count)| Ok((outcome.map(|o| o.parse()).transpose().map_err(corrupt)?, count)))
        .collect()
}

impl TryFrom<calls::Model> for CallRecord {
    type Error = PersistenceError;

    fn try_from(row: calls::Model) -> Result<Self> {
        let corrupt = |column| PersistenceError::Corrupt { table: TABLE, column };
        Ok(CallRecord {
            id: CallId(row.id),
            org_id: OrgId(row.org_id),
            direction: row.direction.parse().map_err(|_| corrupt("direction"))?,
            run_id: row.run_id.map(RunId),
            row_id: row.row_id.map(RunRowId),
            campaign_id: row.campaign_id.map(CampaignId),
            patient_id: row.patient_id.map(PatientId),
            provider_call_id: row.provider_call_id,
            status: row.status.parse().map_err(|_| corrupt("status"))?,
            outcome: row.outcome.map(|o| o.parse().map_err(|_| corrupt("outcome"))).transpose()?,
            attempt: u32::try_from(row.attempt).map_err(|_| corrupt("attempt"))?,
            started_at: row.started_at,
            ended_at: row.ended_at,
            duration_ms: row.duration_ms,
            disconnection_reason: row.disconnection_reason,
            related_call_id: row.related_call_id.map(CallId),
            local_hour: row.local_hour.and_then(|h| u32::try_from(h).ok()),
            local_date: row.local_date,
            local_weekday: row.local_weekday.and_then(|d| u32::try_from(d).ok()),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(crate) fn aad(call_id: Uuid, column: &str) -> Aad<'_> {
    Aad { table: TABLE, column, row_id: call_id }
}

fn to_i32(field: &'static str, value: u32) -> Result<i32> {
    i32::try_from(value).map_err(|_| PersistenceError::Invalid { field, reason: "too large".into() })
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeDelta;
    use sea_orm::DatabaseConnection;
    use serde_json::json;

    use super::*;
    use crate::entities::{campaigns, run_rows, runs};
    use crate::identity;
    use crate::patients::{self, PatientFields, PatientIdentity};
    use crate::testing::on_each_backend;

    pub(crate) struct Fixture {
        pub(crate) scope: OrgScope,
        pub(crate) keys: Keys,
        pub(crate) campaign: CampaignId,
        pub(crate) run: RunId,
        pub(crate) rows: Vec<RunRowId>,
        pub(crate) patient: PatientId,
        pub(crate) t0: DateTime<Utc>,
    }

    /// An organization with a campaign, a run of three rows and a patient, written as rows (the
    /// repositories that normally write them are beside the point here).
    pub(crate) async fn fixture(db: &DatabaseConnection, clerk_id: &str) -> Fixture {
        fixture_sealed_with(db, clerk_id, Keys::generate().unwrap()).await
    }

    /// [`fixture`] with every sealed value sealed by `keys`.
    pub(crate) async fn fixture_sealed_with(db: &DatabaseConnection, clerk_id: &str, keys: Keys) -> Fixture {
        let org = identity::upsert_org_by_clerk_id(db, clerk_id, None, None, false).await.unwrap();
        let scope = OrgScope::for_verified_org(org.id);
        let t0 = Utc::now();
        let campaign = campaigns::Model {
            id: Uuid::now_v7(),
            org_id: org.id.as_uuid(),
            name: "Reminders".into(),
            direction: "outbound".into(),
            status: "active".into(),
            agent_id: "agent_1".into(),
            base_prompt: "Hello".into(),
            voicemail_message: None,
            variables: json!([]),
            analysis_fields: json!([]),
            retry_policy: json!({}),
            current_prompt_version_id: None,
            inbound_agent_version: None,
            created_by: None,
            created_at: t0,
            updated_at: t0,
        };
        campaigns::Entity::insert(campaigns::ActiveModel::from(campaign.clone()))
            .exec_without_returning(db)
            .await
            .unwrap();
        let run = runs::Model {
            id: Uuid::now_v7(),
            org_id: org.id.as_uuid(),
            campaign_id: campaign.id,
            upload_id: None,
            name: "Monday".into(),
            status: "running".into(),
            prompt_version_id: None,
            instructions: None,
            scheduled_at: None,
            started_at: Some(t0),
            finished_at: None,
            pause_reason: None,
            settings: json!({}),
            client_request_id: None,
            created_by: None,
            headers_sealed: None,
            created_at: t0,
            updated_at: t0,
        };
        runs::Entity::insert(runs::ActiveModel::from(run.clone())).exec_without_returning(db).await.unwrap();
        let mut rows = Vec::new();
        for index in 0..3 {
            let id = Uuid::now_v7();
            let seal = |column, value: &[u8]| {
                keys.sealer.seal(&Aad { table: "run_rows", column, row_id: id }, value)
            };
            let row = run_rows::Model {
                id,
                run_id: run.id,
                org_id: org.id.as_uuid(),
                patient_id: None,
                sort_index: index,
                sheet_row: index + 2,
                variables_sealed: seal("variables_sealed", b"{}").unwrap(),
                cells_sealed: seal("cells_sealed", b"[]").unwrap(),
                status: "dialing".into(),
                skip_reason: None,
                duplicate_of: None,
                attempts: 1,
                next_attempt_at: None,
                lease_until: None,
                leased_by: None,
                outcome: None,
                analysis: None,
                analysis_sealed: None,
                last_error: None,
                created_at: t0,
                updated_at: t0,
            };
            run_rows::Entity::insert(run_rows::ActiveModel::from(row.clone()))
                .exec_without_returning(db)
                .await
                .unwrap();
            rows.push(RunRowId(row.id));
        }
        let identity = PatientIdentity {
            canonical: format!("ada lovelace {clerk_id}"),
            fields: PatientFields {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                birth_date: "1961-02-04".into(),
                phone: "+13125550143".into(),
                secondary_phone: None,
                mrn: None,
            },
        };
        let (patient, _) = patients::find_or_create(db, &scope, &keys, &identity).await.unwrap();
        Fixture {
            scope,
            keys,
            campaign: CampaignId(campaign.id),
            run: RunId(run.id),
            rows,
            patient: patient.id,
            t0,
        }
    }

    /// Starts a registered call with `change`.
    async fn start(db: &DatabaseConnection, f: &Fixture, id: CallId, change: CallChange) {
        update(db, &f.scope, &f.keys, id, CallStatus::Registered, Some(CallEvent::Start), change, f.t0)
            .await
            .unwrap();
    }

    pub(crate) async fn call(
        db: &DatabaseConnection,
        f: &Fixture,
        row: usize,
        attempt: u32,
        patient: bool,
        minutes: i64,
    ) -> Result<CallRecord> {
        create_outbound(
            db,
            &f.scope,
            &f.keys,
            NewOutboundCall {
                id: CallId::new(),
                run_id: f.run,
                row_id: f.rows[row],
                campaign_id: f.campaign,
                patient_id: patient.then_some(f.patient),
                attempt,
                from_number: "+13125550100".into(),
                to_number: format!("+1312555017{row}"),
                local: None,
                created_at: f.t0 + TimeDelta::minutes(minutes),
            },
        )
        .await
    }

    #[tokio::test]
    async fn a_second_call_for_the_same_attempt_of_a_row_is_refused() {
        on_each_backend(|db| async move {
            let f = fixture(&db, "org_a").await;
            call(&db, &f, 0, 1, false, 0).await.unwrap();

            let again = call(&db, &f, 0, 1, false, 1).await.unwrap_err();
            let next_attempt = call(&db, &f, 0, 2, false, 2).await;

            assert!(again.is_conflict_on("ux_calls_row_id_attempt"), "{again}");
            assert!(next_attempt.is_ok());
        })
        .await;
    }

    #[tokio::test]
    async fn the_list_filters_pages_newest_first_and_shows_only_the_last_digits() {
        on_each_backend(|db| async move {
            let f = fixture(&db, "org_a").await;
            let other = fixture(&db, "org_b").await;
            let oldest = call(&db, &f, 0, 1, true, 0).await.unwrap();
            let middle = call(&db, &f, 1, 1, false, 10).await.unwrap();
            let newest = call(&db, &f, 2, 1, true, 20).await.unwrap();
            call(&db, &other, 0, 1, true, 5).await.unwrap();
            let change =
                CallChange { started_at: Some(f.t0 + TimeDelta::minutes(11)), ..CallChange::default() };
            start(&db, &f, middle.id, change).await;
            let ids = |entries: &[CallListEntry]| entries.iter().map(|e| e.call.id).collect::<Vec<_>>();
            let list_of = |filter: CallFilter, page: Page| {
                let (db, f) = (&db, &f);
                async move { list(db, &f.scope, &f.keys, &filter, page).await.unwrap() }
            };
            let matching = |filter: CallFilter| list_of(filter, Page::default());

            let (all, total) = list_of(CallFilter::default(), Page::default()).await;
            let (second_page, _) = list_of(CallFilter::default(), Page::new(2, 2)).await;
            let ongoing =
                matching(CallFilter { status: Some(CallStatus::Ongoing), ..Default::default() }).await;
            let of_patient = matching(CallFilter { patient_id: Some(f.patient), ..Default::default() }).await;
            let inbound =
                matching(CallFilter { direction: Some(Direction::Inbound), ..Default::default() }).await;
            let of_run = matching(CallFilter { run_id: Some(f.run), ..Default::default() }).await;
            let of_other_campaign =
                matching(CallFilter { campaign_id: Some(other.campaign), ..Default::default() }).await;
            let created_window = matching(CallFilter {
                from: Some(f.t0 + TimeDelta::minutes(5)),
                to: Some(f.t0 + TimeDelta::minutes(20)),
                ..Default::default()
            })
            .await;
            let started_window =
                matching(CallFilter { from: Some(f.t0), time: CallTime::Started, ..Default::default() })
                    .await;

            assert_eq!((ids(&all), total), (vec![newest.id, middle.id, oldest.id], 3));
            assert_eq!(ids(&second_page), vec![oldest.id]);
            assert_eq!(ids(&ongoing.0), vec![middle.id]);
            assert_eq!(ids(&of_patient.0), vec![newest.id, oldest.id]);
            assert_eq!(inbound.1, 0);
            assert_eq!(of_run.1, 3);
            assert_eq!(of_other_campaign.1, 0, "another organization's campaign");
            assert_eq!(ids(&created_window.0), vec![middle.id], "from inclusive, to exclusive");
            assert_eq!(ids(&started_window.0), vec![middle.id], "only calls that started");
            assert_eq!(all[0].patient_phone_last4, "0172");
            assert_eq!(all[0].patient_name.as_ref().map(|n| n.last_name.as_str()), Some("Lovelace"));
            assert_eq!(all[1].patient_name, None);
        })
        .await;
    }

    #[tokio::test]
    async fn the_detail_opens_the_transcript_and_is_not_found_in_another_organization() {
        on_each_backend(|db| async move {
            let f = fixture(&db, "org_a").await;
            let other = fixture(&db, "org_b").await;
            let placed = call(&db, &f, 0, 1, true, 0).await.unwrap();
            let change = CallChange {
                outcome: Some(CallOutcome::Reached),
                transcript: Some("Agent: Hello Ada".into()),
                summary: Some("Confirmed".into()),
                analysis: Some(json!({"appt_confirmed": true})),
                ..CallChange::default()
            };
            start(&db, &f, placed.id, change).await;

            let detail = get_detail(&db, &f.scope, &f.keys, placed.id).await.unwrap();
            let elsewhere = get_detail(&db, &other.scope, &other.keys, placed.id).await.unwrap_err();

            assert_eq!(detail.content.transcript.as_deref(), Some("Agent: Hello Ada"));
            assert_eq!(detail.content.summary.as_deref(), Some("Confirmed"));
            assert_eq!(detail.content.to_number, "+13125550170");
            assert_eq!(detail.content.analysis, Some(json!({"appt_confirmed": true})));
            assert_eq!(detail.patient_name.map(|n| n.first_name), Some("Ada".to_owned()));
            assert!(matches!(elsewhere, PersistenceError::NotFound { entity: "call", .. }), "{elsewhere}");
        })
        .await;
    }

    #[test]
    fn the_last_digits_skip_the_plus_sign() {
        assert_eq!(last_digits("+13125550143", 4), "0143");
        assert_eq!(last_digits("+12", 4), "12");
    }
}
