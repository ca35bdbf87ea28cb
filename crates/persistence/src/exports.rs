//! Reads for export files: a run's rows and the organization's calls, one keyset page at a time,
//! with the sealed content a file shows opened.
//!
//! Pages are keyset pages (`sort_index > last`, or `(created_at, id) < last` for calls), each one
//! query on its own: an export of a large run never holds a transaction or a connection between
//! pages, and a page costs the same at the end of the run as at its start (an offset would
//! rescan every row before it).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CallId, RunId, RunRowId};
use rivvi_domain::lifecycle::{CallOutcome, RowStatus};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use crate::calls::{self, CallFilter, CallListEntry};
use crate::entities::{calls as call_rows, run_rows};
use crate::keys_in;
use crate::org_owned::InOrg;
use crate::sealing::{Aad, Keys};
use crate::{OrgScope, Page, PersistenceError, Result};

/// One row of a run as an export shows it: every original cell, where the row got to, and its
/// last call.
#[derive(Clone, PartialEq)]
pub struct RunRowExport {
    pub id: RunRowId,
    pub sort_index: u32,
    /// Every original cell of the row, in column order, exactly as read.
    pub cells: Vec<String>,
    pub status: RowStatus,
    pub attempts: u32,
    pub outcome: Option<CallOutcome>,
    /// Never quotes a patient value.
    pub skip_reason: Option<String>,
    /// The campaign's analysis fields from the last attempt's call, by key.
    pub analysis: Option<Value>,
    pub updated_at: DateTime<Utc>,
    /// The call of the row's highest attempt; `None` when no call was placed.
    pub last_call: Option<LastCall>,
}

// PHI (cells, the summary): never printed.
impl std::fmt::Debug for RunRowExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunRowExport")
            .field("id", &self.id)
            .field("sort_index", &self.sort_index)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// What an export shows of a row's last call.
#[derive(Clone, PartialEq, Eq)]
pub struct LastCall {
    pub id: CallId,
    pub attempt: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Opened from `summary_sealed`.
    pub summary: Option<String>,
}

/// One call of the organization as an export shows it: what `calls.list` shows, and the summary.
#[derive(Clone, PartialEq)]
pub struct CallExport {
    pub entry: CallListEntry,
    /// Opened from `summary_sealed`.
    pub summary: Option<String>,
}

// PHI (the summary): never printed.
impl std::fmt::Debug for CallExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallExport").field("entry", &self.entry).finish_non_exhaustive()
    }
}

/// Where a page of calls starts: just after (older than) this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCursor {
    pub created_at: DateTime<Utc>,
    pub id: CallId,
}

impl CallCursor {
    /// The cursor after `call`, the last of a page.
    pub fn after(call: &CallExport) -> Self {
        CallCursor { created_at: call.entry.call.created_at, id: call.entry.call.id }
    }
}

/// How many rows the run has (0 for a run of another organization).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn count_run_rows(conn: &impl ConnectionTrait, scope: &OrgScope, run_id: RunId) -> Result<u64> {
    Ok(run_rows::Entity::find()
        .in_org(scope)
        .filter(run_rows::Column::RunId.eq(run_id.as_uuid()))
        .count(conn)
        .await?)
}

/// Up to `limit` (at most [`Page::MAX_LIMIT`]) rows of the run in sheet order, after the row at
/// `after` (a `sort_index`; `None` for the first page), with their cells and last call opened.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn run_rows_after(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    run_id: RunId,
    after: Option<u32>,
    limit: u64,
) -> Result<Vec<RunRowExport>> {
    let mut place = Condition::all();
    if let Some(after) = after {
        place = place.add(run_rows::Column::SortIndex.gt(i32::try_from(after).unwrap_or(i32::MAX)));
    }
    rows_where(conn, scope, keys, run_id, place, limit).await
}

/// The run's rows whose `sort_index` is in `from..to` (at most [`Page::MAX_LIMIT`] of them), in
/// sheet order, opened as [`run_rows_after`] opens them. Ranges known in advance let an export
/// read several pages at once instead of waiting for each page's last row.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn run_rows_between(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    run_id: RunId,
    sort_indexes: std::ops::Range<u32>,
) -> Result<Vec<RunRowExport>> {
    let bound = |i: u32| i32::try_from(i).unwrap_or(i32::MAX);
    let place = Condition::all()
        .add(run_rows::Column::SortIndex.gte(bound(sort_indexes.start)))
        .add(run_rows::Column::SortIndex.lt(bound(sort_indexes.end)));
    let limit = u64::from(sort_indexes.end.saturating_sub(sort_indexes.start));
    rows_where(conn, scope, keys, run_id, place, limit).await
}

/// The highest `sort_index` of the run's rows (`None` without rows, or for another
/// organization's run).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn last_sort_index(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
) -> Result<Option<u32>> {
    let last: Option<Option<i32>> = run_rows::Entity::find()
        .select_only()
        .column_as(run_rows::Column::SortIndex.max(), "last")
        .in_org(scope)
        .filter(run_rows::Column::RunId.eq(run_id.as_uuid()))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(last.flatten().and_then(|i| u32::try_from(i).ok()))
}

async fn rows_where(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    run_id: RunId,
    place: Condition,
    limit: u64,
) -> Result<Vec<RunRowExport>> {
    let rows: Vec<RowColumns> = run_rows::Entity::find()
        .select_only()
        .columns([
            run_rows::Column::Id,
            run_rows::Column::SortIndex,
            run_rows::Column::CellsSealed,
            run_rows::Column::Status,
            run_rows::Column::Attempts,
            run_rows::Column::Outcome,
            run_rows::Column::SkipReason,
            run_rows::Column::Analysis,
            run_rows::Column::AnalysisSealed,
            run_rows::Column::UpdatedAt,
        ])
        .in_org(scope)
        .filter(run_rows::Column::RunId.eq(run_id.as_uuid()))
        .filter(place)
        .order_by_asc(run_rows::Column::SortIndex)
        .limit(Page::new(limit, 0).effective_limit())
        .into_model()
        .all(conn)
        .await?;
    let mut last_calls = last_calls(conn, scope, keys, rows.iter().map(|r| r.id).collect()).await?;
    rows.into_iter()
        .map(|row| {
            let last_call = last_calls.remove(&row.id);
            open_row(keys, row, last_call)
        })
        .collect()
}

