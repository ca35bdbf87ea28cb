//! A run's pending rows, grouped by what the dispatcher will do with them (see
//! `rivvi_domain::waiting`): skip them (their patient's number is on the do-not-call list), take
//! them now, or take them at a later `next_attempt_at`, set either by a retry (an attempt was made)
//! or by the patient's calling window (none was).

use chrono::{DateTime, Utc};
use rivvi_domain::ids::RunId;
use rivvi_domain::lifecycle::RowStatus;
use sea_orm::sea_query::{Alias, Condition, Expr, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::entities::{do_not_call, patients, run_rows};
use crate::org_owned::{org_filter, InOrg};
use crate::{OrgScope, Result};

/// Counts of a run's pending rows by group, and when each later group's first row is due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingRows {
    /// Rows whose patient's number is on the organization's do-not-call list.
    pub do_not_call: u64,
    /// Rows due now.
    pub due: u64,
    /// Rows waiting for a retry after an earlier attempt.
    pub retry: u64,
    pub retry_until: Option<DateTime<Utc>>,
    /// Rows never attempted, put back until their patient's window opens.
    pub window: u64,
    pub window_until: Option<DateTime<Utc>>,
}

/// The run's pending rows at `now`, grouped.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %run_id), err(level = "debug"))]
pub async fn pending_rows(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    run_id: RunId,
    now: DateTime<Utc>,
) -> Result<PendingRows> {
    // One statement, so that the groups are counted on one snapshot: counted one by one, a row
    // the dispatcher puts back between two counts would be counted both due and waiting.
    let listed = run_rows::Column::PatientId.in_subquery(listed_patients(scope));
    let due = Condition::any()
        .add(run_rows::Column::NextAttemptAt.is_null())
        .add(run_rows::Column::NextAttemptAt.lte(now));
    let group = Expr::case(listed, Group::DoNotCall as i32)
        .case(due, Group::Due as i32)
        .case(run_rows::Column::Attempts.gt(0), Group::Retry as i32)
        .finally(Group::Window as i32);
    let groups: Vec<(i32, i64, Option<DateTime<Utc>>)> = run_rows::Entity::find()
        .in_org(scope)
        .filter(run_rows::Column::RunId.eq(run_id.as_uuid()))
        .filter(run_rows::Column::Status.eq(RowStatus::Pending.as_str()))
        .select_only()
        .column_as(Expr::expr(group), "grp")
        .column_as(Expr::col(run_rows::Column::Id).count(), "rows")
        .column_as(Expr::col(run_rows::Column::NextAttemptAt).min(), "first_at")
        // By the output name: PostgreSQL would see the `CASE` repeated with new placeholders as
        // another expression.
        .group_by(Expr::col(Alias::new("grp")))
        .into_tuple()
        .all(conn)
        .await?;
    let mut out = PendingRows::default();
    for (group, rows, first_at) in groups {
        let rows = u64::try_from(rows).unwrap_or(0);
        match group {
            g if g == Group::DoNotCall as i32 => out.do_not_call = rows,
            g if g == Group::Due as i32 => out.due = rows,
            g if g == Group::Retry as i32 => (out.retry, out.retry_until) = (rows, first_at),
            _ => (out.window, out.window_until) = (rows, first_at),
        }
    }
    Ok(out)
}

/// The groups of [`pending_rows`], as the SQL `CASE` numbers them.
#[derive(Clone, Copy)]
enum Group {
    DoNotCall = 0,
    Due = 1,
    Retry = 2,
    Window = 3,
}

/// Ids of the organization's patients whose number is on its do-not-call list (lookup keys are
/// per organization, so both sides are this organization's).
fn listed_patients(scope: &OrgScope) -> SelectStatement {
    let listed_keys = Query::select()
        .column(do_not_call::Column::PhoneKey)
        .from(do_not_call::Entity)
        .and_where(org_filter::<do_not_call::Entity>(scope))
        .to_owned();
    Query::select()
        .column(patients::Column::Id)
        .from(patients::Entity)
        .and_where(org_filter::<patients::Entity>(scope))
        .and_where(patients::Column::PhoneKey.in_subquery(listed_keys))
        .to_owned()
}
