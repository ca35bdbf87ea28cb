//! Uploaded files of one organization: what was stored where, with its size and SHA-256.
//!
//! The bytes live in object storage under `storage_key`; this table is the index. A file is
//! recognised as uploaded before by its hash within the organization ([`find_by_sha256`]), and
//! the database holds one upload per hash per organization (`ux_uploads_org_id_sha256`):
//! [`find_or_create`] answers a repeated file, even one racing its twin, with the first upload.
//! File names may hold PHI (`smith_john_referrals.xlsx`): they are never logged here.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{OrgId, UploadId, UserId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use crate::entities::uploads;
use crate::org_owned::{update_row, InOrg};
use crate::sealing::{Aad, Keys};
use crate::time::now;
use crate::{OrgScope, PersistenceError, Result};

/// Where an upload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UploadStatus {
    /// The bytes are in object storage and recorded here; nothing has read them yet.
    Stored,
    /// A run was created from it.
    Ingested,
    /// Ingestion refused it (unreadable, empty, too many rows).
    Rejected,
}

impl UploadStatus {
    pub const ALL: &'static [UploadStatus] =
        &[UploadStatus::Stored, UploadStatus::Ingested, UploadStatus::Rejected];

    /// The stored string.
    pub const fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Stored => "stored",
            UploadStatus::Ingested => "ingested",
            UploadStatus::Rejected => "rejected",
        }
    }
}

impl fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UploadStatus {
    type Err = PersistenceError;

    fn from_str(s: &str) -> Result<Self> {
        UploadStatus::ALL
            .iter()
            .copied()
            .find(|status| status.as_str() == s)
            .ok_or(PersistenceError::Corrupt { table: "uploads", column: "status" })
    }
}

/// An upload as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: UploadId,
    pub org_id: OrgId,
    pub uploaded_by: Option<UserId>,
    /// As the client named it (may hold PHI: never log it).
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: u64,
    /// Lowercase hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// The object storage key (`orgs/<org id>/uploads/<upload id>`).
    pub storage_key: String,
    pub status: UploadStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An upload to record; `id` is chosen by the caller, which stored the bytes under a key derived
/// from it before recording them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub id: UploadId,
    pub uploaded_by: Option<UserId>,
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub storage_key: String,
}

/// Records an upload (status `stored`) in the organization, unless the organization already has
/// an upload with the same SHA-256: then that one is returned and nothing is written. `true` when
/// `new` was recorded.
///
/// Two identical uploads racing each other resolve to one record: the loser's insert does nothing
/// (`ON CONFLICT (org_id, sha256) DO NOTHING`, which on PostgreSQL waits for the winner's
/// transaction) and the winner's upload is read back (visible at READ COMMITTED, the default).
/// The loser's caller still holds its own stored object and must delete it. A storage key used
/// before is a `Conflict` on [`crate::constraints::UPLOADS_STORAGE_KEY`].
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, upload_id = %new.id), err(level = "debug"))]
pub async fn find_or_create(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    new: NewUpload,
) -> Result<(UploadRecord, bool)> {
    if let Some(existing) = find_by_sha256(conn, scope, keys, &new.sha256).await? {
        return Ok((existing, false));
    }
    let size_bytes = i64::try_from(new.size_bytes)
        .map_err(|_| PersistenceError::Invalid { field: "size_bytes", reason: "too large".into() })?;
    let at = now();
    let id = new.id.as_uuid();
    let row = uploads::Model {
        id,
        org_id: scope.org_id().as_uuid(),
        uploaded_by: new.uploaded_by.map(|user| user.as_uuid()),
        // Sealed only: the plaintext column is for uploads recorded before names were sealed.
        file_name: String::new(),
        file_name_sealed: Some(keys.sealer.seal_str(&file_name_aad(id), &new.file_name)?),
        media_type: new.media_type,
        size_bytes,
        sha256: new.sha256.to_ascii_lowercase(),
        storage_key: new.storage_key,
        status: UploadStatus::Stored.as_str().to_owned(),
        created_at: at,
        updated_at: at,
    };
    let inserted = uploads::Entity::insert(uploads::ActiveModel::from(row.clone()))
        .on_conflict(
            OnConflict::columns([uploads::Column::OrgId, uploads::Column::Sha256]).do_nothing().to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    if inserted > 0 {
        return Ok((open(keys, row)?, true));
    }
    match find_by_sha256(conn, scope, keys, &row.sha256).await? {
        Some(existing) => Ok((existing, false)),
        // The winner's upload is gone again already (deleted in between): let the client retry.
        None => Err(PersistenceError::Conflict { constraint: UPLOADS_ORG_ID_SHA256.to_owned() }),
    }
}

/// The unique index that holds one upload per file per organization.
pub const UPLOADS_ORG_ID_SHA256: &str = "ux_uploads_org_id_sha256";

/// The organization's upload with this SHA-256 (lowercase or uppercase hex), if any.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn find_by_sha256(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    sha256: &str,
) -> Result<Option<UploadRecord>> {
    uploads::Entity::find()
        .in_org(scope)
        .filter(uploads::Column::Sha256.eq(sha256.to_ascii_lowercase()))
        .order_by_asc(uploads::Column::CreatedAt)
        .order_by_asc(uploads::Column::Id)
        .one(conn)
        .await?
        .map(|row| open(keys, row))
        .transpose()
}

