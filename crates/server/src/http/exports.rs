//! `GET /exports/runs/{runId}.csv|.xlsx` and `GET /exports/calls.csv|.xlsx`: a run's results and
//! the organization's calls as files (`services::exports`).
//!
//! Authentication is the session token used by `/rspc`, and any member of the active
//! organization may export. The calls export takes the filters of `calls.list` as query
//! parameters (`status`, `direction`, `campaignId`, `runId`, `patientId`, `from`, `to` as RFC 3339
//! instants, `dateField` = `createdAt` | `startedAt`); an unknown or malformed one is a 400 naming
//! it. Errors are `{"error": "..."}` (mapped in `api::error`); another organization's run is a
//! 404. A CSV body is streamed as it is read from the database; an xlsx file is complete before
//! its first byte is sent (the format needs its end to be written last).

use std::collections::HashSet;
use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::RunId;
use rivvi_domain::lifecycle::CallStatus;
use rivvi_domain::{Role, ValidationErrors};
use rivvi_persistence::calls::{CallFilter, CallTime};

use crate::api::paging::check_time_range;
use crate::api::ApiError;
use crate::auth::{OrgCaller, RequestIdentity};
use crate::services::exports::{self, Export, ExportContent, ExportFormat};
use crate::state::AppState;

/// Longest file name stem sent, in characters.
const MAX_TITLE_CHARS: usize = 100;

/// The export routes, authenticated like `/rspc`.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/exports/runs/:file", get(run_export))
        .route("/exports/calls.csv", get(|s, i, h, q| calls_export(s, i, h, q, ExportFormat::Csv)))
        .route("/exports/calls.xlsx", get(|s, i, h, q| calls_export(s, i, h, q, ExportFormat::Xlsx)))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::middleware::authenticate,
        ))
}

async fn run_export(
    State(state): State<AppState>,
    identity: Option<Extension<RequestIdentity>>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let export = async {
        let caller = member(identity, &headers)?;
        let (run_id, format) = run_file(&file)?;
        Ok(exports::run(&state, &caller, run_id, format).await?)
    };
    respond(export.await)
}

async fn calls_export(
    State(state): State<AppState>,
    identity: Option<Extension<RequestIdentity>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    format: ExportFormat,
) -> Response {
    let export = async {
        let caller = member(identity, &headers)?;
        let filter = call_filter(query.as_deref().unwrap_or_default())?;
        Ok(exports::calls(&state, &caller, filter, format).await?)
    };
    respond(export.await)
}

fn member(identity: Option<Extension<RequestIdentity>>, headers: &HeaderMap) -> Result<OrgCaller, ApiError> {
    let identity = identity.map_or(RequestIdentity::Anonymous, |Extension(identity)| identity);
    Ok(identity.require(Role::Member, crate::telemetry::request_id(headers))?)
}

/// `<run id>.<csv|xlsx>`: an unknown extension is not a file we serve (404), a malformed id is
/// the caller's mistake (400 naming `runId`).
fn run_file(file: &str) -> Result<(RunId, ExportFormat), ApiError> {
    let (id, extension) = file.rsplit_once('.').ok_or(ApiError::NotFound { entity: "export" })?;
    let format = ExportFormat::from_extension(extension).ok_or(ApiError::NotFound { entity: "export" })?;
    let id = id.parse().map_err(|_| ApiError::invalid("runId", "must be a UUID"))?;
    Ok((id, format))
}

/// The `calls.list` filters from a query string. Empty values are no filter (as an HTML form
/// sends them); a parameter given twice or not a filter is refused, not ignored.
fn call_filter(query: &str) -> Result<CallFilter, ApiError> {
    let mut errors = ValidationErrors::new();
    let mut filter = CallFilter::default();
    let mut seen = HashSet::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if !seen.insert(key.clone()) {
            errors.push(key, "is given more than once");
            continue;
        }
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let key = key.as_ref();
        match key {
            "status" => filter.status = errors.check(key, one_of(value, CallStatus::ALL, CallStatus::as_str)),
            "direction" => {
                filter.direction = errors.check(key, one_of(value, Direction::ALL, Direction::as_str))
            }
            "campaignId" => {
                filter.campaign_id = errors.check(key, value.parse().map_err(|_| "must be a UUID"))
            }
            "runId" => filter.run_id = errors.check(key, value.parse().map_err(|_| "must be a UUID")),
            "patientId" => filter.patient_id = errors.check(key, value.parse().map_err(|_| "must be a UUID")),
            "from" => filter.from = errors.check(key, instant(value)),
            "to" => filter.to = errors.check(key, instant(value)),
            "dateField" => match value {
                "createdAt" => filter.time = CallTime::Created,
                "startedAt" => filter.time = CallTime::Started,
                _ => errors.push(key, "must be createdAt or startedAt"),
            },
            _ => errors.push(
                key,
                "is not a filter: use status, direction, campaignId, runId, patientId, from, to or dateField",
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    check_time_range(filter.from, filter.to)?;
    Ok(filter)
}

/// The variant of `all` named `value` exactly.
fn one_of<T: Copy>(value: &str, all: &[T], name: fn(T) -> &'static str) -> Result<T, String> {
    all.iter().copied().find(|v| name(*v) == value).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        format!("must be one of {}", names.join(", "))
    })
}

