//! `calls.list` / `calls.get` through HTTP, over calls the engine placed on the built-in Retell
//! simulator (its signed webhooks filled in outcomes, transcripts and analysis): every filter,
//! paging newest first, the number shown only in full by `calls.get`, and another organization's
//! call not found.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rivvi_execution::clock::ManualClock;
use serde_json::{json, Value};

use crate::support::seed::{self, SeededOrg, World};
use crate::support::TestApp;

/// Grace Hopper and Alan Turing, with Chicago numbers.
const NAMED_SHEET: &[u8] = b"First Name,Last Name,Date of Birth,Phone,Appointment Date\n\
Grace,Hopper,1950-12-09,(312) 555-0191,2026-12-03\n\
Alan,Turing,1952-06-23,(312) 555-0192,2026-12-04\n";

const CALLER_NUMBER: &str = "+13125550100";

fn open_all_week() -> Value {
    let day = json!({"open": "00:00", "close": "24:00"});
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day, "sunday": day})
}

/// A server whose engine and simulator read a manual clock set to Wednesday 2026-11-25 10:00 in
/// New York (inside every patient's calling window), with the seeded world.
pub async fn calling_app() -> (TestApp, Arc<ManualClock>, World) {
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    let world = seed::world(&app).await;
    let settings = json!({"officeHours": open_all_week(), "callerNumber": CALLER_NUMBER, "callsPerMinute": 600, "concurrentCallLimit": 50});
    seed::configure(&app, &world.super_admin, &world.alpha.admin, &world.alpha.id, settings).await;
    (app, clock, world)
}

/// Starts every run and moves the clock until all of them completed.
pub async fn run_to_completion(app: &TestApp, clock: &ManualClock, token: &str, runs: &[&str]) {
    for run in runs {
        let started = app.mutation(Some(token), "runs.start", json!({"id": run})).await;
        assert_eq!(started.data()["status"], "running");
    }
    let mut pending: Vec<&str> = runs.to_vec();
    for _ in 0..900 {
        clock.advance(TimeDelta::seconds(20));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut still = Vec::new();
        for run in pending {
            let got = app.query(Some(token), "runs.get", json!({"id": run})).await;
            if got.data()["status"] != "completed" {
                still.push(run);
            }
        }
        pending = still;
        if pending.is_empty() {
            return;
        }
    }
    panic!("runs {pending:?} did not complete");
}

/// Every call of the caller's organization matching `filter`, all pages.
async fn all_calls(app: &TestApp, token: &str, filter: Value) -> Vec<Value> {
    let mut calls = Vec::new();
    loop {
        let mut input = filter.clone();
        input["limit"] = json!(100);
        input["offset"] = json!(calls.len());
        let page = app.query(Some(token), "calls.list", input).await;
        let data = page.data();
        calls.extend(data["calls"].as_array().unwrap().iter().cloned());
        if !data["hasMore"].as_bool().unwrap() {
            assert_eq!(data["total"].as_u64().unwrap() as usize, calls.len(), "{filter}");
            return calls;
        }
    }
}

fn ids(calls: &[Value]) -> Vec<&str> {
    calls.iter().map(|c| c["id"].as_str().unwrap()).collect()
}

