//! The built-in Retell simulator (DESIGN.md §8): the same two API operations and the same signed
//! webhooks as Retell, with outcomes from a seeded distribution and time compressed. No HTTP
//! framework here: `rivvi_server::simulator` puts the API behind axum, and the simulator POSTs
//! its webhooks with reqwest.
//!
//! # Behaviour
//! - `create_phone_call` validates like Retell (E.164 `from_number` and `to_number`), answers a
//!   `registered` call with a fresh `call_…` id and fixes the call's whole life at once: outcome,
//!   ring and talk times, disconnection reason, transcript and analysis.
//! - Connected calls (reached, voicemail) send `call_started` after the ring, `call_ended` after
//!   the talk and `call_analyzed` a few seconds later. Dial failures (no answer, busy, failed)
//!   send no `call_started`: `call_ended` with `call_status: not_connected` and
//!   `dial_no_answer`/`dial_busy`/`dial_failed`, then `call_analyzed` with empty custom data.
//! - `get_phone_call` answers the call as it stands on the clock, whatever was delivered.
//! - Times are simulated seconds divided by `time_scale` on the injected [`Clock`]; timestamps in
//!   the call object are clock instants, `duration_ms` is the uncompressed conversation length.
//!
//! # Determinism
//! Each call draws from its own generator keyed by (seed, `to_number`, how many calls to that
//! number came before): the n-th call to a number gets the same outcome, timeline and analysis
//! for a given seed, whatever order calls to different numbers arrive in (so two engine
//! instances racing do not change outcomes). Outcomes queued with
//! [`Simulator::script_outcomes`] come first. Call ids are random (they must not collide with
//! ids stored before a restart). With a [`ManualClock`](crate::clock::ManualClock), events come
//! out of [`Simulator::take_due`]/[`Simulator::deliver_due`] in (due instant, creation) order.
//!
//! # Agents and versions
//! `create-retell-llm`, `update-retell-llm`, `create-agent`, `update-agent`,
//! `publish-agent-version` and `get-agent-versions` keep LLMs and agents with Retell's draft and
//! published versions (`agents`). A call naming one of these agents runs on the version it
//! names (which must be published) or on the latest published one, and the simulator records
//! what it used ([`Simulator::heard`]): the agent version, its prompt and its voicemail text. The
//! transcript opens with the prompt's first line and a voicemail leaves that version's text.
//!
//! # Analysis fields
//! A call's fields come from its create request's `agent_override.agent.post_call_analysis_data`
//! (what [`RetellClient`](crate::retell::RetellClient) sends from
//! [`CreateCall::analysis_fields`](crate::provider::CreateCall)); failing that, from the agent
//! version it runs on; failing that, from [`Simulator::register_agent`] for its agent id;
//! failing that, none. The built-in `opted_out` field is never drawn: it is `false` unless
//! [`Simulator::script_opt_out`] made the patient at that number ask not to be called again.

mod agents;
mod plan;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rivvi_domain::lifecycle::CallOutcome;
use rivvi_domain::PhoneNumber;

use crate::clock::Clock;
use crate::provider::{
    AgentConfig, AgentVersion, AnalysisFieldSpec, CreateCall, LlmSettings, ProviderCall, ProviderError,
    ProviderFuture, VoiceProvider,
};
use crate::retell::api::{
    AgentRequest, AgentResponse, CreatePhoneCallRequest, PublishAgentVersionRequest, RetellLlmRequest,
    RetellLlmResponse,
};
use crate::retell::webhook::{self, CallEvent, CallEventKind};
use crate::retell::DEFAULT_VOICE_ID;
pub use agents::{HeardAgent, DASHBOARD_PROMPT};
use plan::{PlanInput, Rng, SimCall, Stage};

/// Relative weights of the outcomes of simulated calls (any scale; all zero means all reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeWeights {
    /// A person answers.
    pub reached: u32,
    /// Voicemail answers.
    pub voicemail: u32,
    /// Rings out.
    pub no_answer: u32,
    /// Busy.
    pub busy: u32,
    /// The dial fails.
    pub failed: u32,
}

