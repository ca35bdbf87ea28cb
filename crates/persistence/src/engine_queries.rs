//! What the execution engine reads across organizations, acting as the system (see
//! [`OrgScope::for_verified_org`](crate::OrgScope::for_verified_org)): runs to start or drive,
//! rows whose lease expired, calls that never got their final event, and a call found by the
//! provider's id (how a webhook learns its organization). Everything an engine step then changes
//! goes through the scoped repositories with the organization found here.
//!
//! Also the run's pinned prompt and the per-organization dispatch lock.

use chrono::{DateTime, Utc};
use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::{CallId, OrgId};
use rivvi_domain::lifecycle::{RowStatus, RunStatus};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement,
};

use crate::calls::{CallRecord, ACTIVE_STATUSES};
use crate::entities::{calls, prompt_versions, run_rows, runs};
use crate::prompt_versions::PromptVersionRecord;
use crate::run_rows::{row_state, RowState};
use crate::runs::RunRecord;
use crate::{PersistenceError, Result};

/// A row whose lease ran out, and its organization.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedRow {
    pub org_id: OrgId,
    pub row: RowState,
}

/// Scheduled runs whose start time has come (`scheduled_at <= now`), earliest first.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn runs_due_to_start(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<RunRecord>> {
    let rows = runs::Entity::find()
        .filter(runs::Column::Status.eq(RunStatus::Scheduled.as_str()))
        .filter(runs::Column::ScheduledAt.lte(now))
        .order_by_asc(runs::Column::ScheduledAt)
        .order_by_asc(runs::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    rows.into_iter().map(RunRecord::try_from).collect()
}

/// Runs the engine drives: `running` (it dials) and `paused` (it may complete them), oldest start
/// first.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn live_runs(conn: &impl ConnectionTrait) -> Result<Vec<RunRecord>> {
    let rows = runs::Entity::find()
        .filter(runs::Column::Status.is_in([RunStatus::Running.as_str(), RunStatus::Paused.as_str()]))
        .order_by_asc(runs::Column::StartedAt)
        .order_by_asc(runs::Column::Id)
        .all(conn)
        .await?;
    rows.into_iter().map(RunRecord::try_from).collect()
}

/// How much work the engines have, across organizations: for the `/metrics` gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Workload {
    /// Calls `registered` or `ongoing`.
    pub active_calls: u64,
    /// Pending rows of running runs whose next attempt is due.
    pub due_rows: u64,
}

/// Counts [`Workload`] at `now`.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn workload(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Workload> {
    let active_calls = calls::Entity::find()
        .filter(calls::Column::Status.is_in(ACTIVE_STATUSES.map(|s| s.as_str())))
        .count(conn)
        .await?;
    let running = runs::Entity::find()
        .select_only()
        .column(runs::Column::Id)
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .into_query();
    let due_rows = run_rows::Entity::find()
        .filter(run_rows::Column::Status.eq(RowStatus::Pending.as_str()))
        .filter(run_rows::Column::NextAttemptAt.is_null().or(run_rows::Column::NextAttemptAt.lte(now)))
        .filter(run_rows::Column::RunId.in_subquery(running))
        .count(conn)
        .await?;
    Ok(Workload { active_calls, due_rows })
}

/// Rows still `dialing` whose lease ended before `now`: their instance died or lost track of
/// them.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn expired_leases(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<LeasedRow>> {
    let rows = run_rows::Entity::find()
        .filter(run_rows::Column::Status.eq(RowStatus::Dialing.as_str()))
        .filter(run_rows::Column::LeaseUntil.lt(now))
        .order_by_asc(run_rows::Column::LeaseUntil)
        .limit(limit)
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|row| {
            let org_id = OrgId(row.org_id);
            Ok(LeasedRow { org_id, row: row_state(row)? })
        })
        .collect()
}

