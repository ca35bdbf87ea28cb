//! The rows of a run: one line of the uploaded sheet each, with every original cell and the
//! mapped variables sealed at rest.
//!
//! The sealed `variables_sealed` blob holds the row's variables and its validation errors (their
//! reasons may quote cell values); `cells_sealed` holds every original cell exactly as read. The
//! clear columns say only what the engine needs: status, attempts, scheduling and a skip reason
//! that never quotes a value.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{PatientId, RunId, RunRowId};
use rivvi_domain::lifecycle::{CallOutcome, RowEvent, RowStatus, RunStatus};
use rivvi_domain::Patch;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::bulk;
use crate::entities::{patients, run_rows, runs};
use crate::org_owned::{count_per_value, org_filter, InOrg};
use crate::sealing::{Aad, Keys};
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

const TABLE: &str = "run_rows";
/// Rows per SQLite INSERT (PostgreSQL inserts [`bulk::CHUNK`] rows per statement).
const INSERT_BATCH: usize = 1000;

/// One field a row failed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    pub field: String,
    pub reason: String,
}

/// What is sealed in `variables_sealed`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowContent {
    /// Variable key -> normalised value, as sent to the voice provider.
    pub variables: BTreeMap<String, String>,
    pub issues: Vec<RowIssue>,
}

impl std::fmt::Debug for RowContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RowContent({} variables, {} issues)", self.variables.len(), self.issues.len())
    }
}

/// A row to insert; `id` is chosen by the caller (duplicates point at their first row).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRunRow {
    pub id: RunRowId,
    pub patient_id: Option<PatientId>,
    pub sort_index: u32,
    pub sheet_row: u32,
    pub content: RowContent,
    /// Every original cell of the row, in column order, exactly as read.
    pub cells: Vec<String>,
    pub status: RowStatus,
    pub skip_reason: Option<String>,
    pub duplicate_of: Option<RunRowId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunRowRecord {
    pub id: RunRowId,
    pub run_id: RunId,
    pub patient_id: Option<PatientId>,
    pub sort_index: u32,
    pub sheet_row: u32,
    pub content: RowContent,
    pub cells: Vec<String>,
    pub status: RowStatus,
    pub skip_reason: Option<String>,
    pub duplicate_of: Option<RunRowId>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The outcome of the row's last decided call.
    pub outcome: Option<CallOutcome>,
    /// The campaign's analysis fields from the last attempt's call, by key.
    pub analysis: Option<serde_json::Value>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Inserts a run's rows in batches, sealing each with its own id.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id, rows = rows.len()), err(level = "debug"))]
pub async fn insert_many(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    run_id: RunId,
    rows: &[NewRunRow],
) -> Result<()> {
    let at = now();
    let seal = |batch: &[NewRunRow]| {
        batch.iter().map(|row| sealed_row(scope, keys, run_id, row, at)).collect::<Result<Vec<_>>>()
    };
    if conn.get_database_backend() == DbBackend::Postgres {
        let mut chunks = rows.chunks(bulk::CHUNK);
        let prepare =
            |batch: &[NewRunRow]| -> Result<Statement> { Ok(unnest_insert(scope, run_id, at, seal(batch)?)) };
        let mut next = chunks.next().map(prepare).transpose()?;
        while let Some(statement) = next {
            let (done, prepared) =
                bulk::while_executing(conn.execute(statement), || chunks.next().map(prepare).transpose())
                    .await;
            done?;
            next = prepared?;
        }
    } else {
        for batch in rows.chunks(INSERT_BATCH) {
            run_rows::Entity::insert_many(seal(batch)?.into_iter().map(run_rows::ActiveModel::from))
                .exec_without_returning(conn)
                .await?;
        }
    }
    Ok(())
}

/// One PostgreSQL statement inserting `models`, fresh rows of one run (see [`bulk`]). The columns
/// a fresh row leaves `NULL` (scheduling, lease, outcome, analysis, error) are not named.
fn unnest_insert(
    scope: &OrgScope,
    run_id: RunId,
    at: DateTime<Utc>,
    models: Vec<run_rows::Model>,
) -> Statement {
    let len = models.len();
    let mut ids = Vec::with_capacity(len);
    let mut patient_ids = Vec::with_capacity(len);
    let mut sort_indexes = Vec::with_capacity(len);
    let mut sheet_rows = Vec::with_capacity(len);
    let mut variables = Vec::with_capacity(len);
    let mut cells = Vec::with_capacity(len);
    let mut statuses = Vec::with_capacity(len);
    let mut skip_reasons = Vec::with_capacity(len);
    let mut duplicates_of = Vec::with_capacity(len);
    for model in models {
        ids.push(model.id);
        patient_ids.push(model.patient_id);
        sort_indexes.push(model.sort_index);
        sheet_rows.push(model.sheet_row);
        variables.push(model.variables_sealed);
        cells.push(model.cells_sealed);
        statuses.push(model.status);
        skip_reasons.push(model.skip_reason);
        duplicates_of.push(model.duplicate_of);
    }
    let mut insert = bulk::UnnestInsert::new(TABLE);
    insert
        .column("id", "uuid", ids)
        .same("run_id", "uuid", run_id.as_uuid())
        .same("org_id", "uuid", scope.org_id().as_uuid())
        .nullable("patient_id", "uuid", patient_ids, Uuid::nil())
        .column("sort_index", "int4", sort_indexes)
        .column("sheet_row", "int4", sheet_rows)
        .column("variables_sealed", "bytea", variables)
        .column("cells_sealed", "bytea", cells)
        .column("status", "text", statuses)
        .nullable("skip_reason", "text", skip_reasons, String::new())
        .nullable("duplicate_of", "uuid", duplicates_of, Uuid::nil())
        .same("attempts", "int4", 0_i32)
        .same("created_at", "timestamptz", at)
        .same("updated_at", "timestamptz", at);
    insert.statement("")
}

/// A run's rows in sheet order, optionally of one status.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    run_id: RunId,
    status: Option<RowStatus>,
    page: Page,
) -> Result<(Vec<RunRowRecord>, u64)> {
    let mut query =
        run_rows::Entity::find().in_org(scope).filter(run_rows::Column::RunId.eq(run_id.as_uuid()));
    if let Some(status) = status {
        query = query.filter(run_rows::Column::Status.eq(status.as_str()));
    }
    let (rows, total) = page.fetch(conn, query, |q| q.order_by_asc(run_rows::Column::SortIndex)).await?;
    let records = rows.into_iter().map(|row| open_row(keys, row)).collect::<Result<Vec<_>>>()?;
    Ok((records, total))
}