impl Default for OutcomeWeights {
    /// 60 / 15 / 15 / 5 / 5.
    fn default() -> Self {
        OutcomeWeights { reached: 60, voicemail: 15, no_answer: 15, busy: 5, failed: 5 }
    }
}

impl OutcomeWeights {
    /// Every call ends with `outcome`.
    pub fn only(outcome: CallOutcome) -> Self {
        let mut w = OutcomeWeights { reached: 0, voicemail: 0, no_answer: 0, busy: 0, failed: 0 };
        *w.weight_mut(outcome) = 1;
        w
    }

    fn weight_mut(&mut self, outcome: CallOutcome) -> &mut u32 {
        match outcome {
            CallOutcome::Reached => &mut self.reached,
            CallOutcome::Voicemail => &mut self.voicemail,
            CallOutcome::NoAnswer => &mut self.no_answer,
            CallOutcome::Busy => &mut self.busy,
            CallOutcome::Failed => &mut self.failed,
        }
    }

    fn pick(&self, roll: u64) -> CallOutcome {
        let table = [
            (CallOutcome::Reached, self.reached),
            (CallOutcome::Voicemail, self.voicemail),
            (CallOutcome::NoAnswer, self.no_answer),
            (CallOutcome::Busy, self.busy),
            (CallOutcome::Failed, self.failed),
        ];
        let total: u64 = table.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return CallOutcome::Reached;
        }
        let mut point = roll % total;
        for (outcome, weight) in table {
            let weight = u64::from(weight);
            if point < weight {
                return outcome;
            }
            point -= weight;
        }
        CallOutcome::Reached
    }
}

/// How the simulator behaves.
#[derive(Clone)]
pub struct SimulatorConfig {
    /// The API key clients must present, and the webhook signing key.
    pub api_key: String,
    /// Where webhooks go (Rivvi's `POST /webhooks/retell`); can be set later with
    /// [`Simulator::set_webhook_url`], once the server knows its address.
    pub webhook_url: String,
    /// Seeds every call's generator.
    pub seed: u64,
    /// The outcome distribution.
    pub outcomes: OutcomeWeights,
    /// Simulated seconds per clock second: at 30, a 90 s call takes 3 s. Non-positive reads as 1.
    pub time_scale: f64,
    /// The agent of calls without `override_agent_id` (Retell would use the number's agent).
    pub default_agent_id: String,
    /// Send every webhook twice, as a retrying provider may.
    pub duplicate_delivery: bool,
    /// Sometimes (about one connected call in three) send `call_started` after `call_ended`.
    pub reorder: bool,
    /// Further tries of a webhook that failed (non-2xx or no answer), 1 s, 2 s, 4 s… apart on
    /// the clock.
    pub webhook_retries: u32,
    /// How often [`Simulator::spawn_driver`] delivers due webhooks (real time).
    pub tick: Duration,
    /// Where the LLMs and agents created through the API are kept across restarts (`None`: in
    /// memory only).
    pub agents_file: Option<std::path::PathBuf>,
}

impl SimulatorConfig {
    /// Defaults: seed 1, 60/15/15/5/5 outcomes, real time (scale 1), 3 webhook retries, no
    /// duplicates or reordering, 100 ms ticks.
    pub fn new(api_key: impl Into<String>, webhook_url: impl Into<String>) -> Self {
        SimulatorConfig {
            api_key: api_key.into(),
            webhook_url: webhook_url.into(),
            seed: 1,
            outcomes: OutcomeWeights::default(),
            time_scale: 1.0,
            default_agent_id: "agent_rivvi_simulator".to_owned(),
            duplicate_delivery: false,
            reorder: false,
            webhook_retries: 3,
            tick: Duration::from_millis(100),
            agents_file: None,
        }
    }
}

