//! The run engine (DESIGN.md §7): every server instance runs one, and instances share only the
//! database.
//!
//! Each step is a plain async function over an [`Engine`] and an instant, callable from a test
//! with a manual clock; [`Engine::spawn`] only calls them in a loop.
//!
//! - [`Engine::schedule_tick`]: starts due scheduled runs, completes runs with no open row, and
//!   reports which running runs are inside their organization's office hours (waiting for them
//!   is a condition of a running run, not a status).
//! - [`Engine::dispatch_tick`]: per organization inside office hours, under its dispatch lock,
//!   fills free concurrency slots (bounded by calls per minute): claims due rows, checks the
//!   do-not-call list and the patient's own calling window, writes the call, then asks the
//!   provider.
//! - [`Engine::apply_call_event`]: applies a provider webhook once, in one transaction, whatever
//!   order events arrive in. A call whose analysis says the patient asked not to be called again
//!   puts the number on the do-not-call list and skips its pending rows in that transaction
//!   (`opt_out`).
//! - [`Engine::recover_tick`]: reconciles rows whose lease expired and calls that never got
//!   their final event by asking the provider, never by redialling.
//! - [`Engine::waiting`]: why a running run's pending rows are not being dialled and until when
//!   (the dispatcher's checks, asked without claiming: `runs.getStats`).
//! - Run lifecycle: [`Engine::change_run`] (start, pause, resume, cancel, schedule), checked by
//!   the run state machine and audit-logged in the same transaction; the one front door for the
//!   API and the tests alike.
//! - Every row and run change a step commits is published on the event bus afterwards
//!   (`crate::bus`), numbered in the run's sequence: other instances' dispatchers wake on it and
//!   live subscribers re-read it. Every few seconds the loop writes this instance's health report
//!   (`engine_instances`: last tick and its duration, create-call requests and failures, webhook
//!   lag) for the operators' feed.
//!
//! # What counts as an attempt
//! A claim counts an attempt. It is taken back only when no call was written for it (the row was
//! on the do-not-call list, outside the patient's calling window, or had no usable number). Once
//! the call row exists, the attempt counts whatever happens: a provider refusal (`dial_failed`
//! under the retry policy), or a dial whose fate is unknown (the instance died, or the provider's
//! answer was lost) — such a dial may have rung, so it is never repeated under the same attempt.
//!
//! # Exactly-once dialling
//! The call row (`registered`, no provider id) is committed together with the claim *before*
//! the provider is asked. Recovery never redials an attempt: it asks the provider about calls it
//! knows the id of, and waits out calls it does not (they keep their concurrency slot for
//! [`EngineSettings::max_call_duration`], then count as a failed dial). A webhook naming our call
//! id in its metadata links a call whose create answer was lost.

mod agents;
mod dispatch;
mod error;
mod events;
mod health;
pub mod lifecycle;
mod opt_out;
mod org;
mod recover;
mod report;
mod schedule;
mod waiting;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use rivvi_domain::ids::{OrgId, RunId, RunRowId};
use rivvi_domain::office_hours::{DayHours, LocalTime, OfficeHours};
use rivvi_persistence::runs;
use rivvi_persistence::sealing::Keys;
use rivvi_persistence::OrgScope;
use sea_orm::DatabaseConnection;

use crate::bus::{BusEvent, BusEventKind, EventBus};
use crate::clock::Clock;
use crate::provider::VoiceProvider;

pub use agents::{AgentContent, ProvisionedAgent};
pub use dispatch::DispatchOutcome;
pub use error::EngineError;
pub use events::ApplyOutcome;
pub use health::REPORT_EVERY as HEALTH_REPORT_EVERY;
pub use recover::{RecoverOutcome, DIAL_OUTCOME_UNKNOWN, PROVIDER_CALL_NOT_FOUND};
pub use schedule::{ScheduleOutcome, WaitingRun};

/// The source name of provider call webhooks in `webhook_events`.
pub const WEBHOOK_SOURCE: &str = "retell";

/// How the engine paces itself and how long it waits before it assumes the worst.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// How often [`Engine::spawn`]'s loop runs the schedule and dispatch steps.
    pub tick: Duration,
    /// Run [`Engine::recover_tick`] every this many ticks.
    pub recover_every_ticks: u32,
    /// How long a claimed row stays leased to its instance. Longer than [`Self::dial_timeout`]
    /// (enforced by [`Engine::new`]), so a live instance always finishes its dial before recovery
    /// may look at the row.
    pub lease: TimeDelta,
    /// The longest the engine waits for the provider to answer a create-call request (the
    /// Retell client has its own, shorter deadline).
    pub dial_timeout: Duration,
    /// The longest plausible call. A call still `registered`/`ongoing` and not updated for this
    /// long is reconciled with the provider; a dial whose provider id was never learned holds its
    /// concurrency slot this long after it was written, then counts as a failed dial.
    pub max_call_duration: TimeDelta,
    /// At most this many rows claimed per organization per tick.
    pub max_claims_per_tick: u32,
    /// Create-call requests in flight at once per organization and tick: against a real
    /// provider a request takes hundreds of milliseconds, and one at a time would leave the
    /// concurrency limit unfilled for seconds.
    pub dials_at_once: usize,
    /// At most this many expired leases and stale calls handled per recovery step.
    pub recover_batch: u64,
    /// The patient's local calling window, as `(open hour, close hour)`: TCPA allows 08:00 to
    /// 21:00 in the called party's time zone.
    pub patient_window_hours: (u16, u16),
    /// The webhook URL Rivvi-managed agents send call events to (`<public url>/webhooks/retell`);
    /// `None` leaves the provider account's URL in force.
    pub agent_webhook_url: Option<String>,
}