/// How many of a run's rows are in each status (statuses without rows are absent).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn counts_by_status(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
) -> Result<Vec<(RowStatus, u64)>> {
    let of_run = run_rows::Column::RunId.eq(run_id.as_uuid());
    let counts = count_per_value::<run_rows::Entity>(conn, scope, of_run, run_rows::Column::Status).await?;
    let corrupt = || PersistenceError::Corrupt { table: TABLE, column: "status" };
    counts
        .into_iter()
        .map(|(status, count)| Ok((status.ok_or_else(corrupt)?.parse().map_err(|_| corrupt())?, count)))
        .collect()
}

fn sealed_row(
    scope: &OrgScope,
    keys: &Keys,
    run_id: RunId,
    row: &NewRunRow,
    at: DateTime<Utc>,
) -> Result<run_rows::Model> {
    let id = row.id.as_uuid();
    let content = serde_json::to_vec(&row.content)
        .map_err(|_| PersistenceError::Corrupt { table: TABLE, column: "variables_sealed" })?;
    let cells = serde_json::to_vec(&row.cells)
        .map_err(|_| PersistenceError::Corrupt { table: TABLE, column: "cells_sealed" })?;
    Ok(run_rows::Model {
        id,
        run_id: run_id.as_uuid(),
        org_id: scope.org_id().as_uuid(),
        patient_id: row.patient_id.map(|p| p.as_uuid()),
        sort_index: to_i32(row.sort_index),
        sheet_row: to_i32(row.sheet_row),
        variables_sealed: keys.sealer.seal(&aad(id, "variables_sealed"), &content)?,
        cells_sealed: keys.sealer.seal(&aad(id, "cells_sealed"), &cells)?,
        status: row.status.as_str().to_owned(),
        skip_reason: row.skip_reason.clone(),
        duplicate_of: row.duplicate_of.map(|d| d.as_uuid()),
        attempts: 0,
        next_attempt_at: None,
        lease_until: None,
        leased_by: None,
        outcome: None,
        analysis: None,
        analysis_sealed: None,
        last_error: None,
        created_at: at,
        updated_at: at,
    })
}