impl fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("api_key", &"***")
            .field("webhook_url", &self.webhook_url)
            .field("seed", &self.seed)
            .field("outcomes", &self.outcomes)
            .field("time_scale", &self.time_scale)
            .field("duplicate_delivery", &self.duplicate_delivery)
            .field("reorder", &self.reorder)
            .finish_non_exhaustive()
    }
}

/// Why the simulator refused a request, with the HTTP status Retell would answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    // not found
    /// No call, LLM or agent with that id: 404.
    #[error("not found")]
    NotFound,
    // user errors
    /// A bad request, such as a number not in E.164 form: 400.
    #[error("{0}")]
    InvalidRequest(String),
    // internal
    /// A failure injected with [`Simulator::fail_next_create`] or
    /// [`Simulator::fail_next_agent_requests`]: 500.
    #[error("simulated internal server error")]
    SimulatedFailure,
}

impl SimError {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            SimError::NotFound => 404,
            SimError::InvalidRequest(_) => 400,
            SimError::SimulatedFailure => 500,
        }
    }
}

/// A signed webhook ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingWebhook {
    /// The call it is about.
    pub call_id: String,
    /// Which event.
    pub event: CallEventKind,
    /// 0 for the first try, then 1, 2… for retries.
    pub attempt: u32,
    /// The JSON body, exactly as signed.
    pub body: Vec<u8>,
    /// The `x-retell-signature` value.
    pub signature: String,
}

/// What happened to one webhook in [`Simulator::deliver_due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryResult {
    /// The call it was about.
    pub call_id: String,
    /// Which event.
    pub event: CallEventKind,
    /// 0 for the first try.
    pub attempt: u32,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed to send, if it did.
    pub error: Option<String>,
    /// When it will be tried again, if it failed and tries remain.
    pub retry_at: Option<DateTime<Utc>>,
}

impl DeliveryResult {
    /// Whether the receiver answered 2xx.
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

#[derive(Debug, Clone)]
struct Delivery {
    call_id: String,
    event: CallEventKind,
    attempt: u32,
}

struct State {
    webhook_url: String,
    duplicate_delivery: bool,
    reorder: bool,
    /// Create requests still to fail with a 500.
    fail_next_create: u32,
    /// LLM and agent requests still to fail with a 500.
    fail_next_agent_requests: u32,
    /// Create requests seen, failed ones included.
    create_requests: u64,
    /// Calls per destination so far: the second half of each call's generator key.
    per_number: HashMap<String, u64>,
    scripts: HashMap<String, VecDeque<CallOutcome>>,
    /// Numbers whose patient asks not to be called again on their next reached call.
    opt_outs: HashSet<String>,
    agents: HashMap<String, Vec<AnalysisFieldSpec>>,
    /// LLMs and agents created through the API, with their versions.
    retell_agents: agents::Agents,
    /// What each call ran on, for calls of agents created through the API, in creation order.
    heard: Vec<(String, HeardAgent)>,
    /// Every call ever created (a simulator lives as long as one server process).
    calls: HashMap<String, SimCall>,
    /// Pending webhooks by (due ms, sequence): the sequence keeps creation order among equals.
    queue: BTreeMap<(i64, u64), Delivery>,
    next_sequence: u64,
}

impl State {
    fn enqueue(&mut self, due_ms: i64, delivery: Delivery) {
        self.next_sequence += 1;
        self.queue.insert((due_ms, self.next_sequence), delivery);
    }
}

/// The simulator. Share it as `Arc<Simulator>`: the HTTP face, the driver and tests hold it.
pub struct Simulator {
    config: SimulatorConfig,
    clock: Arc<dyn Clock>,
    /// `None` only if the TLS backend could not start; every delivery then fails and says so.
    http: Option<reqwest::Client>,
    /// Held briefly and never across an await: deliveries are taken out, then sent unlocked.
    state: Mutex<State>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Retell's webhook timeout: a receiver slower than this counts as failed.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

impl Simulator {
    /// A simulator on `clock`.
    pub fn new(config: SimulatorConfig, clock: Arc<dyn Clock>) -> Self {
        let mut config = config;
        if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
            config.time_scale = 1.0;
        }
        let state = State {
            webhook_url: config.webhook_url.clone(),
            duplicate_delivery: config.duplicate_delivery,
            reorder: config.reorder,
            fail_next_create: 0,
            fail_next_agent_requests: 0,
            create_requests: 0,
            per_number: HashMap::new(),
            scripts: HashMap::new(),
            opt_outs: HashSet::new(),
            agents: HashMap::new(),
            retell_agents: config.agents_file.as_deref().map(agents::Agents::load).unwrap_or_default(),
            heard: Vec::new(),
            calls: HashMap::new(),
            queue: BTreeMap::new(),
            next_sequence: 0,
        };
        let http = match reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build() {
            Ok(client) => Some(client),
            Err(err) => {
                tracing::error!(error = %err, "simulator cannot build its webhook client: webhooks will fail");
                None
            }
        };
        Simulator { config, clock, http, state: Mutex::new(state) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every update is one insert).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The API key clients must present (`Authorization: Bearer`).
    pub fn api_key(&self) -> &str {
        &self.config.api_key
    }

