//! `POST /webhooks/retell/inbound`: patients calling an organization's number.
//!
//! The server is configured as for production Retell (a known API key, which signs webhooks),
//! with a Retell simulator of the test's own behind `RETELL_BASE_URL`, so outbound runs are
//! dialled by the engine and settled by signed `call_*` webhooks exactly as in production; the
//! inbound requests and the inbound call's later events are signed by the test with the same key.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::{CallId, OrgId, PatientId, RunRowId};
use rivvi_domain::lifecycle::{CallOutcome, CallStatus};
use rivvi_execution::clock::{Clock, ManualClock};
use rivvi_execution::retell::webhook;
use rivvi_execution::simulator::Simulator;
use rivvi_persistence::calls::{self, CallRecord};
use rivvi_persistence::sealing::Keys;
use rivvi_persistence::{run_rows, OrgScope};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{json, Value};

use crate::support::{scalar, seed, simulated, TestApp};

const KEY: &str = "key_inbound_tests_7c41e0";
const ALPHA_NUMBER: &str = "+13125550100";
const BETA_NUMBER: &str = "+16175550100";
const NOBODYS_NUMBER: &str = "+13125550199";

/// Four patients of alpha. Ada is not answered (a retry is pending), Grace and Alan answer, Joan
/// gets a voicemail; Joan's home phone is Alan's number (a family sharing a line).
const SHEET: &str = "First Name,Last Name,DOB,Phone,Home Phone,Appt Date,Appt Time,Provider\n\
Ada,Byron,1985-12-10,(312) 555-0171,,2026-12-01,9:30 AM,Dr. Brooks\n\
Grace,Hopper,1976-12-09,(312) 555-0172,,2026-12-02,10:00 AM,Dr. Patel\n\
Alan,Turing,1954-06-23,(312) 555-0173,,2026-12-03,11:00 AM,Dr. Okafor\n\
Joan,Clarke,1917-06-24,(312) 555-0174,(312) 555-0173,2026-12-04,2:15 PM,Dr. Nguyen\n";
const ADA: &str = "+13125550171";
const GRACE: &str = "+13125550172";
const ALAN: &str = "+13125550173";
const JOAN: &str = "+13125550174";

/// The server, its clock, and the simulator it dials through.
struct Harness {
    app: TestApp,
    clock: Arc<ManualClock>,
    sim: Arc<Simulator>,
    _simulator: simulated::Listener,
}

impl Harness {
    /// Wednesday 2026-11-25 15:00 UTC: 10:00 in New York, inside every calling window.
    async fn start() -> Harness {
        let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
        let simulated::Simulated { app, sim, listener } =
            simulated::spawn(KEY, clock.clone(), |config| config.time_scale = 30.0).await;
        Harness { app, clock, sim, _simulator: listener }
    }

    /// Posts `body` to `path` signed with the API key at the clock's now.
    async fn post_signed(&self, path: &str, body: &str) -> reqwest::Response {
        let signature = webhook::sign(KEY, body.as_bytes(), self.clock.now_ms());
        self.post(path, body, Some(signature)).await
    }