/// Outbound calls the provider accepted (they have its id) that are still `registered` or
/// `ongoing` and were last updated before `updated_before`: their final event may be lost.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn stale_calls(
    conn: &impl ConnectionTrait,
    updated_before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<CallRecord>> {
    let rows = calls::Entity::find()
        .filter(calls::Column::Direction.eq(Direction::Outbound.as_str()))
        .filter(calls::Column::Status.is_in(ACTIVE_STATUSES.map(|s| s.as_str())))
        .filter(calls::Column::ProviderCallId.is_not_null())
        .filter(calls::Column::UpdatedAt.lt(updated_before))
        .order_by_asc(calls::Column::UpdatedAt)
        .limit(limit)
        .all(conn)
        .await?;
    rows.into_iter().map(CallRecord::try_from).collect()
}

/// The call with this provider id, in whichever organization: how a verified webhook finds the
/// organization it is about.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn find_call_by_provider_id(
    conn: &impl ConnectionTrait,
    provider_call_id: &str,
) -> Result<Option<CallRecord>> {
    calls::Entity::find()
        .filter(calls::Column::ProviderCallId.eq(provider_call_id))
        .one(conn)
        .await?
        .map(CallRecord::try_from)
        .transpose()
}

/// A call by our id, in whichever organization (a webhook whose provider id we never stored
/// names our id in its metadata; the caller checks the organization matches).
#[tracing::instrument(level = "debug", skip_all, fields(call_id = %id), err(level = "debug"))]
pub async fn find_call(conn: &impl ConnectionTrait, id: CallId) -> Result<Option<CallRecord>> {
    calls::Entity::find_by_id(id.as_uuid()).one(conn).await?.map(CallRecord::try_from).transpose()
}

/// The run instructions of the prompt version a run pinned when it was created (`None` when it
/// pinned none or the user gave none).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %run.org_id, run_id = %run.id), err(level = "debug"))]
pub async fn pinned_run_instructions(conn: &impl ConnectionTrait, run: &RunRecord) -> Result<Option<String>> {
    Ok(pinned_version(conn, run).await?.and_then(|version| version.run_instructions))
}

/// The prompt version a run pinned when it was created: its prompt, and (for runs created since
/// runs pin them) its agent version, variables and analysis fields. `None` when it pinned none.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %run.org_id, run_id = %run.id), err(level = "debug"))]
pub async fn pinned_version(
    conn: &impl ConnectionTrait,
    run: &RunRecord,
) -> Result<Option<PromptVersionRecord>> {
    let Some(version_id) = run.prompt_version_id else {
        return Ok(None);
    };
    let version = prompt_versions::Entity::find_by_id(version_id.as_uuid())
        .filter(prompt_versions::Column::CampaignId.eq(run.campaign_id.as_uuid()))
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("prompt version", version_id))?;
    version.try_into().map(Some)
}

/// Waits for the advisory lock named `key` and holds it for the rest of the transaction `conn`
/// is in (`pg_advisory_xact_lock(hashtext(key))`), so one instance at a time works on what it
/// names. Does nothing on SQLite, which has one instance.
#[tracing::instrument(level = "debug", skip_all, fields(key = %key), err(level = "debug"))]
pub async fn lock_key(conn: &impl ConnectionTrait, key: &str) -> Result<()> {
    if conn.get_database_backend() == DbBackend::Postgres {
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            [key.into()],
        );
        conn.execute(statement).await?;
    }
    Ok(())
}

/// Takes the organization's dispatch lock for the rest of the transaction `conn` is in:
/// `pg_try_advisory_xact_lock(hashtext(org_id))` on PostgreSQL, so two instances never count
/// free slots and claim for one organization at the same time (`false`: another instance holds
/// it; try again next tick). SQLite has a single writer and always answers `true`.
///
/// Must run inside a transaction: outside one, PostgreSQL releases the lock at once.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %org_id), err(level = "debug"))]
pub async fn try_lock_org_for_dispatch(conn: &impl ConnectionTrait, org_id: OrgId) -> Result<bool> {
    match conn.get_database_backend() {
        DbBackend::Postgres => {
            let statement = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked",
                [org_id.to_string().into()],
            );
            let row = conn
                .query_one(statement)
                .await?
                .ok_or(PersistenceError::Corrupt { table: "pg_locks", column: "locked" })?;
            Ok(row.try_get::<bool>("", "locked")?)
        }
        _ => Ok(true),
    }
}