    /// The clock the simulator runs on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Points webhooks somewhere else (the server sets it once it knows its address).
    pub fn set_webhook_url(&self, url: impl Into<String>) {
        self.state().webhook_url = url.into();
    }

    /// The next `n` create requests fail with a 500 (after validation and auth, before a call
    /// exists).
    pub fn fail_next_create(&self, n: u32) {
        self.state().fail_next_create = n;
    }

    /// The next `n` LLM and agent requests (create, update, publish, list versions) fail with a
    /// 500, after auth; `0` stops failing them.
    pub fn fail_next_agent_requests(&self, n: u32) {
        self.state().fail_next_agent_requests = n;
    }

    /// Takes one scripted agent failure, if any is left.
    fn agent_failure(state: &mut State) -> Result<(), SimError> {
        if state.fail_next_agent_requests > 0 {
            state.fail_next_agent_requests -= 1;
            return Err(SimError::SimulatedFailure);
        }
        Ok(())
    }

    /// Send every webhook twice from now on (or stop).
    pub fn set_duplicate_delivery(&self, on: bool) {
        self.state().duplicate_delivery = on;
    }

    /// Reorder `call_started` after `call_ended` for some calls created from now on (or stop).
    pub fn set_reorder(&self, on: bool) {
        self.state().reorder = on;
    }

    /// Calls to `to_number` take these outcomes, in order, before the distribution applies again.
    pub fn script_outcomes(&self, to_number: &str, outcomes: impl IntoIterator<Item = CallOutcome>) {
        self.state().scripts.entry(to_number.to_owned()).or_default().extend(outcomes);
    }

    /// The patient at `to_number` asks not to be called again on the next call to it that
    /// reaches them: its transcript says "Please stop calling me." and its `opted_out` analysis
    /// field is true.
    pub fn script_opt_out(&self, to_number: &str) {
        self.state().opt_outs.insert(to_number.to_owned());
    }

    /// Analysis fields for calls to `agent_id` that carry none in their request.
    pub fn register_agent(&self, agent_id: &str, fields: Vec<AnalysisFieldSpec>) {
        self.state().agents.insert(agent_id.to_owned(), fields);
    }

    /// Create requests seen so far, including refused and failed ones.
    pub fn create_requests(&self) -> u64 {
        self.state().create_requests
    }

    /// Calls created so far.
    pub fn call_count(&self) -> usize {
        self.state().calls.len()
    }

    /// The outcome a call was given (for tests comparing with what the engine recorded).
    pub fn outcome_of(&self, call_id: &str) -> Option<CallOutcome> {
        self.state().calls.get(call_id).map(|c| c.outcome)
    }