/// How many of the organization's calls match `filter`.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn count_calls(conn: &impl ConnectionTrait, scope: &OrgScope, filter: &CallFilter) -> Result<u64> {
    Ok(calls::filtered(scope, filter).count(conn).await?)
}

/// Up to `limit` (at most [`Page::MAX_LIMIT`]) of the organization's calls matching `filter`,
/// newest first (by creation, then id, the order of `calls.list`), older than `after`.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn calls_after(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    filter: &CallFilter,
    after: Option<CallCursor>,
    limit: u64,
) -> Result<Vec<CallExport>> {
    let mut query = calls::filtered(scope, filter);
    if let Some(after) = after {
        query = query.filter(
            Condition::any().add(call_rows::Column::CreatedAt.lt(after.created_at)).add(
                Condition::all()
                    .add(call_rows::Column::CreatedAt.eq(after.created_at))
                    .add(call_rows::Column::Id.lt(after.id.as_uuid())),
            ),
        );
    }
    let rows = query
        .order_by_desc(call_rows::Column::CreatedAt)
        .order_by_desc(call_rows::Column::Id)
        .limit(Page::new(limit, 0).effective_limit())
        .all(conn)
        .await?;
    let patients = rows.iter().filter_map(|r| r.patient_id).collect();
    let names = calls::patient_names(conn, scope, keys, patients).await?;
    rows.into_iter()
        .map(|row| {
            let summary = open_summary(keys, row.id, row.summary_sealed.as_deref())?;
            Ok(CallExport { entry: calls::list_entry(keys, row, &names)?, summary })
        })
        .collect()
}

/// The columns of `run_rows` an export reads (not the sealed variables).
#[derive(FromQueryResult)]
struct RowColumns {
    id: Uuid,
    sort_index: i32,
    cells_sealed: Vec<u8>,
    status: String,
    attempts: i32,
    outcome: Option<String>,
    skip_reason: Option<String>,
    analysis: Option<Value>,
    analysis_sealed: Option<Vec<u8>>,
    updated_at: DateTime<Utc>,
}

fn open_row(keys: &Keys, row: RowColumns, last_call: Option<LastCall>) -> Result<RunRowExport> {
    let corrupt = |column| PersistenceError::Corrupt { table: "run_rows", column };
    let aad = Aad { table: "run_rows", column: "cells_sealed", row_id: row.id };
    let cells = keys.sealer.open(&aad, &row.cells_sealed)?;
    Ok(RunRowExport {
        id: RunRowId(row.id),
        sort_index: u32::try_from(row.sort_index).unwrap_or(0),
        cells: serde_json::from_slice(&cells).map_err(|_| corrupt("cells_sealed"))?,
        status: row.status.parse().map_err(|_| corrupt("status"))?,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        outcome: row.outcome.map(|o| o.parse().map_err(|_| corrupt("outcome"))).transpose()?,
        skip_reason: row.skip_reason,
        analysis: crate::run_rows::open_analysis(keys, row.id, row.analysis_sealed.as_deref(), row.analysis)?,
        updated_at: row.updated_at,
        last_call,
    })
}

/// The columns of `calls` a row's last call shows.
#[derive(FromQueryResult)]
struct CallColumns {
    id: Uuid,
    row_id: Option<Uuid>,
    attempt: i32,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    summary_sealed: Option<Vec<u8>>,
}

/// The call of each row's highest attempt, by row id (rows without a call are absent).
async fn last_calls(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    row_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, LastCall>> {
    if row_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let calls: Vec<CallColumns> = call_rows::Entity::find()
        .select_only()
        .columns([
            call_rows::Column::Id,
            call_rows::Column::RowId,
            call_rows::Column::Attempt,
            call_rows::Column::StartedAt,
            call_rows::Column::EndedAt,
            call_rows::Column::SummarySealed,
        ])
        .in_org(scope)
        .filter(keys_in::id_in(conn.get_database_backend(), call_rows::Column::RowId, &row_ids))
        .into_model()
        .all(conn)
        .await?;
    // A row has one call per attempt (`ux_calls_row_id_attempt`): the highest attempt is the last.
    let mut last: HashMap<Uuid, CallColumns> = HashMap::new();
    for call in calls {
        let Some(row_id) = call.row_id else { continue };
        match last.get(&row_id) {
            Some(kept) if kept.attempt >= call.attempt => {}
            _ => {
                last.insert(row_id, call);
            }
        }
    }
    last.into_iter()
        .map(|(row_id, call)| {
            let summary = open_summary(keys, call.id, call.summary_sealed.as_deref())?;
            let attempt = u32::try_from(call.attempt)
                .map_err(|_| PersistenceError::Corrupt { table: "calls", column: "attempt" })?;
            let opened = LastCall {
                id: CallId(call.id),
                attempt,
                started_at: call.started_at,
                ended_at: call.ended_at,
                summary,
            };
            Ok((row_id, opened))
        })
        .collect()
}

fn open_summary(keys: &Keys, call_id: Uuid, sealed: Option<&[u8]>) -> Result<Option<String>> {
    Ok(sealed.map(|s| keys.sealer.open_string(&calls::aad(call_id, "summary_sealed"), s)).transpose()?)
}
