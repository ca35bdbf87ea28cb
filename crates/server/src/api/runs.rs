//! `runs.*`: preview an uploaded sheet against a campaign, commit it as a run, read a run and its
//! rows, and move it through its lifecycle (`services::runs`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rivvi_domain::ids::OrgId;
use rivvi_domain::ids::{
    CampaignId, PatientId, PromptVariationId, PromptVersionId, RunId, RunRowId, UploadId,
};
use rivvi_domain::lifecycle::{RowStatus, RunStatus};
use rivvi_domain::waiting::Waiting;
use rivvi_domain::Role;
use rivvi_execution::engine::lifecycle::RunChange;
use rivvi_ingestion::map::{ColumnRef, ExplicitColumn, NameOrder};
use rivvi_ingestion::preview::{IngestedRow, RowStatus as SheetStatus};
use rivvi_ingestion::{ExplicitMapping, Preview};
use rivvi_persistence::patients::PatientMatch;
use rivvi_persistence::run_rows::RunRowRecord;
use rivvi_persistence::runs::RunRecord;
use rspc::{Router, RouterBuilder};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::ApiResult;
use super::paging::{count, has_more};
use super::Ctx;
use crate::services::runs::{self, RunRequest, SheetChoice};

/// Rows of each kind a preview shows in full.
const SAMPLE_ROWS: usize = 20;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("preview", procedure!(preview))
        .mutation("create", procedure!(create))
        .query("get", procedure!(get))
        .query("list", procedure!(list))
        .query("getRows", procedure!(get_rows))
        .query("getStats", procedure!(get_stats))
        .mutation("start", procedure!(start))
        .mutation("pause", procedure!(pause))
        .mutation("resume", procedure!(resume))
        .mutation("cancel", procedure!(cancel))
        .mutation("schedule", procedure!(schedule))
        .subscription("events", |t| t(super::live::run_events))
}

// ---------------------------------------------------------------- inputs

/// A column named by its 0-based index or its header text.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(untagged)]
pub enum ColumnSelector {
    Index(u32),
    Header(String),
}