    /// Webhooks waiting to be delivered, retries included.
    pub fn pending_webhooks(&self) -> usize {
        self.state().queue.len()
    }

    /// When the next webhook is due, if any: a test can set its manual clock there.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let state = self.state();
        let (due_ms, _) = state.queue.keys().next()?;
        DateTime::from_timestamp_millis(*due_ms)
    }

    /// `POST /v2/create-phone-call`. The request counts even when it is refused.
    pub fn create_phone_call(&self, request: CreatePhoneCallRequest) -> Result<ProviderCall, SimError> {
        let now_ms = self.clock.now_ms();
        let mut state = self.state();
        state.create_requests += 1;
        let from = e164("from_number", &request.from_number)?;
        let to = e164("to_number", &request.to_number)?;
        if state.fail_next_create > 0 {
            state.fail_next_create -= 1;
            return Err(SimError::SimulatedFailure);
        }

        let nth = state.per_number.entry(to.clone()).or_insert(0);
        let key = format!("{to}#{nth}");
        *nth += 1;
        let mut rng = Rng::for_key(self.config.seed, key.as_bytes());
        let roll = rng.next_u64();
        let outcome = match state.scripts.get_mut(&to).and_then(VecDeque::pop_front) {
            Some(scripted) => scripted,
            None => self.config.outcomes.pick(roll),
        };

        let agent_id =
            request.override_agent_id.clone().unwrap_or_else(|| self.config.default_agent_id.clone());
        let heard = match state.retell_agents.resolve(&agent_id, request.override_agent_version.as_ref()) {
            Ok(heard) => heard,
            Err(err) => {
                // Refused before a call exists: the generator position is given back.
                if let Some(nth) = state.per_number.get_mut(&to) {
                    *nth -= 1;
                }
                return Err(err);
            }
        };
        let fields = request_fields(&request)
            .or_else(|| heard.as_ref().and_then(|h| state.retell_agents.fields(h)))
            .or_else(|| state.agents.get(&agent_id).cloned())
            .unwrap_or_default();
        let opts_out = outcome == CallOutcome::Reached && state.opt_outs.remove(&to);
        let call_id = format!("call_{}", uuid::Uuid::new_v4().simple());
        let base = plan::registered(
            call_id.clone(),
            agent_id,
            from,
            to,
            request.metadata,
            request.retell_llm_dynamic_variables,
        );
        let input = PlanInput {
            base,
            outcome,
            created_ms: now_ms,
            time_scale: self.config.time_scale,
            fields: &fields,
            reorder_allowed: state.reorder,
            script: heard.as_ref().map(|h| plan::AgentScript {
                prompt: h.prompt.as_str(),
                voicemail_message: h.voicemail_message.as_deref(),
            }),
            opts_out,
        };
        let call = plan::plan(input, &mut rng);
        if let Some(heard) = heard {
            state.heard.push((call_id.clone(), heard));
        }
        let copies = if state.duplicate_delivery { 2 } else { 1 };
        for (due_ms, event) in call.events() {
            for _ in 0..copies {
                state
                    .enqueue(due_ms, Delivery { call_id: call_id.clone(), event: event.clone(), attempt: 0 });
            }
        }
        let registered = call.snapshot(Stage::Registered);
        state.calls.insert(call_id, call);
        Ok(registered)
    }

    /// What a call ran on (agent version, prompt, voicemail text), for calls of agents created
    /// through the simulator's API: what the patient heard.
    pub fn heard(&self, call_id: &str) -> Option<HeardAgent> {
        self.state().heard.iter().find(|(id, _)| id == call_id).map(|(_, heard)| heard.clone())
    }