fn open_row(keys: &Keys, row: run_rows::Model) -> Result<RunRowRecord> {
    let content = keys.sealer.open(&aad(row.id, "variables_sealed"), &row.variables_sealed)?;
    let cells = keys.sealer.open(&aad(row.id, "cells_sealed"), &row.cells_sealed)?;
    let corrupt = |column| PersistenceError::Corrupt { table: TABLE, column };
    Ok(RunRowRecord {
        id: RunRowId(row.id),
        run_id: RunId(row.run_id),
        patient_id: row.patient_id.map(PatientId),
        sort_index: u32::try_from(row.sort_index).unwrap_or(0),
        sheet_row: u32::try_from(row.sheet_row).unwrap_or(0),
        content: serde_json::from_slice(&content).map_err(|_| corrupt("variables_sealed"))?,
        cells: serde_json::from_slice(&cells).map_err(|_| corrupt("cells_sealed"))?,
        status: row.status.parse().map_err(|_| corrupt("status"))?,
        skip_reason: row.skip_reason,
        duplicate_of: row.duplicate_of.map(RunRowId),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        next_attempt_at: row.next_attempt_at,
        outcome: outcome(row.outcome.as_deref())?,
        analysis: open_analysis(keys, row.id, row.analysis_sealed.as_deref(), row.analysis)?,
        last_error: row.last_error,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A row's analysis: the sealed column, or the plaintext one of a row written before call data
/// was sealed and not moved yet (`legacy`).
pub(crate) fn open_analysis(
    keys: &Keys,
    row_id: Uuid,
    sealed: Option<&[u8]>,
    legacy: Option<serde_json::Value>,
) -> Result<Option<serde_json::Value>> {
    match sealed {
        Some(sealed) => Ok(Some(keys.sealer.open_json(&aad(row_id, "analysis_sealed"), sealed)?)),
        None => Ok(legacy),
    }
}

/// The stored `outcome` column: a [`CallOutcome`]'s name, as the engine wrote it.
fn outcome(stored: Option<&str>) -> Result<Option<CallOutcome>> {
    stored
        .map(|o| o.parse().map_err(|_| PersistenceError::Corrupt { table: TABLE, column: "outcome" }))
        .transpose()
}

pub(crate) fn aad(row_id: Uuid, column: &str) -> Aad<'_> {
    Aad { table: TABLE, column, row_id }
}

fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------- engine
//
// The execution engine's view of rows. Times come from the engine's injected clock. Every status
// change is checked against the domain's row state machine (a refused event is an error, never a
// silent write) and applied with `WHERE status = <from>`, so a writer that lost a race learns it
// (`Ok(None)`) instead of overwriting the winner.

/// A row's clear scheduling columns, without opening its sealed content.
#[derive(Debug, Clone, PartialEq)]
pub struct RowState {
    pub id: RunRowId,
    pub run_id: RunId,
    pub patient_id: Option<PatientId>,
    pub status: RowStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub lease_until: Option<DateTime<Utc>>,
    pub leased_by: Option<String>,
    /// The outcome of the row's last decided call.
    pub outcome: Option<CallOutcome>,
    pub last_error: Option<String>,
    pub skip_reason: Option<String>,
}

/// What else changes with a row's status; [`Patch::Keep`] leaves a column alone. Leaving
/// `dialing` always clears the lease.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowUpdate {
    pub next_attempt_at: Patch<DateTime<Utc>>,
    pub outcome: Patch<CallOutcome>,
    /// Never quotes a patient value.
    pub last_error: Patch<String>,
    /// Never quotes a patient value.
    pub skip_reason: Patch<String>,
    /// Takes back the attempt the claim counted: the row goes back or is skipped without any
    /// call having been written for it.
    pub uncount_attempt: bool,
}

/// Claims up to `limit` rows of a running run that are due at `now` (`pending`, with no
/// `next_attempt_at` or one at or before `now`), in sheet order: each moves to `dialing` with one
/// more attempt and a lease to `instance` until `lease_until`, in one statement.
///
/// PostgreSQL: `WITH claimed AS (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) UPDATE … FROM claimed
/// RETURNING *`, so two instances claiming at once get disjoint rows. SQLite: `UPDATE … WHERE id
/// IN (SELECT … LIMIT n) RETURNING *`; its single connection is the single writer.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id, limit), err(level = "debug"))]
#[allow(clippy::too_many_arguments)]
pub async fn claim_due(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    run_id: RunId,
    now: DateTime<Utc>,
    limit: u32,
    lease_until: DateTime<Utc>,
    instance: &str,
) -> Result<Vec<RunRowRecord>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // Both statements check the transition the domain allows; this is a static fact, checked once.
    RowStatus::Pending
        .transition(RowEvent::Claim)
        .map_err(|e| PersistenceError::Invalid { field: "status", reason: e.to_string() })?;
    let backend = conn.get_database_backend();
    let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
        DbBackend::Postgres => (
            // The claim is a CTE so PostgreSQL evaluates it exactly once: as `id IN (SELECT …
            // LIMIT n FOR UPDATE SKIP LOCKED)` the planner may rescan the subquery and update
            // more than `n` rows.
            r#"WITH claimed AS (
                   SELECT r.id FROM run_rows r
                   WHERE r.org_id = $6 AND r.run_id = $7 AND r.status = $5
                     AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= $8)
                     AND EXISTS (SELECT 1 FROM runs WHERE runs.id = r.run_id AND runs.status = $9)
                   ORDER BY r.sort_index
                   LIMIT $10
                   FOR UPDATE OF r SKIP LOCKED)
               UPDATE run_rows
               SET status = $1, attempts = run_rows.attempts + 1, lease_until = $2, leased_by = $3, updated_at = $4
               FROM claimed
               WHERE run_rows.id = claimed.id AND run_rows.status = $5
               RETURNING run_rows.*"#,
            vec![
                RowStatus::Dialing.as_str().into(),
                lease_until.into(),
                instance.into(),
                now.into(),
                RowStatus::Pending.as_str().into(),
                scope.org_id().as_uuid().into(),
                run_id.as_uuid().into(),
                now.into(),
                RunStatus::Running.as_str().into(),
                i64::from(limit).into(),
            ],
        ),
        _ => (
            r#"UPDATE run_rows
               SET status = ?, attempts = attempts + 1, lease_until = ?, leased_by = ?, updated_at = ?
               WHERE status = ? AND id IN (
                   SELECT r.id FROM run_rows r
                   WHERE r.org_id = ? AND r.run_id = ? AND r.status = ?
                     AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= ?)
                     AND EXISTS (SELECT 1 FROM runs WHERE runs.id = r.run_id AND runs.status = ?)
                   ORDER BY r.sort_index
                   LIMIT ?)
               RETURNING *"#,
            vec![
                RowStatus::Dialing.as_str().into(),
                lease_until.into(),
                instance.into(),
                now.into(),
                RowStatus::Pending.as_str().into(),
                scope.org_id().as_uuid().into(),
                run_id.as_uuid().into(),
                RowStatus::Pending.as_str().into(),
                now.into(),
                RunStatus::Running.as_str().into(),
                i64::from(limit).into(),
            ],
        ),
    };
    let mut rows = run_rows::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(conn)
        .await?;
    // RETURNING gives no order guarantee.
    rows.sort_by_key(|r| r.sort_index);
    rows.into_iter().map(|row| open_row(keys, row)).collect()
}

