//! The counts analytics are made of, read from the calls and run rows of one organization.
//!
//! Every query groups in the database and returns counts; only the analysis values of reached
//! rows (what a patient answered) come back row by row, because the campaign's main KPI and its
//! fields' types decide what they mean (`rivvi_domain::analytics`). A [`Slice`] selects calls by
//! campaign, run and the local day they were placed (the organization's zone at dial time, stored
//! on the call), and rows through the runs those calls belong to.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use rivvi_domain::analytics::{HourCell, OutcomeCounts};
use rivvi_domain::campaign::AnalysisField;
use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::{CampaignId, RunId};
use rivvi_domain::lifecycle::{CallOutcome, RowStatus, RunStatus};
use rivvi_domain::stored::Stored;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, Select};
use serde_json::Value;
use uuid::Uuid;

use crate::entities::{calls, campaigns, prompt_versions, run_rows, runs};
use crate::org_owned::{org_filter, InOrg};
use crate::sealing::Keys;
use crate::{OrgScope, PersistenceError, Result};

/// Which calls (and, through their runs, which rows) a measure covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slice {
    pub campaign_id: Option<CampaignId>,
    pub run_id: Option<RunId>,
    /// First local day included.
    pub from: Option<NaiveDate>,
    /// Last local day included.
    pub to: Option<NaiveDate>,
}

impl Slice {
    fn has_range(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }
}

/// A group's calls by outcome.
pub type Grouped<K> = Vec<(K, OutcomeCounts)>;

/// The organization's outbound calls in `slice`.
fn calls_in(scope: &OrgScope, slice: &Slice) -> Select<calls::Entity> {
    let mut query =
        calls::Entity::find().in_org(scope).filter(calls::Column::Direction.eq(Direction::Outbound.as_str()));
    if let Some(id) = slice.campaign_id {
        query = query.filter(calls::Column::CampaignId.eq(id.as_uuid()));
    }
    if let Some(id) = slice.run_id {
        query = query.filter(calls::Column::RunId.eq(id.as_uuid()));
    }
    if let Some(from) = slice.from {
        query = query.filter(calls::Column::LocalDate.gte(from));
    }
    if let Some(to) = slice.to {
        query = query.filter(calls::Column::LocalDate.lte(to));
    }
    query
}

fn outcome(value: Option<String>) -> Result<Option<CallOutcome>> {
    value
        .map(|o| o.parse().map_err(|_| PersistenceError::Corrupt { table: "calls", column: "outcome" }))
        .transpose()
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Folds `(key, outcome, calls)` rows into counts per key, keys in first-seen order.
fn fold<K: Eq + std::hash::Hash + Clone>(rows: Vec<(K, Option<String>, i64)>) -> Result<Grouped<K>> {
    let mut order: Vec<K> = Vec::new();
    let mut counts: HashMap<K, OutcomeCounts> = HashMap::new();
    for (key, value, n) in rows {
        let entry = counts.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            OutcomeCounts::default()
        });
        entry.add(outcome(value)?, count(n));
    }
    Ok(order
        .into_iter()
        .map(|k| {
            let c = counts[&k];
            (k, c)
        })
        .collect())
}

/// Calls in `slice` by outcome, grouped by `key` (a column of `calls`).
async fn outcomes_by<K>(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    slice: &Slice,
    key: calls::Column,
) -> Result<Grouped<K>>
where
    K: sea_orm::TryGetable + Eq + std::hash::Hash + Clone,
{
    let rows: Vec<(Option<K>, Option<String>, i64)> = calls_in(scope, slice)
        .select_only()
        .column(key)
        .column(calls::Column::Outcome)
        .column_as(Expr::col(calls::Column::Id).count(), "calls")
        .group_by(key)
        .group_by(calls::Column::Outcome)
        .into_tuple()
        .all(conn)
        .await?;
    fold(rows.into_iter().filter_map(|(k, o, n)| Some((k?, o, n))).collect())
}

/// Every call in `slice` by outcome.
pub async fn outcomes(conn: &impl ConnectionTrait, scope: &OrgScope, slice: &Slice) -> Result<OutcomeCounts> {
    let rows: Vec<(Option<String>, i64)> = calls_in(scope, slice)
        .select_only()
        .column(calls::Column::Outcome)
        .column_as(Expr::col(calls::Column::Id).count(), "calls")
        .group_by(calls::Column::Outcome)
        .into_tuple()
        .all(conn)
        .await?;
    let mut counts = OutcomeCounts::default();
    for (value, n) in rows {
        counts.add(outcome(value)?, count(n));
    }
    Ok(counts)
}

