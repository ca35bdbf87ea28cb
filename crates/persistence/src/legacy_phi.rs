//! PHI written before per-organization lookup keys and sealed call data (migration
//! `m20261205_000008_phi_at_rest`), brought up to date with the keys, which a migration does not
//! have.
//!
//! - Lookup keys of `patients` and `do_not_call` rows of [`LookupScheme::Shared`] are re-keyed to
//!   the organization's own ([`OrgIndexKeys::rekey`](crate::sealing::OrgIndexKeys::rekey): from the stored key alone, nothing opened).
//! - Plaintext `calls.recording_url`, `calls.analysis`, `run_rows.analysis` and
//!   `uploads.file_name` are sealed into their `_sealed` columns and the plaintext is cleared.
//! - Patients written before `mrn_key` and `name_dob_key` (migration
//!   `m20261205_000010_patient_contact_points`, `match_keys_pending`) get them, from their opened
//!   fields; nothing else of theirs changes. An MRN another patient of the organization already
//!   holds is left without a key: it cannot name one patient, and the unique index would refuse it
//!   (the older patient, first in id order, keeps it).
//!
//! [`upgrade`] runs at every server start, before it serves (a few indexed queries when nothing is
//! left). Rows go in batches, each batch one transaction, in id order: an interrupted upgrade
//! keeps the batches it committed and the next start does the rest. On PostgreSQL a batch locks
//! its rows with `SKIP LOCKED`, so instances starting together share the work instead of waiting.

use sea_orm::sea_query::{Condition, Expr, LockBehavior, LockType, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use crate::entities::{calls, do_not_call, patients, run_rows, uploads};
use crate::sealing::{Keys, LookupPurpose, LookupScheme};
use crate::Result;

/// Rows per transaction.
pub const BATCH: u64 = 500;

/// What one [`upgrade`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegacyReport {
    pub patients_rekeyed: u64,
    pub do_not_call_rekeyed: u64,
    pub calls_sealed: u64,
    pub run_rows_sealed: u64,
    pub uploads_sealed: u64,
    pub patients_match_keyed: u64,
}

impl LegacyReport {
    pub fn total(&self) -> u64 {
        self.patients_rekeyed
            + self.do_not_call_rekeyed
            + self.calls_sealed
            + self.run_rows_sealed
            + self.uploads_sealed
            + self.patients_match_keyed
    }
}

/// Brings every legacy row up to date, `batch` rows per transaction.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn upgrade(db: &DatabaseConnection, keys: &Keys, batch: u64) -> Result<LegacyReport> {
    let batch = batch.max(1);
    Ok(LegacyReport {
        patients_rekeyed: in_batches(db, keys, batch, Step::Patients).await?,
        do_not_call_rekeyed: in_batches(db, keys, batch, Step::DoNotCall).await?,
        calls_sealed: in_batches(db, keys, batch, Step::Calls).await?,
        run_rows_sealed: in_batches(db, keys, batch, Step::RunRows).await?,
        uploads_sealed: in_batches(db, keys, batch, Step::Uploads).await?,
        patients_match_keyed: in_batches(db, keys, batch, Step::PatientMatchKeys).await?,
    })
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Patients,
    DoNotCall,
    Calls,
    RunRows,
    Uploads,
    PatientMatchKeys,
}

/// One batch: the last row it looked at (`None`: nothing left after `after`), and how many rows
/// it changed.
struct Batch {
    last: Option<Uuid>,
    changed: u64,
}

