//! `runs.*`: preview an uploaded sheet against a campaign, commit it as a run (patients upserted,
//! every row and cell kept, sealed), and read a run and its rows.
//!
//! Preview and create run the same ingestion over the stored upload, so what the user saw is
//! what is committed. Ingestion is CPU-bound and runs on the blocking pool.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::campaign::{CampaignDefinition, CampaignStatus, Direction};
use rivvi_domain::ids::{CampaignId, PatientId, PromptVersionId, RunId, RunRowId, UploadId};
use rivvi_domain::lifecycle::{RowStatus, RunStatus};
use rivvi_domain::validation::{single_line, ValidationErrors};
use rivvi_domain::{prompt, Role};
use rivvi_ingestion::map::{ColumnRef, ExplicitColumn};
use rivvi_ingestion::preview::{IngestedRow, RowStatus as SheetStatus};
use rivvi_ingestion::{ExplicitMapping, IngestError, IngestOptions, Preview, ReadOptions};
use rivvi_persistence::patients::{self, PatientFields, PatientIdentity};
use rivvi_persistence::prompt_versions::{self, NewPromptVersion};
use rivvi_persistence::run_rows::{self, NewRunRow, RowContent, RowIssue, RunRowRecord};
use rivvi_persistence::runs::{self, NewRun, RunRecord};
use rivvi_persistence::uploads::{self, UploadStatus};
use rivvi_persistence::{campaigns, OrgScope};
use rspc::{Router, RouterBuilder};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use specta::Type;

use super::campaigns::definition_of;
use super::context::OrgCaller;
use super::error::{ApiError, ApiResult};
use super::organizations::{has_more, saturating_u32, Pagination};
use super::{audit_trail, Ctx, Input};
use crate::http::uploads::load_upload;

