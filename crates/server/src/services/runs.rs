//! Runs: an uploaded sheet previewed against a campaign, committed as a run (patients upserted,
//! every row and cell kept, sealed), read back, and moved through its lifecycle.
//!
//! Preview and create run the same ingestion over the stored upload, so what the user saw is
//! what is committed. Ingestion is CPU-bound and runs on the blocking pool.
//!
//! Both also ask who each valid row's patient is among the organization's patients
//! (`rivvi_persistence::patients::plan_many`): the preview only reads, to show rows that are a new
//! phone for an existing patient; the create writes the same decision, adding those numbers to the
//! patients' contact points with an audit entry each, in the run's transaction.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::campaign::{CampaignDefinition, CampaignStatus, Direction};
use rivvi_domain::ids::{CampaignId, OrgId, PatientId, PromptVariationId, RunId, RunRowId, UploadId};
use rivvi_domain::lifecycle::{CallOutcome, RowStatus, RunEvent, RunStatus};
use rivvi_domain::prompt;
use rivvi_domain::validation::{single_line, ValidationErrors};
use rivvi_domain::waiting::Waiting;
use rivvi_execution::bus::{BusEvent, BusEventKind};
use rivvi_execution::engine::lifecycle::{ChangedBy, RunChange};
use rivvi_execution::engine::AgentContent;
use rivvi_ingestion::preview::{IngestedRow, RowStatus as SheetStatus};
use rivvi_ingestion::{ExplicitMapping, IngestOptions, Preview, ReadOptions};
use rivvi_persistence::patients::{self, PatientFields, PatientIdentity, PatientMatch, PhoneSource};
use rivvi_persistence::prompt_versions::{
    self, FrozenFields, NewPromptVersion, PromptVersionRecord, PublishedAgent,
};
use rivvi_persistence::run_overview::{self, RunOverview};
use rivvi_persistence::run_rows::{self, NewRunRow, RowContent, RowIssue, RunRowRecord};
use rivvi_persistence::runs::{self, NewRun, RunRecord};
use rivvi_persistence::uploads::{self, UploadStatus};
use rivvi_persistence::{calls, engine_queries, organizations, OrgScope, Page};
use sea_orm::TransactionTrait;

use super::error::conflict_as;
use super::prompt_variations;
use super::{audit_trail, campaigns, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// Longest run name and client request id.
const MAX_NAME: usize = 120;
const MAX_REQUEST_ID: usize = 100;
/// Longest run instructions.
const MAX_INSTRUCTIONS: usize = 10_000;

/// Which sheet of an upload, and how its columns fill the campaign's variables.
#[derive(Debug, Clone, Default)]
pub struct SheetChoice {
    /// A workbook sheet; default: the first with a detectable header.
    pub sheet: Option<String>,
    /// Overrides of the detected mapping.
    pub mapping: Option<ExplicitMapping>,
}

/// A run to create from an upload.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub campaign_id: CampaignId,
    pub upload_id: UploadId,
    pub name: String,
    /// Makes the create idempotent: a retry with the same id answers the same run.
    pub client_request_id: String,
    pub sheet: SheetChoice,
    /// Start automatically at this time (in the future); otherwise the run waits, ready.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Free-text instructions for the agent, added to the campaign's prompt for this run only.
    pub instructions: Option<String>,
    /// Use this AI-suggested variation of the campaign's prompt for this run only.
    pub prompt_variation_id: Option<PromptVariationId>,
}

/// A page of a run's rows, with the whole run's count per status.
#[derive(Debug, Clone)]
pub struct RowsPage {
    pub rows: Vec<RunRowRecord>,
    /// Rows matching the filter.
    pub total: u64,
    pub counts: Vec<(RowStatus, u64)>,
}