async fn in_batches(db: &DatabaseConnection, keys: &Keys, batch: u64, step: Step) -> Result<u64> {
    let mut after = None;
    let mut changed = 0;
    loop {
        let txn = db.begin().await?;
        let done = match step {
            Step::Patients => rekey_patients(&txn, keys, after, batch).await?,
            Step::DoNotCall => rekey_do_not_call(&txn, keys, after, batch).await?,
            Step::Calls => seal_calls(&txn, keys, after, batch).await?,
            Step::RunRows => seal_run_rows(&txn, keys, after, batch).await?,
            Step::Uploads => seal_uploads(&txn, keys, after, batch).await?,
            Step::PatientMatchKeys => key_patient_matches(&txn, keys, after, batch).await?,
        };
        txn.commit().await?;
        changed += done.changed;
        match done.last {
            Some(last) => after = Some(last),
            None => return Ok(changed),
        }
    }
}

/// The next `batch` rows of `E` matching `pending`, after `after` in id order, locked (PostgreSQL:
/// skipping rows another instance holds).
async fn next_rows<E, C>(
    conn: &C,
    id: E::Column,
    pending: Condition,
    after: Option<Uuid>,
    batch: u64,
) -> Result<Vec<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut query = E::find().filter(pending);
    if let Some(after) = after {
        query = query.filter(id.gt(after));
    }
    Ok(query
        .order_by_asc(id)
        .limit(batch)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(conn)
        .await?)
}

async fn rekey_patients(
    txn: &DatabaseTransaction,
    keys: &Keys,
    after: Option<Uuid>,
    batch: u64,
) -> Result<Batch> {
    let shared = Condition::all().add(patients::Column::LookupScheme.eq(LookupScheme::Shared.code()));
    let rows = next_rows::<patients::Entity, _>(txn, patients::Column::Id, shared, after, batch).await?;
    let last = rows.last().map(|r| r.id);
    let changed = rows.len() as u64;
    for row in rows {
        let org = keys.index.for_org(row.org_id);
        patients::Entity::update_many()
            .col_expr(
                patients::Column::IdentityKey,
                Expr::value(org.rekey(LookupPurpose::Identity, &row.identity_key)),
            )
            .col_expr(
                patients::Column::PhoneKey,
                Expr::value(org.rekey(LookupPurpose::Phone, &row.phone_key)),
            )
            .col_expr(
                patients::Column::SecondaryPhoneKey,
                Expr::value(row.secondary_phone_key.map(|key| org.rekey(LookupPurpose::Phone, &key))),
            )
            .col_expr(patients::Column::LookupScheme, Expr::value(LookupScheme::PerOrganization.code()))
            .filter(patients::Column::Id.eq(row.id))
            .filter(patients::Column::LookupScheme.eq(LookupScheme::Shared.code()))
            .exec(txn)
            .await?;
    }
    Ok(Batch { last, changed })
}

async fn rekey_do_not_call(
    txn: &DatabaseTransaction,
    keys: &Keys,
    after: Option<Uuid>,
    batch: u64,
) -> Result<Batch> {
    let shared = Condition::all().add(do_not_call::Column::LookupScheme.eq(LookupScheme::Shared.code()));
    let rows =
        next_rows::<do_not_call::Entity, _>(txn, do_not_call::Column::Id, shared, after, batch).await?;
    let last = rows.last().map(|r| r.id);
    let changed = rows.len() as u64;
    for row in rows {
        let key = keys.index.for_org(row.org_id).rekey(LookupPurpose::Phone, &row.phone_key);
        do_not_call::Entity::update_many()
            .col_expr(do_not_call::Column::PhoneKey, Expr::value(key))
            .col_expr(do_not_call::Column::LookupScheme, Expr::value(LookupScheme::PerOrganization.code()))
            .filter(do_not_call::Column::Id.eq(row.id))
            .filter(do_not_call::Column::LookupScheme.eq(LookupScheme::Shared.code()))
            .exec(txn)
            .await?;
    }
    Ok(Batch { last, changed })
}

