//! Exports: a run's results and the organization's calls as CSV or xlsx files. The files leave
//! Rivvi with PHI in them, so each one is audit-logged (`export.created`).
//!
//! A run's file has one line per row in sheet order: every original column in the file's order
//! under its own header (`Column n` for a run created before header rows were kept, or a blank
//! header), then Rivvi's columns, prefixed so they cannot be mistaken for the sheet's: status,
//! attempts, last outcome, skip reason, the last call's summary, one `Analysis: <label>` column
//! per analysis field the run pinned (the campaign's for older runs), and the last call's start
//! and end and the row's last change on the organization's wall clock. The calls file has what
//! `calls.list` shows (never more than the last four digits of a number) and the summary.
//!
//! The audit entry is written before the first byte of the file leaves, so an interrupted
//! download is still on record. It names the format and the row count (CSV: counted when the
//! export starts; xlsx: the rows written, the file being complete before it is sent), and for
//! calls the names of the filters used; never a value from the file.

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::campaign::AnalysisField;
use rivvi_domain::export::{column_name, local_time};
use rivvi_domain::ids::RunId;
use rivvi_domain::IanaZone;
use rivvi_persistence::calls::{CallFilter, PatientName};
use rivvi_persistence::exports::{self, CallCursor, CallExport, RunRowExport};
use rivvi_persistence::{engine_queries, organizations, runs, OrgScope};
use serde_json::Value;