/// Calls by local day, earliest first.
pub async fn outcomes_by_day(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    slice: &Slice,
) -> Result<Grouped<NaiveDate>> {
    let mut days: Grouped<NaiveDate> = outcomes_by(conn, scope, slice, calls::Column::LocalDate).await?;
    days.sort_by_key(|(day, _)| *day);
    Ok(days)
}

/// Calls by run.
pub async fn outcomes_by_run(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    slice: &Slice,
) -> Result<Grouped<RunId>> {
    let runs: Grouped<Uuid> = outcomes_by(conn, scope, slice, calls::Column::RunId).await?;
    Ok(runs.into_iter().map(|(id, c)| (RunId(id), c)).collect())
}

/// Calls by attempt number (1 = first call of a row), in attempt order.
pub async fn outcomes_by_attempt(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    slice: &Slice,
) -> Result<Grouped<u32>> {
    let attempts: Grouped<i32> = outcomes_by(conn, scope, slice, calls::Column::Attempt).await?;
    let mut attempts: Grouped<u32> =
        attempts.into_iter().filter_map(|(a, c)| Some((u32::try_from(a).ok()?, c))).collect();
    attempts.sort_by_key(|(a, _)| *a);
    Ok(attempts)
}

/// Attempts and reached calls per local weekday and hour (cells with calls only).
pub async fn hour_grid(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    slice: &Slice,
) -> Result<Vec<HourCell>> {
    let reached = Expr::case(calls::Column::Outcome.eq(CallOutcome::Reached.as_str()), 1).finally(0);
    // (weekday, hour, attempts, reached)
    type Cell = (Option<i32>, Option<i32>, i64, Option<i64>);
    let rows: Vec<Cell> = calls_in(scope, slice)
        .select_only()
        .column(calls::Column::LocalWeekday)
        .column(calls::Column::LocalHour)
        .column_as(Expr::col(calls::Column::Id).count(), "attempts")
        .column_as(Expr::expr(reached).sum(), "reached")
        .group_by(calls::Column::LocalWeekday)
        .group_by(calls::Column::LocalHour)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(weekday, hour, attempts, reached)| {
            Some(HourCell {
                weekday: u32::try_from(weekday?).ok()?,
                hour: u32::try_from(hour?).ok()?,
                attempts: count(attempts),
                reached: count(reached.unwrap_or(0)),
            })
        })
        .collect())
}

/// One run's rows, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunRowCounts {
    pub rows: u64,
    /// Not skipped.
    pub callable: u64,
    /// Rows with a call in the slice.
    pub dialled: u64,
    /// Rows with a reached call in the slice.
    pub reached: u64,
}

/// Rows per run: every row of each run in the slice (with a range, the runs that placed a call
/// in it), and the rows dialled and reached by the slice's calls.
pub async fn row_counts_by_run(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    slice: &Slice,
) -> Result<HashMap<RunId, RunRowCounts>> {
    let dialled: Vec<(Option<Uuid>, i64, i64)> = calls_in(scope, slice)
        .select_only()
        .column(calls::Column::RunId)
        .column_as(Expr::cust("COUNT(DISTINCT row_id)"), "dialled")
        .column_as(
            Expr::cust(format!(
                "COUNT(DISTINCT CASE WHEN outcome = '{}' THEN row_id END)",
                CallOutcome::Reached.as_str()
            )),
            "reached",
        )
        .filter(calls::Column::RowId.is_not_null())
        .group_by(calls::Column::RunId)
        .into_tuple()
        .all(conn)
        .await?;
    let mut counts: HashMap<RunId, RunRowCounts> = HashMap::new();
    for (run, dialled, reached) in dialled {
        if let Some(run) = run {
            let entry = counts.entry(RunId(run)).or_default();
            entry.dialled = count(dialled);
            entry.reached = count(reached);
        }
    }
    let callable = Expr::case(run_rows::Column::Status.ne(RowStatus::Skipped.as_str()), 1).finally(0);
    let mut rows = run_rows::Entity::find()
        .in_org(scope)
        .select_only()
        .column(run_rows::Column::RunId)
        .column_as(Expr::col(run_rows::Column::Id).count(), "rows")
        .column_as(Expr::expr(callable).sum(), "callable")
        .group_by(run_rows::Column::RunId);
    if let Some(id) = slice.run_id {
        rows = rows.filter(run_rows::Column::RunId.eq(id.as_uuid()));
    } else if let Some(id) = slice.campaign_id {
        rows = rows.filter(run_rows::Column::RunId.in_subquery(runs_of_campaign(scope, id)));
    }
    if slice.has_range() {
        let ids: Vec<Uuid> = counts.keys().map(|r| r.as_uuid()).collect();
        if ids.is_empty() {
            return Ok(counts);
        }
        rows = rows.filter(run_rows::Column::RunId.is_in(ids));
    }
    let rows: Vec<(Uuid, i64, Option<i64>)> = rows.into_tuple().all(conn).await?;
    for (run, total, callable) in rows {
        let entry = counts.entry(RunId(run)).or_default();
        entry.rows = count(total);
        entry.callable = count(callable.unwrap_or(0));
    }
    Ok(counts)
}

