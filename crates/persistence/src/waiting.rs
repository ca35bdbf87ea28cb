//! A run's pending rows, grouped by what the dispatcher will do with them (see
//! `rivvi_domain::waiting`): skip them (their patient's number is on the do-not-call list), take
//! them now, or take them at a later `next_attempt_at`, set either by a retry (an attempt was made)
//! or by the patient's calling window (none was).

use chrono::{DateTime, Utc};
use rivvi_domain::ids::RunId;
use rivvi_domain::lifecycle::RowStatus;
use sea_orm::sea_query::{Condition, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::{do_not_call, patients, run_rows};
use crate::org_owned::InOrg;
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
    let pending = || {
        run_rows::Entity::find()
            .in_org(scope)
            .filter(run_rows::Column::RunId.eq(run_id.as_uuid()))
            .filter(run_rows::Column::Status.eq(RowStatus::Pending.as_str()))
    };
    let listed = || run_rows::Column::PatientId.in_subquery(listed_patients(scope));
    let callable = || {
        Condition::any()
            .add(run_rows::Column::PatientId.is_null())
            .add(run_rows::Column::PatientId.not_in_subquery(listed_patients(scope)))
    };
    let later = || run_rows::Column::NextAttemptAt.gt(now);
    let due = Condition::any()
        .add(run_rows::Column::NextAttemptAt.is_null())
        .add(run_rows::Column::NextAttemptAt.lte(now));
    let retried = || run_rows::Column::Attempts.gt(0);
    let never_tried = || run_rows::Column::Attempts.eq(0);

    let do_not_call = pending().filter(listed()).count(conn).await?;
    let due = pending().filter(callable()).filter(due).count(conn).await?;
    let retry = pending().filter(callable()).filter(later()).filter(retried()).count(conn).await?;
    let window = pending().filter(callable()).filter(later()).filter(never_tried()).count(conn).await?;
    let earliest = |condition: sea_orm::sea_query::SimpleExpr| {
        pending()
            .filter(callable())
            .filter(later())
            .filter(condition)
            .select_only()
            .column(run_rows::Column::NextAttemptAt)
            .order_by_asc(run_rows::Column::NextAttemptAt)
            .limit(1)
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(conn)
    };
    let retry_until = if retry > 0 { earliest(retried()).await?.flatten() } else { None };
    let window_until = if window > 0 { earliest(never_tried()).await?.flatten() } else { None };
    Ok(PendingRows { do_not_call, due, retry, retry_until, window, window_until })
}

/// Ids of the organization's patients whose number is on its do-not-call list (lookup keys are
/// per organization, so both sides are this organization's).
fn listed_patients(scope: &OrgScope) -> SelectStatement {
    let org = scope.org_id().as_uuid();
    let listed_keys = Query::select()
        .column(do_not_call::Column::PhoneKey)
        .from(do_not_call::Entity)
        .and_where(do_not_call::Column::OrgId.eq(org))
        .to_owned();
    Query::select()
        .column(patients::Column::Id)
        .from(patients::Entity)
        .and_where(patients::Column::OrgId.eq(org))
        .and_where(patients::Column::PhoneKey.in_subquery(listed_keys))
        .to_owned()
}