    async fn post(&self, path: &str, body: &str, signature: Option<String>) -> reqwest::Response {
        let mut request = self.app.http.post(self.app.url(path)).body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header(webhook::SIGNATURE_HEADER, signature);
        }
        request.send().await.unwrap()
    }

    /// Retell's inbound request for a call from `from` to `to`; the answer's `call_inbound`.
    async fn call_in(&self, from: &str, to: &str) -> Value {
        let response = self.post_signed("/webhooks/retell/inbound", &inbound_body(from, to)).await;
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        answer["call_inbound"].clone()
    }

    async fn db(&self) -> DatabaseConnection {
        self.app.database.connect().await
    }

    /// The sealing keys the development server generated into its data directory.
    fn keys(&self) -> Keys {
        Keys::load(None, None, Some(self.app.data_dir.path())).unwrap()
    }

    /// Alpha with a caller number and a running reminder run over [`SHEET`], every first call
    /// placed and settled by the simulator's webhooks. Returns the world and the run's rows.
    async fn alpha_with_outreach(&self) -> (seed::World, Vec<Value>) {
        let world = seed::world(&self.app).await;
        let admin = world.alpha.admin.as_str();
        let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": ALPHA_NUMBER, "callsPerMinute": 600, "concurrentCallLimit": 50});
        seed::configure(&self.app, &world.super_admin, admin, &world.alpha.id, settings).await;
        let campaign = seed::create_campaign_from(
            &self.app,
            &world.super_admin,
            &world.alpha.id,
            seed::reminder_campaign("Reminders"),
        )
        .await;
        let upload = self.app.upload(admin, "reminders.csv", SHEET.as_bytes().to_vec()).await;
        let run = seed::create_run(
            &self.app,
            admin,
            campaign.data()["id"].as_str().unwrap(),
            &upload,
            "Reminders",
            "inbound",
        )
        .await;
        let run_id = run.data()["id"].clone();
        self.sim.script_outcomes(ADA, [CallOutcome::NoAnswer]);
        self.sim.script_outcomes(GRACE, [CallOutcome::Reached]);
        self.sim.script_outcomes(ALAN, [CallOutcome::Reached]);
        self.sim.script_outcomes(JOAN, [CallOutcome::Voicemail]);
        self.app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await.data();

        // The engine ticks every second of real time; then every webhook is delivered in order.
        for _ in 0..200 {
            if self.sim.call_count() == 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(self.sim.call_count(), 4, "every row was dialled once");
        while let Some(due) = self.sim.next_due() {
            if due > self.clock.now() {
                self.clock.set(due);
            }
            for result in self.sim.deliver_due(due).await {
                assert!(result.delivered(), "{result:?}");
            }
        }
        let rows = self.app.query(Some(admin), "runs.getRows", json!({"runId": run_id})).await;
        let rows = rows.data()["rows"].as_array().unwrap().clone();
        let status_of = |first: &str| {
            let row = rows.iter().find(|r| r["variables"]["firstName"] == first).unwrap();
            (
                row["status"].as_str().unwrap().to_owned(),
                row["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        };
        assert_eq!(status_of("Ada"), ("pending".into(), "no_answer".into()));
        assert_eq!(status_of("Grace"), ("completed".into(), "reached".into()));
        assert_eq!(status_of("Alan"), ("completed".into(), "reached".into()));
        assert_eq!(status_of("Joan"), ("completed".into(), "voicemail".into()));
        (world, rows)
    }

    /// The seeded world, with alpha answering on [`ALPHA_NUMBER`] and no outreach.
    async fn alpha_answering(&self) -> seed::World {
        let world = seed::world(&self.app).await;
        self.set_caller_number(&world, &world.alpha, ALPHA_NUMBER).await;
        world
    }

    /// Assigns `number` to `org` (as the super admin) and makes it its caller number.
    async fn set_caller_number(&self, world: &seed::World, org: &seed::SeededOrg, number: &str) {
        let settings = json!({"callerNumber": number});
        seed::configure(&self.app, &world.super_admin, &org.admin, &org.id, settings).await;
    }

    async fn stop(self) {
        self.app.stop().await;
    }
}

fn inbound_body(from: &str, to: &str) -> String {
    json!({"event": "call_inbound", "call_inbound": {"agent_id": "agent_inbound_1", "agent_version": 1, "from_number": from, "to_number": to}}).to_string()
}

fn row_of<'a>(rows: &'a [Value], first_name: &str) -> &'a Value {
    rows.iter().find(|r| r["variables"]["firstName"] == first_name).unwrap()
}

fn scope_of(org_id: &str) -> OrgScope {
    OrgScope::for_verified_org(OrgId(org_id.parse().unwrap()))
}

fn call_id_of(answer: &Value) -> CallId {
    CallId(answer["metadata"]["call_id"].as_str().unwrap().parse().unwrap())
}

fn uuid_of<T: std::str::FromStr>(value: &Value) -> T
where
    T::Err: std::fmt::Debug,
{
    value.as_str().unwrap().parse().unwrap()
}

/// Rows in `calls` and `webhook_events`.
async fn written(db: &DatabaseConnection) -> (i64, i64) {
    (scalar(db, "SELECT COUNT(*) FROM calls").await, scalar(db, "SELECT COUNT(*) FROM webhook_events").await)
}

/// Every dynamic variable's value, to prove a value appears nowhere in an answer.
fn values(answer: &Value) -> Vec<String> {
    answer["dynamic_variables"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Asserts the answer's variables know nothing of the caller: the generic answer's.
fn assert_stranger(variables: &Value) {
    assert_eq!(variables["caller_known"], "false", "{variables}");
    assert_eq!(variables["first_name"], "", "{variables}");
    assert_eq!(variables["has_open_outreach"], "false", "{variables}");
}

/// Asserts no dynamic variable of `answer` contains any of `absent`.
fn assert_none_leaked(answer: &Value, absent: &[&str]) {
    for text in absent {
        assert!(!values(answer).iter().any(|v| v.contains(text)), "{text} leaked: {answer}");
    }
}

/// Sends the inbound call's `call_started` and `call_ended` as Retell would, echoing `metadata`.
async fn finish_inbound_call(harness: &Harness, provider_call_id: &str, metadata: &Value, from: &str) {
    let now = harness.clock.now_ms();
    let call = json!({
        "call_id": provider_call_id, "agent_id": "agent_inbound_1", "call_type": "phone_call",
        "direction": "inbound", "from_number": from, "to_number": ALPHA_NUMBER, "metadata": metadata,
    });
    let mut started = call.clone();
    started["call_status"] = json!("ongoing");
    started["start_timestamp"] = json!(now);
    let mut ended = started.clone();
    ended["call_status"] = json!("ended");
    ended["end_timestamp"] = json!(now + 95_000);
    ended["duration_ms"] = json!(95_000);
    ended["disconnection_reason"] = json!("user_hangup");
    ended["transcript"] = json!("Agent: Hello Ada. User: I'm returning your call.");
    for body in
        [json!({"event": "call_started", "call": started}), json!({"event": "call_ended", "call": ended})]
    {
        let response = harness.post_signed("/webhooks/retell", &body.to_string()).await;
        assert_eq!(response.status(), 200);
        let outcome: Value = response.json().await.unwrap();
        assert_eq!(outcome["status"], "applied", "{body}");
    }
}

#[tokio::test]
async fn a_patient_calling_back_about_an_open_outreach_gets_its_details_and_is_recorded_as_a_callback() {
    // Arrange
    let harness = Harness::start().await;
    let (world, rows) = harness.alpha_with_outreach().await;
    let ada_row = row_of(&rows, "Ada");
    let ada_row_id: RunRowId = uuid_of(&ada_row["id"]);
    let ada_patient: PatientId = uuid_of(&ada_row["patientId"]);
    let db = harness.db().await;
    let scope = scope_of(&world.alpha.id);
    let outbound = calls::list_for_row(&db, &scope, ada_row_id).await.unwrap();
    let row_before = run_rows::state(&db, &scope, ada_row_id, false).await.unwrap();
    let org_name = harness.app.query(Some(&world.alpha.admin), "organizations.getCurrent", Value::Null).await;
    let org_name = org_name.data()["name"].as_str().unwrap().to_owned();

    // Act: Ada calls the clinic back, in national format as some carriers send it.
    let answer = harness.call_in("(312) 555-0171", ALPHA_NUMBER).await;

    // Assert: the answer
    let variables = &answer["dynamic_variables"];
    assert_eq!(variables["caller_known"], "true");
    assert_eq!(variables["has_open_outreach"], "true");
    assert_eq!(variables["shared_phone"], "false");
    assert_eq!(variables["first_name"], "Ada");
    assert_eq!(variables["patient_first_name"], "Ada");
    assert_eq!(variables["organization_name"], org_name.as_str());
    assert_eq!(variables["organization_phone"], ALPHA_NUMBER);
    assert_eq!(variables["campaign_name"], "Reminders");
    assert_eq!(variables["last_call_outcome"], "no_answer");
    assert_eq!(variables["appointmentDate"], "2026-12-01");
    assert_eq!(variables["provider"], "Dr. Brooks");
    let metadata = answer["metadata"].as_object().unwrap();
    let keys: Vec<&str> = metadata.keys().map(String::as_str).collect();
    assert_eq!(keys, ["call_id", "direction", "org_id"], "ids only in metadata");
    assert_eq!(metadata["org_id"], world.alpha.id.as_str());

    // Assert: the call recorded as a callback of Ada's outbound call
    assert_eq!(outbound.len(), 1);
    let call_id = call_id_of(&answer);
    let call = calls::get(&db, &scope, call_id).await.unwrap();
    assert_eq!(call.direction, Direction::Inbound);
    assert_eq!(call.status, CallStatus::Registered);
    assert_eq!(call.patient_id, Some(ada_patient));
    assert_eq!(call.related_call_id, Some(outbound[0].id));
    assert_eq!(call.campaign_id, outbound[0].campaign_id);
    assert_eq!((call.run_id, call.row_id, call.attempt), (None, None, 0), "a callback is not an attempt");
    assert_eq!(
        (call.local_hour, call.local_weekday),
        (Some(10), Some(3)),
        "10:00 on a Wednesday in New York"
    );
    let content = calls::get_content(&db, &scope, &harness.keys(), call_id).await.unwrap();
    assert_eq!((content.from_number.as_str(), content.to_number.as_str()), (ADA, ALPHA_NUMBER));
    let stored = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT from_number_sealed FROM calls WHERE direction = 'inbound'".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    let sealed: Vec<u8> = stored.try_get_by_index(0).unwrap();
    assert!(!sealed.windows(10).any(|w| w == &ADA.as_bytes()[2..]), "the number is sealed at rest");

    // Act: Retell reports the call's progress with our metadata echoed.
    finish_inbound_call(&harness, "call_inbound_ada", &answer["metadata"], ADA).await;

    // Assert: the inbound call is linked and finished; Ada's row and outbound call are untouched.
    let call = calls::get(&db, &scope, call_id).await.unwrap();
    assert_eq!(call.provider_call_id.as_deref(), Some("call_inbound_ada"));
    assert_eq!(call.status, CallStatus::Ended);
    assert_eq!(call.outcome, Some(CallOutcome::Reached));
    assert_eq!(call.duration_ms, Some(95_000));
    assert_eq!(run_rows::state(&db, &scope, ada_row_id, false).await.unwrap(), row_before);
    assert_eq!(calls::list_for_row(&db, &scope, ada_row_id).await.unwrap(), outbound);
    harness.stop().await;
}

#[tokio::test]
async fn a_reached_patient_has_no_open_outreach_and_a_shared_number_answers_for_the_open_one_only() {
    // Arrange
    let harness = Harness::start().await;
    let (world, rows) = harness.alpha_with_outreach().await;
    let db = harness.db().await;
    let scope = scope_of(&world.alpha.id);
    let grace: PatientId = uuid_of(&row_of(&rows, "Grace")["patientId"]);
    let joan_row: RunRowId = uuid_of(&row_of(&rows, "Joan")["id"]);
    let joan: PatientId = uuid_of(&row_of(&rows, "Joan")["patientId"]);

    // Act
    let grace_answer = harness.call_in(GRACE, ALPHA_NUMBER).await;
    let family_answer = harness.call_in(ALAN, ALPHA_NUMBER).await;

    // Assert: Grace was reached; she is known, with no outreach details.
    let variables = &grace_answer["dynamic_variables"];
    assert_eq!(variables["caller_known"], "true");
    assert_eq!(variables["first_name"], "Grace");
    assert_eq!(variables["has_open_outreach"], "false");
    assert_eq!(variables["campaign_name"], "");
    assert!(variables.get("appointmentDate").is_none(), "{variables}");
    let call: CallRecord = calls::get(&db, &scope, call_id_of(&grace_answer)).await.unwrap();
    assert_eq!((call.patient_id, call.related_call_id, call.campaign_id), (Some(grace), None, None));

    // Assert: Alan's line is Joan's home phone too; Joan's voicemail is the open outreach, so the
    // answer is about Joan, and nothing of Alan's is in it.
    let variables = &family_answer["dynamic_variables"];
    assert_eq!(variables["first_name"], "Joan");
    assert_eq!(variables["shared_phone"], "true");
    assert_eq!(variables["has_open_outreach"], "true");
    assert_eq!(variables["last_call_outcome"], "voicemail");
    assert_eq!(variables["appointmentDate"], "2026-12-04");
    assert_none_leaked(&family_answer, &["Alan", "Turing", "Dr. Okafor", "2026-12-03", "1954-06-23"]);
    let call = calls::get(&db, &scope, call_id_of(&family_answer)).await.unwrap();
    let joan_call = calls::list_for_row(&db, &scope, joan_row).await.unwrap().remove(0);
    assert_eq!((call.patient_id, call.related_call_id), (Some(joan), Some(joan_call.id)));
    harness.stop().await;
}

#[tokio::test]
async fn an_unknown_caller_is_answered_generically_and_recorded_without_a_patient() {
    // Arrange
    let harness = Harness::start().await;
    let world = harness.alpha_answering().await;
    let db = harness.db().await;

    // Act: a number no patient has, and a withheld caller id.
    let answer = harness.call_in("+13125550999", ALPHA_NUMBER).await;
    let withheld = harness.call_in("anonymous", ALPHA_NUMBER).await;

    // Assert
    for answer in [&answer, &withheld] {
        let variables = &answer["dynamic_variables"];
        assert_stranger(variables);
        assert_ne!(variables["organization_name"], "");
        assert_eq!(answer["metadata"]["org_id"], world.alpha.id.as_str());
        let call = calls::get(&db, &scope_of(&world.alpha.id), call_id_of(answer)).await.unwrap();
        assert_eq!((call.direction, call.patient_id, call.related_call_id), (Direction::Inbound, None, None));
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_number_no_organization_owns_is_answered_without_organization_data_and_records_no_call() {
    // Arrange
    let harness = Harness::start().await;
    harness.alpha_answering().await;
    let db = harness.db().await;
    let (calls_before, events_before) = written(&db).await;

    // Act: alpha's seeded patient calls a number nobody has.
    let answer = harness.call_in("+13125550143", NOBODYS_NUMBER).await;

    // Assert
    let variables = &answer["dynamic_variables"];
    assert_stranger(variables);
    assert_eq!(variables["organization_name"], "");
    assert!(answer.get("metadata").is_none(), "{answer}");
    assert_eq!(written(&db).await, (calls_before, events_before + 1), "the event only");
    let outcome = scalar(
        &db,
        "SELECT COUNT(*) FROM webhook_events WHERE source = 'retell' AND outcome = 'ignored: unknown number'",
    )
    .await;
    assert_eq!(outcome, 1);
    harness.stop().await;
}

#[tokio::test]
async fn a_call_to_betas_number_never_answers_with_alphas_patient() {
    // Arrange: both clinics' seeded patients have +13125550143; Ada is alpha's only.
    let harness = Harness::start().await;
    let (world, _) = harness.alpha_with_outreach().await;
    harness.set_caller_number(&world, &world.beta, BETA_NUMBER).await;
    let db = harness.db().await;

    // Act
    let shared = harness.call_in("+13125550143", BETA_NUMBER).await;
    let alphas_ada = harness.call_in(ADA, BETA_NUMBER).await;

    // Assert: the shared number is beta's own patient; Ada is a stranger to beta.
    assert_eq!(shared["metadata"]["org_id"], world.beta.id.as_str());
    let call = calls::get(&db, &scope_of(&world.beta.id), call_id_of(&shared)).await.unwrap();
    assert_eq!(call.patient_id, Some(uuid_of(&json!(world.beta.patient_id))));
    assert!(calls::get(&db, &scope_of(&world.alpha.id), call.id).await.is_err(), "not alpha's call");
    assert_stranger(&alphas_ada["dynamic_variables"]);
    assert_none_leaked(&alphas_ada, &["Ada", "Byron", "Dr. Brooks", "2026-12-01", "Reminders"]);
    assert_eq!(alphas_ada["metadata"]["org_id"], world.beta.id.as_str());
    harness.stop().await;
}

#[tokio::test]
async fn forged_stale_or_unsigned_requests_are_refused_and_write_nothing() {
    // Arrange
    let harness = Harness::start().await;
    harness.alpha_answering().await;
    let db = harness.db().await;
    let before = written(&db).await;
    let body = inbound_body("+13125550143", ALPHA_NUMBER);
    let now = harness.clock.now_ms();
    let cases = [
        ("unsigned", None),
        ("wrong key", Some(webhook::sign("key_someone_else", body.as_bytes(), now))),
        ("stale", Some(webhook::sign(KEY, body.as_bytes(), now - 6 * 60 * 1000))),
        ("other body", Some(webhook::sign(KEY, b"{}", now))),
        ("malformed", Some(format!("v={now},d=00"))),
    ];

    // Act / Assert
    for (case, signature) in cases {
        let response = harness.post("/webhooks/retell/inbound", &body, signature).await;
        assert_eq!(response.status(), 401, "{case}");
        let text = response.text().await.unwrap();
        assert!(!text.contains("dynamic_variables"), "{case}: {text}");
    }
    assert_eq!(written(&db).await, before);
    harness.stop().await;
}

#[tokio::test]
async fn a_malformed_request_is_refused_with_400_and_a_replay_gets_no_patient_data() {
    // Arrange
    let harness = Harness::start().await;
    harness.alpha_answering().await;
    let db = harness.db().await;
    let before = written(&db).await;

    // Act / Assert: signed, but not a call_inbound request.
    for body in [
        "not json".to_owned(),
        json!({"event": "call_inbound", "call_inbound": {"to_number": ALPHA_NUMBER}}).to_string(),
        json!({"event": "call_ended", "call_inbound": {"from_number": "+13125550143", "to_number": ALPHA_NUMBER}})
            .to_string(),
    ] {
        let response = harness.post_signed("/webhooks/retell/inbound", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"].as_str().unwrap().starts_with("not a call_inbound request"), "{error}");
    }
    assert_eq!(written(&db).await, before);

    // Act / Assert: the same signed request twice records one call; the replay learns nothing.
    let body = inbound_body("+13125550143", ALPHA_NUMBER);
    let signature = webhook::sign(KEY, body.as_bytes(), harness.clock.now_ms());
    let first: Value =
        harness.post("/webhooks/retell/inbound", &body, Some(signature.clone())).await.json().await.unwrap();
    let replay = harness.post("/webhooks/retell/inbound", &body, Some(signature)).await;
    assert_eq!(replay.status(), 200);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(first["call_inbound"]["dynamic_variables"]["caller_known"], "true");
    assert_eq!(first["call_inbound"]["dynamic_variables"]["first_name"], "Ada");
    assert_stranger(&replay["call_inbound"]["dynamic_variables"]);
    assert!(replay["call_inbound"].get("metadata").is_none());
    assert_eq!(written(&db).await, (before.0 + 1, before.1 + 1));
    harness.stop().await;
}

#[tokio::test]
async fn an_assigned_number_is_answered_by_its_inbound_campaigns_published_agent_version() {
    // Arrange: a managed inbound campaign of alpha's, answering the number assigned to it.
    let harness = Harness::start().await;
    let world = seed::world(&harness.app).await;
    let app = &harness.app;
    let campaign = json!({
        "name": "Front desk",
        "direction": "inbound",
        "basePrompt": "You answer calls for {{organization_name}}: greet the caller warmly.",
        "voicemailMessage": "Please call back during office hours.",
    });
    let created =
        seed::create_campaign_from(app, &world.super_admin, &world.alpha.id, campaign).await.data().clone();
    let assign = json!({"orgId": world.alpha.id, "number": ALPHA_NUMBER, "purpose": "inbound", "inboundCampaignId": created["id"]});
    app.mutation(Some(&world.super_admin), "admin.phoneNumbers.assign", assign).await.data();

    // Act: a call before and after the operator edits the inbound prompt.
    let before = harness.call_in("+13125550999", ALPHA_NUMBER).await;
    let patch = json!({"basePrompt": "You answer calls for {{organization_name}}: be brief."});
    let edited = app
        .mutation(
            Some(&world.super_admin),
            "campaigns.update",
            json!({"orgId": world.alpha.id, "id": created["id"], "patch": patch}),
        )
        .await
        .data()
        .clone();
    let after = harness.call_in("+13125550998", ALPHA_NUMBER).await;

    // Assert
    let agent = created["config"]["agentId"].as_str().unwrap();
    assert_eq!(before["override_agent_id"], agent);
    assert_eq!(before["override_agent_version"], created["inboundAgentVersion"]);
    assert!(created["inboundAgentVersion"].is_u64(), "{created}");
    assert_eq!(after["override_agent_id"], agent);
    assert_eq!(after["override_agent_version"], edited["inboundAgentVersion"]);
    assert_ne!(
        edited["inboundAgentVersion"], created["inboundAgentVersion"],
        "the edit published a new version"
    );
    let versions = harness.sim.get_agent_versions(agent).unwrap();
    let published: Vec<u32> =
        versions.iter().filter(|v| v.is_published == Some(true)).map(|v| v.version).collect();
    assert!(published.contains(&(after["override_agent_version"].as_u64().unwrap() as u32)), "{published:?}");
    harness.stop().await;
}