use super::export_files::{self, Pages, PAGE_ROWS};
use super::{audit_trail, campaigns, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// The file types an export can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    /// From a file extension (`csv`, `xlsx`; case-insensitive).
    pub fn from_extension(extension: &str) -> Option<Self> {
        match extension.to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" => Some(ExportFormat::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

/// An export ready to send.
pub struct Export {
    /// What the file is of (a run's name), for its file name; not sanitised.
    pub title: String,
    pub format: ExportFormat,
    pub content: ExportContent,
}

/// The bytes of an export.
pub enum ExportContent {
    /// CSV, produced page by page as the client reads it.
    Stream(BoxStream<'static, std::io::Result<Bytes>>),
    /// A finished file, positioned at its start, of `len` bytes.
    File { file: std::fs::File, len: u64 },
}

/// A run's rows with their results. Another organization's run is not found.
#[tracing::instrument(skip_all, fields(org_id = %caller.scope, run_id = %run_id), err)]
pub async fn run(
    state: &AppState,
    caller: &OrgCaller,
    run_id: RunId,
    format: ExportFormat,
) -> ServiceResult<Export> {
    let scope = caller.scope;
    let run = runs::get(&state.db, &scope, run_id).await?;
    let headers = runs::headers(&state.db, &scope, &state.keys, run_id).await?;
    let zone = organizations::get(&state.db, &scope).await?.time_zone;
    let fields = match engine_queries::pinned_version(&state.db, &run).await?.and_then(|v| v.frozen) {
        Some(frozen) => frozen.analysis_fields,
        None => campaigns::definition(&state.db, &scope, run.campaign_id).await?.analysis_fields().to_vec(),
    };
    let rows = exports::count_run_rows(&state.db, &scope, run_id).await?;
    // Rows hold one cell per header (ingestion pads them to the widest row); a run without
    // stored headers takes its width from its first row.
    let width = match &headers {
        Some(headers) => headers.len(),
        None => exports::run_rows_after(&state.db, &scope, &state.keys, run_id, None, 1)
            .await?
            .first()
            .map_or(0, |row| row.cells.len()),
    };
    let mut header: Vec<String> = (0..width).map(|i| column_name(headers.as_deref(), i)).collect();
    header.extend(
        ["status", "attempts", "outcome", "skip reason", "last call summary"].map(|c| format!("Rivvi {c}")),
    );
    header.extend(fields.iter().map(|f| format!("Analysis: {}", f.label())));
    let zone_name = zone.name();
    header.extend(["call started", "call ended", "updated"].map(|c| format!("Rivvi {c} ({zone_name})")));
    let last = exports::last_sort_index(&state.db, &scope, run_id).await?;
    let pages = RunPages::new(state, scope, run_id, last, RunLine { width, fields, zone }, format);
    let audit = ExportAudit { entity_id: run_id.to_string(), filters: Vec::new() };
    let content = produce(state, caller, format, header, pages, rows, audit).await?;
    Ok(Export { title: run.name, format, content })
}

/// The organization's calls matching `filter`, newest first.
#[tracing::instrument(skip_all, fields(org_id = %caller.scope), err)]
pub async fn calls(
    state: &AppState,
    caller: &OrgCaller,
    filter: CallFilter,
    format: ExportFormat,
) -> ServiceResult<Export> {
    let scope = caller.scope;
    let zone = organizations::get(&state.db, &scope).await?.time_zone;
    let rows = exports::count_calls(&state.db, &scope, &filter).await?;
    let mut header: Vec<String> = [
        "Call ID",
        "Direction",
        "Status",
        "Outcome",
        "Campaign ID",
        "Run ID",
        "Row ID",
        "Patient name",
        "Phone last 4",
        "Attempt",
    ]
    .map(str::to_owned)
    .to_vec();
    header.extend(["Created", "Started", "Ended"].map(|c| format!("{c} ({})", zone.name())));
    header.extend(["Duration (seconds)", "Disconnection reason", "Summary"].map(str::to_owned));
    let audit = ExportAudit { entity_id: "calls".into(), filters: filter_names(&filter) };
    let pages = CallPages { state: state.clone(), scope, filter, zone, after: None, done: false };
    let title = format!("calls {}", state.clock.now().with_timezone(&zone.tz()).format("%Y-%m-%d"));
    let content = produce(state, caller, format, header, pages, rows, audit).await?;
    Ok(Export { title, format, content })
}

/// What the audit entry of an export says besides format and rows.
struct ExportAudit {
    /// The run exported, or `calls`.
    entity_id: String,
    /// Names (never values) of the filters applied.
    filters: Vec<String>,
}

/// The file's content; the audit entry is written before any of it can leave.
async fn produce<P: Pages>(
    state: &AppState,
    caller: &OrgCaller,
    format: ExportFormat,
    header: Vec<String>,
    pages: P,
    expected_rows: u64,
    audit: ExportAudit,
) -> ServiceResult<ExportContent> {
    match format {
        ExportFormat::Csv => {
            record(state, caller, format, expected_rows, audit).await?;
            Ok(ExportContent::Stream(export_files::csv_stream(header, pages)))
        }
        ExportFormat::Xlsx => {
            let written = export_files::xlsx_file(header, pages, expected_rows).await?;
            record(state, caller, format, written.rows, audit).await?;
            Ok(ExportContent::File { file: written.file, len: written.len })
        }
    }
}

async fn record(
    state: &AppState,
    caller: &OrgCaller,
    format: ExportFormat,
    rows: u64,
    audit: ExportAudit,
) -> ServiceResult<()> {
    let mut details = vec![format!("format={}", format.extension()), format!("rows={rows}")];
    details.extend(audit.filters.into_iter().map(|name| format!("filter={name}")));
    let org = caller.scope.org_id();
    audit_trail::record(&state.db, caller, org, AuditAction::ExportCreated, audit.entity_id, details).await
}

fn filter_names(filter: &CallFilter) -> Vec<String> {
    let used = [
        ("status", filter.status.is_some()),
        ("direction", filter.direction.is_some()),
        ("campaignId", filter.campaign_id.is_some()),
        ("runId", filter.run_id.is_some()),
        ("patientId", filter.patient_id.is_some()),
        ("from", filter.from.is_some()),
        ("to", filter.to.is_some()),
    ];
    used.into_iter().filter(|(_, used)| *used).map(|(name, _)| name.to_owned()).collect()
}

// ---------------------------------------------------------------- pages

/// Pages of a run read at once. Each read is a task of its own (two queries, then the sealed
/// cells opened and the lines formatted), so the database, the opening and the formatting of
/// consecutive pages overlap, on both cores; more would only hold more rows in memory.
const RUN_PAGES_AHEAD: usize = 4;

/// A run's lines, a page of [`PAGE_ROWS`] sort indexes at a time in sheet order. A page's range
/// is known before the previous page arrives (rows are numbered in sheet order when the run is
/// created; a range may hold fewer rows, or none, where rows were never numbered).
struct RunPages {
    pages: BoxStream<'static, ServiceResult<RunPage>>,
}

/// A page of a run as its read task leaves it.
enum RunPage {
    Lines(Vec<Vec<String>>),
    /// A CSV export's page, encoded on its read task.
    Csv(std::io::Result<Bytes>),
}

impl RunPages {
    /// The pages of `run_id`'s rows up to sort index `last` (`None`: no rows).
    fn new(
        state: &AppState,
        scope: OrgScope,
        run_id: RunId,
        last: Option<u32>,
        line: RunLine,
        format: ExportFormat,
    ) -> Self {
        let page = u32::try_from(PAGE_ROWS).unwrap_or(u32::MAX);
        let starts = last.map_or(0, |last| last / page + 1);
        let (state, line) = (state.clone(), std::sync::Arc::new(line));
        let pages = futures_util::stream::iter(0..starts)
            .map(move |k| {
                let (state, line) = (state.clone(), std::sync::Arc::clone(&line));
                let from = k * page;
                // A client that goes away drops the stream: the reads under way finish unseen.
                tokio::spawn(async move {
                    let rows = exports::run_rows_between(
                        &state.db,
                        &scope,
                        &state.keys,
                        run_id,
                        from..from.saturating_add(page),
                    )
                    .await?;
                    let lines: Vec<Vec<String>> = rows.into_iter().map(|row| line.line(row)).collect();
                    ServiceResult::Ok(match format {
                        ExportFormat::Csv => RunPage::Csv(export_files::csv_lines(&lines)),
                        ExportFormat::Xlsx => RunPage::Lines(lines),
                    })
                })
            })
            .buffered(RUN_PAGES_AHEAD)
            .map(|read| match read {
                Ok(lines) => lines,
                Err(e) => Err(ServiceError::Internal(anyhow::anyhow!("reading an export page failed: {e}"))),
            })
            .boxed();
        RunPages { pages }
    }
}

impl Pages for RunPages {
    async fn next_page(&mut self) -> ServiceResult<Option<Vec<Vec<String>>>> {
        match self.pages.next().await.transpose()? {
            None => Ok(None),
            Some(RunPage::Lines(lines)) => Ok(Some(lines)),
            Some(RunPage::Csv(_)) => {
                Err(ServiceError::Internal(anyhow::anyhow!("a CSV export's page was asked for as lines")))
            }
        }
    }

    async fn next_csv_chunk(&mut self) -> ServiceResult<Option<std::io::Result<Bytes>>> {
        match self.pages.next().await.transpose()? {
            None => Ok(None),
            Some(RunPage::Csv(chunk)) => Ok(Some(chunk)),
            Some(RunPage::Lines(lines)) => Ok(Some(export_files::csv_lines(&lines))),
        }
    }
}

/// How a run's row becomes a line of its export.
struct RunLine {
    /// Original columns per line.
    width: usize,
    fields: Vec<AnalysisField>,
    zone: IanaZone,
}

impl RunLine {
    fn line(&self, row: RunRowExport) -> Vec<String> {
        let RunRowExport {
            mut cells,
            status,
            attempts,
            outcome,
            skip_reason,
            analysis,
            updated_at,
            last_call,
            ..
        } = row;
        // Rivvi's columns after the sheet's, in one allocation.
        cells.reserve_exact((self.width + 8 + self.fields.len()).saturating_sub(cells.len()));
        cells.resize(self.width, String::new());
        let (summary, started, ended) = match last_call {
            Some(call) => (call.summary, call.started_at, call.ended_at),
            None => (None, None, None),
        };
        let local = |at: Option<chrono::DateTime<chrono::Utc>>| {
            at.map(|at| local_time(at, self.zone)).unwrap_or_default()
        };
        cells.extend([
            status.as_str().to_owned(),
            attempts.to_string(),
            outcome.map(|o| o.as_str().to_owned()).unwrap_or_default(),
            skip_reason.unwrap_or_default(),
            summary.unwrap_or_default(),
        ]);
        cells.extend(self.fields.iter().map(|field| analysis_value(analysis.as_ref(), field.key())));
        cells.extend([local(started), local(ended), local(Some(updated_at))]);
        cells
    }
}

/// An analysis value as a cell: text as is, numbers and booleans as JSON writes them, lists and
/// objects as JSON; empty when the call did not report it.
fn analysis_value(analysis: Option<&Value>, key: &str) -> String {
    match analysis.and_then(|a| a.get(key)) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// The organization's calls matching a filter, [`PAGE_ROWS`] at a time, newest first.
struct CallPages {
    state: AppState,
    scope: OrgScope,
    filter: CallFilter,
    zone: IanaZone,
    after: Option<CallCursor>,
    done: bool,
}

impl Pages for CallPages {
    async fn next_page(&mut self) -> ServiceResult<Option<Vec<Vec<String>>>> {
        if self.done {
            return Ok(None);
        }
        let (state, scope) = (&self.state, &self.scope);
        let calls =
            exports::calls_after(&state.db, scope, &state.keys, &self.filter, self.after, PAGE_ROWS).await?;
        self.done = (calls.len() as u64) < PAGE_ROWS;
        let Some(last) = calls.last() else { return Ok(None) };
        self.after = Some(CallCursor::after(last));
        Ok(Some(calls.into_iter().map(|call| self.line(call)).collect()))
    }
}

impl CallPages {
    fn line(&self, export: CallExport) -> Vec<String> {
        let CallExport { entry, summary } = export;
        let call = entry.call;
        let id = |id: Option<String>| id.unwrap_or_default();
        let local = |at: Option<chrono::DateTime<chrono::Utc>>| {
            at.map(|at| local_time(at, self.zone)).unwrap_or_default()
        };
        vec![
            call.id.to_string(),
            call.direction.as_str().to_owned(),
            call.status.as_str().to_owned(),
            call.outcome.map(|o| o.as_str().to_owned()).unwrap_or_default(),
            id(call.campaign_id.map(|c| c.to_string())),
            id(call.run_id.map(|r| r.to_string())),
            id(call.row_id.map(|r| r.to_string())),
            entry.patient_name.as_ref().map(full_name).unwrap_or_default(),
            entry.patient_phone_last4,
            call.attempt.to_string(),
            local(Some(call.created_at)),
            local(call.started_at),
            local(call.ended_at),
            call.duration_ms.map(|ms| ((ms.max(0) + 500) / 1000).to_string()).unwrap_or_default(),
            call.disconnection_reason.unwrap_or_default(),
            summary.unwrap_or_default(),
        ]
    }
}

/// `First Last`, or whichever part there is (as `calls.list` shows it).
fn full_name(name: &PatientName) -> String {
    format!("{} {}", name.first_name.trim(), name.last_name.trim()).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn analysis_values_become_text() {
        let analysis = json!({"confirmed": true, "reason": "moved", "count": 2, "none": null, "list": ["a"]});

        assert_eq!(analysis_value(Some(&analysis), "confirmed"), "true");
        assert_eq!(analysis_value(Some(&analysis), "reason"), "moved");
        assert_eq!(analysis_value(Some(&analysis), "count"), "2");
        assert_eq!(analysis_value(Some(&analysis), "none"), "");
        assert_eq!(analysis_value(Some(&analysis), "missing"), "");
        assert_eq!(analysis_value(Some(&analysis), "list"), "[\"a\"]");
        assert_eq!(analysis_value(None, "confirmed"), "");
    }

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(ExportFormat::from_extension("CSV"), Some(ExportFormat::Csv));
        assert_eq!(ExportFormat::from_extension("xlsx"), Some(ExportFormat::Xlsx));
        assert_eq!(ExportFormat::from_extension("pdf"), None);
    }
}