/// Moves a row that is still `from` (and, when `attempt` is given, still at that attempt) through
/// `events` in order, writing `update` with it. The events are checked against the domain's
/// row state machine first: a refused one is [`PersistenceError::Invalid`] on `status`.
/// `Ok(None)` when the row is no longer `from` (or has moved to another attempt); otherwise the
/// status it now has.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, row_id = %id, from = %from), err(level = "debug"))]
#[allow(clippy::too_many_arguments)]
pub async fn transition(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: RunRowId,
    from: RowStatus,
    events: &[RowEvent],
    attempt: Option<u32>,
    update: RowUpdate,
    at: DateTime<Utc>,
) -> Result<Option<RowStatus>> {
    let mut to = from;
    for &event in events {
        to = to
            .transition(event)
            .map_err(|e| PersistenceError::Invalid { field: "status", reason: e.to_string() })?;
    }
    let mut query = run_rows::Entity::update_many()
        .col_expr(run_rows::Column::Status, Expr::value(to.as_str()))
        .col_expr(run_rows::Column::UpdatedAt, Expr::value(at));
    if to != RowStatus::Dialing {
        query = query
            .col_expr(run_rows::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(run_rows::Column::LeasedBy, Expr::value(Option::<String>::None));
    }
    if let Some(next) = update.next_attempt_at.into_change() {
        query = query.col_expr(run_rows::Column::NextAttemptAt, Expr::value(next));
    }
    if let Some(outcome) = update.outcome.into_change() {
        query = query.col_expr(run_rows::Column::Outcome, Expr::value(outcome.map(CallOutcome::as_str)));
    }
    if let Some(error) = update.last_error.into_change() {
        query = query.col_expr(run_rows::Column::LastError, Expr::value(error));
    }
    if let Some(reason) = update.skip_reason.into_change() {
        query = query.col_expr(run_rows::Column::SkipReason, Expr::value(reason));
    }
    if update.uncount_attempt {
        query = query
            .col_expr(run_rows::Column::Attempts, Expr::col(run_rows::Column::Attempts).sub(1))
            .filter(run_rows::Column::Attempts.gt(0));
    }
    let mut query = query
        .filter(run_rows::Column::Id.eq(id.as_uuid()))
        .in_org(scope)
        .filter(run_rows::Column::Status.eq(from.as_str()));
    if let Some(attempt) = attempt {
        query = query.filter(run_rows::Column::Attempts.eq(to_i32(attempt)));
    }
    let updated = query.exec(conn).await?;
    Ok((updated.rows_affected == 1).then_some(to))
}

/// Writes the outcome and analysis (sealed) of a row's current attempt without moving it (with a
/// settlement, or a late `call_analyzed` after the row was decided). `false` when the row is at
/// another attempt.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, row_id = %id), err(level = "debug"))]
#[allow(clippy::too_many_arguments)]
pub async fn record_result(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: RunRowId,
    attempt: u32,
    outcome: Option<CallOutcome>,
    analysis: Option<serde_json::Value>,
    at: DateTime<Utc>,
) -> Result<bool> {
    let mut query = run_rows::Entity::update_many().col_expr(run_rows::Column::UpdatedAt, Expr::value(at));
    if let Some(outcome) = outcome {
        query = query.col_expr(run_rows::Column::Outcome, Expr::value(outcome.as_str()));
    }
    if let Some(analysis) = analysis {
        let sealed = keys.sealer.seal_json(&aad(id.as_uuid(), "analysis_sealed"), &analysis)?;
        query = query.col_expr(run_rows::Column::AnalysisSealed, Expr::value(sealed));
    }
    let updated = query
        .filter(run_rows::Column::Id.eq(id.as_uuid()))
        .in_org(scope)
        .filter(run_rows::Column::Attempts.eq(to_i32(attempt)))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Moves the lease of a row that is still `dialing` at `attempt` to `until` (recovery waits for
/// a call whose fate is unknown). `false` when the row moved on.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, row_id = %id), err(level = "debug"))]
pub async fn extend_lease(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: RunRowId,
    attempt: u32,
    until: DateTime<Utc>,
    instance: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    let updated = run_rows::Entity::update_many()
        .col_expr(run_rows::Column::LeaseUntil, Expr::value(until))
        .col_expr(run_rows::Column::LeasedBy, Expr::value(instance))
        .col_expr(run_rows::Column::UpdatedAt, Expr::value(at))
        .filter(run_rows::Column::Id.eq(id.as_uuid()))
        .in_org(scope)
        .filter(run_rows::Column::Status.eq(RowStatus::Dialing.as_str()))
        .filter(run_rows::Column::Attempts.eq(to_i32(attempt)))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Cancels every `pending` row of a run (rows dialing or in a call finish their attempt).
/// Returns how many were cancelled.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn cancel_pending(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    at: DateTime<Utc>,
) -> Result<u64> {
    let to = RowStatus::Pending
        .transition(RowEvent::Cancel)
        .map_err(|e| PersistenceError::Invalid { field: "status", reason: e.to_string() })?;
    let updated = run_rows::Entity::update_many()
        .col_expr(run_rows::Column::Status, Expr::value(to.as_str()))
        .col_expr(run_rows::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(run_rows::Column::UpdatedAt, Expr::value(at))
        .in_org(scope)
        .filter(run_rows::Column::RunId.eq(run_id.as_uuid()))
        .filter(run_rows::Column::Status.eq(RowStatus::Pending.as_str()))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected)
}

/// The pending rows of the organization's unfinished runs whose patient's number has
/// `phone_key` (a row's patient carries the number the row is dialled on), by run and sheet
/// order: the rows a number that just went on the do-not-call list would still be dialled for.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn pending_for_phone_key(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    phone_key: &str,
) -> Result<Vec<RowState>> {
    let patients_with_number = Query::select()
        .column(patients::Column::Id)
        .from(patients::Entity)
        .and_where(org_filter::<patients::Entity>(scope))
        .and_where(patients::Column::PhoneKey.eq(phone_key))
        .to_owned();
    let unfinished: Vec<&str> = RunStatus::ALL.iter().filter(|s| !s.is_final()).map(|s| s.as_str()).collect();
    let unfinished_runs = Query::select()
        .column(runs::Column::Id)
        .from(runs::Entity)
        .and_where(org_filter::<runs::Entity>(scope))
        .and_where(runs::Column::Status.is_in(unfinished))
        .to_owned();
    let rows = run_rows::Entity::find()
        .in_org(scope)
        .filter(run_rows::Column::Status.eq(RowStatus::Pending.as_str()))
        .filter(run_rows::Column::PatientId.in_subquery(patients_with_number))
        .filter(run_rows::Column::RunId.in_subquery(unfinished_runs))
        .order_by_asc(run_rows::Column::RunId)
        .order_by_asc(run_rows::Column::SortIndex)
        .all(conn)
        .await?;
    rows.into_iter().map(row_state).collect()
}

/// How many of a run's rows are still open (pending, dialing or in a call): the run is complete
/// when none is.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn open_count(conn: &impl ConnectionTrait, scope: &OrgScope, run_id: RunId) -> Result<u64> {
    let open: Vec<&str> = RowStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str()).collect();
    Ok(run_rows::Entity::find()
        .in_org(scope)
        .filter(run_rows::Column::RunId.eq(run_id.as_uuid()))
        .filter(run_rows::Column::Status.is_in(open))
        .count(conn)
        .await?)
}

