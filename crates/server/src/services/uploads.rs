//! Uploaded sheets: stored sealed in object storage with their SHA-256, recorded once per
//! organization and hash, and read back (authenticated, and checked against that hash) for
//! ingestion.
//!
//! The file streams to storage under `orgs/<org id>/uploads/<upload id>`, sealed chunk by chunk
//! (`storage::sealed`), while its hash and size are computed over the plaintext, so memory stays
//! bounded whatever the size and identical files still share a hash. More than `RIVVI_UPLOAD_LIMIT` bytes
//! is [`UploadError::TooLarge`] and leaves nothing stored or recorded. The same bytes uploaded
//! again in the same organization answer the first upload (`duplicate`) and the second copy is
//! deleted; another organization's identical file is its own upload. Two identical uploads racing
//! each other end the same way: the database holds one upload per hash per organization, the
//! loser's insert resolves to the winner's record, and the loser deletes its own copy. File
//! names may hold PHI: they are stored, returned to the organization, and never logged.

use std::io;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::UploadId;
use rivvi_persistence::sealing::SealError;
use rivvi_persistence::uploads::{self, NewUpload, UploadRecord};
use rivvi_persistence::OrgScope;
use sea_orm::TransactionTrait;

use super::{audit_trail, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;
use crate::storage::{sha256_hex, upload_key, EnvelopeError, PutResult, StorageError, StoredFormat};

/// What can be wrong with an uploaded file or the request that carries it.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    // --- user errors
    #[error("the file exceeds the upload limit of {0} bytes")]
    TooLarge(u64),
    #[error("the file is empty")]
    Empty,
    #[error("no file in the multipart body: send a part with a filename")]
    NoFile,
    #[error("a file name is required: send ?fileName= or an x-file-name header")]
    MissingFileName,
    #[error("malformed multipart body: {0}")]
    BadMultipart(String),
    #[error("the upload was interrupted before the file was complete")]
    Interrupted,

    // --- stored data
    /// The stored object was changed, cut short or replaced since it was uploaded.
    #[error("the stored file of upload {0} failed its integrity check (changed or cut short in storage): upload the file again")]
    Damaged(UploadId),

    // --- internal
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// A file arriving in a request: its cleaned name, its media type and its bytes as they come.
pub struct IncomingFile<S> {
    pub file_name: String,
    pub media_type: String,
    /// The transport reports its own failures (a malformed multipart part, a dropped connection)
    /// as the [`UploadError`] they amount to.
    pub body: S,
}

/// A stored upload, and whether the organization had uploaded the same bytes before.
#[derive(Debug, Clone)]
pub struct Received {
    pub record: UploadRecord,
    pub duplicate: bool,
}

/// Stores and records an uploaded file, or answers the organization's earlier upload of the
/// same bytes.
pub async fn receive<S>(
    state: &AppState,
    caller: &OrgCaller,
    file: IncomingFile<S>,
) -> ServiceResult<Received>
where
    S: Stream<Item = Result<Bytes, UploadError>> + Send,
{
    let upload_id = UploadId::new();
    let key = upload_key(caller.scope.org_id(), upload_id);
    let stored = store(state, &key, file.body).await?;
    let new = NewUpload {
        id: upload_id,
        uploaded_by: Some(caller.user_id),
        file_name: file.file_name,
        media_type: file.media_type,
        size_bytes: stored.size,
        sha256: stored.sha256,
        storage_key: key,
    };
    // The bytes are stored: record them (or drop them as a duplicate) in a task of its own, so a
    // client hanging up now cannot leave an unrecorded object behind.
    let recorded = tokio::spawn(record(state.clone(), caller.clone(), new)).await;
    recorded.map_err(|e| ServiceError::Internal(e.into()))?
}

/// An upload's record and bytes, for ingestion. Another organization's upload is not found. The
/// object is opened and authenticated chunk by chunk as it is read, then checked against the
/// recorded size and SHA-256 (of the plaintext), so a changed, cut or swapped object is
/// [`UploadError::Damaged`] rather than a silently different sheet. The check also vouches for
/// an object stored before sealing, which is read as it is until `rivvi storage seal` runs.
pub async fn load(state: &AppState, scope: &OrgScope, id: UploadId) -> ServiceResult<(UploadRecord, Bytes)> {
    let record = uploads::get(&state.db, scope, &state.keys, id).await?;
    let key = &record.storage_key;
    let opened = state.storage.open(key).await.map_err(|err| unreadable(id, err))?;
    let sealed = matches!(opened.format, StoredFormat::Sealed { .. });
    let bytes = opened.read_all().await.map_err(|err| unreadable(id, err))?;
    if bytes.len() as u64 != record.size_bytes || sha256_hex(&bytes) != record.sha256 {
        tracing::error!(
            upload_id = %id,
            key = %key,
            sealed,
            "stored upload does not match its recorded size and sha256"
        );
        return Err(UploadError::Damaged(id).into());
    }
    Ok((record, bytes))
}

/// A stored object that does not open is damage (or tampering) the organization can repair by
/// uploading again; a data key id missing from `RIVVI_DATA_KEY`, or a storage failure, is ours.
fn unreadable(id: UploadId, err: StorageError) -> ServiceError {
    match err {
        StorageError::Sealed { source: EnvelopeError::DataKey(SealError::UnknownKey(_)), .. } => {
            ServiceError::Internal(
                anyhow::Error::new(err)
                    .context(format!("upload {id} is sealed with a key RIVVI_DATA_KEY no longer lists")),
            )
        }
        // Retention deletes an expired upload's object, then its row, in one pass: a read in
        // between finds the row without its object, and the upload is as good as gone. Logged,
        // since outside retention it would mean an object was lost.
        StorageError::NotFound(_) => {
            tracing::warn!(upload_id = %id, "stored upload has no object (being purged by retention, or lost)");
            ServiceError::not_found("upload")
        }
        StorageError::Sealed { .. } => {
            tracing::error!(upload_id = %id, error = ?anyhow::Error::new(err), "stored upload failed its integrity check");
            UploadError::Damaged(id).into()
        }
        other => ServiceError::Internal(
            anyhow::Error::new(other).context(format!("reading upload {id} from storage")),
        ),
    }
}

/// Streams `body` into storage under `key`, refusing an empty body before anything is written
/// and a body over the limit as soon as its first byte too many arrives.
async fn store<S>(state: &AppState, key: &str, body: S) -> Result<PutResult, UploadError>
where
    S: Stream<Item = Result<Bytes, UploadError>> + Send,
{
    let limit = state.settings.upload_limit;
    let mut body = std::pin::pin!(limited(body, limit));
    let first = loop {
        match body.next().await {
            None => return Err(UploadError::Empty),
            Some(Ok(chunk)) if chunk.is_empty() => continue,
            Some(Ok(chunk)) => break chunk,
            Some(Err(err)) => return Err(err),
        }
    };
    let whole =
        futures_util::stream::iter([Ok(first)]).chain(body).map(|chunk| chunk.map_err(io::Error::other));
    state.storage.put_stream(key, whole).await.map_err(|err| match err {
        StorageError::Source(err) => match err.downcast::<UploadError>() {
            Ok(upload) => upload,
            Err(_) => UploadError::Interrupted,
        },
        other => UploadError::Internal(other.into()),
    })
}

fn limited<S>(body: S, limit: u64) -> impl Stream<Item = Result<Bytes, UploadError>> + Send
where
    S: Stream<Item = Result<Bytes, UploadError>> + Send,
{
    let mut seen = 0u64;
    body.map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > limit {
            Err(UploadError::TooLarge(limit))
        } else {
            Ok(chunk)
        }
    })
}

