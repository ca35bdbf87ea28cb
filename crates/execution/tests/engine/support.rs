//! A small world for engine tests: one organization with its settings, campaigns, patients and
//! runs written through the repositories, the in-process simulator as the provider (behind a
//! recorder that can lose answers or "crash"), and a manual clock.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use rivvi_domain::campaign::NewCampaign;
use rivvi_domain::ids::{CampaignId, RunId, RunRowId};
use rivvi_domain::lifecycle::{CallOutcome, RowStatus, RunStatus};
use rivvi_execution::bus::EventBus;
use rivvi_execution::clock::{Clock, ManualClock};
use rivvi_execution::engine::lifecycle::{ChangedBy, RunChange};
use rivvi_execution::engine::{Engine, EngineSettings};
use rivvi_execution::provider::{
    AgentConfig, AgentVersion, CreateCall, LlmSettings, ProviderCall, ProviderError, ProviderFuture,
    VoiceProvider,
};
use rivvi_execution::retell::webhook::CallEvent;
use rivvi_execution::simulator::{OutcomeWeights, Simulator, SimulatorConfig};
use rivvi_persistence::audit::AuditActor;
use rivvi_persistence::calls::{self, CallRecord};
use rivvi_persistence::organizations::{self, NewOrganization, OrganizationRecord};
use rivvi_persistence::patients::{self, PatientFields, PatientIdentity};
use rivvi_persistence::prompt_versions::{self, NewPromptVersion};
use rivvi_persistence::run_rows::{self, NewRunRow, RowContent, RowState, RunRowRecord};
use rivvi_persistence::runs::{self, NewRun};
use rivvi_persistence::sealing::Keys;
use rivvi_persistence::{campaigns, OrgScope, Page};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};
use serde_json::{json, Value};

pub const CALLER: &str = "+13125550100";
pub const API_KEY: &str = "key_engine_tests";

/// Monday 2026-03-09 15:00 UTC: 11:00 in New York, 10:00 in Chicago.
pub fn monday_morning() -> DateTime<Utc> {
    at("2026-03-09T15:00:00Z")
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

/// Open every day, all day.
pub fn always_open() -> Value {
    let day = json!({"open": "00:00", "close": "24:00"});
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day,
           "saturday": day, "sunday": day, "holidays": []})
}

/// Organization settings for a test.
#[derive(Debug, Clone)]
pub struct OrgSpec {
    pub time_zone: &'static str,
    pub office_hours: Value,
    pub concurrent_call_limit: u32,
    pub calls_per_minute: u32,
}

impl Default for OrgSpec {
    fn default() -> Self {
        OrgSpec {
            time_zone: "America/New_York",
            office_hours: always_open(),
            concurrent_call_limit: 20,
            calls_per_minute: 600,
        }
    }
}

/// A patient row of a run.
#[derive(Debug, Clone)]
pub struct Person {
    pub first: String,
    pub last: String,
    pub phone: String,
    /// The sheet's time zone column, if any.
    pub zone: Option<String>,
}

impl Person {
    /// A Chicago (312) patient number `n`.
    pub fn chicago(n: u32) -> Person {
        Person::new(n, &format!("+1312555{:04}", 2000 + n))
    }

    pub fn new(n: u32, phone: &str) -> Person {
        Person { first: format!("Ada{n}"), last: format!("Lovelace{n}"), phone: phone.to_owned(), zone: None }
    }
}

/// What the provider was asked, and what it answered.
#[derive(Debug, Clone)]
pub struct Dial {
    pub create: CreateCall,
    /// The provider's id, when the simulator created the call.
    pub provider_call_id: Option<String>,
}

/// How the recorder misbehaves on the next create requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Behave normally (lets a later fault hit a later request).
    Pass,
    /// The call is placed, but its answer is lost (the engine sees a timeout).
    LoseAnswer,
    /// The call is placed, then the request never returns (an instance dying mid-dial).
    HangAfterPlacing,
    /// The request never reaches the provider and never returns.
    HangBeforePlacing,
    /// The provider refuses the request (400) without placing a call.
    Refuse,
}