    /// Every call that ran on an agent created through the API (or a dashboard agent), as
    /// `(call id, number called, what it ran on)`, oldest first.
    pub fn heard_calls(&self) -> Vec<(String, String, HeardAgent)> {
        let state = self.state();
        state
            .heard
            .iter()
            .filter_map(|(id, heard)| {
                let to = state.calls.get(id)?.base.to_number.clone();
                Some((id.clone(), to, heard.clone()))
            })
            .collect()
    }

    /// Writes the LLMs and agents to the configured file, if any.
    fn keep_agents(&self, state: &State) {
        if let Some(path) = &self.config.agents_file {
            state.retell_agents.save(path);
        }
    }

    /// `POST /create-retell-llm`.
    pub fn create_retell_llm(&self, request: RetellLlmRequest) -> Result<RetellLlmResponse, SimError> {
        let now_ms = self.clock.now_ms();
        let mut state = self.state();
        Self::agent_failure(&mut state)?;
        let created = state.retell_agents.create_llm(request, now_ms);
        self.keep_agents(&state);
        Ok(created)
    }

    /// `PATCH /update-retell-llm/{llm_id}`.
    pub fn update_retell_llm(
        &self,
        llm_id: &str,
        request: RetellLlmRequest,
    ) -> Result<RetellLlmResponse, SimError> {
        let now_ms = self.clock.now_ms();
        let mut state = self.state();
        Self::agent_failure(&mut state)?;
        let updated = state.retell_agents.update_llm(llm_id, request, now_ms)?;
        self.keep_agents(&state);
        Ok(updated)
    }

    /// `POST /create-agent`.
    pub fn create_agent(&self, request: AgentRequest) -> Result<AgentResponse, SimError> {
        let now_ms = self.clock.now_ms();
        let mut state = self.state();
        Self::agent_failure(&mut state)?;
        let created = state.retell_agents.create_agent(request, now_ms)?;
        self.keep_agents(&state);
        Ok(created)
    }

    /// `PATCH /update-agent/{agent_id}`: the latest draft.
    pub fn update_agent(&self, agent_id: &str, request: AgentRequest) -> Result<AgentResponse, SimError> {
        let now_ms = self.clock.now_ms();
        let mut state = self.state();
        Self::agent_failure(&mut state)?;
        let updated = state.retell_agents.update_agent(agent_id, request, now_ms)?;
        self.keep_agents(&state);
        Ok(updated)
    }

    /// `POST /publish-agent-version/{agent_id}`.
    pub fn publish_agent_version(
        &self,
        agent_id: &str,
        request: PublishAgentVersionRequest,
    ) -> Result<(), SimError> {
        let now_ms = self.clock.now_ms();
        let mut state = self.state();
        Self::agent_failure(&mut state)?;
        state.retell_agents.publish(agent_id, request.version, now_ms)?;
        self.keep_agents(&state);
        Ok(())
    }

    /// `GET /get-agent-versions/{agent_id}`.
    pub fn get_agent_versions(&self, agent_id: &str) -> Result<Vec<AgentResponse>, SimError> {
        let now_ms = self.clock.now_ms();
        let mut state = self.state();
        Self::agent_failure(&mut state)?;
        // Reading a dashboard agent's versions makes it appear (see `agents`): kept too.
        let versions = state.retell_agents.versions(agent_id, now_ms)?;
        self.keep_agents(&state);
        Ok(versions)
    }

    /// `GET /v2/get-call/{call_id}`: the call as it stands on the clock now.
    pub fn get_phone_call(&self, call_id: &str) -> Result<ProviderCall, SimError> {
        let now_ms = self.clock.now_ms();
        let state = self.state();
        let call = state.calls.get(call_id).ok_or(SimError::NotFound)?;
        Ok(call.snapshot(call.stage_at(now_ms)))
    }

    /// Takes every webhook due at `now` out of the queue, signed at `now`, without sending it:
    /// for tests that feed webhooks to a handler directly. Not retried: that is
    /// [`Simulator::deliver_due`]'s job.
    pub fn take_due(&self, now: DateTime<Utc>) -> Vec<OutgoingWebhook> {
        let now_ms = now.timestamp_millis();
        let mut state = self.state();
        let mut out = Vec::new();
        while let Some(entry) = state.queue.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let delivery = entry.remove();
            if let Some(webhook) = self.render(&state, delivery, now_ms) {
                out.push(webhook);
            }
        }
        out
    }