async fn seal_calls(
    txn: &DatabaseTransaction,
    keys: &Keys,
    after: Option<Uuid>,
    batch: u64,
) -> Result<Batch> {
    let plaintext = Condition::any()
        .add(calls::Column::RecordingUrl.is_not_null())
        .add(calls::Column::Analysis.is_not_null());
    let rows = next_rows::<calls::Entity, _>(txn, calls::Column::Id, plaintext, after, batch).await?;
    let last = rows.last().map(|r| r.id);
    let changed = rows.len() as u64;
    for row in rows {
        let mut update = calls::Entity::update_many()
            .col_expr(calls::Column::RecordingUrl, Expr::value(Option::<String>::None))
            .col_expr(calls::Column::Analysis, Expr::value(Option::<serde_json::Value>::None));
        // A sealed value written since wins over the stale plaintext one.
        if let (Some(url), None) = (&row.recording_url, &row.recording_url_sealed) {
            let sealed = keys.sealer.seal_str(&crate::calls::aad(row.id, "recording_url_sealed"), url)?;
            update = update.col_expr(calls::Column::RecordingUrlSealed, Expr::value(sealed));
        }
        if let (Some(analysis), None) = (&row.analysis, &row.analysis_sealed) {
            let sealed = keys.sealer.seal_json(&crate::calls::aad(row.id, "analysis_sealed"), analysis)?;
            update = update.col_expr(calls::Column::AnalysisSealed, Expr::value(sealed));
        }
        update.filter(calls::Column::Id.eq(row.id)).exec(txn).await?;
    }
    Ok(Batch { last, changed })
}

async fn seal_run_rows(
    txn: &DatabaseTransaction,
    keys: &Keys,
    after: Option<Uuid>,
    batch: u64,
) -> Result<Batch> {
    let plaintext = Condition::all().add(run_rows::Column::Analysis.is_not_null());
    let rows = next_rows::<run_rows::Entity, _>(txn, run_rows::Column::Id, plaintext, after, batch).await?;
    let last = rows.last().map(|r| r.id);
    let changed = rows.len() as u64;
    for row in rows {
        let mut update = run_rows::Entity::update_many()
            .col_expr(run_rows::Column::Analysis, Expr::value(Option::<serde_json::Value>::None));
        if let (Some(analysis), None) = (&row.analysis, &row.analysis_sealed) {
            let sealed = keys.sealer.seal_json(&crate::run_rows::aad(row.id, "analysis_sealed"), analysis)?;
            update = update.col_expr(run_rows::Column::AnalysisSealed, Expr::value(sealed));
        }
        update.filter(run_rows::Column::Id.eq(row.id)).exec(txn).await?;
    }
    Ok(Batch { last, changed })
}

async fn seal_uploads(
    txn: &DatabaseTransaction,
    keys: &Keys,
    after: Option<Uuid>,
    batch: u64,
) -> Result<Batch> {
    let plaintext = Condition::all().add(uploads::Column::FileName.ne(""));
    let rows = next_rows::<uploads::Entity, _>(txn, uploads::Column::Id, plaintext, after, batch).await?;
    let last = rows.last().map(|r| r.id);
    let changed = rows.len() as u64;
    for row in rows {
        let mut update = uploads::Entity::update_many().col_expr(uploads::Column::FileName, Expr::value(""));
        if row.file_name_sealed.is_none() {
            let sealed = keys.sealer.seal_str(&crate::uploads::file_name_aad(row.id), &row.file_name)?;
            update = update.col_expr(uploads::Column::FileNameSealed, Expr::value(sealed));
        }
        update.filter(uploads::Column::Id.eq(row.id)).exec(txn).await?;
    }
    Ok(Batch { last, changed })
}