/// Rows of each kind a preview shows in full.
const SAMPLE_ROWS: usize = 20;
/// Longest run name and client request id.
const MAX_NAME: usize = 120;
const MAX_REQUEST_ID: usize = 100;
/// Longest run instructions.
const MAX_INSTRUCTIONS: usize = 10_000;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("preview", |t| {
            t(|ctx: Ctx, input: Input<PreviewRun>| async move { Ok(preview(&ctx, input.parse()?).await?) })
        })
        .mutation("create", |t| {
            t(|ctx: Ctx, input: Input<CreateRun>| async move { Ok(create(&ctx, input.parse()?).await?) })
        })
        .query("get", |t| {
            t(|ctx: Ctx, input: Input<RunById>| async move { Ok(get(&ctx, input.parse()?).await?) })
        })
        .query("list", |t| {
            t(|ctx: Ctx, input: Input<ListRuns>| async move { Ok(list(&ctx, input.parse()?).await?) })
        })
        .query("getRows", |t| {
            t(|ctx: Ctx, input: Input<GetRows>| async move { Ok(get_rows(&ctx, input.parse()?).await?) })
        })
        .query("getStats", |t| {
            t(|ctx: Ctx, input: Input<RunById>| async move { Ok(get_stats(&ctx, input.parse()?).await?) })
        })
        .mutation("start", |t| {
            t(|ctx: Ctx, input: Input<RunById>| async move {
                Ok(change(&ctx, input.parse()?.id, Change::Start).await?)
            })
        })
        .mutation("pause", |t| {
            t(|ctx: Ctx, input: Input<PauseRun>| async move {
                let input = input.parse()?;
                Ok(change(&ctx, input.id, Change::Pause(input.reason)).await?)
            })
        })
        .mutation("resume", |t| {
            t(|ctx: Ctx, input: Input<RunById>| async move {
                Ok(change(&ctx, input.parse()?.id, Change::Resume).await?)
            })
        })
        .mutation("cancel", |t| {
            t(|ctx: Ctx, input: Input<RunById>| async move {
                Ok(change(&ctx, input.parse()?.id, Change::Cancel).await?)
            })
        })
        .mutation("schedule", |t| {
            t(|ctx: Ctx, input: Input<ScheduleRun>| async move {
                let input = input.parse()?;
                Ok(change(&ctx, input.run_id, Change::Schedule(input.scheduled_at)).await?)
            })
        })
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
    #[serde(default)]
    #[specta(optional)]
    pub mapping: Option<Vec<ColumnOverride>>,
    /// A workbook sheet; default: the first with a detectable header.
    #[serde(default)]
    #[specta(optional)]
    pub sheet: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRun {
    pub campaign_id: CampaignId,
    pub name: String,
    pub upload_id: UploadId,
    /// Makes the create idempotent: a retry with the same id returns the same run.
    pub client_request_id: String,
    #[serde(default)]
    #[specta(optional)]
    pub mapping: Option<Vec<ColumnOverride>>,
    #[serde(default)]
    #[specta(optional)]
    pub sheet: Option<String>,
    /// Start automatically at this time (in the future); otherwise the run waits, ready.
    #[serde(default)]
    #[specta(optional)]
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Free-text instructions for the agent, added to the campaign's prompt for this run only.
    #[serde(default)]
    #[specta(optional)]
    pub instructions: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunById {
    pub id: RunId,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRuns {
    #[serde(default)]
    #[specta(optional)]
    pub campaign_id: Option<CampaignId>,
    #[serde(default)]
    #[specta(optional)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[specta(optional)]
    pub offset: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetRows {
    pub run_id: RunId,
    #[serde(default)]
    #[specta(optional)]
    pub status: Option<RowStatus>,
    #[serde(default)]
    #[specta(optional)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[specta(optional)]
    pub offset: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PauseRun {
    pub id: RunId,
    #[serde(default)]
    #[specta(optional)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleRun {
    pub run_id: RunId,
    /// When the run starts by itself; must be in the future.
    pub scheduled_at: DateTime<Utc>,
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
    /// `exact`, `alias`, `fuzzy` or `explicit`.
    pub method: String,
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
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunPage {
    pub runs: Vec<Run>,
    pub total: u32,
    pub has_more: bool,
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
    let caller = ctx.require(Role::Member)?;
    let definition = campaign_definition(ctx, &caller.scope, input.campaign_id).await?;
    let preview =
        ingest_upload(ctx, &caller.scope, input.upload_id, &definition, input.mapping, input.sheet).await?;
    Ok(preview_view(&preview))
}

async fn create(ctx: &Ctx, input: CreateRun) -> ApiResult<Run> {
    let caller = ctx.require(Role::Member)?;
    let mut errors = ValidationErrors::new();
    let name = errors.check("name", single_line(&input.name, MAX_NAME));
    let request_id = errors.check("clientRequestId", single_line(&input.client_request_id, MAX_REQUEST_ID));
    let instructions =
        input.instructions.as_deref().map(str::trim).filter(|i| !i.is_empty()).map(str::to_owned);
    if instructions.as_ref().is_some_and(|i| i.chars().count() > MAX_INSTRUCTIONS) {
        errors.push("instructions", format!("must be at most {MAX_INSTRUCTIONS} characters"));
    }
    if input.scheduled_at.is_some_and(|at| at <= Utc::now()) {
        errors.push("scheduledAt", "must be in the future");
    }
    let (Some(name), Some(request_id), true) = (name, request_id, errors.is_empty()) else {
        return Err(errors.into());
    };

    // A retry of a create that already happened answers the same run and writes nothing.
    if let Some(existing) = runs::find_by_client_request_id(&ctx.state.db, &caller.scope, &request_id).await?
    {
        return same_request(existing, &input);
    }

    let definition = campaign_definition(ctx, &caller.scope, input.campaign_id).await?;
    if definition.direction() != Direction::Outbound {
        return Err(ApiError::invalid("campaignId", "is an inbound campaign: runs place outbound calls"));
    }
    if definition.status() != CampaignStatus::Active {
        return Err(ApiError::invalid("campaignId", "is not active"));
    }
    if let Some(text) = &instructions {
        let undeclared = definition.undeclared_placeholders(text);
        if !undeclared.is_empty() {
            return Err(ApiError::invalid(
                "instructions",
                format!("uses undeclared variables: {}", undeclared.join(", ")),
            ));
        }
    }
    let preview = Arc::new(
        ingest_upload(
            ctx,
            &caller.scope,
            input.upload_id,
            &definition,
            input.mapping.clone(),
            input.sheet.clone(),
        )
        .await?,
    );
    if preview.counts.callable_rows == 0 {
        return Err(ApiError::invalid(
            "uploadId",
            format!(
                "has no callable rows ({} invalid, {} duplicate of {} data rows)",
                preview.counts.invalid_rows, preview.counts.duplicate_rows, preview.counts.data_rows
            ),
        ));
    }

    let committed =
        commit_run(ctx, &caller, &definition, &input, name, request_id.clone(), instructions, &preview).await;
    match committed {
        // Two concurrent first attempts: the loser finds the winner's run.
        Err(ApiError::Conflict(_)) => {
            match runs::find_by_client_request_id(&ctx.state.db, &caller.scope, &request_id).await? {
                Some(existing) => same_request(existing, &input),
                None => Err(ApiError::Conflict("the run could not be created; retry".into())),
            }
        }
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
async fn commit_run(
    ctx: &Ctx,
    caller: &OrgCaller,
    definition: &CampaignDefinition,
    input: &CreateRun,
    name: String,
    request_id: String,
    instructions: Option<String>,
    preview: &Arc<Preview>,
) -> ApiResult<Run> {
    let scope = &caller.scope;
    let keys = &ctx.state.keys;
    let run_id = RunId::new();
    let started = std::time::Instant::now();
    let txn = ctx.state.db.begin().await?;
    let status = if input.scheduled_at.is_some() { RunStatus::Scheduled } else { RunStatus::Ready };
    runs::create(
        &txn,
        scope,
        NewRun {
            id: run_id,
            campaign_id: input.campaign_id,
            upload_id: Some(input.upload_id),
            name,
            status,
            instructions: instructions.clone(),
            scheduled_at: input.scheduled_at,
            settings: serde_json::json!({}),
            client_request_id: Some(request_id),
            created_by: Some(caller.user_id),
        },
    )
    .await
    .map_err(|err| match err {
        rivvi_persistence::PersistenceError::Conflict { .. } => {
            ApiError::Conflict("clientRequestId already used".into())
        }
        other => other.into(),
    })?;

    // The prompt this run's calls will use, pinned now: later campaign edits do not change it.
    let base = definition.base_prompt();
    let composed = prompt::compose(base, instructions.as_deref());
    let version = prompt_versions::append(
        &txn,
        scope,
        input.campaign_id,
        NewPromptVersion {
            run_id: Some(run_id),
            base_prompt: base.to_owned(),
            run_instructions: instructions,
            diff: prompt::diff(&prompt::compose(base, None), &composed),
            composed_prompt: composed,
            voicemail_message: definition.voicemail_message().map(str::to_owned),
            author_user_id: Some(caller.user_id),
            reason: "run created".into(),
        },
    )
    .await?;
    runs::set_prompt_version(&txn, scope, run_id, version.id).await?;

    // The rows are built on the blocking pool while the patients are written: on a large file
    // both take a while, and only the rows' patient ids need the database.
    let building = tokio::task::spawn_blocking({
        let preview = Arc::clone(preview);
        move || new_rows(&preview)
    });
    // Patients of every valid row (callable and duplicate), then the rows themselves.
    let (patient_rows, identities): (Vec<usize>, Vec<PatientIdentity>) = preview
        .rows
        .iter()
        .filter(|r| r.status != SheetStatus::Invalid)
        .filter_map(|r| patient_identity(r).map(|identity| (r.index, identity)))
        .unzip();
    let patient_ids = patients::find_or_create_many(&txn, scope, keys, &identities).await?;
    let patients_done = started.elapsed();
    let patient_of: HashMap<usize, PatientId> = patient_rows.into_iter().zip(patient_ids).collect();
    let mut new_rows =
        building.await.map_err(|e| ApiError::Internal(anyhow::anyhow!("building the rows failed: {e}")))?;
    for (new_row, row) in new_rows.iter_mut().zip(&preview.rows) {
        new_row.patient_id = patient_of.get(&row.index).copied();
    }
    let rows_built = started.elapsed();
    run_rows::insert_many(&txn, scope, keys, run_id, &new_rows).await?;
    let rows_done = started.elapsed();
    uploads::mark_status(&txn, scope, input.upload_id, UploadStatus::Ingested).await?;
    audit_trail::record(&txn, ctx, caller, Some(scope.org_id()), AuditAction::RunCreated, run_id, vec![])
        .await?;
    let record = runs::get(&txn, scope, run_id).await?;
    txn.commit().await?;
    tracing::info!(
        run_id = %run_id,
        rows = new_rows.len(),
        patients_ms = patients_done.as_millis() as u64,
        rows_ms = (rows_done - rows_built).as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "run created"
    );
    Ok(run_view(record))
}

async fn get(ctx: &Ctx, input: RunById) -> ApiResult<Run> {
    let caller = ctx.require(Role::Member)?;
    Ok(run_view(runs::get(&ctx.state.db, &caller.scope, input.id).await?))
}

async fn list(ctx: &Ctx, input: ListRuns) -> ApiResult<RunPage> {
    let caller = ctx.require(Role::Member)?;
    let page = Pagination { limit: input.limit, offset: input.offset }.page()?;
    let (records, total) = runs::list(&ctx.state.db, &caller.scope, input.campaign_id, page).await?;
    let has_more = has_more(page, records.len(), total);
    Ok(RunPage { runs: records.into_iter().map(run_view).collect(), total: saturating_u32(total), has_more })
}

async fn get_rows(ctx: &Ctx, input: GetRows) -> ApiResult<RunRows> {
    let caller = ctx.require(Role::Member)?;
    let page = Pagination { limit: input.limit, offset: input.offset }.page()?;
    let txn = ctx.state.db.begin().await?;
    runs::get(&txn, &caller.scope, input.run_id).await?;
    let (rows, total) =
        run_rows::list(&txn, &caller.scope, &ctx.state.keys, input.run_id, input.status, page).await?;
    let counts = run_rows::counts_by_status(&txn, &caller.scope, input.run_id).await?;
    txn.commit().await?;
    let has_more = has_more(page, rows.len(), total);
    Ok(RunRows {
        rows: rows.into_iter().map(row_view).collect(),
        total: saturating_u32(total),
        has_more,
        counts: counts
            .into_iter()
            .map(|(status, count)| StatusCount { status, count: saturating_u32(count) })
            .collect(),
    })
}

enum Change {
    Start,
    Pause(Option<String>),
    Resume,
    Cancel,
    Schedule(DateTime<Utc>),
}

/// A lifecycle change, checked by the run state machine, audit-logged in the same transaction.
async fn change(ctx: &Ctx, run_id: RunId, change: Change) -> ApiResult<Run> {
    use rivvi_execution::engine::lifecycle;
    let caller = ctx.require(Role::Member)?;
    let now = ctx.state.clock.now();
    let scope = &caller.scope;
    let txn = ctx.state.db.begin().await?;
    let (result, action) = match change {
        Change::Start => {
            (lifecycle::start(&txn, scope, run_id, now).await.map(|_| ()), AuditAction::RunStarted)
        }
        Change::Pause(reason) => {
            let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
            if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_NAME) {
                return Err(ApiError::invalid("reason", format!("must be at most {MAX_NAME} characters")));
            }
            (lifecycle::pause(&txn, scope, run_id, reason, now).await.map(|_| ()), AuditAction::RunPaused)
        }
        Change::Resume => {
            (lifecycle::resume(&txn, scope, run_id, now).await.map(|_| ()), AuditAction::RunResumed)
        }
        Change::Cancel => {
            (lifecycle::cancel(&txn, scope, run_id, now).await.map(|_| ()), AuditAction::RunCancelled)
        }
        Change::Schedule(at) => {
            if at <= now {
                return Err(ApiError::invalid("scheduledAt", "must be in the future"));
            }
            (lifecycle::schedule(&txn, scope, run_id, at, now).await.map(|_| ()), AuditAction::RunScheduled)
        }
    };
    result.map_err(engine_error)?;
    audit_trail::record(&txn, ctx, &caller, Some(scope.org_id()), action, run_id, vec!["status".into()])
        .await?;
    let record = runs::get(&txn, scope, run_id).await?;
    txn.commit().await?;
    if record.status == RunStatus::Running {
        // Dial now rather than at the engine's next tick.
        ctx.state.engine.wake();
    }
    Ok(run_view(record))
}

fn engine_error(err: rivvi_execution::engine::EngineError) -> ApiError {
    use rivvi_execution::engine::EngineError as E;
    match err {
        E::Transition(t) => ApiError::Conflict(t.to_string()),
        E::Concurrent(_) => ApiError::Conflict("the run changed at the same time; retry".into()),
        E::Persistence(p) => p.into(),
        other => ApiError::Internal(other.into()),
    }
}

async fn get_stats(ctx: &Ctx, input: RunById) -> ApiResult<RunStats> {
    let caller = ctx.require(Role::Member)?;
    let txn = ctx.state.db.begin().await?;
    let record = runs::get(&txn, &caller.scope, input.id).await?;
    let rows = run_rows::counts_by_status(&txn, &caller.scope, input.id).await?;
    let calls = rivvi_persistence::calls::counts_by_outcome(&txn, &caller.scope, input.id).await?;
    txn.commit().await?;
    Ok(RunStats {
        run: run_view(record),
        rows: rows
            .into_iter()
            .map(|(status, count)| StatusCount { status, count: saturating_u32(count) })
            .collect(),
        calls: calls
            .into_iter()
            .map(|(outcome, count)| OutcomeCount {
                outcome: outcome.map(|o| o.as_str().to_owned()),
                count: saturating_u32(count),
            })
            .collect(),
    })
}

// ---------------------------------------------------------------- helpers

async fn campaign_definition(ctx: &Ctx, scope: &OrgScope, id: CampaignId) -> ApiResult<CampaignDefinition> {
    let record = campaigns::get(&ctx.state.db, scope, id).await?;
    definition_of(&record)
}

/// Reads the upload and runs ingestion on the blocking pool. File problems answer 400 naming
/// `uploadId` (or `sheet` / `mapping` for the caller's own mistakes).
async fn ingest_upload(
    ctx: &Ctx,
    scope: &OrgScope,
    upload_id: UploadId,
    definition: &CampaignDefinition,
    mapping: Option<Vec<ColumnOverride>>,
    sheet: Option<String>,
) -> ApiResult<Preview> {
    let (record, bytes) = load_upload(&ctx.state, scope, upload_id).await?;
    let variables = definition.variables().to_vec();
    let options = IngestOptions {
        read: ReadOptions { sheet, ..ReadOptions::default() },
        today: Utc::now().date_naive(),
        mapping: mapping.map(explicit_mapping),
    };
    let file_name = record.file_name.clone();
    let result = tokio::task::spawn_blocking(move || {
        rivvi_ingestion::ingest(&bytes, &file_name, &variables, &options, None)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("ingestion task failed: {e}")))?;
    result.map_err(|err| {
        let field = match err {
            IngestError::UnknownSheet { .. } => "sheet",
            IngestError::InvalidMapping(_) => "mapping",
            _ => "uploadId",
        };
        ApiError::invalid(field, err.to_string())
    })
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

/// A repeated `clientRequestId` must name the same request.
fn same_request(existing: RunRecord, input: &CreateRun) -> ApiResult<Run> {
    if existing.campaign_id != input.campaign_id || existing.upload_id != Some(input.upload_id) {
        return Err(ApiError::Conflict("clientRequestId was already used for a different run".into()));
    }
    Ok(run_view(existing))
}

/// The run's rows in sheet order, without their patients (known once the patients are written).
fn new_rows(preview: &Preview) -> Vec<NewRunRow> {
    let row_ids: Vec<RunRowId> = preview.rows.iter().map(|_| RunRowId::new()).collect();
    preview
        .rows
        .iter()
        .map(|row| NewRunRow {
            id: row_ids[row.index],
            patient_id: None,
            sort_index: u32::try_from(row.index).unwrap_or(u32::MAX),
            sheet_row: row.sheet_row,
            content: RowContent {
                variables: row.variables().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
                issues: row
                    .errors
                    .iter()
                    .chain(&row.warnings)
                    .map(|e| RowIssue { field: e.field.clone(), reason: e.reason.clone() })
                    .collect(),
            },
            cells: row_cells(preview, row),
            status: match row.status {
                SheetStatus::Callable => RowStatus::Pending,
                SheetStatus::Invalid | SheetStatus::Duplicate => RowStatus::Skipped,
            },
            skip_reason: match row.status {
                SheetStatus::Callable => None,
                SheetStatus::Invalid => Some("invalid".into()),
                SheetStatus::Duplicate => Some("duplicate".into()),
            },
            duplicate_of: row.duplicate_of.and_then(|first| row_ids.get(first).copied()),
        })
        .collect()
}

fn patient_identity(row: &IngestedRow) -> Option<PatientIdentity> {
    let p = row.patient();
    let canonical = p.identity?.to_owned();
    Some(PatientIdentity {
        canonical,
        fields: PatientFields {
            first_name: p.first_name.unwrap_or_default().to_owned(),
            last_name: p.last_name.unwrap_or_default().to_owned(),
            birth_date: p.birth_date.unwrap_or_default().to_owned(),
            phone: p.phone?.to_owned(),
            secondary_phone: p.secondary_phone.map(str::to_owned),
            mrn: p.mrn.map(str::to_owned),
        },
    })
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn mapped(
    column: usize,
    header: &str,
    field: &str,
    part: impl Serialize,
    confidence: f64,
    method: impl Serialize,
) -> MappedColumn {
    let text = |v: serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    MappedColumn {
        column: to_u32(column),
        header: header.to_owned(),
        field: field.to_owned(),
        part: text(serde_json::to_value(part).unwrap_or_default()),
        confidence,
        method: text(serde_json::to_value(method).unwrap_or_default()),
    }
}

/// Every cell of the row as the file shows it, one per column: a row that ends early (CSV lines
/// with trailing empty fields, sparse sheet rows) is padded with empty cells to the header's width.
fn row_cells(preview: &Preview, row: &IngestedRow) -> Vec<String> {
    let width = preview.headers.len().max(row.cells.len());
    (0..width).map(|i| row.cells.get(i).map(|c| c.text.clone()).unwrap_or_default()).collect()
}

fn problems(errors: &[rivvi_ingestion::preview::RowError]) -> Vec<FieldProblem> {
    errors.iter().map(|e| FieldProblem { field: e.field.clone(), reason: e.reason.clone() }).collect()
}

fn sheet_row(preview: &Preview, row: &IngestedRow) -> SheetRow {
    let status =
        serde_json::to_value(row.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    SheetRow {
        sheet_row: row.sheet_row,
        status,
        variables: row.variables().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        cells: row_cells(preview, row),
        errors: problems(&row.errors),
        warnings: problems(&row.warnings),
        reason: row.reason.clone(),
        duplicate_of_sheet_row: row
            .duplicate_of
            .and_then(|i| preview.rows.get(i))
            .map(|first| first.sheet_row),
    }
}

fn preview_view(preview: &Preview) -> RunPreview {
    let rows_of = |status: SheetStatus| preview.rows.iter().filter(move |r| r.status == status);
    RunPreview {
        format: preview.format.as_str().to_owned(),
        sheet: preview.sheet.clone(),
        sheet_names: preview.sheet_names.clone(),
        header_row: preview.header_row,
        headers: preview.headers.clone(),
        mapping: preview
            .mapping
            .iter()
            .map(|m| mapped(m.column, &m.header, &m.field, m.part, m.confidence, m.method))
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
                kind: serde_json::to_value(a.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                message: a.message.clone(),
                candidates: a
                    .candidates
                    .iter()
                    .map(|c| mapped(c.column, &c.header, &c.field, "whole", c.confidence, "fuzzy"))
                    .collect(),
            })
            .collect(),
        counts: RowCounts {
            data_rows: to_u32(preview.counts.data_rows),
            invalid_rows: to_u32(preview.counts.invalid_rows),
            duplicate_rows: to_u32(preview.counts.duplicate_rows),
            callable_rows: to_u32(preview.counts.callable_rows),
            distinct_patients: to_u32(preview.counts.distinct_patients),
        },
        sample_rows: preview.rows.iter().take(SAMPLE_ROWS).map(|r| sheet_row(preview, r)).collect(),
        invalid_rows: rows_of(SheetStatus::Invalid).map(|r| sheet_row(preview, r)).collect(),
        duplicate_rows: rows_of(SheetStatus::Duplicate).map(|r| sheet_row(preview, r)).collect(),
    }
}

fn run_view(record: RunRecord) -> Run {
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
        outcome: record.outcome,
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