    fn render(&self, state: &State, delivery: Delivery, now_ms: i64) -> Option<OutgoingWebhook> {
        let call = state.calls.get(&delivery.call_id)?;
        let stage = match delivery.event {
            CallEventKind::CallStarted => Stage::Ongoing,
            CallEventKind::CallEnded => Stage::Ended,
            _ => Stage::Analyzed,
        };
        let event = CallEvent { event: delivery.event.clone(), call: call.snapshot(stage) };
        let body = match serde_json::to_vec(&event) {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(error = %err, call_id = %delivery.call_id, "simulator could not encode a webhook");
                return None;
            }
        };
        let signature = webhook::sign(&self.config.api_key, &body, now_ms);
        Some(OutgoingWebhook {
            call_id: delivery.call_id,
            event: delivery.event,
            attempt: delivery.attempt,
            body,
            signature,
        })
    }

    /// POSTs every webhook due at `now` to the webhook URL, one after another in due order,
    /// signed like Retell. A failure (non-2xx or no answer within 10 s) is queued again
    /// 1 s, 2 s, 4 s… later on the clock, up to `webhook_retries` times.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> Vec<DeliveryResult> {
        let due = self.take_due(now);
        if due.is_empty() {
            return Vec::new();
        }
        let url = self.state().webhook_url.clone();
        let mut results = Vec::with_capacity(due.len());
        for webhook in due {
            let (status, error) = match &self.http {
                Some(http) => {
                    let sent = http
                        .post(&url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .header(webhook::SIGNATURE_HEADER, &webhook.signature)
                        .body(webhook.body)
                        .send()
                        .await;
                    match sent {
                        Ok(response) => (Some(response.status().as_u16()), None),
                        Err(err) => (None, Some(err.without_url().to_string())),
                    }
                }
                None => (None, Some("no http client".to_owned())),
            };
            let mut result = DeliveryResult {
                call_id: webhook.call_id,
                event: webhook.event,
                attempt: webhook.attempt,
                status,
                error,
                retry_at: None,
            };
            if !result.delivered() && webhook.attempt < self.config.webhook_retries {
                let wait = Duration::from_secs(1u64 << webhook.attempt.min(16));
                let retry_at = now + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX);
                self.state().enqueue(
                    retry_at.timestamp_millis(),
                    Delivery {
                        call_id: result.call_id.clone(),
                        event: result.event.clone(),
                        attempt: webhook.attempt + 1,
                    },
                );
                result.retry_at = Some(retry_at);
            }
            if !result.delivered() {
                tracing::warn!(
                    call_id = %result.call_id, event = %result.event, attempt = result.attempt,
                    status = ?result.status, error = ?result.error, retry = result.retry_at.is_some(),
                    "simulator webhook not delivered"
                );
            }
            results.push(result);
        }
        results
    }

    /// Delivers due webhooks every `tick` on the clock until `shutdown` resolves (for
    /// `cargo run`; tests call [`Simulator::deliver_due`] themselves).
    pub fn spawn_driver<F>(self: Arc<Self>, shutdown: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.config.tick);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = ticks.tick() => {
                        let now = self.clock.now();
                        self.deliver_due(now).await;
                    }
                }
            }
            tracing::debug!("simulator driver stopped");
        })
    }
}

fn e164(field: &str, value: &str) -> Result<String, SimError> {
    if value.trim().is_empty() {
        return Err(SimError::InvalidRequest(format!("{field} is required")));
    }
    PhoneNumber::parse_e164_strict(value)
        .map(|p| p.as_str().to_owned())
        .map_err(|_| SimError::InvalidRequest(format!("{field} must be a valid E.164 number")))
}