async fn key_patient_matches(
    txn: &DatabaseTransaction,
    keys: &Keys,
    after: Option<Uuid>,
    batch: u64,
) -> Result<Batch> {
    // The bare column, as the partial index `ix_patients_match_keys_pending` states it: SQLite
    // uses a partial index only for a query term that matches its predicate.
    let pending = Condition::all()
        .add(SimpleExpr::from(Expr::col((patients::Entity, patients::Column::MatchKeysPending))));
    let rows = next_rows::<patients::Entity, _>(txn, patients::Column::Id, pending, after, batch).await?;
    let last = rows.last().map(|r| r.id);
    let changed = rows.len() as u64;
    for row in rows {
        let (id, org_id) = (row.id, row.org_id);
        let (mut mrn_key, name_dob_key) = crate::patients::match_keys_of(keys, row)?;
        if let Some(key) = &mrn_key {
            let taken = patients::Entity::find()
                .select_only()
                .column(patients::Column::Id)
                .filter(patients::Column::OrgId.eq(org_id))
                .filter(patients::Column::MrnKey.eq(key.as_str()))
                .into_tuple::<Uuid>()
                .one(txn)
                .await?;
            if taken.is_some() {
                mrn_key = None;
            }
        }
        patients::Entity::update_many()
            .col_expr(patients::Column::MrnKey, Expr::value(mrn_key))
            .col_expr(patients::Column::NameDobKey, Expr::value(name_dob_key))
            .col_expr(patients::Column::MatchKeysPending, Expr::value(false))
            .filter(patients::Column::Id.eq(id))
            .filter(patients::Column::MatchKeysPending.eq(true))
            .exec(txn)
            .await?;
    }
    Ok(Batch { last, changed })
}

#[cfg(test)]
mod tests {
    use rivvi_domain::ids::UploadId;
    use sea_orm::ActiveValue::Set;
    use sea_orm::DatabaseConnection;
    use serde_json::json;

    use super::*;
    use crate::calls::tests::{call, fixture};
    use crate::testing::on_each_backend;
    use crate::uploads as upload_repo;
    use crate::{
        calls as call_repo, do_not_call as dnc_repo, patients as patient_repo, run_rows as row_repo,
    };

    const PHONE: &str = "+13125550143";

    /// Writes `patch` over its row, as a server of the earlier version left it.
    async fn rewrite<A>(db: &DatabaseConnection, patch: A)
    where
        A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
    {
        patch.update(db).await.unwrap();
    }

