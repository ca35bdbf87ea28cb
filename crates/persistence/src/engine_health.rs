//! What the operators' engine health feed reads (issue 13): each instance's own report, written
//! by its engine every few seconds into `engine_instances`, and the measures that belong to the
//! shared database rather than to an instance (active calls per organization; rows due now are
//! [`crate::engine_queries::workload`]).
//! Nothing here holds patient data: counts, times and ids.

use chrono::{DateTime, TimeDelta, Utc};
use rivvi_domain::ids::OrgId;
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::calls::ACTIVE_STATUSES;
use crate::entities::calls;
use crate::{PersistenceError, Result};

/// One engine instance's report of its own work since its previous report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceReport {
    /// When its last dispatch step started.
    pub last_tick_at: Option<DateTime<Utc>>,
    /// How long that step took, in milliseconds.
    pub tick_ms: Option<f64>,
    /// Create-call requests it sent in the window, and how many failed.
    pub provider_requests: u64,
    pub provider_errors: u64,
    /// Webhooks it applied in the window, and their lag (from the provider signing the event to
    /// the event applied), in milliseconds.
    pub webhooks: u64,
    pub webhook_lag_avg_ms: Option<f64>,
    pub webhook_lag_max_ms: Option<f64>,
    /// How long the window was, in seconds.
    pub window_seconds: f64,
}

/// An instance and its latest report.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceHealth {
    pub instance_id: String,
    pub started_at: DateTime<Utc>,
    pub reported_at: DateTime<Utc>,
    pub report: InstanceReport,
}

/// Stores `report` as `instance_id`'s latest.
#[tracing::instrument(level = "debug", skip_all, fields(instance_id), err(level = "debug"))]
pub async fn record(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    started_at: DateTime<Utc>,
    reported_at: DateTime<Utc>,
    report: &InstanceReport,
) -> Result<()> {
    let json = serde_json::to_string(report)
        .map_err(|_| PersistenceError::Corrupt { table: "engine_instances", column: "report" })?;
    let table = Alias::new("engine_instances");
    let [id, started, reported, body] =
        ["instance_id", "started_at", "reported_at", "report"].map(Alias::new);
    let insert = Query::insert()
        .into_table(table)
        .columns([id.clone(), started, reported.clone(), body.clone()])
        .values_panic([instance_id.into(), started_at.into(), reported_at.into(), json.into()])
        .on_conflict(OnConflict::column(id).update_columns([reported, body]).to_owned())
        .to_owned();
    conn.execute(conn.get_database_backend().build(&insert)).await?;
    Ok(())
}

/// Instances that reported at or after `since`, by id; removes those silent for a day.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn recent(conn: &impl ConnectionTrait, since: DateTime<Utc>) -> Result<Vec<InstanceHealth>> {
    let table = Alias::new("engine_instances");
    let reported = Alias::new("reported_at");
    let prune = Query::delete()
        .from_table(table.clone())
        .and_where(Expr::col(reported.clone()).lt(since - TimeDelta::days(1)))
        .to_owned();
    conn.execute(conn.get_database_backend().build(&prune)).await?;
    let select = Query::select()
        .columns(["instance_id", "started_at", "reported_at", "report"].map(Alias::new))
        .from(table)
        .and_where(Expr::col(reported).gte(since))
        .order_by(Alias::new("instance_id"), sea_orm::Order::Asc)
        .to_owned();
    let rows = conn.query_all(conn.get_database_backend().build(&select)).await?;
    rows.into_iter()
        .map(|row| {
            let report: String = row.try_get("", "report")?;
            Ok(InstanceHealth {
                instance_id: row.try_get("", "instance_id")?,
                started_at: row.try_get("", "started_at")?,
                reported_at: row.try_get("", "reported_at")?,
                report: serde_json::from_str(&report)
                    .map_err(|_| PersistenceError::Corrupt { table: "engine_instances", column: "report" })?,
            })
        })
        .collect()
}

/// Calls in progress (registered or ongoing), per organization, most first.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn active_calls_by_org(conn: &impl ConnectionTrait) -> Result<Vec<(OrgId, u64)>> {
    let rows: Vec<(uuid::Uuid, i64)> = calls::Entity::find()
        .select_only()
        .column(calls::Column::OrgId)
        .column_as(calls::Column::Id.count(), "calls")
        .filter(calls::Column::Status.is_in(ACTIVE_STATUSES.map(|s| s.as_str())))
        .group_by(calls::Column::OrgId)
        .into_tuple()
        .all(conn)
        .await?;
    let mut counts: Vec<(OrgId, u64)> =
        rows.into_iter().map(|(org, n)| (OrgId(org), u64::try_from(n).unwrap_or(0))).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(counts)
}