fn runs_of_campaign(scope: &OrgScope, campaign_id: CampaignId) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(runs::Column::Id)
        .from(runs::Entity)
        .and_where(org_filter::<runs::Entity>(scope))
        .and_where(runs::Column::CampaignId.eq(campaign_id.as_uuid()))
        .to_owned()
}

/// `(row id, run id, local day, legacy analysis, sealed analysis)` of a reaching call.
type ReachedColumns = (Uuid, Uuid, Option<NaiveDate>, Option<Value>, Option<Vec<u8>>);

/// A row a person answered, with what the call extracted.
#[derive(Debug, Clone, PartialEq)]
pub struct ReachedRow {
    pub run_id: RunId,
    /// The local day of the reaching call.
    pub day: Option<NaiveDate>,
    /// The campaign's analysis fields by key, as the provider reported them.
    pub analysis: Option<Value>,
}

/// Every row reached by a call in the slice (once per row: its earliest reaching call).
pub async fn reached_rows(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    slice: &Slice,
) -> Result<Vec<ReachedRow>> {
    let to_row = calls::Entity::belongs_to(run_rows::Entity)
        .from(calls::Column::RowId)
        .to(run_rows::Column::Id)
        .into();
    let rows: Vec<ReachedColumns> = calls_in(scope, slice)
        .select_only()
        .column(calls::Column::RowId)
        .column(calls::Column::RunId)
        .column(calls::Column::LocalDate)
        .column_as(Expr::col((run_rows::Entity, run_rows::Column::Analysis)), "analysis")
        .column_as(Expr::col((run_rows::Entity, run_rows::Column::AnalysisSealed)), "analysis_sealed")
        .join(JoinType::InnerJoin, to_row)
        .filter(org_filter::<run_rows::Entity>(scope))
        .filter(calls::Column::Outcome.eq(CallOutcome::Reached.as_str()))
        .into_tuple()
        .all(conn)
        .await?;
    let mut seen: HashMap<Uuid, usize> = HashMap::new();
    let mut reached: Vec<ReachedRow> = Vec::with_capacity(rows.len());
    for (row, run, day, analysis, analysis_sealed) in rows {
        match seen.get(&row) {
            Some(&i) => {
                if day.is_some() && (reached[i].day.is_none() || day < reached[i].day) {
                    reached[i].day = day;
                }
            }
            None => {
                seen.insert(row, reached.len());
                // Opened once per row, not per reaching call.
                let analysis =
                    crate::run_rows::open_analysis(keys, row, analysis_sealed.as_deref(), analysis)?;
                reached.push(ReachedRow { run_id: RunId(run), day, analysis });
            }
        }
    }
    Ok(reached)
}

