//! Retention (issue 15): the maintenance step that deletes what each organization's retention
//! settings say has expired, and the background worker that runs it.
//!
//! Per organization, in one transaction: every expired upload's stored object is deleted, then
//! its row (runs made from it keep every cell; `runs.upload_id` becomes NULL); every expired
//! call's transcript, summary and recording URL are cleared (its analysis stays, for analytics);
//! then one system audit entry names the counts and the deleted uploads' ids, never PHI. What
//! expires when is `rivvi_persistence::retention`'s to say.
//!
//! The object goes before the row, so a failure in between leaves a row whose object is missing
//! (the next pass deletes the row; deleting a missing object succeeds), never a stored sheet that
//! no row names and nothing would delete. An object that cannot be deleted keeps its row, is
//! counted as kept and logged, and is tried again by the next pass.
//!
//! `now` is a parameter: the worker passes the application clock, so tests move a manual clock
//! across the retention periods; `rivvi purge` passes the wall clock.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::{CallId, OrgId, UploadId};
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
use rivvi_persistence::retention::{self, Candidates, OrgRetention, BATCH};
use rivvi_persistence::{OrgScope, PersistenceError};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::state::AppState;
use crate::storage::SealedStore;

/// How the system actor of the audit entries is labelled.
pub const ACTOR_LABEL: &str = "retention";

/// What one pass deleted (or, in a dry run, would delete): ids and counts, never PHI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// Nothing was changed: the report says what a purge at the same moment would do.
    pub dry_run: bool,
    /// Every organization, in name order, including those with nothing to purge.
    pub organizations: Vec<OrgPurge>,
}

/// One organization's part of a [`PurgeReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPurge {
    pub org_id: OrgId,
    pub name: String,
    pub upload_retention_days: u32,
    pub transcript_retention_days: u32,
    /// Uploads deleted (object and row), in id order.
    pub uploads: Vec<UploadId>,
    /// Expired uploads whose object could not be deleted: kept, tried again next pass.
    pub uploads_kept: u64,
    /// Calls whose transcript, summary and recording URL were cleared.
    pub calls_cleared: u64,
}

impl OrgPurge {
    /// Whether the pass deleted or cleared anything here.
    pub fn changed_anything(&self) -> bool {
        !self.uploads.is_empty() || self.calls_cleared > 0
    }
}

impl PurgeReport {
    pub fn uploads(&self) -> usize {
        self.organizations.iter().map(|org| org.uploads.len()).sum()
    }

    pub fn uploads_kept(&self) -> u64 {
        self.organizations.iter().map(|org| org.uploads_kept).sum()
    }

    pub fn calls_cleared(&self) -> u64 {
        self.organizations.iter().map(|org| org.calls_cleared).sum()
    }
}

/// What a pass can fail with. Messages name organizations by id, never data.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    // internal
    #[error("reading the organizations' retention settings")]
    Settings(#[source] PersistenceError),
    /// The organization's transaction was rolled back: objects already deleted stay deleted,
    /// their rows are deleted by the next pass.
    #[error("purging organization {org_id}")]
    Organization {
        org_id: OrgId,
        #[source]
        source: PersistenceError,
    },
}

