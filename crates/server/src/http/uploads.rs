//! `POST /uploads`: a patient sheet streamed into object storage (`services::uploads`).
//!
//! The body is either `multipart/form-data` (the first part with a file name is the file) or the
//! raw file (its name from `?fileName=` or an `x-file-name` header, percent-encoded when not
//! ASCII; its media type from `content-type`). Authentication is the session token used by
//! `/rspc`, and any member of the active organization may upload.
//!
//! Answers `201` with `{uploadId, fileName, size, sha256, mediaType, duplicate: false}`, `200` for
//! a duplicate of an earlier upload, or an error status with `{"error": "..."}` (mapped in
//! `api::error`, like every other error).

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::TryStreamExt;
use rivvi_domain::ids::UploadId;
use rivvi_domain::Role;
use serde::Serialize;

use crate::api::ApiError;
use crate::auth::RequestIdentity;
use crate::services::uploads::{self, IncomingFile, Received, UploadError};
use crate::state::AppState;

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
    fn new(received: Received) -> Self {
        let Received { record, duplicate } = received;
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

async fn upload(State(state): State<AppState>, request: Request) -> Response {
    match receive(state, request).await {
        Ok(response) => {
            let status = if response.duplicate { StatusCode::OK } else { StatusCode::CREATED };
            (status, Json(response)).into_response()
        }
        Err(err) => err.into_response(),
    }
}

/// Reads the file out of the request (multipart part or raw body) and hands it to the use case.
async fn receive(state: AppState, request: Request) -> Result<UploadResponse, ApiError> {
    let identity =
        request.extensions().get::<RequestIdentity>().cloned().unwrap_or(RequestIdentity::Anonymous);
    let caller = identity.require(Role::Member, crate::telemetry::request_id(request.headers()))?;
    let limit = state.settings.upload_limit;
    let declared_length = content_length(request.headers());

    let received = if is_multipart(request.headers()) {
        if declared_length.is_some_and(|len| len > limit.saturating_add(MULTIPART_OVERHEAD)) {
            return Err(UploadError::TooLarge(limit).into());
        }
        let mut multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|rejection| UploadError::BadMultipart(rejection.body_text()))?;
        let field = loop {
            match multipart.next_field().await.map_err(|err| multipart_error(&err, limit))? {
                None => return Err(UploadError::NoFile.into()),
                Some(field) if field.file_name().is_some() => break field,
                // A form field before the file (a description, a CSRF token): skipped.
                Some(_) => continue,
            }
        };
        let file_name = field.file_name().and_then(clean_file_name).ok_or(UploadError::MissingFileName)?;
        let media_type = media_type(field.content_type(), &file_name);
        let body = field.map_err(move |err| multipart_error(&err, limit));
        uploads::receive(&state, &caller, IncomingFile { file_name, media_type, body }).await?
    } else {
        if declared_length.is_some_and(|len| len > limit) {
            return Err(UploadError::TooLarge(limit).into());
        }
        let file_name = raw_file_name(&request).ok_or(UploadError::MissingFileName)?;
        let declared_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let media_type = media_type(declared_type, &file_name);
        // A failed read of the body: the connection broke.
        let body = request.into_body().into_data_stream().map_err(|_| UploadError::Interrupted);
        uploads::receive(&state, &caller, IncomingFile { file_name, media_type, body }).await?
    };
    Ok(UploadResponse::new(received))
}

/// Why reading a multipart body failed: its size limit, a malformed body, or the client going
/// away.
fn multipart_error(err: &axum::extract::multipart::MultipartError, limit: u64) -> UploadError {
    match err.status() {
        StatusCode::PAYLOAD_TOO_LARGE => UploadError::TooLarge(limit),
        StatusCode::BAD_REQUEST => UploadError::BadMultipart(err.body_text()),
        // A failed read of the underlying body: the connection broke.
        _ => UploadError::Interrupted,
    }
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