/// The simulator behind a recorder of every create request.
pub struct Recorder {
    pub sim: Arc<Simulator>,
    pub dials: Mutex<Vec<Dial>>,
    faults: Mutex<Vec<Fault>>,
    pub hung: AtomicU32,
    /// Woken when a request hangs: the test "kills" the instance that made it.
    pub hang: tokio::sync::Notify,
    in_flight: AtomicU32,
    /// The most create requests that were in flight at once.
    pub most_in_flight: AtomicU32,
}

impl Recorder {
    pub fn new(sim: Arc<Simulator>) -> Recorder {
        Recorder {
            sim,
            dials: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            hung: AtomicU32::new(0),
            hang: tokio::sync::Notify::new(),
            in_flight: AtomicU32::new(0),
            most_in_flight: AtomicU32::new(0),
        }
    }

    /// The next create requests misbehave like this, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.faults.lock().unwrap().extend(faults);
    }

    /// Drops the faults not yet used.
    pub fn clear_faults(&self) {
        self.faults.lock().unwrap().clear();
    }

    pub fn dials(&self) -> Vec<Dial> {
        self.dials.lock().unwrap().clone()
    }

    /// Provider ids of every call the simulator created.
    pub fn placed(&self) -> Vec<String> {
        self.dials().into_iter().filter_map(|d| d.provider_call_id).collect()
    }

    /// Asserts no (row, attempt) was sent to the provider twice, and returns the dials count.
    pub fn assert_no_attempt_dialled_twice(&self) -> usize {
        let dials = self.dials();
        let mut seen = HashSet::new();
        for dial in &dials {
            let key = (dial.create.metadata.row_id, dial.create.metadata.attempt);
            assert!(seen.insert(key), "row {} attempt {} was dialled twice", key.0, key.1);
        }
        dials.len()
    }

    /// Calls the simulator has that are live (registered or ongoing) on its clock now.
    pub fn live_at_provider(&self) -> usize {
        self.placed()
            .iter()
            .filter(|id| {
                let call = self.sim.get_phone_call(id).unwrap();
                !call.call_status.is_final()
            })
            .count()
    }
}

impl VoiceProvider for Recorder {
    fn create_call(&self, call: CreateCall) -> ProviderFuture<'_, ProviderCall> {
        let fault = {
            let mut faults = self.faults.lock().unwrap();
            if faults.is_empty() {
                None
            } else {
                Some(faults.remove(0))
            }
        };
        if fault == Some(Fault::HangBeforePlacing) {
            self.hung.fetch_add(1, Ordering::SeqCst);
            self.hang.notify_one();
            return Box::pin(std::future::pending());
        }
        if fault == Some(Fault::Refuse) {
            let refused = ProviderError::Rejected { status: 400, message: "refused by the test".into() };
            return Box::pin(std::future::ready(Err(refused)));
        }
        let result = self.sim.create_call(call.clone());
        Box::pin(async move {
            let now_in_flight = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now_in_flight, Ordering::SeqCst);
            // A real request is not answered in the same poll: let the dispatcher start others.
            tokio::task::yield_now().await;
            let result = result.await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.dials.lock().unwrap().push(Dial {
                create: call,
                provider_call_id: result.as_ref().ok().map(|c| c.call_id.clone()),
            });
            match (fault, result) {
                (Some(Fault::LoseAnswer), Ok(_)) => Err(ProviderError::Timeout),
                (Some(Fault::HangAfterPlacing), Ok(_)) => {
                    self.hung.fetch_add(1, Ordering::SeqCst);
                    self.hang.notify_one();
                    std::future::pending().await
                }
                (_, result) => result,
            }
        })
    }

    fn get_call<'a>(&'a self, provider_call_id: &'a str) -> ProviderFuture<'a, ProviderCall> {
        self.sim.get_call(provider_call_id)
    }

    fn create_llm<'a>(&'a self, settings: &'a LlmSettings) -> ProviderFuture<'a, String> {
        self.sim.create_llm(settings)
    }

    fn update_llm<'a>(&'a self, llm_id: &'a str, settings: &'a LlmSettings) -> ProviderFuture<'a, ()> {
        self.sim.update_llm(llm_id, settings)
    }

    fn create_agent<'a>(&'a self, settings: &'a AgentConfig) -> ProviderFuture<'a, (String, AgentVersion)> {
        VoiceProvider::create_agent(&*self.sim, settings)
    }

    fn update_agent<'a>(
        &'a self,
        agent_id: &'a str,
        settings: &'a AgentConfig,
    ) -> ProviderFuture<'a, AgentVersion> {
        VoiceProvider::update_agent(&*self.sim, agent_id, settings)
    }

    fn publish_agent_version<'a>(&'a self, agent_id: &'a str, version: u32) -> ProviderFuture<'a, ()> {
        VoiceProvider::publish_agent_version(&*self.sim, agent_id, version)
    }

    fn agent_versions<'a>(&'a self, agent_id: &'a str) -> ProviderFuture<'a, Vec<AgentVersion>> {
        self.sim.agent_versions(agent_id)
    }
}