impl Default for EngineSettings {
    /// 1 s ticks, recovery every 10 ticks, 5 min leases, 60 s dial timeout, 30 min longest
    /// call, 50 claims per organization per tick, 16 dials at once, calling window 08:00–21:00.
    fn default() -> Self {
        EngineSettings {
            tick: Duration::from_secs(1),
            recover_every_ticks: 10,
            lease: TimeDelta::minutes(5),
            dial_timeout: Duration::from_secs(60),
            max_call_duration: TimeDelta::minutes(30),
            max_claims_per_tick: 50,
            dials_at_once: 16,
            recover_batch: 100,
            patient_window_hours: (8, 21),
            agent_webhook_url: None,
        }
    }
}

/// The least time between two dispatch steps asked for by [`Engine::wake`].
const WAKE_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// One engine instance. Cheap to share as `Arc<Engine>`; every step takes `&self`.
pub struct Engine {
    db: DatabaseConnection,
    keys: Keys,
    provider: Arc<dyn VoiceProvider>,
    clock: Arc<dyn Clock>,
    /// Written to `run_rows.leased_by`: which instance holds a claim (for operators reading the
    /// table after a crash).
    instance_id: String,
    settings: EngineSettings,
    /// The patient calling window as every-day office hours, so DST is handled by the same
    /// `is_open` / `next_opening` as the organization's hours.
    patient_window: OfficeHours,
    /// Set by [`Engine::wake`]: a slot may have freed up or a run started.
    wake: tokio::sync::Notify,
    /// One agent provisioning or publication at a time on this instance (see `agents`).
    agent_lock: tokio::sync::Mutex<()>,
    /// Where the engine tells every instance what changed (rows, runs, calls that ended).
    bus: Arc<EventBus>,
    /// This instance's work since its last health report.
    health: health::HealthWindow,
    /// When this engine was built (the wall clock), for its health reports.
    started_at: chrono::DateTime<chrono::Utc>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("instance_id", &self.instance_id)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `db`, placing calls through `provider`, on `clock`, publishing what it
    /// changes on `bus`. Fails only on an unusable calling window in `settings`.
    pub fn new(
        db: DatabaseConnection,
        keys: Keys,
        provider: Arc<dyn VoiceProvider>,
        clock: Arc<dyn Clock>,
        bus: Arc<EventBus>,
        instance_id: impl Into<String>,
        settings: EngineSettings,
    ) -> Result<Engine, EngineError> {
        let mut settings = settings;
        let (open, close) = settings.patient_window_hours;
        let window = LocalTime::from_hm(open, 0)
            .zip(if close >= 24 { Some(LocalTime::END_OF_DAY) } else { LocalTime::from_hm(close, 0) })
            .and_then(|(open, close)| DayHours::new(open, close).ok())
            .ok_or(EngineError::Settings("patient_window_hours must be two hours, open before close"))?;
        let patient_window = OfficeHours::new([Some(window); 7], [])
            .map_err(|_| EngineError::Settings("patient_window_hours"))?;
        let floor =
            TimeDelta::from_std(settings.dial_timeout).unwrap_or(TimeDelta::MAX) + TimeDelta::minutes(1);
        if settings.lease < floor {
            settings.lease = floor;
        }
        Ok(Engine {
            db,
            keys,
            provider,
            clock,
            instance_id: instance_id.into(),
            settings,
            patient_window,
            wake: tokio::sync::Notify::new(),
            agent_lock: tokio::sync::Mutex::new(()),
            bus,
            health: health::HealthWindow::default(),
            started_at: chrono::Utc::now(),
        })
    }

    /// Asks the background loop for a dispatch step now rather than at its next tick: a call
    /// ended (its slot is free) or a run started. Wakes arriving while a step runs fold into one.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// This instance's id (`run_rows.leased_by`).
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The settings in force (the lease possibly raised above the dial timeout).
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The clock the background loop reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The bus this engine publishes on.
    pub fn bus(&self) -> &Arc<EventBus> {
        &self.bus
    }

