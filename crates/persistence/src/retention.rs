//! Retention: the uploads and call texts an organization's settings say have expired.
//!
//! An **upload** expires `upload_retention_days` after the latest `finished_at` of the runs made
//! from it, once every one of them is finished (completed, cancelled or failed); with no run at
//! all, that long after it was uploaded. An upload with a run not finished (draft, ready,
//! scheduled, running, paused), or named as the sample of a campaign request an operator has not
//! settled yet (pending, in progress), does not expire while that lasts.
//!
//! A **call's** transcript, summary and recording URL expire `transcript_retention_days` after it
//! ended (after it was created, when it never ended). Clearing them leaves every other column,
//! the analysis included: analytics read it.
//!
//! Candidates are read in id order, a batch at a time after the last id seen, and on PostgreSQL
//! locked with `FOR UPDATE SKIP LOCKED`, so several instances purging at once share the rows
//! rather than wait for each other. The writes repeat the expiry condition and count the rows
//! they changed, so a row another pass got to first (or that stopped being expired) is neither
//! changed nor counted twice.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CallId, OrgId, UploadId};
use rivvi_domain::lifecycle::{CampaignRequestStatus, RunStatus};
use sea_orm::sea_query::{Expr, Func, LockBehavior, LockType, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{calls, campaign_requests, organizations, runs, uploads};
use crate::org_owned::InOrg;
use crate::{OrgScope, PersistenceError, Result};

/// Rows per query.
pub const BATCH: u64 = 500;

/// One organization's retention settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRetention {
    pub org_id: OrgId,
    /// For the command's report (an organization's name is not PHI).
    pub name: String,
    pub upload_retention_days: u32,
    pub transcript_retention_days: u32,
}

/// An upload whose file is due to be deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredUpload {
    pub id: UploadId,
    pub storage_key: String,
}

/// Whether a read of candidates locks them (a purge) or only looks (a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidates {
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL: inside the transaction that deletes them.
    Lock,
    /// A plain read.
    Look,
}

/// Every organization's retention, by name. Soft-deleted organizations are included: their data
/// expires like anyone's.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn organizations(conn: &impl ConnectionTrait) -> Result<Vec<OrgRetention>> {
    let rows = organizations::Entity::find()
        .order_by_asc(organizations::Column::Name)
        .order_by_asc(organizations::Column::Id)
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|row| {
            let days = |column, value: i32| {
                u32::try_from(value)
                    .ok()
                    .filter(|d| *d > 0)
                    .ok_or(PersistenceError::Corrupt { table: "organizations", column })
            };
            Ok(OrgRetention {
                org_id: OrgId(row.id),
                name: row.name,
                upload_retention_days: days("upload_retention_days", row.upload_retention_days)?,
                transcript_retention_days: days("transcript_retention_days", row.transcript_retention_days)?,
            })
        })
        .collect()
}

