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
use rivvi_domain::lifecycle::RowStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entities::run_rows;
use crate::sealing::{Aad, Keys};
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

const TABLE: &str = "run_rows";
/// Rows per INSERT: well below PostgreSQL's 65535 bind parameters at 21 columns a row.
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
    pub outcome: Option<String>,
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
    for batch in rows.chunks(INSERT_BATCH) {
        let models =
            batch.iter().map(|row| sealed_row(scope, keys, run_id, row, at)).collect::<Result<Vec<_>>>()?;
        run_rows::Entity::insert_many(models.into_iter().map(run_rows::ActiveModel::from))
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
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
    let mut query = run_rows::Entity::find()
        .filter(run_rows::Column::OrgId.eq(scope.org_id().as_uuid()))
        .filter(run_rows::Column::RunId.eq(run_id.as_uuid()));
    if let Some(status) = status {
        query = query.filter(run_rows::Column::Status.eq(status.as_str()));
    }
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by_asc(run_rows::Column::SortIndex)
        .limit(page.effective_limit())
        .offset(page.offset)
        .all(conn)
        .await?;
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
    let rows: Vec<(String, i64)> = run_rows::Entity::find()
        .select_only()
        .column(run_rows::Column::Status)
        .column_as(Expr::col(run_rows::Column::Id).count(), "count")
        .filter(run_rows::Column::OrgId.eq(scope.org_id().as_uuid()))
        .filter(run_rows::Column::RunId.eq(run_id.as_uuid()))
        .group_by(run_rows::Column::Status)
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|(status, count)| {
            let status =
                status.parse().map_err(|_| PersistenceError::Corrupt { table: TABLE, column: "status" })?;
            Ok((status, u64::try_from(count).unwrap_or(0)))
        })
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
        outcome: row.outcome,
        last_error: row.last_error,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn aad(row_id: Uuid, column: &str) -> Aad<'_> {
    Aad { table: TABLE, column, row_id }
}

fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