/// One organization, its clock, simulator and recorder.
pub struct World {
    pub db: DatabaseConnection,
    pub keys: Keys,
    pub clock: Arc<ManualClock>,
    pub sim: Arc<Simulator>,
    pub provider: Arc<Recorder>,
    pub org: OrganizationRecord,
    pub scope: OrgScope,
    /// The bus every engine of this world publishes on (one instance's).
    pub bus: Arc<EventBus>,
}

impl World {
    pub async fn new(db: DatabaseConnection, spec: OrgSpec) -> World {
        World::with_sim(db, spec, 7, OutcomeWeights::only(CallOutcome::Reached)).await
    }

    pub async fn with_sim(
        db: DatabaseConnection,
        spec: OrgSpec,
        seed: u64,
        outcomes: OutcomeWeights,
    ) -> World {
        let clock = Arc::new(ManualClock::new(monday_morning()));
        let mut config = SimulatorConfig::new(API_KEY, "http://127.0.0.1:9/unused");
        config.seed = seed;
        config.outcomes = outcomes;
        let sim = Arc::new(Simulator::new(config, clock.clone()));
        let provider = Arc::new(Recorder::new(sim.clone()));
        let org = organizations::create(
            &db,
            NewOrganization {
                clerk_org_id: format!("org_{}", uuid::Uuid::new_v4().simple()),
                name: "Lakeside Clinic".into(),
                slug: None,
                time_zone: Some(spec.time_zone.parse().unwrap()),
                office_hours: Some(serde_json::from_value(spec.office_hours).unwrap()),
                caller_number: Some(CALLER.parse().unwrap()),
                concurrent_call_limit: Some(spec.concurrent_call_limit),
                calls_per_minute: Some(spec.calls_per_minute),
                is_operator: false,
            },
        )
        .await
        .unwrap();
        let scope = OrgScope::for_verified_org(org.id);
        let bus = Arc::new(EventBus::new(db.clone()));
        World { db, keys: Keys::generate().unwrap(), clock, sim, provider, org, scope, bus }
    }

    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DatabaseBackend::Postgres
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn engine(&self, instance: &str) -> Engine {
        self.engine_with(instance, EngineSettings::default())
    }

    pub fn engine_with(&self, instance: &str, settings: EngineSettings) -> Engine {
        Engine::new(
            self.db.clone(),
            self.keys.clone(),
            self.provider.clone(),
            self.clock.clone(),
            self.bus.clone(),
            instance,
            settings,
        )
        .unwrap()
    }

    /// A run of a default campaign for `people`, started through the lifecycle's front door.
    pub async fn started_run(&self, engine: &Engine, people: &[Person]) -> RunId {
        let campaign = self.campaign(None).await;
        let run = self.run(campaign, people).await;
        engine.change_run(&self.scope, run, RunChange::Start, &by_test()).await.unwrap();
        run
    }