/// A run's numbers, counted from the rows and calls tables.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub run: RunRecord,
    pub rows: Vec<(RowStatus, u64)>,
    /// Per outcome; `None` for calls still going.
    pub calls: Vec<(Option<CallOutcome>, u64)>,
    /// A running run's pending rows by why they wait (empty otherwise).
    pub waiting: Vec<Waiting>,
}

/// What an upload would become as a run.
#[derive(Debug)]
pub struct RunPreview {
    pub sheet: Preview,
    /// Who the patient of each valid row is among the organization's patients now, by row index
    /// (`IngestedRow::index`); invalid rows have none. A [`PatientMatch::SameNewPatient`] holds
    /// the row index of the row whose new patient it is.
    pub patients: HashMap<usize, PatientMatch>,
}

/// What the upload would become as a run of the campaign. Writes nothing but its audit entry.
#[tracing::instrument(skip_all, fields(org_id = %caller.scope, upload_id = %upload_id), err)]
pub async fn preview(
    state: &AppState,
    caller: &OrgCaller,
    campaign_id: CampaignId,
    upload_id: UploadId,
    choice: SheetChoice,
) -> ServiceResult<RunPreview> {
    let definition = campaigns::definition(&state.db, &caller.scope, campaign_id).await?;
    let preview = ingest_upload(state, &caller.scope, upload_id, &definition, choice).await?;
    let (patient_rows, identities) = row_identities(&preview);
    let matches =
        patients::plan_many(&state.db, &caller.scope, &state.keys, &identities, PhoneSource::Upload).await?;
    let upload = Some(upload_id.to_string());
    let txn = state.db.begin().await?;
    audit_trail::record_read(&txn, caller, AuditAction::UploadPreviewed, upload, preview.rows.len(), [])
        .await?;
    txn.commit().await?;
    let by_row = |found: PatientMatch| match found {
        PatientMatch::SameNewPatient(first) => PatientMatch::SameNewPatient(patient_rows[first]),
        other => other,
    };
    let patients = patient_rows.iter().copied().zip(matches.into_iter().map(by_row)).collect();
    Ok(RunPreview { patients, sheet: preview })
}

