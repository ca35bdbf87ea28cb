//! Subscriptions (issue 13): `runs.events`, `organizations.events`, `admin.engine.health`, over
//! the websocket at `/rspc/ws`, fed by `services::live`.
//!
//! A subscription is authorised exactly like the matching query, when it is opened: the role, the
//! operator's `orgId`, and the run's organization (another organization's run is a not-found).
//!
//! The websocket (`http::websocket`) serves these itself through [`open`]: each item is rendered
//! to JSON once per instance ([`Shared`](crate::services::live::Shared)) and framed per subscriber without another
//! serialisation, and a refusal is a JSON-RPC error answering the subscribing message
//! ([`refusal`]). The rspc procedures below carry the same types into `bindings/` and serve any
//! other rspc transport; there (rspc 0.3 streams carry no errors) a refusal ends the stream
//! without an event.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rivvi_domain::campaign::CampaignStatus;
use rivvi_domain::ids::{CampaignId, OrgId, RunId, RunRowId, UploadId};
use rivvi_domain::lifecycle::{RowStatus, RunStatus};
use rivvi_domain::Role;
use rspc::internal::jsonrpc::{JsonRPCError, RequestId, Response, ResponseInner};
use serde::{Deserialize, Serialize};
use specta::Type;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::error::ApiResult;
use super::paging::count;
use super::runs::{run_view, stats_view, Run, RunStats};
use super::{ApiError, Ctx, Input};
use crate::services::live::{self, EngineHealth, EngineWatch, OrgFeed, OrgWatch, RunFeed, RunWatch, Watch};

/// A live subscription opened by the websocket: its items as rendered JSON.
pub enum LiveFeed {
    Run(RunWatch),
    Org(OrgWatch),
    Engine(Box<EngineWatch>),
}

impl LiveFeed {
    /// The next item's JSON (the `data` of an rspc event), waiting for it; `None` when the
    /// feed ended.
    pub async fn next(&mut self) -> Option<Arc<str>> {
        match self {
            LiveFeed::Run(watch) => rendered(watch, run_event).await,
            LiveFeed::Org(watch) => rendered(watch, org_event).await,
            LiveFeed::Engine(watch) => rendered(watch.as_mut(), health_report).await,
        }
    }
}

async fn rendered<W: Watch, T: Serialize>(watch: &mut W, view: fn(&W::Item) -> T) -> Option<Arc<str>> {
    let item = watch.next().await?;
    Some(item.rendered(|item| serde_json::to_string(&view(item)).unwrap_or_else(|_| "null".to_owned())))
}

/// Whether `path` is a live subscription the websocket serves itself.
pub fn is_live(path: &str) -> bool {
    matches!(path, "runs.events" | "organizations.events" | "admin.engine.health")
}

/// Opens the live subscription `path` names, authorised as its query is: `None` when `path` is
/// not one (rspc serves it).
pub async fn open(ctx: &Ctx, path: &str, input: Option<serde_json::Value>) -> Option<ApiResult<LiveFeed>> {
    fn input_of<T: serde::de::DeserializeOwned>(input: Option<serde_json::Value>) -> Input<T> {
        Input::from_value(input.unwrap_or(serde_json::Value::Null))
    }
    Some(match path {
        "runs.events" => open_run(ctx, input_of(input)).await.map(LiveFeed::Run),
        "organizations.events" => open_org(ctx, input_of(input)).await.map(LiveFeed::Org),
        "admin.engine.health" => {
            open_engine(ctx, input_of(input)).await.map(|w| LiveFeed::Engine(Box::new(w)))
        }
        _ => return None,
    })
}

/// The JSON-RPC error answering the message `reply_to` that asked for `subscription`
/// (`@rspc/client` rejects that request's promise with it); `data.subscriptionId` names it.
pub fn refusal(reply_to: &RequestId, subscription: &RequestId, err: ApiError) -> Response {
    let mut error: JsonRPCError = rspc::Error::from(err).into();
    error.data = Some(serde_json::json!({ "subscriptionId": subscription }));
    Response { jsonrpc: "2.0", id: reply_to.clone(), result: ResponseInner::Error(error) }
}

/// The stream rspc serves for a subscription: `open` authorises and opens the feed, whose items
/// `view` maps to the wire; the feed stops when the subscriber goes away.
fn subscription<W, T, Fut>(
    ctx: Ctx,
    open: impl FnOnce(Ctx) -> Fut + Send + 'static,
    view: fn(&W::Item) -> T,
) -> ReceiverStream<T>
where
    W: Watch,
    T: Send + 'static,
    Fut: Future<Output = ApiResult<W>> + Send + 'static,
{
    let (out, stream) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut watch = match open(ctx).await {
            Ok(watch) => watch,
            Err(err) => {
                tracing::debug!(error = %err, "subscription refused outside the websocket");
                return;
            }
        };
        loop {
            let item = tokio::select! {
                () = out.closed() => break,
                item = watch.next() => match item {
                    Some(item) => view(&item.item),
                    None => break,
                },
            };
            if out.send(item).await.is_err() {
                break;
            }
        }
    });
    ReceiverStream::new(stream)
}

