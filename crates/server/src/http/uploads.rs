//! `POST /uploads`: a patient sheet streamed into object storage, recorded with its SHA-256.
//!
//! The body is either `multipart/form-data` (the first part with a file name is the file) or the
//! raw file (its name from `?fileName=` or an `x-file-name` header, percent-encoded when not
//! ASCII; its media type from `content-type`). Authentication is the session token used by
//! `/rspc`, and any member of the active organization may upload.
//!
//! The file streams to storage under `orgs/<org id>/uploads/<upload id>` while its hash and size
//! are computed, so memory stays bounded whatever the size. More than `RIVVI_UPLOAD_LIMIT` bytes
//! is a 413 and leaves nothing stored or recorded. The same bytes uploaded again in the same
//! organization return the first upload (`duplicate: true`) and the second copy is deleted;
//! another organization's identical file is its own upload. Two identical uploads racing each
//! other end the same way: the database holds one upload per hash per organization, the loser's
//! insert resolves to the winner's record, and the loser deletes its own copy.
//!
//! Answers `201` with `{uploadId, fileName, size, sha256, mediaType, duplicate: false}`, `200` for
//! a duplicate, or an error status with `{"error": "..."}`. File names may hold PHI: they are
//! stored, returned to the organization, and never logged.

use std::io;

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::UploadId;
use rivvi_domain::Role;
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
use rivvi_persistence::uploads::{self, NewUpload, UploadRecord};
use rivvi_persistence::OrgScope;
use sea_orm::TransactionTrait;
use serde::Serialize;

use crate::api::context::{Ctx, OrgCaller};
use crate::api::error::{ApiError, ApiResult};
use crate::auth::RequestIdentity;
use crate::state::AppState;
use crate::storage::{sha256_hex, upload_key, PutResult, StorageError};

/// The raw-body alternative to `?fileName=`.
pub const FILE_NAME_HEADER: HeaderName = HeaderName::from_static("x-file-name");

/// Room for multipart boundaries, part headers and small form fields around the file: the whole
/// multipart body may exceed the upload limit by this much, the file itself not at all.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// Longest file name kept, in characters.
const MAX_FILE_NAME_CHARS: usize = 255;

/// The upload route, authenticated like `/rspc`.
pub fn router(state: &AppState) -> Router<AppState> {
    let body_limit =
        usize::try_from(state.settings.upload_limit.saturating_add(MULTIPART_OVERHEAD)).unwrap_or(usize::MAX);
    Router::new()
        .route("/uploads", post(upload))
        // The multipart extractor honours this limit for the whole body; the file itself is
        // counted against `upload_limit` as it streams.
        .layer(DefaultBodyLimit::max(body_limit))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::middleware::authenticate,
        ))
}

/// The answer to a successful upload.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    pub upload_id: UploadId,
    pub file_name: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    pub media_type: String,
    /// The organization had uploaded these exact bytes before; this is that upload.
    pub duplicate: bool,
}

impl UploadResponse {
    fn new(record: UploadRecord, duplicate: bool) -> Self {
        UploadResponse {
            upload_id: record.id,
            file_name: record.file_name,
            size: record.size_bytes,
            sha256: record.sha256,
            media_type: record.media_type,
            duplicate,
        }
    }
}

/// An upload's record and bytes, for ingestion (`runs.preview`, `runs.create`). Another
/// organization's upload is not found. The bytes are checked against the recorded size and
/// SHA-256, so storage corruption is an error rather than a silently different sheet.
pub async fn load_upload(
    state: &AppState,
    scope: &OrgScope,
    id: UploadId,
) -> ApiResult<(UploadRecord, Bytes)> {
    let record = uploads::get(&state.db, scope, id).await?;
    let bytes = state.storage.get(&record.storage_key).await.map_err(|err| {
        ApiError::Internal(anyhow::Error::new(err).context(format!("reading upload {id} from storage")))
    })?;
    if bytes.len() as u64 != record.size_bytes || sha256_hex(&bytes) != record.sha256 {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "upload {id}: stored bytes do not match the recorded size and sha256"
        )));
    }
    Ok((record, bytes))
}