/// Up to `limit` of the organization's uploads that expired at `cutoff` (now minus the
/// retention), after `after` in id order.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn expired_uploads(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    cutoff: DateTime<Utc>,
    after: Option<UploadId>,
    limit: u64,
    candidates: Candidates,
) -> Result<Vec<ExpiredUpload>> {
    let mut query = uploads::Entity::find()
        .select_only()
        .column(uploads::Column::Id)
        .column(uploads::Column::StorageKey)
        .in_org(scope)
        .filter(upload_expired(cutoff));
    if let Some(after) = after {
        query = query.filter(uploads::Column::Id.gt(after.as_uuid()));
    }
    query = query.order_by_asc(uploads::Column::Id).limit(limit);
    if candidates == Candidates::Lock {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows: Vec<(uuid::Uuid, String)> = query.into_tuple().all(conn).await?;
    Ok(rows.into_iter().map(|(id, storage_key)| ExpiredUpload { id: UploadId(id), storage_key }).collect())
}

/// Deletes the upload's row if it is still expired at `cutoff`; `false` when it is gone already
/// or no longer expired. Runs made from it keep their rows (`runs.upload_id` becomes NULL).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, upload_id = %id), err(level = "debug"))]
pub async fn delete_upload(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: UploadId,
    cutoff: DateTime<Utc>,
) -> Result<bool> {
    let deleted = uploads::Entity::delete_many()
        .in_org(scope)
        .filter(uploads::Column::Id.eq(id.as_uuid()))
        .filter(upload_expired(cutoff))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Up to `limit` of the organization's calls whose transcript, summary or recording URL expired
/// at `cutoff` and is still stored, after `after` in id order.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn expired_calls(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    cutoff: DateTime<Utc>,
    after: Option<CallId>,
    limit: u64,
    candidates: Candidates,
) -> Result<Vec<CallId>> {
    let mut query = calls::Entity::find()
        .select_only()
        .column(calls::Column::Id)
        .in_org(scope)
        .filter(call_texts_expired(cutoff));
    if let Some(after) = after {
        query = query.filter(calls::Column::Id.gt(after.as_uuid()));
    }
    query = query.order_by_asc(calls::Column::Id).limit(limit);
    if candidates == Candidates::Lock {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let ids: Vec<uuid::Uuid> = query.into_tuple().all(conn).await?;
    Ok(ids.into_iter().map(CallId).collect())
}

/// How many of the organization's calls have texts that expired at `cutoff`.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn count_expired_calls(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    cutoff: DateTime<Utc>,
) -> Result<u64> {
    Ok(calls::Entity::find().in_org(scope).filter(call_texts_expired(cutoff)).count(conn).await?)
}

/// Clears the transcript, summary and recording URL (sealed, and the plaintext URL of calls
/// stored before sealing) of those of `ids` that are still expired at `cutoff`; returns how many
/// calls changed.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, calls = ids.len()), err(level = "debug"))]
pub async fn clear_call_texts(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    ids: &[CallId],
    cutoff: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let none = || Expr::value(Option::<Vec<u8>>::None);
    let cleared = calls::Entity::update_many()
        .col_expr(calls::Column::TranscriptSealed, none())
        .col_expr(calls::Column::SummarySealed, none())
        .col_expr(calls::Column::RecordingUrlSealed, none())
        .col_expr(calls::Column::RecordingUrl, Expr::value(Option::<String>::None))
        .col_expr(calls::Column::UpdatedAt, Expr::value(at))
        .in_org(scope)
        .filter(calls::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
        .filter(call_texts_expired(cutoff))
        .exec(conn)
        .await?;
    Ok(cleared.rows_affected)
}

/// `uploads.*` expired at `cutoff`: no run made from it is unfinished, no open campaign request
/// names it as its sample, and its last activity (its runs' latest finish, or its upload when it
/// has no run) is at or before `cutoff`.
fn upload_expired(cutoff: DateTime<Utc>) -> Condition {
    let of_this_upload =
        || Expr::col((runs::Entity, runs::Column::UploadId)).equals((uploads::Entity, uploads::Column::Id));
    let finished: Vec<&str> = RunStatus::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
    let unfinished_run = Query::select()
        .expr(Expr::val(1))
        .from(runs::Entity)
        .and_where(of_this_upload())
        .and_where(Expr::col((runs::Entity, runs::Column::Status)).is_not_in(finished))
        .to_owned();
    // A finished run always has `finished_at` (written with its final status); `updated_at` only
    // stands in should one ever lack it.
    let latest_finish = Query::select()
        .expr(Func::max(Func::coalesce([
            Expr::col((runs::Entity, runs::Column::FinishedAt)).into(),
            Expr::col((runs::Entity, runs::Column::UpdatedAt)).into(),
        ])))
        .from(runs::Entity)
        .and_where(of_this_upload())
        .to_owned();
    let last_activity = Func::coalesce([
        SimpleExpr::SubQuery(None, Box::new(latest_finish.into_sub_query_statement())),
        Expr::col((uploads::Entity, uploads::Column::CreatedAt)).into(),
    ]);
    let open = [CampaignRequestStatus::Pending, CampaignRequestStatus::InProgress].map(|s| s.as_str());
    let open_request_sample = Query::select()
        .expr(Expr::val(1))
        .from(campaign_requests::Entity)
        .and_where(
            Expr::col((campaign_requests::Entity, campaign_requests::Column::SampleUploadId))
                .equals((uploads::Entity, uploads::Column::Id)),
        )
        .and_where(Expr::col((campaign_requests::Entity, campaign_requests::Column::Status)).is_in(open))
        .to_owned();
    Condition::all()
        .add(Expr::exists(unfinished_run).not())
        .add(Expr::exists(open_request_sample).not())
        .add(Expr::expr(last_activity).lte(cutoff))
}

/// `calls.*` whose texts expired at `cutoff` and are still stored.
fn call_texts_expired(cutoff: DateTime<Utc>) -> Condition {
    let ended = Func::coalesce([
        Expr::col((calls::Entity, calls::Column::EndedAt)).into(),
        Expr::col((calls::Entity, calls::Column::CreatedAt)).into(),
    ]);
    Condition::all().add(Expr::expr(ended).lte(cutoff)).add(
        Condition::any()
            .add(calls::Column::TranscriptSealed.is_not_null())
            .add(calls::Column::SummarySealed.is_not_null())
            .add(calls::Column::RecordingUrlSealed.is_not_null())
            .add(calls::Column::RecordingUrl.is_not_null()),
    )
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;

    fn scope() -> OrgScope {
        OrgScope::for_verified_org(OrgId::new())
    }

    #[test]
    fn candidates_are_locked_skipping_rows_another_instance_holds_on_postgres_only() {
        let at = Utc::now();
        let locked = uploads::Entity::find()
            .filter(upload_expired(at))
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        let pg = locked.clone().build(DbBackend::Postgres).to_string();
        assert!(pg.ends_with("FOR UPDATE SKIP LOCKED"), "{pg}");
        let sqlite = locked.build(DbBackend::Sqlite).to_string();
        assert!(!sqlite.contains("FOR UPDATE"), "{sqlite}");
    }

    #[test]
    fn an_upload_with_an_unfinished_run_never_matches_and_finished_statuses_are_the_final_ones() {
        let sql = uploads::Entity::find()
            .in_org(&scope())
            .filter(upload_expired(Utc::now()))
            .build(DbBackend::Postgres)
            .to_string();
        assert!(
            sql.contains(r#"NOT EXISTS(SELECT 1 FROM "runs" WHERE "runs"."upload_id" = "uploads"."id" AND "runs"."status" NOT IN ('completed', 'cancelled', 'failed'))"#),
            "{sql}"
        );
        assert!(sql.contains(r#""campaign_requests"."status" IN ('pending', 'in_progress')"#), "{sql}");
    }
}