// ---------------------------------------------------------------- runs.events

/// `runs.events` input: the run to watch.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunEventsInput {
    pub run_id: RunId,
    /// Operators only: the run's organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

/// A row's new state: ids, status, attempt and outcome; never a patient field.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RowChange {
    pub row_id: RunRowId,
    pub status: RowStatus,
    /// Attempts so far (the current one included while it is dialled or in a call).
    pub attempt: u32,
    /// The last decided call's outcome (`reached`, `voicemail`, `no_answer`, `busy`, `failed`).
    pub outcome: Option<String>,
    /// When the row is due again (a retry, or the patient's calling window opening).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why it was skipped (`do_not_call`, `invalid_phone`).
    pub skip_reason: Option<String>,
    /// Whether a call's end moved it.
    pub call_ended: bool,
}

/// One item of `runs.events`. `seq` is the run's event number: the first item is a `snapshot`
/// as of a number, and later items carry higher ones, so a client that reconnects compares
/// the snapshot's `seq` with the last it saw and re-reads the rows (`runs.getRows`) once if it
/// missed any. `resync` means this subscriber fell behind: re-read, then carry on.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum RunEvent {
    /// Where the run stands when the subscription opens.
    Snapshot { seq: u32, stats: RunStats },
    /// The run's status changed; `stats` is its tally then (the last one of a finished run is
    /// its final tally).
    Status { seq: u32, stats: RunStats },
    /// A row changed state.
    Row { seq: u32, row: RowChange },
    /// The running tally (the numbers of `runs.getStats`), at most every 250 ms while rows change;
    /// it includes every change up to `seq` (row items may have gone out after it).
    Tally { seq: u32, stats: RunStats },
    /// Events were missed: re-read the run's rows and stats.
    Resync { missed: u32 },
}

fn run_event(item: &RunFeed) -> RunEvent {
    match item {
        RunFeed::Snapshot { seq, stats } => {
            RunEvent::Snapshot { seq: count(*seq), stats: stats_view(stats.clone()) }
        }
        RunFeed::Status { seq, stats } => {
            RunEvent::Status { seq: count(*seq), stats: stats_view(stats.clone()) }
        }
        RunFeed::Tally { seq, stats } => {
            RunEvent::Tally { seq: count(*seq), stats: stats_view(stats.clone()) }
        }
        RunFeed::Row { seq, row, call_ended } => RunEvent::Row {
            seq: count(*seq),
            row: RowChange {
                row_id: row.id,
                status: row.status,
                attempt: row.attempts,
                outcome: row.outcome.map(|o| o.as_str().to_owned()),
                next_attempt_at: row.next_attempt_at,
                skip_reason: row.skip_reason.clone(),
                call_ended: *call_ended,
            },
        },
        RunFeed::Resync { missed } => RunEvent::Resync { missed: count(*missed) },
    }
}

async fn open_run(ctx: &Ctx, input: Input<RunEventsInput>) -> ApiResult<RunWatch> {
    let input = input.parse()?;
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    Ok(live::watch_run(&ctx.state, &caller, input.run_id).await?)
}

pub(super) fn run_events(ctx: Ctx, input: Input<RunEventsInput>) -> ReceiverStream<RunEvent> {
    subscription(ctx, |ctx| async move { open_run(&ctx, input).await }, run_event)
}

// ---------------------------------------------------------------- organizations.events

/// `organizations.events` input: nothing for the caller's own organization.
#[derive(Debug, Clone, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgEventsInput {
    /// Operators only: watch this organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

/// What a run change was, for the organization's activity feed.
#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum RunActivity {
    Created,
    Scheduled,
    Started,
    Paused,
    Completed,
    Failed,
    Cancelled,
    Ready,
}

/// One item of `organizations.events`.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum OrgEvent {
    /// First: the feed is live from `at`; read what the page shows now, later changes follow.
    Subscribed { at: DateTime<Utc> },
    /// A run was created or changed status (`running` after a resume reads `started`).
    Run { activity: RunActivity, run: Box<Run>, seq: Option<u32> },
    /// An uploaded sheet was read into a run (`status`: `ingested`).
    Upload {
        #[serde(rename = "uploadId")]
        upload_id: UploadId,
        status: String,
        at: DateTime<Utc>,
    },
    /// A campaign was created or changed.
    Campaign {
        #[serde(rename = "campaignId")]
        campaign_id: CampaignId,
        name: String,
        status: CampaignStatus,
        at: DateTime<Utc>,
    },
    /// Events were missed: re-read the organization's runs.
    Resync { missed: u32 },
}

