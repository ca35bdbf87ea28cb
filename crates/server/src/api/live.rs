//! Subscriptions (issue 13): `runs.events`, `organizations.events`, `admin.engine.health`, over
//! the websocket at `/rspc/ws` (`http::websocket`), fed by `services::live`.
//!
//! A subscription is authorised exactly like the matching query, when it is opened: the role, the
//! operator's `orgId`, and the run's organization (another organization's run is a not-found).
//! rspc 0.3 streams carry events only, so a refusal reaches the client as a JSON-RPC error frame
//! under the subscription's id ([`SubscriptionSink`], which the websocket puts in the context),
//! and the stream ends without an event.

use std::future::Future;

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
use super::runs::{run_view, stats_view, Run, RunStats};
use super::{ApiError, Ctx, Input};
use crate::services::live::{self, EngineHealth, Feed, OrgFeed, RunFeed};

/// Where a subscription's refusal goes: the socket, as the error answer to the message that
/// asked for it (its JSON-RPC `id`; `@rspc/client` rejects that request's promise with it), the
/// subscription's own id in `data.subscriptionId`.
#[derive(Clone)]
pub struct SubscriptionSink {
    /// The id of the message that opened the subscription.
    pub reply_to: RequestId,
    /// The subscription's id (the first element of its `input`).
    pub subscription: RequestId,
    pub out: mpsc::Sender<Response>,
}

impl SubscriptionSink {
    async fn refuse(&self, err: ApiError) {
        let mut error: JsonRPCError = rspc::Error::from(err).into();
        error.data = Some(serde_json::json!({ "subscriptionId": self.subscription }));
        let frame =
            Response { jsonrpc: "2.0", id: self.reply_to.clone(), result: ResponseInner::Error(error) };
        let _ = self.out.send(frame).await;
    }
}

/// The stream rspc serves for a subscription: `open` authorises and opens the service's feed,
/// whose items `view` maps to the wire. A refusal goes to the context's sink and the stream
/// ends; the feed stops when the subscriber goes away.
fn subscription<S, T, Fut>(
    ctx: Ctx,
    open: impl FnOnce(Ctx) -> Fut + Send + 'static,
    view: fn(S) -> T,
) -> ReceiverStream<T>
where
    S: Send + 'static,
    T: Send + 'static,
    Fut: Future<Output = ApiResult<Feed<S>>> + Send + 'static,
{
    let (out, stream) = mpsc::channel(1);
    tokio::spawn(async move {
        let sink = ctx.subscription.clone();
        let mut feed = match open(ctx).await {
            Ok(feed) => feed,
            Err(err) => {
                match sink {
                    Some(sink) => sink.refuse(err).await,
                    None => tracing::debug!(error = %err, "subscription refused outside a websocket"),
                }
                return;
            }
        };
        loop {
            let item = tokio::select! {
                () = out.closed() => break,
                item = feed.recv() => match item {
                    Some(item) => view(item),
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
    #[serde(default)]
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
    /// The running tally (the numbers of `runs.getStats`), at most every 250 ms while rows change.
    Tally { seq: u32, stats: RunStats },
    /// Events were missed: re-read the run's rows and stats.
    Resync { missed: u32 },
}

fn small(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn run_event(item: RunFeed) -> RunEvent {
    match item {
        RunFeed::Snapshot { seq, stats } => RunEvent::Snapshot { seq: small(seq), stats: stats_view(stats) },
        RunFeed::Status { seq, stats } => RunEvent::Status { seq: small(seq), stats: stats_view(stats) },
        RunFeed::Tally { seq, stats } => RunEvent::Tally { seq: small(seq), stats: stats_view(stats) },
        RunFeed::Row { seq, row, call_ended } => RunEvent::Row {
            seq: small(seq),
            row: RowChange {
                row_id: row.id,
                status: row.status,
                attempt: row.attempts,
                outcome: row.outcome.map(|o| o.as_str().to_owned()),
                next_attempt_at: row.next_attempt_at,
                skip_reason: row.skip_reason,
                call_ended,
            },
        },
        RunFeed::Resync { missed } => RunEvent::Resync { missed: small(missed) },
    }
}

pub(super) fn run_events(ctx: Ctx, input: Input<RunEventsInput>) -> ReceiverStream<RunEvent> {
    subscription(
        ctx,
        |ctx| async move {
            let input = input.parse()?;
            let caller = ctx.require_in(Role::Member, input.org_id).await?;
            Ok(live::watch_run(&ctx.state, &caller, input.run_id).await?)
        },
        run_event,
    )
}

// ---------------------------------------------------------------- organizations.events

/// `organizations.events` input: nothing for the caller's own organization.
#[derive(Debug, Clone, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgEventsInput {
    /// Operators only: watch this organization (the access is audited there).
    #[serde(default)]
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

fn org_event(item: OrgFeed) -> OrgEvent {
    match item {
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
            OrgEvent::Run { activity, run: Box::new(run_view(*run)), seq: seq.map(small) }
        }
        OrgFeed::Upload { upload_id, status, at } => {
            OrgEvent::Upload { upload_id, status: status.as_str().to_owned(), at }
        }
        OrgFeed::Campaign { campaign_id, name, status, at } => {
            OrgEvent::Campaign { campaign_id, name, status, at }
        }
        OrgFeed::Resync { missed } => OrgEvent::Resync { missed: small(missed) },
        OrgFeed::Subscribed { at } => OrgEvent::Subscribed { at },
    }
}

pub(super) fn org_events(ctx: Ctx, input: Input<OrgEventsInput>) -> ReceiverStream<OrgEvent> {
    subscription(
        ctx,
        |ctx| async move {
            let input = input.parse()?;
            let caller = ctx.require_in(Role::Member, input.org_id).await?;
            Ok(live::watch_org(&ctx.state, &caller))
        },
        org_event,
    )
}

// ---------------------------------------------------------------- admin.engine.health

/// `admin.engine.health` input.
#[derive(Debug, Clone, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineHealthInput {
    /// Seconds between reports (1..=60, default 2).
    #[serde(default)]
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

fn health_report(health: EngineHealth) -> EngineHealthReport {
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
                    provider_requests: small(r.provider_requests),
                    provider_error_rate: (r.provider_requests > 0)
                        .then(|| r.provider_errors as f64 / r.provider_requests as f64),
                    webhooks: small(r.webhooks),
                    webhook_lag_avg_ms: r.webhook_lag_avg_ms,
                    webhook_lag_max_ms: r.webhook_lag_max_ms,
                }
            })
            .collect(),
        due_rows: small(health.due_rows),
        active_calls: health
            .active_calls
            .into_iter()
            .map(|(org_id, calls)| OrgCalls { org_id, calls: small(calls) })
            .collect(),
    }
}

pub(super) fn engine_health(ctx: Ctx, input: Input<EngineHealthInput>) -> ReceiverStream<EngineHealthReport> {
    subscription(
        ctx,
        |ctx| async move {
            let input = input.parse()?;
            ctx.require(Role::SuperAdmin)?;
            let every = input.every_seconds.unwrap_or(2);
            if !(1..=60).contains(&every) {
                return Err(ApiError::invalid("everySeconds", "must be between 1 and 60"));
            }
            Ok(live::watch_engine(&ctx.state, std::time::Duration::from_secs(u64::from(every))))
        },
        health_report,
    )
}