/// One pass over every organization at `now`, with the application's database and storage.
pub async fn purge(
    state: &AppState,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<PurgeReport, RetentionError> {
    purge_with(&state.db, &state.storage, now, dry_run).await
}

/// [`purge`] for callers without an [`AppState`] (`rivvi purge`). An organization whose
/// transaction fails stops the pass: those before it are committed, it and those after are left
/// for the next pass.
#[tracing::instrument(skip_all, fields(dry_run = dry_run), err)]
pub async fn purge_with(
    db: &DatabaseConnection,
    storage: &SealedStore,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<PurgeReport, RetentionError> {
    let policies = retention::organizations(db).await.map_err(RetentionError::Settings)?;
    let mut organizations = Vec::with_capacity(policies.len());
    for policy in policies {
        let org_id = policy.org_id;
        let done =
            if dry_run { look(db, &policy, now).await } else { purge_org(db, storage, &policy, now).await };
        organizations.push(done.map_err(|source| RetentionError::Organization { org_id, source })?);
    }
    Ok(PurgeReport { dry_run, organizations })
}

/// The cut-off of a retention of `days` at `now`: what ended at or before it has expired.
fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - TimeDelta::days(i64::from(days))
}

fn empty(policy: &OrgRetention) -> OrgPurge {
    OrgPurge {
        org_id: policy.org_id,
        name: policy.name.clone(),
        upload_retention_days: policy.upload_retention_days,
        transcript_retention_days: policy.transcript_retention_days,
        uploads: Vec::new(),
        uploads_kept: 0,
        calls_cleared: 0,
    }
}

/// A dry run: what [`purge_org`] would delete, read without locking or changing anything.
async fn look(
    db: &DatabaseConnection,
    policy: &OrgRetention,
    now: DateTime<Utc>,
) -> Result<OrgPurge, PersistenceError> {
    let scope = OrgScope::for_verified_org(policy.org_id);
    let mut report = empty(policy);
    let uploads_cutoff = cutoff(now, policy.upload_retention_days);
    let mut after = None;
    loop {
        let batch =
            retention::expired_uploads(db, &scope, uploads_cutoff, after, BATCH, Candidates::Look).await?;
        after = batch.last().map(|upload| upload.id);
        report.uploads.extend(batch.iter().map(|upload| upload.id));
        if (batch.len() as u64) < BATCH {
            break;
        }
    }
    let calls_cutoff = cutoff(now, policy.transcript_retention_days);
    report.calls_cleared = retention::count_expired_calls(db, &scope, calls_cutoff).await?;
    Ok(report)
}

/// Deletes and clears what expired in one organization, with its audit entry, in one transaction.
#[tracing::instrument(skip_all, fields(org_id = %policy.org_id), err)]
async fn purge_org(
    db: &DatabaseConnection,
    storage: &SealedStore,
    policy: &OrgRetention,
    now: DateTime<Utc>,
) -> Result<OrgPurge, PersistenceError> {
    let scope = OrgScope::for_verified_org(policy.org_id);
    let mut report = empty(policy);
    let txn = db.begin().await?;

    let uploads_cutoff = cutoff(now, policy.upload_retention_days);
    let mut after = None;
    loop {
        let batch =
            retention::expired_uploads(&txn, &scope, uploads_cutoff, after, BATCH, Candidates::Lock).await?;
        after = batch.last().map(|upload| upload.id);
        for upload in &batch {
            if let Err(err) = storage.delete(&upload.storage_key).await {
                report.uploads_kept += 1;
                tracing::warn!(
                    upload_id = %upload.id,
                    key = %upload.storage_key,
                    error = %anyhow::Error::new(err),
                    "retention: the expired upload's object could not be deleted; kept for the next pass"
                );
                continue;
            }
            if retention::delete_upload(&txn, &scope, upload.id, uploads_cutoff).await? {
                report.uploads.push(upload.id);
            }
        }
        if (batch.len() as u64) < BATCH {
            break;
        }
    }

    let calls_cutoff = cutoff(now, policy.transcript_retention_days);
    let mut after: Option<CallId> = None;
    loop {
        let batch =
            retention::expired_calls(&txn, &scope, calls_cutoff, after, BATCH, Candidates::Lock).await?;
        after = batch.last().copied();
        report.calls_cleared += retention::clear_call_texts(&txn, &scope, &batch, calls_cutoff, now).await?;
        if (batch.len() as u64) < BATCH {
            break;
        }
    }

    if report.changed_anything() {
        record(&txn, &report).await?;
        tracing::info!(
            org_id = %policy.org_id,
            uploads_deleted = report.uploads.len(),
            uploads_kept = report.uploads_kept,
            calls_cleared = report.calls_cleared,
            "retention: expired uploads deleted and call texts cleared"
        );
    }
    txn.commit().await?;
    Ok(report)
}

/// The organization's one audit entry of this pass: counts, the settings applied and the ids of
/// the deleted uploads; no call ids (there may be many) and never a value.
async fn record(conn: &impl ConnectionTrait, report: &OrgPurge) -> Result<(), PersistenceError> {
    let action = AuditAction::RetentionPurged;
    let mut details = vec![
        format!("uploads_deleted={}", report.uploads.len()),
        format!("calls_cleared={}", report.calls_cleared),
        format!("upload_retention_days={}", report.upload_retention_days),
        format!("transcript_retention_days={}", report.transcript_retention_days),
    ];
    details.extend(report.uploads.iter().map(|id| format!("upload:{id}")));
    audit::record(
        conn,
        AuditRecord {
            org: Some(report.org_id),
            actor: AuditActor::System { label: ACTOR_LABEL.to_owned() },
            action: action.as_str().to_owned(),
            entity_type: action.entity().to_owned(),
            entity_id: None,
            changed_fields: details,
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

/// Runs [`purge`] every `every` (the first pass at once) until `shutdown` resolves. A failed pass
/// is logged and the next one tries again; it never stops the worker.
pub fn spawn<F>(state: AppState, every: Duration, shutdown: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        let mut ticks = tokio::time::interval(every);
        // After a long pass, wait a whole period again rather than catching up at once.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => {
                    let now = state.clock.now();
                    if let Err(err) = purge(&state, now, false).await {
                        tracing::error!(error = ?anyhow::Error::new(err), "retention pass failed; retried next period");
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn what_ended_exactly_the_retention_ago_has_expired_and_a_moment_later_has_not() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 12, 0, 0).unwrap();
        assert_eq!(cutoff(now, 30), Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap());
        assert_eq!(cutoff(now, 365), Utc.with_ymd_and_hms(2025, 12, 31, 12, 0, 0).unwrap());
    }
}