fn instant(value: &str) -> Result<DateTime<Utc>, &'static str> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 instant such as 2026-11-25T00:00:00Z")
}

fn respond(export: Result<Export, ApiError>) -> Response {
    let export = match export {
        Ok(export) => export,
        Err(err) => return err.into_response(),
    };
    let (media_type, body, length) = match export.content {
        ExportContent::Stream(chunks) => ("text/csv; charset=utf-8", Body::from_stream(chunks), None),
        ExportContent::File { file, len } => {
            let reader = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
            (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                Body::from_stream(reader),
                Some(len),
            )
        }
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&export.title, export.format.extension())) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    // The file holds PHI: no cache along the way keeps a copy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// `attachment; filename="<ASCII>"; filename*=UTF-8''<percent-encoded>` (RFC 6266 and 5987): the
/// plain name for old clients, the exact one (accents kept) for the rest.
fn content_disposition(title: &str, extension: &str) -> String {
    let name = format!("{}.{extension}", file_stem(title));
    let ascii: String = name.chars().map(|c| if c.is_ascii() && c != '%' { c } else { '_' }).collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", rfc5987(&name))
}

/// The title as a file name stem: no control characters or characters file systems refuse
/// (`/ \ : * ? " < > |`), whitespace collapsed, no leading or trailing dots, at most
/// [`MAX_TITLE_CHARS`]; `export` when nothing is left.
fn file_stem(title: &str) -> String {
    let replaced: String =
        title.chars().map(|c| if c.is_control() || "/\\:*?\"<>|".contains(c) { ' ' } else { c }).collect();
    let collapsed = replaced.split_whitespace().collect::<Vec<_>>().join(" ");
    let stem: String = collapsed.trim_matches('.').chars().take(MAX_TITLE_CHARS).collect();
    let stem = stem.trim().trim_matches('.').to_owned();
    if stem.is_empty() {
        "export".to_owned()
    } else {
        stem
    }
}

/// Percent-encodes every byte that is not an RFC 5987 `attr-char`.
fn rfc5987(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_sanitised_and_encoded_for_every_client() {
        assert_eq!(
            content_disposition("Núñez / follow-ups", "csv"),
            "attachment; filename=\"N__ez follow-ups.csv\"; filename*=UTF-8''N%C3%BA%C3%B1ez%20follow-ups.csv"
        );
        assert_eq!(file_stem("  ..\u{0}..  "), "export");
        assert_eq!(file_stem("a\"b<c>d|e?f*g:h"), "a b c d e f g h");
        assert_eq!(file_stem(&"x".repeat(300)).chars().count(), MAX_TITLE_CHARS);
        assert_eq!(
            content_disposition("100% done", "xlsx"),
            "attachment; filename=\"100_ done.xlsx\"; filename*=UTF-8''100%25%20done.xlsx"
        );
    }

    #[test]
    fn run_files_name_a_run_and_a_format() {
        let id = RunId::new();
        assert_eq!(run_file(&format!("{id}.csv")).unwrap(), (id, ExportFormat::Csv));
        assert_eq!(run_file(&format!("{id}.XLSX")).unwrap(), (id, ExportFormat::Xlsx));
        assert!(matches!(run_file(&format!("{id}.pdf")), Err(ApiError::NotFound { .. })));
        assert!(
            matches!(run_file("nope.csv"), Err(ApiError::Validation(issues)) if issues[0].field == "runId")
        );
    }

    #[test]
    fn call_filters_name_the_parameter_at_fault() {
        let filter = call_filter(
            "status=ended&direction=outbound&from=2026-11-25T00:00:00Z&dateField=startedAt&runId=",
        )
        .unwrap();
        assert_eq!(filter.status, Some(CallStatus::Ended));
        assert_eq!(filter.time, CallTime::Started);
        assert_eq!(filter.run_id, None);

        let fields = |query: &str| match call_filter(query) {
            Err(ApiError::Validation(issues)) => issues.into_iter().map(|i| i.field).collect::<Vec<_>>(),
            other => panic!("{query}: {other:?}"),
        };
        assert_eq!(fields("status=lost"), ["status"]);
        assert_eq!(fields("from=yesterday&campaignId=1"), ["from", "campaignId"]);
        assert_eq!(fields("color=red"), ["color"]);
        let nil = uuid::Uuid::nil();
        assert_eq!(fields(&format!("runId={nil}&runId={nil}")), ["runId"]);
        assert_eq!(fields("from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z"), ["to"]);
    }
}