/// Commits the upload as a run: patients upserted, every row kept, the prompt pinned, all in one
/// transaction. A repeated `client_request_id` answers the run it created.
#[tracing::instrument(skip_all, fields(org_id = %caller.scope, upload_id = %request.upload_id), err)]
pub async fn create_run(
    state: &AppState,
    caller: &OrgCaller,
    request: RunRequest,
) -> ServiceResult<RunRecord> {
    let mut errors = ValidationErrors::new();
    let name = errors.check("name", single_line(&request.name, MAX_NAME));
    let request_id = errors.check("clientRequestId", single_line(&request.client_request_id, MAX_REQUEST_ID));
    let instructions =
        request.instructions.as_deref().map(str::trim).filter(|i| !i.is_empty()).map(str::to_owned);
    if instructions.as_ref().is_some_and(|i| i.chars().count() > MAX_INSTRUCTIONS) {
        errors.push("instructions", format!("must be at most {MAX_INSTRUCTIONS} characters"));
    }
    if request.scheduled_at.is_some_and(|at| at <= state.clock.now()) {
        errors.push("scheduledAt", "must be in the future");
    }
    let (Some(name), Some(request_id), true) = (name, request_id, errors.is_empty()) else {
        return Err(errors.into());
    };

    // A retry of a create that already happened answers the same run and writes nothing.
    if let Some(existing) = runs::find_by_client_request_id(&state.db, &caller.scope, &request_id).await? {
        return same_request(existing, &request);
    }

    let definition = campaigns::definition(&state.db, &caller.scope, request.campaign_id).await?;
    if definition.direction() != Direction::Outbound {
        return Err(ServiceError::invalid("campaignId", "is an inbound campaign: runs place outbound calls"));
    }
    if definition.status() != CampaignStatus::Active {
        return Err(ServiceError::invalid("campaignId", "is not active"));
    }
    if let Some(text) = &instructions {
        let undeclared = definition.undeclared_placeholders(text);
        if !undeclared.is_empty() {
            return Err(ServiceError::invalid(
                "instructions",
                format!("uses undeclared variables: {}", undeclared.join(", ")),
            ));
        }
    }
    let preview = Arc::new(
        ingest_upload(state, &caller.scope, request.upload_id, &definition, request.sheet.clone()).await?,
    );
    if preview.counts.callable_rows == 0 {
        return Err(ServiceError::invalid(
            "uploadId",
            format!(
                "has no callable rows ({} invalid, {} duplicate of {} data rows)",
                preview.counts.invalid_rows, preview.counts.duplicate_rows, preview.counts.data_rows
            ),
        ));
    }

    // A run may use an AI-suggested variation instead of the campaign's base prompt, once it
    // passes the placeholder checks against the campaign as it is now.
    let variation = match request.prompt_variation_id {
        Some(id) => Some(
            prompt_variations::prompt_for_run(&state.db, &caller.scope, id, request.campaign_id, &definition)
                .await?,
        ),
        None => None,
    };
    let base_prompt =
        variation.as_ref().map_or(definition.base_prompt(), |v| v.proposed_prompt.as_str()).to_owned();

    // The agent version every call of the run will name, published before anything is written:
    // a run never exists without it, and a provider failure writes nothing here.
    let composed = prompt::compose(&base_prompt, instructions.as_deref());
    let content = AgentContent {
        campaign_name: definition.name(),
        prompt: &composed,
        voicemail_message: definition.voicemail_message(),
        analysis_fields: definition.analysis_fields(),
    };
    let agent = state
        .engine
        .publish_agent_version(&caller.scope, request.campaign_id, definition.agent_id(), content)
        .await?;

    let validated = ValidRun {
        name,
        request_id: request_id.clone(),
        instructions,
        agent,
        base_prompt,
        variation: variation.map(|v| v.id),
    };
    match commit_run(state, caller, &definition, &request, validated, &preview).await {
        // Two concurrent first attempts: the loser finds the winner's run.
        Err(ServiceError::Conflict(_)) => {
            match runs::find_by_client_request_id(&state.db, &caller.scope, &request_id).await? {
                Some(existing) => same_request(existing, &request),
                None => Err(ServiceError::Conflict("the run could not be created; retry".into())),
            }
        }
        other => other,
    }
}

/// The request's fields once checked.
struct ValidRun {
    name: String,
    request_id: String,
    instructions: Option<String>,
    /// The published agent version the run pins.
    agent: PublishedAgent,
    /// The base prompt the run composes: the campaign's, or the variation's.
    base_prompt: String,
    /// The prompt variation the run uses, if any.
    variation: Option<PromptVariationId>,
}