    /// A campaign with `retry_policy` (the domain default when `None`).
    pub async fn campaign(&self, retry_policy: Option<Value>) -> CampaignId {
        let mut input = json!({
            "name": format!("Reminders {}", uuid::Uuid::new_v4().simple()),
            "direction": "outbound",
            "agentId": "agent_3f2a9c1d0b7e",
            "basePrompt": "Hi {{first_name}}, this is {{organization_name}} about {{appt_date}}.",
            "variables": [
                {"key": "firstName", "label": "First name", "fieldType": "name", "role": "firstName"},
                {"key": "lastName", "label": "Last name", "fieldType": "name", "role": "lastName"},
                {"key": "primaryPhone", "label": "Phone", "fieldType": "phone", "required": true, "role": "phone"},
                {"key": "patientZone", "label": "Time zone", "fieldType": "text", "role": "timeZone"},
                {"key": "appt_date", "label": "Appointment", "fieldType": "date"}
            ],
            "analysisFields": [
                {"key": "appt_confirmed", "label": "Confirmed", "fieldType": "boolean", "isMainKpi": true}
            ]
        });
        if let Some(policy) = retry_policy {
            input["retryPolicy"] = policy;
        }
        let definition = serde_json::from_value::<NewCampaign>(input).unwrap().validate().unwrap();
        campaigns::create(&self.db, &self.scope, &definition, None).await.unwrap().id
    }

    /// A `ready` run of `campaign` over `people` (one pending row each, in order), with its
    /// prompt pinned and run instructions "Mention parking.".
    pub async fn run(&self, campaign_id: CampaignId, people: &[Person]) -> RunId {
        let run_id = RunId::new();
        runs::create(
            &self.db,
            &self.scope,
            NewRun {
                id: run_id,
                campaign_id,
                upload_id: None,
                name: "Test run".into(),
                status: RunStatus::Ready,
                instructions: Some("Mention parking.".into()),
                scheduled_at: None,
                settings: json!({}),
                client_request_id: None,
                created_by: None,
            },
        )
        .await
        .unwrap();
        let version = prompt_versions::append(
            &self.db,
            &self.scope,
            campaign_id,
            NewPromptVersion {
                run_id: Some(run_id),
                base_prompt: "Hi".into(),
                run_instructions: Some("Mention parking.".into()),
                composed_prompt: "Hi\nMention parking.".into(),
                voicemail_message: None,
                diff: String::new(),
                author_user_id: None,
                reason: "run created".into(),
                agent: None,
                frozen: None,
            },
        )
        .await
        .unwrap();
        runs::set_prompt_version(&self.db, &self.scope, run_id, version.id).await.unwrap();
        let identities: Vec<PatientIdentity> = people
            .iter()
            .map(|p| PatientIdentity {
                canonical: format!("{}|{}|{}", p.first, p.last, p.phone),
                fields: PatientFields {
                    first_name: p.first.clone(),
                    last_name: p.last.clone(),
                    birth_date: "1961-02-04".into(),
                    phone: p.phone.clone(),
                    secondary_phone: None,
                    mrn: None,
                },
            })
            .collect();
        let patient_ids =
            patients::find_or_create_many(&self.db, &self.scope, &self.keys, &identities).await.unwrap();
        let rows: Vec<NewRunRow> = people
            .iter()
            .zip(patient_ids)
            .enumerate()
            .map(|(i, (p, patient_id))| {
                let mut variables = BTreeMap::from([
                    ("firstName".to_owned(), p.first.clone()),
                    ("lastName".to_owned(), p.last.clone()),
                    ("primaryPhone".to_owned(), p.phone.clone()),
                    ("appt_date".to_owned(), "2026-12-01".to_owned()),
                ]);
                if let Some(zone) = &p.zone {
                    variables.insert("patientZone".into(), zone.clone());
                }
                NewRunRow {
                    id: RunRowId::new(),
                    patient_id: Some(patient_id),
                    sort_index: i as u32,
                    sheet_row: i as u32 + 2,
                    content: RowContent { variables, issues: vec![] },
                    cells: vec![p.first.clone(), p.phone.clone()],
                    status: RowStatus::Pending,
                    skip_reason: None,
                    duplicate_of: None,
                }
            })
            .collect();
        run_rows::insert_many(&self.db, &self.scope, &self.keys, run_id, &rows).await.unwrap();
        run_id
    }

