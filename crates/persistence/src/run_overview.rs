//! Runs across every organization, for the operators' dashboard: each run with its progress
//! (rows in all, rows final) and the latest error one of its rows recorded.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rivvi_domain::ids::OrgId;
use rivvi_domain::lifecycle::{RowStatus, RunStatus};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::{run_rows, runs};
use crate::org_owned::InOrg;
use crate::runs::RunRecord;
use crate::{OrgScope, Page, Result};

/// A run and how far it got.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOverview {
    pub run: RunRecord,
    pub rows_total: u64,
    /// Completed, failed, skipped or cancelled.
    pub rows_final: u64,
    /// The error a row of it recorded last (provider messages, digits masked).
    pub last_error: Option<String>,
}

#[derive(FromQueryResult)]
struct Progress {
    run_id: Uuid,
    total: i64,
    done: i64,
}

#[derive(FromQueryResult)]
struct RowError {
    run_id: Uuid,
    last_error: Option<String>,
    updated_at: DateTime<Utc>,
}

/// A page of runs, newest first, optionally of one organization and status, with the total.
pub async fn list(
    conn: &impl ConnectionTrait,
    org: Option<OrgId>,
    status: Option<RunStatus>,
    page: Page,
) -> Result<(Vec<RunOverview>, u64)> {
    let mut query = runs::Entity::find();
    if let Some(org) = org {
        query = query.in_org(&OrgScope::for_verified_org(org));
    }
    if let Some(status) = status {
        query = query.filter(runs::Column::Status.eq(status.as_str()));
    }
    let (rows, total) = page
        .fetch(conn, query, |q| q.order_by_desc(runs::Column::CreatedAt).order_by_desc(runs::Column::Id))
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let finals: Vec<&str> = RowStatus::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
    let done = Expr::case(run_rows::Column::Status.is_in(finals), 1).finally(0);
    let progress: HashMap<Uuid, Progress> = run_rows::Entity::find()
        .select_only()
        .column(run_rows::Column::RunId)
        .column_as(Expr::col(run_rows::Column::Id).count(), "total")
        .column_as(Expr::expr(done).sum(), "done")
        .filter(run_rows::Column::RunId.is_in(ids.clone()))
        .group_by(run_rows::Column::RunId)
        .into_model::<Progress>()
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.run_id, p))
        .collect();
    let mut errors: HashMap<Uuid, RowError> = HashMap::new();
    let recorded = run_rows::Entity::find()
        .select_only()
        .columns([run_rows::Column::RunId, run_rows::Column::LastError, run_rows::Column::UpdatedAt])
        .filter(run_rows::Column::RunId.is_in(ids))
        .filter(run_rows::Column::LastError.is_not_null())
        .into_model::<RowError>()
        .all(conn)
        .await?;
    for error in recorded {
        match errors.get(&error.run_id) {
            Some(latest) if latest.updated_at >= error.updated_at => {}
            _ => {
                errors.insert(error.run_id, error);
            }
        }
    }
    let overviews = rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            let (rows_total, rows_final) = progress.get(&id).map_or((0, 0), |p| {
                (u64::try_from(p.total).unwrap_or(0), u64::try_from(p.done).unwrap_or(0))
            });
            Ok(RunOverview {
                run: RunRecord::try_from(row)?,
                rows_total,
                rows_final,
                last_error: errors.remove(&id).and_then(|e| e.last_error),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((overviews, total))
}