/// Rows of one run by their number of attempts.
pub async fn attempts_per_row(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
) -> Result<Vec<(u32, u64)>> {
    let rows: Vec<(i32, i64)> = run_rows::Entity::find()
        .in_org(scope)
        .select_only()
        .column(run_rows::Column::Attempts)
        .column_as(Expr::col(run_rows::Column::Id).count(), "rows")
        .filter(run_rows::Column::RunId.eq(run_id.as_uuid()))
        .group_by(run_rows::Column::Attempts)
        .into_tuple()
        .all(conn)
        .await?;
    let mut rows: Vec<(u32, u64)> =
        rows.into_iter().map(|(a, n)| (u32::try_from(a).unwrap_or(0), count(n))).collect();
    rows.sort_by_key(|(a, _)| *a);
    Ok(rows)
}

/// A run as analytics name it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLabel {
    pub id: RunId,
    pub campaign_id: CampaignId,
    pub name: String,
    pub status: RunStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The analysis fields the run's calls asked for: those its prompt version froze, else the
    /// campaign's current ones.
    pub analysis_fields: Vec<AnalysisField>,
}

impl RunLabel {
    /// The key of the main KPI field, if the run has one.
    pub fn main_kpi(&self) -> Option<&str> {
        self.analysis_fields.iter().find(|f| f.is_main_kpi()).map(AnalysisField::key)
    }
}

fn fields(value: Value, table: &'static str) -> Result<Vec<AnalysisField>> {
    let stored: Vec<Stored<AnalysisField>> = serde_json::from_value(value)
        .map_err(|_| PersistenceError::Corrupt { table, column: "analysis_fields" })?;
    Ok(stored.into_iter().map(Stored::into_inner).collect())
}

/// The named runs (of this organization), with the analysis fields each asked for.
pub async fn run_labels(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    ids: &HashSet<RunId>,
) -> Result<HashMap<RunId, RunLabel>> {
    let mut labels = HashMap::with_capacity(ids.len());
    let ids: Vec<Uuid> = ids.iter().map(|r| r.as_uuid()).collect();
    for chunk in ids.chunks(500) {
        let found = runs::Entity::find()
            .in_org(scope)
            .filter(runs::Column::Id.is_in(chunk.to_vec()))
            .all(conn)
            .await?;
        let campaign_ids: HashSet<Uuid> = found.iter().map(|r| r.campaign_id).collect();
        let version_ids: Vec<Uuid> = found.iter().filter_map(|r| r.prompt_version_id).collect();
        let campaign_fields: HashMap<Uuid, Value> = campaigns::Entity::find()
            .in_org(scope)
            .select_only()
            .column(campaigns::Column::Id)
            .column(campaigns::Column::AnalysisFields)
            .filter(campaigns::Column::Id.is_in(campaign_ids))
            .into_tuple()
            .all(conn)
            .await?
            .into_iter()
            .collect();
        let frozen: HashMap<Uuid, Option<Value>> = prompt_versions::Entity::find()
            .select_only()
            .column(prompt_versions::Column::Id)
            .column(prompt_versions::Column::AnalysisFields)
            .filter(prompt_versions::Column::Id.is_in(version_ids))
            .into_tuple()
            .all(conn)
            .await?
            .into_iter()
            .collect();
        for run in found {
            let pinned = run.prompt_version_id.and_then(|v| frozen.get(&v).cloned().flatten());
            let analysis_fields = match pinned {
                Some(value) => fields(value, "prompt_versions")?,
                None => match campaign_fields.get(&run.campaign_id) {
                    Some(value) => fields(value.clone(), "campaigns")?,
                    None => Vec::new(),
                },
            };
            let id = RunId(run.id);
            labels.insert(
                id,
                RunLabel {
                    id,
                    campaign_id: CampaignId(run.campaign_id),
                    name: run.name,
                    status: run
                        .status
                        .parse()
                        .map_err(|_| PersistenceError::Corrupt { table: "runs", column: "status" })?,
                    created_at: run.created_at,
                    analysis_fields,
                },
            );
        }
    }
    Ok(labels)
}

/// Campaign names of this organization.
pub async fn campaign_names(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    ids: &HashSet<CampaignId>,
) -> Result<HashMap<CampaignId, String>> {
    let ids: Vec<Uuid> = ids.iter().map(|c| c.as_uuid()).collect();
    let names: Vec<(Uuid, String)> = campaigns::Entity::find()
        .in_org(scope)
        .select_only()
        .column(campaigns::Column::Id)
        .column(campaigns::Column::Name)
        .filter(campaigns::Column::Id.is_in(ids))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(names.into_iter().map(|(id, name)| (CampaignId(id), name)).collect())
}