async fn commit_run(
    state: &AppState,
    caller: &OrgCaller,
    definition: &CampaignDefinition,
    request: &RunRequest,
    valid: ValidRun,
    preview: &Arc<Preview>,
) -> ServiceResult<RunRecord> {
    let scope = &caller.scope;
    let keys = &state.keys;
    let run_id = RunId::new();
    let started = std::time::Instant::now();
    let txn = state.db.begin().await?;
    let status = if request.scheduled_at.is_some() { RunStatus::Scheduled } else { RunStatus::Ready };
    runs::create(
        &txn,
        scope,
        NewRun {
            id: run_id,
            campaign_id: request.campaign_id,
            upload_id: Some(request.upload_id),
            name: valid.name,
            status,
            instructions: valid.instructions.clone(),
            scheduled_at: request.scheduled_at,
            settings: serde_json::json!({}),
            client_request_id: Some(valid.request_id),
            created_by: Some(caller.user_id),
        },
    )
    .await
    .map_err(conflict_as("clientRequestId already used"))?;
    // The header row as read, so exports name every original column as the file did.
    runs::store_headers(&txn, scope, keys, run_id, &preview.headers).await?;

    // The prompt this run's calls will use, pinned now: later campaign edits do not change it.
    let base = valid.base_prompt.as_str();
    let composed = prompt::compose(base, valid.instructions.as_deref());
    let version = prompt_versions::append(
        &txn,
        scope,
        request.campaign_id,
        NewPromptVersion {
            run_id: Some(run_id),
            base_prompt: base.to_owned(),
            run_instructions: valid.instructions,
            // Against the campaign's own prompt: what this run says differently.
            diff: prompt::diff(&prompt::compose(definition.base_prompt(), None), &composed),
            composed_prompt: composed,
            voicemail_message: definition.voicemail_message().map(str::to_owned),
            author_user_id: Some(caller.user_id),
            reason: match valid.variation {
                Some(id) => format!("run created from prompt variation {id}"),
                None => "run created".into(),
            },
            agent: Some(valid.agent),
            frozen: Some(FrozenFields {
                variables: definition.variables().to_vec(),
                analysis_fields: definition.analysis_fields().to_vec(),
            }),
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
    let (patient_rows, identities) = row_identities(preview);
    let resolved = patients::resolve_many(&txn, scope, keys, &identities, PhoneSource::Upload).await?;
    for added in &resolved.added_phones {
        audit_trail::phone_added(&txn, caller, added, PhoneSource::Upload, Some(run_id)).await?;
    }
    let patients_done = started.elapsed();
    let patient_of: HashMap<usize, PatientId> = patient_rows.into_iter().zip(resolved.patient_ids).collect();
    let mut new_rows = building
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("building the rows failed: {e}")))?;
    for (new_row, row) in new_rows.iter_mut().zip(&preview.rows) {
        new_row.patient_id = patient_of.get(&row.index).copied();
    }
    let rows_built = started.elapsed();
    run_rows::insert_many(&txn, scope, keys, run_id, &new_rows).await?;
    let rows_done = started.elapsed();
    uploads::mark_status(&txn, scope, keys, request.upload_id, UploadStatus::Ingested).await?;
    audit_trail::record(&txn, caller, scope.org_id(), AuditAction::RunCreated, run_id, vec![]).await?;
    let record = runs::get(&txn, scope, run_id).await?;
    txn.commit().await?;
    let events = [
        BusEvent::run(BusEventKind::RunCreated, scope.org_id(), run_id),
        BusEvent::upload(scope.org_id(), request.upload_id),
    ];
    super::live::publish(state, &events).await;
    tracing::info!(
        run_id = %run_id,
        rows = new_rows.len(),
        patients_ms = patients_done.as_millis() as u64,
        rows_ms = (rows_done - rows_built).as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "run created"
    );
    Ok(record)
}

pub async fn get(state: &AppState, caller: &OrgCaller, id: RunId) -> ServiceResult<RunRecord> {
    Ok(runs::get(&state.db, &caller.scope, id).await?)
}

/// What a run pinned and how the campaign has moved on since.
#[derive(Debug, Clone, PartialEq)]
pub struct PinnedPrompt {
    pub version: PromptVersionRecord,
    /// Line diff of the pinned composed prompt against what a run created now would get (the
    /// campaign's current base prompt with this run's instructions); empty when unchanged.
    pub diff_from_current: String,
}

/// A run with what it pinned (`None` for a run that pinned nothing).
pub async fn get_with_pinned(
    state: &AppState,
    caller: &OrgCaller,
    id: RunId,
) -> ServiceResult<(RunRecord, Option<PinnedPrompt>)> {
    let run = runs::get(&state.db, &caller.scope, id).await?;
    let Some(version) = engine_queries::pinned_version(&state.db, &run).await? else {
        return Ok((run, None));
    };
    let current = campaigns::definition(&state.db, &caller.scope, run.campaign_id).await?;
    let now = prompt::compose(current.base_prompt(), version.run_instructions.as_deref());
    let diff_from_current = if now == version.composed_prompt {
        String::new()
    } else {
        prompt::diff(&version.composed_prompt, &now)
    };
    Ok((run, Some(PinnedPrompt { version, diff_from_current })))
}