/// Records the stored upload with its audit entry in one transaction, or, when the organization
/// already has these bytes (uploaded before, or by a twin request that won the race), answers
/// with that upload and deletes the new copy, which no record names. On failure the new object
/// is deleted too: no object without a record.
async fn record(state: AppState, caller: OrgCaller, new: NewUpload) -> ServiceResult<Received> {
    let key = new.storage_key.clone();
    let outcome = insert_unless_duplicate(&state, &caller, new).await;
    if !matches!(outcome, Ok(Received { duplicate: false, .. })) {
        if let Err(err) = state.storage.delete(&key).await {
            tracing::warn!(key = %key, error = %err, "deleting a redundant upload object failed");
        }
    }
    if let Ok(received) = &outcome {
        tracing::info!(
            org_id = %caller.scope,
            upload_id = %received.record.id,
            size = received.record.size_bytes,
            duplicate = received.duplicate,
            "upload received"
        );
    }
    outcome
}

async fn insert_unless_duplicate(
    state: &AppState,
    caller: &OrgCaller,
    new: NewUpload,
) -> ServiceResult<Received> {
    let txn = state.db.begin().await?;
    let (record, created) = uploads::find_or_create(&txn, &caller.scope, &state.keys, new).await?;
    if !created {
        txn.rollback().await?;
        return Ok(Received { record, duplicate: true });
    }
    audit_trail::record(&txn, caller, caller.scope.org_id(), AuditAction::UploadCreated, record.id, vec![])
        .await?;
    txn.commit().await?;
    Ok(Received { record, duplicate: false })
}