    /// Publishes that a row of `run_id` changed (a call of no run, when `run_id` is `None` and
    /// `call_ended`). A call's end may have completed its run in the same transaction
    /// (`settle_row`): then the run's change is published too.
    pub(crate) async fn publish_row(
        &self,
        org_id: OrgId,
        run_id: Option<RunId>,
        row_id: Option<RunRowId>,
        call_ended: bool,
    ) {
        let mut events = Vec::with_capacity(2);
        match (run_id, row_id) {
            (Some(run_id), Some(row_id)) => {
                events.push(BusEvent::row(org_id, run_id, row_id, call_ended));
                if call_ended {
                    let scope = OrgScope::for_verified_org(org_id);
                    match runs::get(&self.db, &scope, run_id).await {
                        Ok(run) if run.status.is_final() => {
                            events.push(BusEvent::run(BusEventKind::RunChanged, org_id, run_id))
                        }
                        Ok(_) => {}
                        Err(err) => {
                            tracing::warn!(run_id = %run_id, error = %err, "could not read a run to publish its change")
                        }
                    }
                }
            }
            _ if call_ended => events.push(BusEvent::call_ended(org_id)),
            _ => {}
        }
        self.publish(&events).await;
    }

    /// Publishes that rows changed without a call (skipped after an opt-out).
    pub(crate) async fn publish_rows(&self, org_id: OrgId, rows: &[(RunId, RunRowId)]) {
        let events: Vec<BusEvent> =
            rows.iter().map(|&(run_id, row_id)| BusEvent::row(org_id, run_id, row_id, false)).collect();
        self.publish(&events).await;
    }

    /// Tells every instance what changed, after the change committed. A failure is logged and
    /// wakes this instance's dispatcher (the others see the change at their next tick; live
    /// subscribers re-read on their next event).
    pub(crate) async fn publish(&self, events: &[BusEvent]) {
        if events.is_empty() {
            return;
        }
        if let Err(err) = self.bus.publish_all(events).await {
            tracing::warn!(error = %err, events = events.len(), "could not publish engine events; dispatchers will see the change at their next tick");
            self.wake();
        }
    }

    /// Runs the steps every [`EngineSettings::tick`] until `shutdown` resolves: schedule, then
    /// dispatch, and recovery every [`EngineSettings::recover_every_ticks`] ticks (also on the
    /// first, so a restarted instance picks up what the last one left at once). A failing step is
    /// logged (ids and error chains only, never patient data) and tried again next tick.
    pub fn spawn<F>(self: Arc<Self>, shutdown: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.settings.tick);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tokio::pin!(shutdown);
            let mut count: u64 = 0;
            let mut reports = tokio::time::interval(health::REPORT_EVERY);
            reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = ticks.tick() => {
                        self.run_once(count).await;
                        count = count.wrapping_add(1);
                    }
                    _ = reports.tick() => {
                        if let Err(err) = self.report_health().await {
                            tracing::warn!(error = %error_chain(&err), "engine health report failed");
                        }
                    }
                    () = self.wake.notified() => {
                        self.dispatch_now().await;
                        // Calls end many times a second under load: one step per pause
                        // serves all the wakes that arrive meanwhile.
                        tokio::time::sleep(WAKE_PAUSE).await;
                    }
                }
            }
            tracing::info!(instance_id = %self.instance_id, "engine stopped");
        })
    }

    async fn run_once(&self, count: u64) {
        let every = u64::from(self.settings.recover_every_ticks.max(1));
        if count.is_multiple_of(every) {
            match self.recover_tick(self.clock.now()).await {
                Ok(outcome) if outcome.is_empty() => {}
                Ok(outcome) => tracing::info!(?outcome, "engine recovery"),
                Err(err) => tracing::warn!(error = %error_chain(&err), "engine recovery step failed"),
            }
        }
        match self.schedule_tick(self.clock.now()).await {
            Ok(outcome) if outcome.started.is_empty() && outcome.completed.is_empty() => {}
            Ok(outcome) => {
                tracing::info!(started = ?outcome.started, completed = ?outcome.completed, "engine schedule")
            }
            Err(err) => tracing::warn!(error = %error_chain(&err), "engine schedule step failed"),
        }
        self.dispatch_now().await;
    }

    /// One dispatch step at the clock's now, timed for `/metrics`.
    async fn dispatch_now(&self) {
        let dispatching = std::time::Instant::now();
        let started = chrono::Utc::now();
        let dispatched = self.dispatch_tick(self.clock.now()).await;
        let took = dispatching.elapsed();
        metrics::histogram!("rivvi_engine_dispatch_tick_seconds").record(took.as_secs_f64());
        self.health.tick(started, took);
        match dispatched {
            Ok(outcome) if outcome.is_empty() => {}
            Ok(outcome) => tracing::debug!(?outcome, "engine dispatch"),
            Err(err) => tracing::warn!(error = %error_chain(&err), "engine dispatch step failed"),
        }
    }
}

/// An error and its sources on one line (our errors carry ids, never patient data).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