/// The ids of `calls` for which `keep` holds, in order.
fn ids_where(calls: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<&str> {
    calls.iter().filter(|c| keep(c)).map(|c| c["id"].as_str().unwrap()).collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// A reminder campaign in alpha and a run of [`NAMED_SHEET`] in it (not started).
async fn named_run(app: &TestApp, world: &World) -> (String, String) {
    let campaign = seed::create_campaign_from(
        app,
        &world.super_admin,
        &world.alpha.id,
        seed::reminder_campaign("Named reminders"),
    )
    .await;
    let campaign_id = campaign.data()["id"].as_str().unwrap().to_owned();
    let admin = world.alpha.admin.as_str();
    let upload = app.upload(admin, "named.csv", NAMED_SHEET.to_vec()).await;
    let run = seed::create_run(app, admin, &campaign_id, &upload, "Named", "named").await;
    (campaign_id, run.data()["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_calls_of_simulated_runs_are_listed_by_every_filter_and_opened_in_full() {
    // Arrange: alpha's seeded run (its first campaign, numbers only) and a run of named patients
    // in a second campaign, both run to completion on the simulator.
    let (app, clock, world) = calling_app().await;
    let member = world.alpha.member.as_str();
    let (named_campaign, named_run) = named_run(&app, &world).await;
    run_to_completion(&app, &clock, member, &[&world.alpha.run_id, &named_run]).await;

    // Act
    let all = all_calls(&app, member, json!({})).await;
    let of_named_run = all_calls(&app, member, json!({"runId": named_run})).await;
    let of_seed_campaign = all_calls(&app, member, json!({"campaignId": world.alpha.campaign_id})).await;
    let outbound = all_calls(&app, member, json!({"direction": "outbound"})).await;
    let inbound = all_calls(&app, member, json!({"direction": "inbound"})).await;
    let second = app.query(Some(member), "calls.list", json!({"limit": 1, "offset": 1})).await;

    // Assert: every call is here once, newest first, with only the last digits of the number.
    assert!(all.len() >= 4, "at least one call per row: {all:?}");
    let created: Vec<DateTime<Utc>> = all.iter().map(|c| time(&c["createdAt"])).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first: {created:?}");
    assert_eq!(ids(&second.data()["calls"].as_array().unwrap().clone()), vec![ids(&all)[1]]);
    assert_eq!(second.data()["hasMore"], json!(all.len() > 2));
    let listing = serde_json::to_string(&all).unwrap();
    assert!(!listing.contains("555019") && !listing.contains("555017"), "no full numbers: {listing}");
    assert!(all.iter().all(|c| c["phoneLast4"].as_str().unwrap().len() == 4));

    // Run, campaign and direction filters.
    assert_eq!(ids(&of_named_run), ids_where(&all, |c| c["runId"] == json!(named_run)));
    assert!(!of_named_run.is_empty());
    assert!(of_named_run.iter().all(|c| c["campaignId"] == json!(named_campaign)));
    assert_eq!(
        ids(&of_seed_campaign),
        ids_where(&all, |c| c["campaignId"] == json!(world.alpha.campaign_id))
    );
    assert_eq!(of_seed_campaign.len() + of_named_run.len(), all.len());
    assert_eq!(ids(&outbound), ids(&all));
    assert!(inbound.is_empty());

    // Patient names come with the named sheet's calls, and the patient filter finds them.
    let grace = all.iter().find(|c| c["patientName"] == "Grace Hopper").expect("a call to Grace Hopper");
    assert_eq!(grace["phoneLast4"], "0191");
    let patient = grace["patientId"].as_str().unwrap();
    let of_patient = all_calls(&app, member, json!({"patientId": patient})).await;
    assert_eq!(ids(&of_patient), ids_where(&all, |c| c["patientId"] == json!(patient)));

    // Status: each status seen selects exactly its calls.
    let mut statuses: Vec<&str> = all.iter().map(|c| c["status"].as_str().unwrap()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        let of_status = all_calls(&app, member, json!({"status": status})).await;
        assert_eq!(ids(&of_status), ids_where(&all, |c| c["status"] == status), "{status}");
    }

    // Dates: `from` inclusive, `to` exclusive, on creation or on the start of the conversation.
    let newest = all[0]["createdAt"].clone();
    let from_newest = all_calls(&app, member, json!({"from": newest})).await;
    let before_newest = all_calls(&app, member, json!({"to": newest})).await;
    assert_eq!(ids(&from_newest), ids_where(&all, |c| time(&c["createdAt"]) >= time(&newest)));
    assert_eq!(from_newest.len() + before_newest.len(), all.len());
    let started =
        all_calls(&app, member, json!({"from": "2026-01-01T00:00:00Z", "dateField": "startedAt"})).await;
    assert_eq!(ids(&started), ids_where(&all, |c| !c["startedAt"].is_null()));

    // The full call: numbers, transcript, summary and analysis of a reached call.
    let reached = all.iter().find(|c| c["outcome"] == "reached").expect("a reached call");
    let detail = app.query(Some(member), "calls.get", json!({"id": reached["id"]})).await;
    let detail = detail.data();
    assert_eq!(detail["fromNumber"], CALLER_NUMBER);
    assert!(detail["toNumber"].as_str().unwrap().ends_with(reached["phoneLast4"].as_str().unwrap()));
    assert!(detail["toNumber"].as_str().unwrap().starts_with('+'));
    assert!(detail["transcript"].as_str().is_some_and(|t| !t.is_empty()), "{detail}");
    assert!(detail["analysis"].is_object(), "{detail}");
    assert!(detail["startedAt"].is_string() && detail["endedAt"].is_string(), "{detail}");
    assert_eq!(detail["status"], "ended");
    let grace_detail = app.query(Some(member), "calls.get", json!({"id": grace["id"]})).await;
    assert_eq!(grace_detail.data()["patientFirstName"], "Grace");
    assert_eq!(grace_detail.data()["toNumber"], "+13125550191");

    // Another organization sees none of it.
    let beta = world.beta.member.as_str();
    let elsewhere = app.query(Some(beta), "calls.get", json!({"id": reached["id"]})).await;
    assert_eq!(elsewhere.code(), 404, "{}", elsewhere.body);
    assert!(all_calls(&app, beta, json!({})).await.is_empty());
    assert!(all_calls(&app, beta, json!({"runId": named_run})).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn bad_call_filters_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let member = world.alpha.member.as_str();

    let cases = [
        (json!({"status": "bogus"}), "status"),
        (json!({"direction": "sideways"}), "direction"),
        (json!({"runId": "not-a-uuid"}), "runId"),
        (json!({"from": "yesterday"}), "from"),
        (json!({"from": "2026-11-25T00:00:00Z", "to": "2026-11-24T00:00:00Z"}), "to"),
        (json!({"dateField": "endedAt"}), "dateField"),
        (json!({"limit": 0}), "limit"),
        (json!({"colour": "red"}), "colour"),
    ];
    let mut failures = Vec::new();
    for (input, field) in cases {
        let response = app.query(Some(member), "calls.list", input.clone()).await;
        if response.code() != 400 || !response.message().contains(&format!("\"field\":\"{field}\"")) {
            failures.push(format!("{input}: expected 400 naming {field}, got {}", response.body));
        }
    }
    let missing = app.query(Some(member), "calls.get", json!({"id": uuid::Uuid::new_v4()})).await;

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(missing.code(), 404);
    app.stop().await;
}

/// Writes one finished call for row 0 of `org`'s seeded run straight into the database, sealed
/// with the server's own keys: for tests that need a call to exist but not how it came to be
/// (the authorization table). The seeded organization has no caller number, so the engine never
/// dials that row itself.
pub async fn seed_call(app: &TestApp, org: &SeededOrg) -> String {
    use rivvi_domain::ids::{CallId, CampaignId, OrgId, RunId, RunRowId};
    use rivvi_domain::lifecycle::{CallEvent, CallOutcome, CallStatus};
    use rivvi_persistence::calls::{self, CallChange, NewOutboundCall};
    use rivvi_persistence::sealing::Keys;
    use rivvi_persistence::OrgScope;

    let rows = app.query(Some(&org.member), "runs.getRows", json!({"runId": org.run_id})).await;
    let row_id = rows.data()["rows"][0]["id"].as_str().unwrap().parse().unwrap();
    let keys = Keys::load(None, None, Some(app.data_dir.path())).unwrap();
    let scope = OrgScope::for_verified_org(OrgId(org.id.parse().unwrap()));
    let db = app.database.connect().await;
    let now = Utc::now();
    let call = calls::create_outbound(
        &db,
        &scope,
        &keys,
        NewOutboundCall {
            id: CallId::new(),
            run_id: RunId(org.run_id.parse().unwrap()),
            row_id: RunRowId(row_id),
            campaign_id: CampaignId(org.campaign_id.parse().unwrap()),
            patient_id: None,
            attempt: 1,
            from_number: CALLER_NUMBER.to_owned(),
            to_number: "+13125550177".to_owned(),
            local: None,
            created_at: now,
        },
    )
    .await
    .unwrap();
    let change = CallChange {
        outcome: Some(CallOutcome::Reached),
        transcript: Some("Agent: Hello.".to_owned()),
        analysis: Some(json!({"appt_confirmed": true})),
        ..CallChange::default()
    };
    calls::update(&db, &scope, &keys, call.id, CallStatus::Registered, Some(CallEvent::End), change, now)
        .await
        .unwrap();
    db.close().await.ok();
    call.id.to_string()
}
