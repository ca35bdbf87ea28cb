//! Phone calls of one organization: one row per outbound attempt (and, later, per inbound call).
//!
//! The engine writes an outbound call `registered` *before* it asks the provider to dial, so a
//! crash between the two leaves a record that recovery can reconcile instead of redialling. The
//! provider's id (`provider_call_id`, unique) is stored once the provider answers; webhooks find
//! the call by it.
//!
//! Numbers, transcript and summary are sealed (AAD = `calls/<column>/<call id>`); the structured
//! analysis, recording URL and status columns are clear so analytics can group by them. Times are
//! passed in by the caller (the engine's injected clock), never read from the wall clock here, so
//! "calls created in the last minute" means the same thing to a test's manual clock.

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

use crate::entities::calls;
use crate::sealing::{Aad, Keys};
use crate::{OrgScope, PersistenceError, Result};

const TABLE: &str = "calls";

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
    pub recording_url: Option<String>,
    pub analysis: Option<Value>,
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
}

// PHI: never printed.
impl std::fmt::Debug for CallContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallContent(***)")
    }
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
    pub recording_url: Option<String>,
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
    let id = new.id.as_uuid();
    let row = calls::Model {
        id,
        org_id: scope.org_id().as_uuid(),
        direction: Direction::Outbound.as_str().to_owned(),
        run_id: Some(new.run_id.as_uuid()),
        row_id: Some(new.row_id.as_uuid()),
        campaign_id: Some(new.campaign_id.as_uuid()),
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
        analysis: None,
        related_call_id: None,
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

async fn find(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CallId,
    lock: bool,
) -> Result<Option<CallRecord>> {
    let mut query =
        calls::Entity::find_by_id(id.as_uuid()).filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()));
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
    let row = calls::Entity::find_by_id(id.as_uuid())
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("call", id))?;
    let open = |column: &str, sealed: &[u8]| keys.sealer.open_string(&aad(row.id, column), sealed);
    Ok(CallContent {
        from_number: open("from_number_sealed", &row.from_number_sealed)?,
        to_number: open("to_number_sealed", &row.to_number_sealed)?,
        transcript: row.transcript_sealed.as_deref().map(|s| open("transcript_sealed", s)).transpose()?,
        summary: row.summary_sealed.as_deref().map(|s| open("summary_sealed", s)).transpose()?,
    })
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
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
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
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
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
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
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
        query = query.col_expr(calls::Column::RecordingUrl, Expr::value(url));
    }
    if let Some(analysis) = change.analysis {
        query = query.col_expr(calls::Column::Analysis, Expr::value(analysis));
    }
    let updated = query
        .filter(calls::Column::Id.eq(uuid))
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
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
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Outbound calls of the organization holding a concurrency slot (`registered` or `ongoing`):
/// counted from the table, never from a counter.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn count_active(conn: &impl ConnectionTrait, scope: &OrgScope) -> Result<u64> {
    Ok(calls::Entity::find()
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
        .filter(calls::Column::Direction.eq(Direction::Outbound.as_str()))
        .filter(calls::Column::Status.is_in(ACTIVE_STATUSES.map(|s| s.as_str())))
        .count(conn)
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
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
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
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
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
    let rows: Vec<(Option<String>, i64)> = calls::Entity::find()
        .select_only()
        .column(calls::Column::Outcome)
        .column_as(Expr::col(calls::Column::Id).count(), "count")
        .filter(calls::Column::OrgId.eq(scope.org_id().as_uuid()))
        .filter(calls::Column::RunId.eq(run_id.as_uuid()))
        .group_by(calls::Column::Outcome)
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|(outcome, count)| {
            let outcome = outcome
                .map(|o| o.parse().map_err(|_| PersistenceError::Corrupt { table: TABLE, column: "outcome" }))
                .transpose()?;
            Ok((outcome, u64::try_from(count).unwrap_or(0)))
        })
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
            recording_url: row.recording_url,
            analysis: row.analysis,
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