#[derive(Debug, thiserror::Error)]
enum UploadError {
    // caller
    #[error("{0}")]
    Auth(ApiError),

    // user errors
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

    // internal
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl UploadError {
    fn status(&self) -> StatusCode {
        match self {
            UploadError::Auth(ApiError::Unauthenticated | ApiError::InvalidCredentials(_)) => {
                StatusCode::UNAUTHORIZED
            }
            UploadError::Auth(ApiError::NoActiveOrganization | ApiError::Forbidden(_)) => {
                StatusCode::FORBIDDEN
            }
            UploadError::Auth(_) | UploadError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            UploadError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::Empty
            | UploadError::NoFile
            | UploadError::MissingFileName
            | UploadError::BadMultipart(_)
            | UploadError::Interrupted => StatusCode::BAD_REQUEST,
        }
    }

    fn internal(err: impl Into<anyhow::Error>) -> Self {
        UploadError::Internal(err.into())
    }
}

impl From<rivvi_persistence::PersistenceError> for UploadError {
    fn from(err: rivvi_persistence::PersistenceError) -> Self {
        UploadError::internal(err)
    }
}

impl From<sea_orm::DbErr> for UploadError {
    fn from(err: sea_orm::DbErr) -> Self {
        UploadError::internal(err)
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            UploadError::Internal(err) => {
                tracing::error!(error = ?err, "upload failed");
                "internal error".to_owned()
            }
            UploadError::Auth(ApiError::Internal(err)) => {
                tracing::error!(error = ?err, "upload authorization failed");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

async fn upload(State(state): State<AppState>, request: Request) -> Response {
    match receive(state, request).await {
        Ok(response) => {
            let status = if response.duplicate { StatusCode::OK } else { StatusCode::CREATED };
            (status, Json(response)).into_response()
        }
        Err(err) => err.into_response(),
    }
}

async fn receive(state: AppState, request: Request) -> Result<UploadResponse, UploadError> {
    let ctx = Ctx {
        state: state.clone(),
        identity: request
            .extensions()
            .get::<RequestIdentity>()
            .cloned()
            .unwrap_or(RequestIdentity::Anonymous),
        request_id: request
            .headers()
            .get(crate::http::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let caller = ctx.require(Role::Member).map_err(UploadError::Auth)?;
    let limit = state.settings.upload_limit;
    let upload_id = UploadId::new();
    let key = upload_key(caller.scope.org_id(), upload_id);
    let declared_length = content_length(request.headers());

    let (file_name, media_type, stored) = if is_multipart(request.headers()) {
        if declared_length.is_some_and(|len| len > limit.saturating_add(MULTIPART_OVERHEAD)) {
            return Err(UploadError::TooLarge(limit));
        }
        let mut multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|rejection| UploadError::BadMultipart(rejection.body_text()))?;
        let field = loop {
            match multipart.next_field().await.map_err(|err| multipart_error(&err, limit))? {
                None => return Err(UploadError::NoFile),
                Some(field) if field.file_name().is_some() => break field,
                // A form field before the file (a description, a CSRF token): skipped.
                Some(_) => continue,
            }
        };
        let file_name = field.file_name().and_then(clean_file_name).ok_or(UploadError::MissingFileName)?;
        let media_type = media_type(field.content_type(), &file_name);
        let stored = store(&state, &key, field.map_err(io::Error::other), limit).await?;
        (file_name, media_type, stored)
    } else {
        if declared_length.is_some_and(|len| len > limit) {
            return Err(UploadError::TooLarge(limit));
        }
        let file_name = raw_file_name(&request).ok_or(UploadError::MissingFileName)?;
        let declared_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let media_type = media_type(declared_type, &file_name);
        let body = request.into_body().into_data_stream().map_err(io::Error::other);
        let stored = store(&state, &key, body, limit).await?;
        (file_name, media_type, stored)
    };

    let new = NewUpload {
        id: upload_id,
        uploaded_by: Some(caller.user_id),
        file_name,
        media_type,
        size_bytes: stored.size,
        sha256: stored.sha256,
        storage_key: key,
    };
    // The bytes are stored: record them (or drop them as a duplicate) in a task of its own, so a
    // client hanging up now cannot leave an unrecorded object behind.
    let recorded = tokio::spawn(record(state, caller, new, ctx.request_id)).await;
    let (record, duplicate) = recorded.map_err(UploadError::internal)??;
    Ok(UploadResponse::new(record, duplicate))
}

/// Streams `body` into storage under `key`, refusing an empty body before anything is written.
async fn store<S>(state: &AppState, key: &str, body: S, limit: u64) -> Result<PutResult, UploadError>
where
    S: Stream<Item = io::Result<Bytes>> + Send,
{
    let mut body = std::pin::pin!(limited(body, limit));
    let first = loop {
        match body.next().await {
            None => return Err(UploadError::Empty),
            Some(Ok(chunk)) if chunk.is_empty() => continue,
            Some(Ok(chunk)) => break chunk,
            Some(Err(err)) => return Err(source_error(err, limit)),
        }
    };
    let whole = futures_util::stream::iter([Ok(first)]).chain(body);
    state.storage.put_stream(key, whole).await.map_err(|err| match err {
        StorageError::Source(err) => source_error(err, limit),
        other => UploadError::internal(other),
    })
}

/// The size limit, tripped by the first byte beyond it.
#[derive(Debug, thiserror::Error)]
#[error("upload limit exceeded")]
struct LimitExceeded;

fn limited<S>(body: S, limit: u64) -> impl Stream<Item = io::Result<Bytes>> + Send
where
    S: Stream<Item = io::Result<Bytes>> + Send,
{
    let mut seen = 0u64;
    body.map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > limit {
            Err(io::Error::other(LimitExceeded))
        } else {
            Ok(chunk)
        }
    })
}

/// Why reading the request body failed: our limit, the multipart limit, a malformed multipart
/// body, or the client going away.
fn source_error(err: io::Error, limit: u64) -> UploadError {
    let inner = err.get_ref();
    if inner.is_some_and(|e| e.is::<LimitExceeded>()) {
        return UploadError::TooLarge(limit);
    }
    if let Some(multipart) = inner.and_then(|e| e.downcast_ref::<axum::extract::multipart::MultipartError>())
    {
        return multipart_error(multipart, limit);
    }
    UploadError::Interrupted
}

fn multipart_error(err: &axum::extract::multipart::MultipartError, limit: u64) -> UploadError {
    match err.status() {
        StatusCode::PAYLOAD_TOO_LARGE => UploadError::TooLarge(limit),
        StatusCode::BAD_REQUEST => UploadError::BadMultipart(err.body_text()),
        // A failed read of the underlying body: the connection broke.
        _ => UploadError::Interrupted,
    }
}

/// Records the stored upload with its audit entry in one transaction, or, when the organization
/// already has these bytes (uploaded before, or by a twin request that won the race), answers
/// with that upload and deletes the new copy, which no record names. On failure the new object
/// is deleted too: no object without a record.
async fn record(
    state: AppState,
    caller: OrgCaller,
    new: NewUpload,
    request_id: Option<String>,
) -> Result<(UploadRecord, bool), UploadError> {
    let key = new.storage_key.clone();
    let outcome = insert_unless_duplicate(&state, &caller, new, request_id).await;
    if !matches!(outcome, Ok((_, false))) {
        if let Err(err) = state.storage.delete(&key).await {
            tracing::warn!(key = %key, error = %err, "deleting a redundant upload object failed");
        }
    }
    if let Ok((record, duplicate)) = &outcome {
        tracing::info!(
            org_id = %caller.scope,
            upload_id = %record.id,
            size = record.size_bytes,
            duplicate,
            "upload received"
        );
    }
    outcome
}

async fn insert_unless_duplicate(
    state: &AppState,
    caller: &OrgCaller,
    new: NewUpload,
    request_id: Option<String>,
) -> Result<(UploadRecord, bool), UploadError> {
    let txn = state.db.begin().await?;
    let (record, created) = uploads::find_or_create(&txn, &caller.scope, new).await?;
    if !created {
        txn.rollback().await?;
        return Ok((record, true));
    }
    let label = caller.clerk_user_id.clone();
    let actor = match caller.role {
        Role::SuperAdmin => AuditActor::SuperAdmin { user_id: caller.user_id, label },
        Role::Admin | Role::Member => AuditActor::User { user_id: caller.user_id, label },
    };
    audit::record(
        &txn,
        AuditRecord {
            org: Some(caller.scope.org_id()),
            actor,
            action: AuditAction::UploadCreated.as_str().to_owned(),
            entity_type: AuditAction::UploadCreated.entity().to_owned(),
            entity_id: Some(record.id.to_string()),
            changed_fields: vec![],
            request_id,
        },
    )
    .await?;
    txn.commit().await?;
    Ok((record, false))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// `?fileName=` (URL-encoded), else the `x-file-name` header (percent-encoded when not ASCII).
fn raw_file_name(request: &Request) -> Option<String> {
    let from_query = request.uri().query().and_then(|query| {
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "fileName").map(|(_, v)| v.into_owned())
    });
    let from_header = || {
        let value = request.headers().get(FILE_NAME_HEADER)?;
        let text = std::str::from_utf8(value.as_bytes()).ok()?;
        Some(percent_decode(text).unwrap_or_else(|| text.to_owned()))
    };
    from_query.or_else(from_header).as_deref().and_then(clean_file_name)
}

/// Decodes `%XX` escapes; `None` when the text has a bad escape or decodes to invalid UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The last path component (browsers and tools may send a path), without control characters,
/// trimmed and at most [`MAX_FILE_NAME_CHARS`] characters; `None` when nothing usable is left.
fn clean_file_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let name: String = cleaned.trim().chars().take(MAX_FILE_NAME_CHARS).collect();
    let name = name.trim().to_owned();
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

/// The declared media type (without parameters, lowercase), or one inferred from the file name's
/// extension when the declaration says nothing useful (missing, `application/octet-stream`, or
/// the form encoding `curl --data-binary` sends by default).
fn media_type(declared: Option<&str>, file_name: &str) -> String {
    let essence = declared
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v.len() <= 127 && v.contains('/'));
    match essence.as_deref() {
        None | Some("application/octet-stream") | Some("application/x-www-form-urlencoded") => {
            from_extension(file_name).unwrap_or("application/octet-stream").to_owned()
        }
        Some(essence) => essence.to_owned(),
    }
}

fn from_extension(file_name: &str) -> Option<&'static str> {
    let (_, extension) = file_name.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "csv" => "text/csv",
        "tsv" | "tab" => "text/tab-separated-values",
        "txt" => "text/plain",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsm" => "application/vnd.ms-excel.sheet.macroenabled.12",
        "xlsb" => "application/vnd.ms-excel.sheet.binary.macroenabled.12",
        "xls" => "application/vnd.ms-excel",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_only_their_last_component() {
        assert_eq!(clean_file_name("C:\\Users\\front desk\\patients.xlsx").as_deref(), Some("patients.xlsx"));
        assert_eq!(clean_file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(clean_file_name("  list\u{0}\n.csv ").as_deref(), Some("list.csv"));
        assert_eq!(clean_file_name("dir/").as_deref(), None);
        assert_eq!(clean_file_name("..").as_deref(), None);
        assert_eq!(clean_file_name(&"a".repeat(300)).map(|n| n.chars().count()), Some(255));
    }

    #[test]
    fn percent_encoded_header_names_are_decoded() {
        assert_eq!(percent_decode("Pati%C3%ABnten%20lijst.csv").as_deref(), Some("Patiënten lijst.csv"));
        assert_eq!(percent_decode("plain.csv").as_deref(), Some("plain.csv"));
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("cut%4"), None);
    }

    #[test]
    fn media_types_come_from_the_declaration_or_the_extension() {
        assert_eq!(media_type(Some("text/csv; charset=utf-8"), "x.bin"), "text/csv");
        assert_eq!(media_type(Some("application/x-www-form-urlencoded"), "a.CSV"), "text/csv");
        assert_eq!(
            media_type(None, "a.xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(media_type(Some("application/octet-stream"), "noext"), "application/octet-stream");
    }
}