    #[tokio::test]
    async fn rows_of_the_earlier_format_are_rekeyed_and_sealed_and_a_rerun_finds_nothing() {
        on_each_backend(|db| async move {
            // Arrange: one row of every kind, written the way the earlier version wrote them.
            let f = fixture(&db, "org_legacy").await;
            let shared = |purpose, value: &str| f.keys.index.shared_key(purpose, value);
            let canonical = "ada lovelace org_legacy";
            rewrite(
                &db,
                patients::ActiveModel {
                    id: Set(f.patient.as_uuid()),
                    identity_key: Set(shared(LookupPurpose::Identity, canonical)),
                    phone_key: Set(shared(LookupPurpose::Phone, PHONE)),
                    lookup_scheme: Set(LookupScheme::Shared.code()),
                    ..Default::default()
                },
            )
            .await;
            let listed = dnc_repo::add(&db, &f.scope, &f.keys, PHONE, "asked", None, f.t0).await.unwrap();
            rewrite(
                &db,
                do_not_call::ActiveModel {
                    id: Set(listed.id),
                    phone_key: Set(shared(LookupPurpose::Phone, PHONE)),
                    lookup_scheme: Set(LookupScheme::Shared.code()),
                    ..Default::default()
                },
            )
            .await;
            let placed = call(&db, &f, 0, 1, true, 0).await.unwrap();
            rewrite(
                &db,
                calls::ActiveModel {
                    id: Set(placed.id.as_uuid()),
                    recording_url: Set(Some("https://rec.example/ada.wav".into())),
                    analysis: Set(Some(json!({"appt_confirmed": true}))),
                    ..Default::default()
                },
            )
            .await;
            rewrite(
                &db,
                run_rows::ActiveModel {
                    id: Set(f.rows[1].as_uuid()),
                    analysis: Set(Some(json!({"appt_confirmed": false}))),
                    ..Default::default()
                },
            )
            .await;
            let upload_id = UploadId::new();
            let new_upload = upload_repo::NewUpload {
                id: upload_id,
                uploaded_by: None,
                file_name: "Lovelace, Ada.xlsx".into(),
                media_type: "text/csv".into(),
                size_bytes: 10,
                sha256: "ab".repeat(32),
                storage_key: format!("orgs/{}/uploads/{upload_id}", f.scope.org_id()),
            };
            upload_repo::find_or_create(&db, &f.scope, &f.keys, new_upload).await.unwrap();
            rewrite(
                &db,
                uploads::ActiveModel {
                    id: Set(upload_id.as_uuid()),
                    file_name: Set("Lovelace, Ada.xlsx".into()),
                    file_name_sealed: Set(None),
                    ..Default::default()
                },
            )
            .await;
            // Shared keys are not the organization's: nothing is found by them.
            assert!(patient_repo::find_by_phone(&db, &f.scope, &f.keys, PHONE).await.unwrap().is_empty());
            assert!(!dnc_repo::contains(&db, &f.scope, &f.keys, PHONE).await.unwrap());

            // Act: one row per transaction, so batching and resumption are exercised.
            let report = upgrade(&db, &f.keys, 1).await.unwrap();
            let again = upgrade(&db, &f.keys, BATCH).await.unwrap();

            // Assert
            assert_eq!(
                report,
                LegacyReport {
                    patients_rekeyed: 1,
                    do_not_call_rekeyed: 1,
                    calls_sealed: 1,
                    run_rows_sealed: 1,
                    uploads_sealed: 1,
                    patients_match_keyed: 0
                }
            );
            assert_eq!(again.total(), 0, "a rerun has nothing left to do");
            let found = patient_repo::find_by_phone(&db, &f.scope, &f.keys, PHONE).await.unwrap();
            assert_eq!(found.iter().map(|p| p.id).collect::<Vec<_>>(), vec![f.patient]);
            let identity = patient_repo::PatientIdentity {
                canonical: canonical.into(),
                fields: found[0].fields.clone(),
            };
            let (same, created) =
                patient_repo::find_or_create(&db, &f.scope, &f.keys, &identity).await.unwrap();
            assert_eq!((same.id, created), (f.patient, false), "found by identity, not created again");
            assert!(dnc_repo::contains(&db, &f.scope, &f.keys, PHONE).await.unwrap());

            let content = call_repo::get_content(&db, &f.scope, &f.keys, placed.id).await.unwrap();
            assert_eq!(content.recording_url.as_deref(), Some("https://rec.example/ada.wav"));
            assert_eq!(content.analysis, Some(json!({"appt_confirmed": true})));
            // (The fixture's rows hold no real cells, so the analysis is opened on its own.)
            let stored_row =
                run_rows::Entity::find_by_id(f.rows[1].as_uuid()).one(&db).await.unwrap().unwrap();
            let analysis =
                row_repo::open_analysis(&f.keys, stored_row.id, stored_row.analysis_sealed.as_deref(), None);
            assert_eq!(analysis.unwrap(), Some(json!({"appt_confirmed": false})));
            assert_eq!(stored_row.analysis, None);
            let upload = upload_repo::get(&db, &f.scope, &f.keys, upload_id).await.unwrap();
            assert_eq!(upload.file_name, "Lovelace, Ada.xlsx");

            // No plaintext is left behind.
            let stored_call = calls::Entity::find_by_id(placed.id.as_uuid()).one(&db).await.unwrap().unwrap();
            assert_eq!((stored_call.recording_url, stored_call.analysis), (None, None));
            let stored_upload =
                uploads::Entity::find_by_id(upload_id.as_uuid()).one(&db).await.unwrap().unwrap();
            assert_eq!(stored_upload.file_name, "");
        })
        .await;
    }
}