fn request_fields(request: &CreatePhoneCallRequest) -> Option<Vec<AnalysisFieldSpec>> {
    let items = request.agent_override.as_ref()?.agent.as_ref()?.post_call_analysis_data.as_ref()?;
    Some(items.iter().filter_map(AnalysisFieldSpec::from_retell).collect())
}

impl From<SimError> for ProviderError {
    fn from(error: SimError) -> Self {
        match error {
            SimError::NotFound => ProviderError::NotFound(String::new()),
            SimError::InvalidRequest(message) => ProviderError::Rejected { status: 400, message },
            SimError::SimulatedFailure => ProviderError::Server { status: 500, message: error.to_string() },
        }
    }
}

/// In process, without HTTP or retries: for engine tests that do not need the wire.
impl VoiceProvider for Simulator {
    fn create_call(&self, call: CreateCall) -> ProviderFuture<'_, ProviderCall> {
        let result = self.create_phone_call(CreatePhoneCallRequest::from(&call)).map_err(ProviderError::from);
        Box::pin(std::future::ready(result))
    }

    fn get_call<'a>(&'a self, provider_call_id: &'a str) -> ProviderFuture<'a, ProviderCall> {
        let result = self.get_phone_call(provider_call_id).map_err(|e| not_found_as(e, provider_call_id));
        Box::pin(std::future::ready(result))
    }

    fn create_llm<'a>(&'a self, settings: &'a LlmSettings) -> ProviderFuture<'a, String> {
        let result = self
            .create_retell_llm(RetellLlmRequest::from(settings))
            .map(|llm| llm.llm_id)
            .map_err(ProviderError::from);
        Box::pin(std::future::ready(result))
    }

    fn update_llm<'a>(&'a self, llm_id: &'a str, settings: &'a LlmSettings) -> ProviderFuture<'a, ()> {
        let result = self
            .update_retell_llm(llm_id, RetellLlmRequest::from(settings))
            .map(|_| ())
            .map_err(|e| not_found_as(e, llm_id));
        Box::pin(std::future::ready(result))
    }

    fn create_agent<'a>(&'a self, settings: &'a AgentConfig) -> ProviderFuture<'a, (String, AgentVersion)> {
        let result = Simulator::create_agent(self, AgentRequest::new(settings, DEFAULT_VOICE_ID))
            .map(|agent| (agent.agent_id.clone(), agent.agent_version()))
            .map_err(ProviderError::from);
        Box::pin(std::future::ready(result))
    }

    fn update_agent<'a>(
        &'a self,
        agent_id: &'a str,
        settings: &'a AgentConfig,
    ) -> ProviderFuture<'a, AgentVersion> {
        let result = Simulator::update_agent(self, agent_id, AgentRequest::new(settings, DEFAULT_VOICE_ID))
            .map(|agent| agent.agent_version())
            .map_err(|e| not_found_as(e, agent_id));
        Box::pin(std::future::ready(result))
    }

    fn publish_agent_version<'a>(&'a self, agent_id: &'a str, version: u32) -> ProviderFuture<'a, ()> {
        let request = PublishAgentVersionRequest { version, version_description: None };
        let result =
            Simulator::publish_agent_version(self, agent_id, request).map_err(|e| not_found_as(e, agent_id));
        Box::pin(std::future::ready(result))
    }

    fn agent_versions<'a>(&'a self, agent_id: &'a str) -> ProviderFuture<'a, Vec<AgentVersion>> {
        let result = self
            .get_agent_versions(agent_id)
            .map(|versions| versions.iter().map(AgentResponse::agent_version).collect())
            .map_err(|e| not_found_as(e, agent_id));
        Box::pin(std::future::ready(result))
    }
}

fn not_found_as(error: SimError, id: &str) -> ProviderError {
    match error {
        SimError::NotFound => ProviderError::NotFound(id.to_owned()),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests;