    pub async fn run_status(&self, run_id: RunId) -> RunStatus {
        runs::get(&self.db, &self.scope, run_id).await.unwrap().status
    }

    /// The run's rows in sheet order, opened, with their scheduling columns.
    pub async fn rows(&self, run_id: RunId) -> Vec<(RunRowRecord, RowState)> {
        let (rows, _) =
            run_rows::list(&self.db, &self.scope, &self.keys, run_id, None, Page::new(500, 0)).await.unwrap();
        let mut out = Vec::new();
        for row in rows {
            let state = run_rows::state(&self.db, &self.scope, row.id, false).await.unwrap();
            out.push((row, state));
        }
        out
    }

    pub async fn calls_of(&self, row_id: RunRowId) -> Vec<CallRecord> {
        calls::list_for_row(&self.db, &self.scope, row_id).await.unwrap()
    }

    /// A call's sealed content (numbers, transcript, analysis...), opened.
    pub async fn content_of(&self, call_id: rivvi_domain::ids::CallId) -> calls::CallContent {
        calls::get_content(&self.db, &self.scope, &self.keys, call_id).await.unwrap()
    }

    pub async fn active_calls(&self) -> u64 {
        calls::count_active(&self.db, &self.scope).await.unwrap()
    }

    /// Hands every webhook due now to `engine`, in order, and returns how many.
    pub async fn deliver(&self, engine: &Engine) -> usize {
        let due = self.sim.take_due(self.now());
        for webhook in &due {
            let event: CallEvent = serde_json::from_slice(&webhook.body).unwrap();
            engine.apply_call_event(&event).await.unwrap();
        }
        due.len()
    }

    /// Every webhook due now, parsed, without applying them.
    pub fn take_events(&self) -> Vec<CallEvent> {
        self.sim.take_due(self.now()).iter().map(|w| serde_json::from_slice(&w.body).unwrap()).collect()
    }

    /// Ticks `engine` (recovery, schedule, dispatch, webhooks) every `step` until the run is
    /// final or `max_steps` pass; returns the steps taken. Asserts the concurrency limit after
    /// every step, at the provider and in our table.
    pub async fn drive(&self, engine: &Engine, run_id: RunId, step: TimeDelta, max_steps: u32) -> u32 {
        for n in 0..max_steps {
            let now = self.now();
            engine.recover_tick(now).await.unwrap();
            engine.schedule_tick(now).await.unwrap();
            let dispatched = engine.dispatch_tick(now).await.unwrap();
            assert_eq!(dispatched.errors, 0, "{dispatched:?}");
            self.assert_within_limit().await;
            self.deliver(engine).await;
            if self.run_status(run_id).await.is_final() {
                return n;
            }
            self.clock.advance(step);
        }
        panic!("run {run_id} did not finish in {max_steps} steps");
    }

    pub async fn assert_within_limit(&self) {
        let limit = self.org.concurrent_call_limit as usize;
        let live = self.provider.live_at_provider();
        assert!(live <= limit, "{live} calls live at the provider, limit {limit}");
        let active = self.active_calls().await as usize;
        assert!(active <= limit, "{active} active calls in the table, limit {limit}");
    }
}

/// Runs `engine`'s dispatch step as a task that can be killed: when a provider request hangs
/// (an injected [`Fault`]), the task is aborted mid-dial, as if its instance died, and `None` is
/// returned.
pub async fn dispatch_or_die(
    engine: &Arc<Engine>,
    recorder: &Recorder,
    now: DateTime<Utc>,
) -> Option<rivvi_execution::engine::DispatchOutcome> {
    let task = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.dispatch_tick(now).await })
    };
    tokio::pin!(task);
    tokio::select! {
        result = &mut task => Some(result.unwrap().unwrap()),
        () = recorder.hang.notified() => {
            task.abort();
            let _ = task.await;
            None
        }
    }
}

/// The author of a test's run changes, as the audit log records it.
pub fn by_test() -> ChangedBy {
    ChangedBy { actor: AuditActor::System { label: "engine test".into() }, request_id: None }
}