/// The organization's runs, newest first, optionally of one campaign; with the total.
pub async fn list(
    state: &AppState,
    caller: &OrgCaller,
    campaign_id: Option<CampaignId>,
    page: Page,
) -> ServiceResult<(Vec<RunRecord>, u64)> {
    Ok(runs::list(&state.db, &caller.scope, campaign_id, page).await?)
}

/// A page of a run's rows (optionally of one status), with the run's counts per status.
pub async fn rows(
    state: &AppState,
    caller: &OrgCaller,
    run_id: RunId,
    status: Option<RowStatus>,
    page: Page,
) -> ServiceResult<RowsPage> {
    let txn = state.db.begin().await?;
    runs::get(&txn, &caller.scope, run_id).await?;
    let (rows, total) = run_rows::list(&txn, &caller.scope, &state.keys, run_id, status, page).await?;
    let counts = run_rows::counts_by_status(&txn, &caller.scope, run_id).await?;
    // The page read, not its row ids: the run's rows are in a fixed order, so the page names
    // them, and a hundred ids per read would cost more than the read (docs/benchmarks.md).
    let which = [format!("offset={}", page.offset), format!("limit={}", page.effective_limit())]
        .into_iter()
        .chain(status.map(|s| format!("status={s}")));
    audit_trail::record_read(
        &txn,
        caller,
        AuditAction::RunRowsViewed,
        Some(run_id.to_string()),
        rows.len(),
        which,
    )
    .await?;
    txn.commit().await?;
    Ok(RowsPage { rows, total, counts })
}

pub async fn stats(state: &AppState, caller: &OrgCaller, run_id: RunId) -> ServiceResult<RunStats> {
    stats_in(state, &caller.scope, run_id).await
}

/// [`stats`] within `scope` (the live feeds re-read a run's tally through the event's
/// organization, for subscribers authorised when they subscribed).
pub(crate) async fn stats_in(state: &AppState, scope: &OrgScope, run_id: RunId) -> ServiceResult<RunStats> {
    let txn = state.db.begin().await?;
    let run = runs::get(&txn, scope, run_id).await?;
    let rows = run_rows::counts_by_status(&txn, scope, run_id).await?;
    let calls = calls::counts_by_outcome(&txn, scope, run_id).await?;
    txn.commit().await?;
    let waiting = state.engine.waiting(scope, &run, state.clock.now()).await?;
    Ok(RunStats { run, rows, calls, waiting })
}

/// A lifecycle change (start, pause, resume, cancel, schedule), through the engine's one front
/// door: checked by the run state machine and audit-logged in the same transaction.
#[tracing::instrument(skip_all, fields(org_id = %caller.scope, run_id = %run_id), err)]
pub async fn change(
    state: &AppState,
    caller: &OrgCaller,
    run_id: RunId,
    change: RunChange,
) -> ServiceResult<RunRecord> {
    let starts = match change {
        RunChange::Start => Some(RunEvent::Start),
        RunChange::Resume => Some(RunEvent::Resume),
        RunChange::Schedule { .. } => Some(RunEvent::Schedule),
        RunChange::Pause { .. } | RunChange::Cancel => None,
    };
    if let Some(event) = starts {
        can_place_calls(state, &caller.scope, run_id, event).await?;
    }
    let by = ChangedBy { actor: caller.audit_actor(), request_id: caller.request_id.clone() };
    // The engine publishes the change to every instance once it is committed.
    Ok(state.engine.change_run(&caller.scope, run_id, change, &by).await?)
}