/// One override of the detected mapping: the column fills `field`, or nothing when `field` is null.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ColumnOverride {
    pub column: ColumnSelector,
    pub field: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewRun {
    pub campaign_id: CampaignId,
    pub upload_id: UploadId,
    #[specta(optional)]
    pub mapping: Option<Vec<ColumnOverride>>,
    /// A workbook sheet; default: the first with a detectable header.
    #[specta(optional)]
    pub sheet: Option<String>,
    /// Operators only: act in this organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRun {
    pub campaign_id: CampaignId,
    pub name: String,
    pub upload_id: UploadId,
    /// Makes the create idempotent: a retry with the same id returns the same run.
    pub client_request_id: String,
    #[specta(optional)]
    pub mapping: Option<Vec<ColumnOverride>>,
    #[specta(optional)]
    pub sheet: Option<String>,
    /// Start automatically at this time (in the future); otherwise the run waits, ready.
    #[specta(optional)]
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Free-text instructions for the agent, added to the campaign's prompt for this run only.
    #[specta(optional)]
    pub instructions: Option<String>,
    /// An AI-suggested variation (`campaigns.suggestPromptVariation`) of the campaign's prompt to
    /// use for this run only; it must still pass the placeholder checks.
    #[specta(optional)]
    pub prompt_variation_id: Option<PromptVariationId>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunById {
    pub id: RunId,
    /// Operators only: act in this organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

paged_input! {
    pub struct ListRuns {
        #[specta(optional)]
        pub campaign_id: Option<CampaignId>,
        /// Operators only: act in this organization (the access is audited there).
        #[specta(optional)]
        pub org_id: Option<OrgId>,
    }
}

paged_input! {
    pub struct GetRows {
        pub run_id: RunId,
        #[specta(optional)]
        pub status: Option<RowStatus>,
        /// Operators only: act in this organization (the access is audited there).
        #[specta(optional)]
        pub org_id: Option<OrgId>,
    }
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PauseRun {
    pub id: RunId,
    #[specta(optional)]
    pub reason: Option<String>,
    /// Operators only: act in this organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleRun {
    pub run_id: RunId,
    /// When the run starts by itself; must be in the future.
    pub scheduled_at: DateTime<Utc>,
    /// Operators only: act in this organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

// ---------------------------------------------------------------- outputs

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCount {
    /// `reached`, `voicemail`, `no_answer`, `busy`, `failed`, or null for calls still going.
    pub outcome: Option<String>,
    pub count: u32,
}

/// A run's numbers, counted from the rows and calls tables.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunStats {
    pub run: Run,
    pub rows: Vec<StatusCount>,
    pub calls: Vec<OutcomeCount>,
    /// A running run's pending rows by why they are not dialled yet, and until when (empty when
    /// the run is not running: its status says why).
    pub waiting: Vec<Waiting>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MappedColumn {
    pub column: u32,
    pub header: String,
    pub field: String,
    /// `whole`, or which part of a combined cell (`givenName`, `familyName`, `date`, `time`).
    pub part: String,
    /// 0..1.
    pub confidence: f64,
    /// `exact`, `alias`, `fuzzy`, `content` (the cells decided) or `explicit`.
    pub method: String,
    /// For a whole-name column whose header gives the layout (`Name (Last, First)`): `lastFirst`
    /// or `firstLast`; cells without a comma are split in that order.
    pub name_order: Option<String>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ColumnHeader {
    pub column: u32,
    pub header: String,
}

/// A mapping doubt left for the user to settle with an explicit mapping.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MappingDoubt {
    pub kind: String,
    pub message: String,
    pub candidates: Vec<MappedColumn>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RowCounts {
    pub data_rows: u32,
    pub invalid_rows: u32,
    pub duplicate_rows: u32,
    pub callable_rows: u32,
    pub distinct_patients: u32,
    /// Callable rows whose patient the organization has already (same MRN, or same name, birth
    /// date and phone, or the only patient with this name and birth date).
    pub existing_patient_rows: u32,
    /// Of those, the rows that are a new phone for an existing patient: their number will be added
    /// to the patient's contact points.
    pub new_phone_rows: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

/// One sheet row as ingestion read it.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SheetRow {
    /// 1-based row number in the sheet.
    pub sheet_row: u32,
    /// `callable`, `invalid` or `duplicate`.
    pub status: String,
    /// Normalised values by variable key.
    pub variables: BTreeMap<String, String>,
    /// Every original cell as the file shows it.
    pub cells: Vec<String>,
    pub errors: Vec<FieldProblem>,
    pub warnings: Vec<FieldProblem>,
    /// Why the row will not be called.
    pub reason: Option<String>,
    /// For a duplicate: the sheet row of the patient's first row.
    pub duplicate_of_sheet_row: Option<u32>,
    /// Who the row's patient is among the organization's patients; null for an invalid row.
    pub patient: Option<RowPatient>,
}

/// Who a valid row's patient is, against the organization's patients at preview time.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RowPatient {
    pub kind: RowPatientKind,
    /// The existing patient (`existing`, `newPhone`).
    pub patient_id: Option<PatientId>,
    /// For a `new` patient who is also the patient of an earlier row of this sheet (the same
    /// MRN under another name or number): that row's 1-based sheet row. Creating the run makes
    /// them one patient.
    pub same_patient_as_sheet_row: Option<u32>,
    /// For the user: `new patient`, `existing patient`, `new phone for an existing patient`, or
    /// `new patient, the same as sheet row N (same MRN)`.
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum RowPatientKind {
    /// A patient the organization does not have yet.
    New,
    /// A patient the organization has, with this number.
    Existing,
    /// A patient the organization has (same MRN, or the only one with this name and birth date),
    /// with a number new to them.
    NewPhone,
}

impl RowPatient {
    fn of(found: PatientMatch, preview: &Preview) -> Self {
        let (kind, patient_id, same_row, note) = match found {
            PatientMatch::New => (RowPatientKind::New, None, None, "new patient".to_owned()),
            PatientMatch::SameNewPatient(first) => {
                let sheet_row = preview.rows.get(first).map(|row| row.sheet_row);
                let note = match sheet_row {
                    Some(n) => format!("new patient, the same as sheet row {n} (same MRN)"),
                    None => "new patient".to_owned(),
                };
                (RowPatientKind::New, None, sheet_row, note)
            }
            PatientMatch::Existing(id) => {
                (RowPatientKind::Existing, Some(id), None, "existing patient".to_owned())
            }
            PatientMatch::NewPhone(id) => {
                (RowPatientKind::NewPhone, Some(id), None, "new phone for an existing patient".to_owned())
            }
        };
        RowPatient { kind, patient_id, same_patient_as_sheet_row: same_row, note }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunPreview {
    /// `xlsx`, `csv`, ...
    pub format: String,
    pub sheet: Option<String>,
    pub sheet_names: Vec<String>,
    pub header_row: u32,
    pub headers: Vec<String>,
    pub mapping: Vec<MappedColumn>,
    pub unmapped_columns: Vec<ColumnHeader>,
    /// Variables no column fills.
    pub unmapped_fields: Vec<String>,
    pub ambiguities: Vec<MappingDoubt>,
    pub counts: RowCounts,
    /// The first rows, transformed.
    pub sample_rows: Vec<SheetRow>,
    /// Every invalid row, with its reasons.
    pub invalid_rows: Vec<SheetRow>,
    /// Every duplicate row, with the row it repeats.
    pub duplicate_rows: Vec<SheetRow>,
    /// Every callable row that is a new phone for an existing patient.
    pub new_phone_rows: Vec<SheetRow>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: RunId,
    pub campaign_id: CampaignId,
    pub upload_id: Option<UploadId>,
    pub name: String,
    pub status: RunStatus,
    pub prompt_version_id: Option<PromptVersionId>,
    pub instructions: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
    pub client_request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the run's calls use, frozen when it was created; on `runs.get` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[specta(optional)]
    pub pinned: Option<PinnedPrompt>,
}

/// The prompt version a run pinned, the provider agent version published with it, and how the
/// campaign's prompt has changed since.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PinnedPrompt {
    pub version_id: PromptVersionId,
    pub version_number: u32,
    pub composed_prompt: String,
    pub voicemail_message: Option<String>,
    /// The Retell agent every call of the run names (`null` for runs from before pinning).
    pub agent_id: Option<String>,
    /// Its published version.
    pub agent_version: Option<u32>,
    /// Unified diff of the pinned prompt against what a run created now would get; empty when
    /// the campaign's prompt is unchanged.
    pub diff_from_current: String,
}

page_output! {
    pub struct RunPage { runs: Run }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunRow {
    pub id: RunRowId,
    pub sort_index: u32,
    pub sheet_row: u32,
    pub patient_id: Option<PatientId>,
    pub status: RowStatus,
    /// `invalid` or `duplicate` for skipped rows.
    pub skip_reason: Option<String>,
    pub duplicate_of: Option<RunRowId>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub variables: BTreeMap<String, String>,
    pub cells: Vec<String>,
    pub issues: Vec<FieldProblem>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    pub status: RowStatus,
    pub count: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunRows {
    pub rows: Vec<RunRow>,
    /// Rows matching the filter.
    pub total: u32,
    pub has_more: bool,
    /// Rows of the whole run per status.
    pub counts: Vec<StatusCount>,
}

// ---------------------------------------------------------------- procedures

async fn preview(ctx: &Ctx, input: PreviewRun) -> ApiResult<RunPreview> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let choice = sheet_choice(input.sheet, input.mapping);
    let preview = runs::preview(&ctx.state, &caller, input.campaign_id, input.upload_id, choice).await?;
    Ok(preview_view(&preview.sheet, &preview.patients))
}

async fn create(ctx: &Ctx, input: CreateRun) -> ApiResult<Run> {
    let caller = ctx.require(Role::Member)?;
    let request = RunRequest {
        campaign_id: input.campaign_id,
        upload_id: input.upload_id,
        name: input.name,
        client_request_id: input.client_request_id,
        sheet: sheet_choice(input.sheet, input.mapping),
        scheduled_at: input.scheduled_at,
        instructions: input.instructions,
        prompt_variation_id: input.prompt_variation_id,
    };
    Ok(run_view(runs::create_run(&ctx.state, &caller, request).await?))
}

async fn get(ctx: &Ctx, input: RunById) -> ApiResult<Run> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let (record, pinned) = runs::get_with_pinned(&ctx.state, &caller, input.id).await?;
    let pinned = pinned.map(|p| PinnedPrompt {
        version_id: p.version.id,
        version_number: p.version.number,
        composed_prompt: p.version.composed_prompt,
        voicemail_message: p.version.voicemail_message,
        agent_id: p.version.agent.as_ref().map(|a| a.agent_id.clone()),
        agent_version: p.version.agent.map(|a| a.version),
        diff_from_current: p.diff_from_current,
    });
    Ok(Run { pinned, ..run_view(record) })
}

async fn list(ctx: &Ctx, input: ListRuns) -> ApiResult<RunPage> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let page = input.page()?;
    let (records, total) = runs::list(&ctx.state, &caller, input.campaign_id, page).await?;
    Ok(RunPage::of(page, records, total, run_view))
}

async fn get_rows(ctx: &Ctx, input: GetRows) -> ApiResult<RunRows> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let page = input.page()?;
    let found = runs::rows(&ctx.state, &caller, input.run_id, input.status, page).await?;
    Ok(RunRows {
        has_more: has_more(page, found.rows.len(), found.total),
        rows: found.rows.into_iter().map(row_view).collect(),
        total: count(found.total),
        counts: status_counts(found.counts),
    })
}

async fn get_stats(ctx: &Ctx, input: RunById) -> ApiResult<RunStats> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    Ok(stats_view(runs::stats(&ctx.state, &caller, input.id).await?))
}

/// A run's numbers on the wire (`runs.getStats`, and the tally of `runs.events`).
pub(super) fn stats_view(stats: runs::RunStats) -> RunStats {
    RunStats {
        run: run_view(stats.run),
        rows: status_counts(stats.rows),
        calls: stats
            .calls
            .into_iter()
            .map(|(outcome, n)| OutcomeCount {
                outcome: outcome.map(|o| o.as_str().to_owned()),
                count: count(n),
            })
            .collect(),
        waiting: stats.waiting,
    }
}

async fn start(ctx: &Ctx, input: RunById) -> ApiResult<Run> {
    change(ctx, input.id, input.org_id, RunChange::Start).await
}

async fn pause(ctx: &Ctx, input: PauseRun) -> ApiResult<Run> {
    change(ctx, input.id, input.org_id, RunChange::Pause { reason: input.reason }).await
}

async fn resume(ctx: &Ctx, input: RunById) -> ApiResult<Run> {
    change(ctx, input.id, input.org_id, RunChange::Resume).await
}

async fn cancel(ctx: &Ctx, input: RunById) -> ApiResult<Run> {
    change(ctx, input.id, input.org_id, RunChange::Cancel).await
}

async fn schedule(ctx: &Ctx, input: ScheduleRun) -> ApiResult<Run> {
    change(ctx, input.run_id, input.org_id, RunChange::Schedule { at: input.scheduled_at }).await
}

async fn change(ctx: &Ctx, run_id: RunId, org_id: Option<OrgId>, change: RunChange) -> ApiResult<Run> {
    let caller = ctx.require_in(Role::Member, org_id).await?;
    Ok(run_view(runs::change(&ctx.state, &caller, run_id, change).await?))
}

// ---------------------------------------------------------------- output mapping

fn sheet_choice(sheet: Option<String>, mapping: Option<Vec<ColumnOverride>>) -> SheetChoice {
    SheetChoice { sheet, mapping: mapping.map(explicit_mapping) }
}

fn explicit_mapping(overrides: Vec<ColumnOverride>) -> ExplicitMapping {
    ExplicitMapping(
        overrides
            .into_iter()
            .map(|o| ExplicitColumn {
                column: match o.column {
                    ColumnSelector::Index(i) => ColumnRef::Index(i as usize),
                    ColumnSelector::Header(h) => ColumnRef::Header(h),
                },
                field: o.field,
            })
            .collect(),
    )
}

fn status_counts(counts: Vec<(RowStatus, u64)>) -> Vec<StatusCount> {
    counts.into_iter().map(|(status, n)| StatusCount { status, count: count(n) }).collect()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The wire name of a serde-named ingestion enum (`givenName`, `alias`, `callable`).
fn wire_name(value: impl Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn mapped(
    column: usize,
    header: &str,
    field: &str,
    part: impl Serialize,
    confidence: f64,
    method: impl Serialize,
    name_order: Option<NameOrder>,
) -> MappedColumn {
    MappedColumn {
        column: to_u32(column),
        header: header.to_owned(),
        field: field.to_owned(),
        part: wire_name(part),
        confidence,
        method: wire_name(method),
        name_order: name_order.map(wire_name),
    }
}

fn problems(errors: &[rivvi_ingestion::preview::RowError]) -> Vec<FieldProblem> {
    errors.iter().map(|e| FieldProblem { field: e.field.clone(), reason: e.reason.clone() }).collect()
}

fn sheet_row(preview: &Preview, patients: &HashMap<usize, PatientMatch>, row: &IngestedRow) -> SheetRow {
    SheetRow {
        sheet_row: row.sheet_row,
        status: wire_name(row.status),
        variables: row.variables().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        cells: runs::row_cells(preview, row),
        errors: problems(&row.errors),
        warnings: problems(&row.warnings),
        reason: row.reason.clone(),
        duplicate_of_sheet_row: row
            .duplicate_of
            .and_then(|i| preview.rows.get(i))
            .map(|first| first.sheet_row),
        patient: patients.get(&row.index).map(|found| RowPatient::of(*found, preview)),
    }
}

fn preview_view(preview: &Preview, patients: &HashMap<usize, PatientMatch>) -> RunPreview {
    let rows_of = |status: SheetStatus| preview.rows.iter().filter(move |r| r.status == status);
    let callable_as = |wanted: fn(&PatientMatch) -> bool| {
        rows_of(SheetStatus::Callable).filter(move |r| patients.get(&r.index).is_some_and(wanted))
    };
    let new_phone = |m: &PatientMatch| matches!(m, PatientMatch::NewPhone(_));
    let existing = |m: &PatientMatch| matches!(m, PatientMatch::Existing(_) | PatientMatch::NewPhone(_));
    let row = |r: &IngestedRow| sheet_row(preview, patients, r);
    RunPreview {
        format: preview.format.as_str().to_owned(),
        sheet: preview.sheet.clone(),
        sheet_names: preview.sheet_names.clone(),
        header_row: preview.header_row,
        headers: preview.headers.clone(),
        mapping: preview
            .mapping
            .iter()
            .map(|m| mapped(m.column, &m.header, &m.field, m.part, m.confidence, m.method, m.name_order))
            .collect(),
        unmapped_columns: preview
            .unmapped_columns
            .iter()
            .map(|c| ColumnHeader { column: to_u32(c.column), header: c.header.clone() })
            .collect(),
        unmapped_fields: preview.unmapped_fields.clone(),
        ambiguities: preview
            .ambiguities
            .iter()
            .map(|a| MappingDoubt {
                kind: wire_name(a.kind),
                message: a.message.clone(),
                candidates: a
                    .candidates
                    .iter()
                    .map(|c| mapped(c.column, &c.header, &c.field, "whole", c.confidence, "fuzzy", None))
                    .collect(),
            })
            .collect(),
        counts: RowCounts {
            data_rows: to_u32(preview.counts.data_rows),
            invalid_rows: to_u32(preview.counts.invalid_rows),
            duplicate_rows: to_u32(preview.counts.duplicate_rows),
            callable_rows: to_u32(preview.counts.callable_rows),
            distinct_patients: to_u32(preview.counts.distinct_patients),
            existing_patient_rows: to_u32(callable_as(existing).count()),
            new_phone_rows: to_u32(callable_as(new_phone).count()),
        },
        sample_rows: preview.rows.iter().take(SAMPLE_ROWS).map(row).collect(),
        invalid_rows: rows_of(SheetStatus::Invalid).map(row).collect(),
        duplicate_rows: rows_of(SheetStatus::Duplicate).map(row).collect(),
        new_phone_rows: callable_as(new_phone).map(row).collect(),
    }
}

pub(super) fn run_view(record: RunRecord) -> Run {
    Run {
        id: record.id,
        campaign_id: record.campaign_id,
        upload_id: record.upload_id,
        name: record.name,
        status: record.status,
        prompt_version_id: record.prompt_version_id,
        instructions: record.instructions,
        scheduled_at: record.scheduled_at,
        started_at: record.started_at,
        finished_at: record.finished_at,
        pause_reason: record.pause_reason,
        client_request_id: record.client_request_id,
        created_at: record.created_at,
        updated_at: record.updated_at,
        pinned: None,
    }
}

fn row_view(record: RunRowRecord) -> RunRow {
    RunRow {
        id: record.id,
        sort_index: record.sort_index,
        sheet_row: record.sheet_row,
        patient_id: record.patient_id,
        status: record.status,
        skip_reason: record.skip_reason,
        duplicate_of: record.duplicate_of,
        attempts: record.attempts,
        next_attempt_at: record.next_attempt_at,
        outcome: record.outcome.map(|o| o.as_str().to_owned()),
        variables: record.content.variables,
        cells: record.cells,
        issues: record
            .content
            .issues
            .into_iter()
            .map(|i| FieldProblem { field: i.field, reason: i.reason })
            .collect(),
    }
}