/// One row of the organization, opened.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, row_id = %id), err(level = "debug"))]
pub async fn get(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: RunRowId,
) -> Result<RunRowRecord> {
    let row = run_rows::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("run row", id))?;
    open_row(keys, row)
}

/// A row's clear scheduling columns; with `lock`, locked until the end of the transaction on
/// PostgreSQL (`FOR UPDATE`).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, row_id = %id), err(level = "debug"))]
pub async fn state(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: RunRowId,
    lock: bool,
) -> Result<RowState> {
    let mut query = run_rows::Entity::find_by_id(id.as_uuid()).in_org(scope);
    if lock {
        query = query.lock_exclusive();
    }
    let row = query.one(conn).await?.ok_or_else(|| PersistenceError::not_found("run row", id))?;
    row_state(row)
}

pub(crate) fn row_state(row: run_rows::Model) -> Result<RowState> {
    Ok(RowState {
        id: RunRowId(row.id),
        run_id: RunId(row.run_id),
        patient_id: row.patient_id.map(PatientId),
        status: row
            .status
            .parse()
            .map_err(|_| PersistenceError::Corrupt { table: TABLE, column: "status" })?,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        next_attempt_at: row.next_attempt_at,
        lease_until: row.lease_until,
        leased_by: row.leased_by,
        outcome: outcome(row.outcome.as_deref())?,
        last_error: row.last_error,
        skip_reason: row.skip_reason,
    })
}