/// One upload of the organization; an upload of another organization is not found.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, upload_id = %id), err(level = "debug"))]
pub async fn get(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: UploadId,
) -> Result<UploadRecord> {
    let row = uploads::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("upload", id))?;
    open(keys, row)
}

/// Sets an upload's status and returns it as stored.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, upload_id = %id, status = %status), err(level = "debug"))]
pub async fn mark_status(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: UploadId,
    status: UploadStatus,
) -> Result<UploadRecord> {
    let change = uploads::ActiveModel {
        status: Set(status.as_str().to_owned()),
        updated_at: Set(now()),
        ..Default::default()
    };
    update_row(conn, scope, uploads::Entity::update_many().set(change), "upload", id.as_uuid()).await?;
    get(conn, scope, keys, id).await
}

/// AAD of an upload's sealed file name.
pub(crate) fn file_name_aad(upload_id: Uuid) -> Aad<'static> {
    Aad { table: "uploads", column: "file_name_sealed", row_id: upload_id }
}

fn open(keys: &Keys, row: uploads::Model) -> Result<UploadRecord> {
    let file_name = match &row.file_name_sealed {
        Some(sealed) => keys.sealer.open_string(&file_name_aad(row.id), sealed)?,
        // Recorded before file names were sealed and not moved yet (see `maintenance`).
        None => row.file_name,
    };
    Ok(UploadRecord {
        id: UploadId(row.id),
        org_id: OrgId(row.org_id),
        uploaded_by: row.uploaded_by.map(UserId),
        file_name,
        media_type: row.media_type,
        size_bytes: u64::try_from(row.size_bytes)
            .map_err(|_| PersistenceError::Corrupt { table: "uploads", column: "size_bytes" })?,
        sha256: row.sha256,
        storage_key: row.storage_key,
        status: row.status.parse()?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity;
    use crate::testing::on_each_backend;

    async fn org(db: &sea_orm::DatabaseConnection, clerk_id: &str) -> OrgScope {
        let org = identity::upsert_org_by_clerk_id(db, clerk_id, None, None, false).await.unwrap();
        OrgScope::for_verified_org(org.id)
    }

    fn keys() -> Keys {
        // One key pair for the whole test process: records read back must open.
        static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
        KEYS.get_or_init(|| Keys::generate().unwrap()).clone()
    }

    fn new_upload(scope: &OrgScope, sha256: &str) -> NewUpload {
        let id = UploadId::new();
        NewUpload {
            id,
            uploaded_by: None,
            file_name: "patients.csv".into(),
            media_type: "text/csv".into(),
            size_bytes: 1234,
            sha256: sha256.into(),
            storage_key: format!("orgs/{}/uploads/{id}", scope.org_id()),
        }
    }

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[tokio::test]
    async fn a_created_upload_reads_back_as_returned() {
        on_each_backend(|db| async move {
            let scope = org(&db, "org_a").await;

            let (created, new) = find_or_create(&db, &scope, &keys(), new_upload(&scope, SHA)).await.unwrap();

            assert!(new);
            assert_eq!(created.status, UploadStatus::Stored);
            assert_eq!(created.size_bytes, 1234);
            assert_eq!(get(&db, &scope, &keys(), created.id).await.unwrap(), created);
        })
        .await;
    }

    #[tokio::test]
    async fn an_upload_is_found_by_hash_only_in_its_own_organization() {
        on_each_backend(|db| async move {
            let a = org(&db, "org_a").await;
            let b = org(&db, "org_b").await;
            let (first, _) = find_or_create(&db, &a, &keys(), new_upload(&a, SHA)).await.unwrap();

            let again = find_or_create(&db, &a, &keys(), new_upload(&a, &SHA.to_uppercase())).await.unwrap();
            let (other, other_new) = find_or_create(&db, &b, &keys(), new_upload(&b, SHA)).await.unwrap();

            assert_eq!(again, (first.clone(), false), "the same file again is the first upload");
            assert!(other_new && other.id != first.id, "another organization's file is its own");
            assert_eq!(
                find_by_sha256(&db, &a, &keys(), &SHA.to_uppercase()).await.unwrap(),
                Some(first.clone())
            );
            assert_eq!(find_by_sha256(&db, &b, &keys(), SHA).await.unwrap(), Some(other));
            let err = get(&db, &b, &keys(), first.id).await.unwrap_err();
            assert!(matches!(err, PersistenceError::NotFound { entity: "upload", .. }), "{err}");
        })
        .await;
    }

    /// The loser of two identical uploads racing each other gets the winner's record instead of
    /// an error. On PostgreSQL the loser's lookup runs before the winner commits, so its insert
    /// meets the unique index; SQLite's single connection serialises the two.
    #[tokio::test]
    async fn racing_identical_uploads_resolve_to_one_record() {
        on_each_backend(|db| async move {
            use sea_orm::TransactionTrait;
            let a = org(&db, "org_a").await;
            let winner = db.begin().await.unwrap();
            let (won, won_new) = find_or_create(&winner, &a, &keys(), new_upload(&a, SHA)).await.unwrap();

            let loser = tokio::spawn({
                let db = db.clone();
                let new = new_upload(&a, SHA);
                async move {
                    let txn = db.begin().await.unwrap();
                    let outcome = find_or_create(&txn, &a, &keys(), new).await;
                    txn.commit().await.unwrap();
                    outcome
                }
            });
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            winner.commit().await.unwrap();
            let (lost, lost_new) = loser.await.unwrap().unwrap();

            assert!(won_new && !lost_new);
            assert_eq!(lost, won);
            assert_eq!(find_by_sha256(&db, &a, &keys(), SHA).await.unwrap(), Some(won));
        })
        .await;
    }

    #[tokio::test]
    async fn the_status_changes_only_within_the_organization() {
        on_each_backend(|db| async move {
            let a = org(&db, "org_a").await;
            let b = org(&db, "org_b").await;
            let (upload, _) = find_or_create(&db, &a, &keys(), new_upload(&a, SHA)).await.unwrap();

            let other = mark_status(&db, &b, &keys(), upload.id, UploadStatus::Rejected).await.unwrap_err();
            let marked = mark_status(&db, &a, &keys(), upload.id, UploadStatus::Ingested).await.unwrap();

            assert!(matches!(other, PersistenceError::NotFound { .. }), "{other}");
            assert_eq!(marked.status, UploadStatus::Ingested);
            assert_eq!(get(&db, &a, &keys(), upload.id).await.unwrap().status, UploadStatus::Ingested);
        })
        .await;
    }

    #[tokio::test]
    async fn a_reused_storage_key_is_a_conflict() {
        on_each_backend(|db| async move {
            let a = org(&db, "org_a").await;
            let first = new_upload(&a, SHA);
            find_or_create(&db, &a, &keys(), first.clone()).await.unwrap();

            let other_file = "ab".repeat(32);
            let again = NewUpload { id: UploadId::new(), sha256: other_file, ..first };
            let err = find_or_create(&db, &a, &keys(), again).await.unwrap_err();

            assert!(err.is_conflict_on(crate::constraints::UPLOADS_STORAGE_KEY), "{err}");
        })
        .await;
    }

    #[test]
    fn every_status_round_trips_through_its_string() {
        for status in UploadStatus::ALL {
            assert_eq!(status.as_str().parse::<UploadStatus>().unwrap(), *status);
        }
        assert!("bogus".parse::<UploadStatus>().is_err());
    }
}