fn org_event(item: &OrgFeed) -> OrgEvent {
    match item.clone() {
        OrgFeed::Run { run, created, seq } => {
            let activity = match (created, run.status) {
                (true, _) => RunActivity::Created,
                (_, RunStatus::Running) => RunActivity::Started,
                (_, RunStatus::Paused) => RunActivity::Paused,
                (_, RunStatus::Completed) => RunActivity::Completed,
                (_, RunStatus::Failed) => RunActivity::Failed,
                (_, RunStatus::Cancelled) => RunActivity::Cancelled,
                (_, RunStatus::Scheduled) => RunActivity::Scheduled,
                (_, RunStatus::Ready | RunStatus::Draft) => RunActivity::Ready,
            };
            OrgEvent::Run { activity, run: Box::new(run_view(*run)), seq: seq.map(count) }
        }
        OrgFeed::Upload { upload_id, status, at } => {
            OrgEvent::Upload { upload_id, status: status.as_str().to_owned(), at }
        }
        OrgFeed::Campaign { campaign_id, name, status, at } => {
            OrgEvent::Campaign { campaign_id, name, status, at }
        }
        OrgFeed::Resync { missed } => OrgEvent::Resync { missed: count(missed) },
        OrgFeed::Subscribed { at } => OrgEvent::Subscribed { at },
    }
}

async fn open_org(ctx: &Ctx, input: Input<OrgEventsInput>) -> ApiResult<OrgWatch> {
    let input = input.parse()?;
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    Ok(live::watch_org(&ctx.state, &caller))
}

pub(super) fn org_events(ctx: Ctx, input: Input<OrgEventsInput>) -> ReceiverStream<OrgEvent> {
    subscription(ctx, |ctx| async move { open_org(&ctx, input).await }, org_event)
}

// ---------------------------------------------------------------- admin.engine.health

/// `admin.engine.health` input.
#[derive(Debug, Clone, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineHealthInput {
    /// Seconds between reports (1..=60, default 2).
    #[specta(optional)]
    pub every_seconds: Option<u32>,
}

/// One engine instance, from its latest report.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EngineInstance {
    pub instance_id: String,
    pub started_at: DateTime<Utc>,
    pub reported_at: DateTime<Utc>,
    /// When its last dispatch step started, and how long it took.
    pub last_tick_at: Option<DateTime<Utc>>,
    pub tick_ms: Option<f64>,
    /// Create-call requests it sent since its previous report, and the share that failed.
    pub provider_requests: u32,
    pub provider_error_rate: Option<f64>,
    /// Webhooks it applied since its previous report, and their lag from the provider signing
    /// them to our receipt (average, worst), in milliseconds.
    pub webhooks: u32,
    pub webhook_lag_avg_ms: Option<f64>,
    pub webhook_lag_max_ms: Option<f64>,
}

/// Calls in progress in one organization.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OrgCalls {
    pub org_id: OrgId,
    pub calls: u32,
}

/// One message of `admin.engine.health`.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EngineHealthReport {
    pub at: DateTime<Utc>,
    /// Instances that reported in the last 30 seconds.
    pub instances: Vec<EngineInstance>,
    /// Rows of running runs due now (across instances: they share the database).
    pub due_rows: u32,
    /// Calls in progress per organization, most first.
    pub active_calls: Vec<OrgCalls>,
}

fn health_report(health: &EngineHealth) -> EngineHealthReport {
    let health = health.clone();
    EngineHealthReport {
        at: health.at,
        instances: health
            .instances
            .into_iter()
            .map(|i| {
                let r = i.report;
                EngineInstance {
                    instance_id: i.instance_id,
                    started_at: i.started_at,
                    reported_at: i.reported_at,
                    last_tick_at: r.last_tick_at,
                    tick_ms: r.tick_ms,
                    provider_requests: count(r.provider_requests),
                    provider_error_rate: (r.provider_requests > 0)
                        .then(|| r.provider_errors as f64 / r.provider_requests as f64),
                    webhooks: count(r.webhooks),
                    webhook_lag_avg_ms: r.webhook_lag_avg_ms,
                    webhook_lag_max_ms: r.webhook_lag_max_ms,
                }
            })
            .collect(),
        due_rows: count(health.due_rows),
        active_calls: health
            .active_calls
            .into_iter()
            .map(|(org_id, calls)| OrgCalls { org_id, calls: count(calls) })
            .collect(),
    }
}

async fn open_engine(ctx: &Ctx, input: Input<EngineHealthInput>) -> ApiResult<EngineWatch> {
    let input = input.parse()?;
    ctx.require(Role::SuperAdmin)?;
    let every = input.every_seconds.unwrap_or(2);
    if !(1..=60).contains(&every) {
        return Err(ApiError::invalid("everySeconds", "must be between 1 and 60"));
    }
    Ok(live::watch_engine(&ctx.state, std::time::Duration::from_secs(u64::from(every))))
}

pub(super) fn engine_health(ctx: Ctx, input: Input<EngineHealthInput>) -> ReceiverStream<EngineHealthReport> {
    subscription(ctx, |ctx| async move { open_engine(&ctx, input).await }, health_report)
}