/// Refuses to start (resume, schedule) a run that could not place a single call, naming the
/// fix, instead of letting it sit at `running` with every row pending. (An agent cannot be
/// missing: `agentId` is required when a campaign is created.)
async fn can_place_calls(
    state: &AppState,
    scope: &OrgScope,
    run_id: RunId,
    event: RunEvent,
) -> ServiceResult<()> {
    let run = runs::get(&state.db, scope, run_id).await?;
    if run.status.transition(event).is_err() {
        // The state machine refuses it anyway: the engine answers that (409), not this.
        return Ok(());
    }
    let org = organizations::get(&state.db, scope).await?;
    if org.caller_number.is_none() {
        return Err(ServiceError::invalid(
            "callerNumber",
            "the organization has no caller number, so no call can be placed: an operator assigns \
             one (admin.phoneNumbers.assign), then start the run again",
        ));
    }
    let campaign = campaigns::definition(&state.db, scope, run.campaign_id).await?;
    match campaign.status() {
        CampaignStatus::Active => Ok(()),
        CampaignStatus::Paused => Err(ServiceError::invalid(
            "campaignId",
            "the run's campaign is paused: set it active (campaigns.update with status \"active\") first",
        )),
        CampaignStatus::Archived => Err(ServiceError::invalid(
            "campaignId",
            "the run's campaign is archived: archived campaigns place no calls; create the run \
             from an active campaign",
        )),
    }
}

/// Reads the upload and runs ingestion on the blocking pool.
async fn ingest_upload(
    state: &AppState,
    scope: &OrgScope,
    upload_id: UploadId,
    definition: &CampaignDefinition,
    choice: SheetChoice,
) -> ServiceResult<Preview> {
    let (record, bytes) = super::uploads::load(state, scope, upload_id).await?;
    let variables = definition.variables().to_vec();
    let options = IngestOptions {
        read: ReadOptions { sheet: choice.sheet, ..ReadOptions::default() },
        today: state.clock.now().date_naive(),
        mapping: choice.mapping,
    };
    let file_name = record.file_name;
    let result = tokio::task::spawn_blocking(move || {
        rivvi_ingestion::ingest(&bytes, &file_name, &variables, &options, None)
    })
    .await
    .map_err(|e| ServiceError::Internal(anyhow::anyhow!("ingestion task failed: {e}")))?;
    Ok(result?)
}

/// A repeated `clientRequestId` must name the same request.
fn same_request(existing: RunRecord, request: &RunRequest) -> ServiceResult<RunRecord> {
    if existing.campaign_id != request.campaign_id || existing.upload_id != Some(request.upload_id) {
        return Err(ServiceError::Conflict("clientRequestId was already used for a different run".into()));
    }
    Ok(existing)
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

/// Every cell of the row as the file shows it, one per column: a row that ends early (CSV lines
/// with trailing empty fields, sparse sheet rows) is padded with empty cells to the header's width.
pub fn row_cells(preview: &Preview, row: &IngestedRow) -> Vec<String> {
    let width = preview.headers.len().max(row.cells.len());
    (0..width).map(|i| row.cells.get(i).map(|c| c.text.clone()).unwrap_or_default()).collect()
}

/// The patient of every valid row (callable and duplicate) that has one, with its row index.
fn row_identities(preview: &Preview) -> (Vec<usize>, Vec<PatientIdentity>) {
    preview
        .rows
        .iter()
        .filter(|r| r.status != SheetStatus::Invalid)
        .filter_map(|r| patient_identity(r).map(|identity| (r.index, identity)))
        .unzip()
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

/// Runs across every organization (operators' dashboard), optionally of one organization and
/// status, with their progress and latest row error.
pub async fn list_all(
    state: &AppState,
    org_id: Option<OrgId>,
    status: Option<RunStatus>,
    page: Page,
) -> ServiceResult<(Vec<RunOverview>, u64)> {
    Ok(run_overview::list(&state.db, org_id, status, page).await?)
}
