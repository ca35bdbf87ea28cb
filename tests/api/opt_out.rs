//! Opt-outs honoured automatically (TCPA), through HTTP: a patient the simulator makes say
//! "Please stop calling me." on a reached call goes on the organization's do-not-call list
//! (`dnc.list`), with one system audit entry naming the call and not the patient; their row in
//! another run started at the same time and their row in a run made afterwards are skipped
//! without a call; everyone else is called; `analytics.run` counts the opt-out.
//!
//! A replayed webhook is refused by the replay record before anything is applied, and a second
//! report of the same opt-out finds the entry and adds nothing: both are shown in the engine
//! tests (`crates/execution/tests/engine/opt_out.rs`), which hold the simulator's signing key.

use std::time::Duration;

use chrono::TimeDelta;
use rivvi_execution::clock::ManualClock;
use serde_json::{json, Value};

use crate::calls::calling_app;
use crate::support::seed::{self, World};
use crate::support::{text_without_ids, TestApp};

const OPTING_OUT: &str = "+13125550161";

/// Opal asks not to be called again; Ben is called after her.
const FIRST_SHEET: &[u8] = b"First Name,Last Name,Date of Birth,Phone,Appointment Date\n\
Opal,Quill,1950-01-01,(312) 555-0161,2026-12-03\n\
Ben,Two,1951-02-02,(312) 555-0162,2026-12-03\n";

/// Started a second after the first run, with Opal last.
const SECOND_SHEET: &[u8] = b"First Name,Last Name,Date of Birth,Phone,Appointment Date\n\
Cal,Three,1952-03-03,(312) 555-0163,2026-12-04\n\
Opal,Quill,1950-01-01,(312) 555-0161,2026-12-04\n";

/// Made after the opt-out.
const LATER_SHEET: &[u8] = b"First Name,Last Name,Date of Birth,Phone,Appointment Date\n\
Opal,Quill,1950-01-01,(312) 555-0161,2026-12-05\n\
Dee,Four,1953-04-04,(312) 555-0164,2026-12-05\n";

async fn create_run(app: &TestApp, world: &World, campaign_id: &Value, name: &str, sheet: &[u8]) -> String {
    let admin = world.alpha.admin.as_str();
    let upload = app.upload(admin, &format!("{name}.csv"), sheet.to_vec()).await;
    let input = json!({"campaignId": campaign_id, "uploadId": upload, "name": name, "clientRequestId": name});
    app.mutation(Some(admin), "runs.create", input).await.data()["id"].as_str().unwrap().to_owned()
}

async fn start(app: &TestApp, token: &str, run: &str) {
    let started = app.mutation(Some(token), "runs.start", json!({"id": run})).await;
    assert_eq!(started.data()["status"], "running");
}

/// Moves the clock until every run of `runs` (already started) completed.
async fn until_completed(app: &TestApp, clock: &ManualClock, token: &str, runs: &[&str]) {
    for _ in 0..900 {
        clock.advance(TimeDelta::seconds(20));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut done = true;
        for run in runs {
            let got = app.query(Some(token), "runs.get", json!({"id": run})).await;
            done &= got.data()["status"] == "completed";
        }
        if done {
            return;
        }
    }
    panic!("runs {runs:?} did not complete");
}

async fn rows(app: &TestApp, token: &str, run: &str) -> Vec<Value> {
    let rows = app.query(Some(token), "runs.getRows", json!({"runId": run, "limit": 100})).await;
    rows.data()["rows"].as_array().unwrap().clone()
}

async fn funnel(app: &TestApp, token: &str, run: &str) -> Value {
    let got = app.query(Some(token), "analytics.run", json!({"runId": run})).await;
    got.data()["funnel"].clone()
}

/// The row whose first cell (first name) is `first_name`.
fn row<'a>(rows: &'a [Value], first_name: &str) -> &'a Value {
    rows.iter().find(|r| r["cells"][0] == first_name).unwrap_or_else(|| panic!("no {first_name} in {rows:?}"))
}

#[tokio::test]
async fn a_patient_who_asks_not_to_be_called_is_listed_and_never_dialled_again() {
    // Arrange: one call at a time, so Opal's call in the first run is over (and analysed) long
    // before the second run reaches her row; every call reaches its patient, and Opal's first
    // says "Please stop calling me."
    let (app, clock, world) = calling_app().await;
    let (admin, member) = (world.alpha.admin.as_str(), world.alpha.member.as_str());
    app.mutation(Some(admin), "organizations.update", json!({"concurrentCallLimit": 1})).await.data();
    let input = json!({"orgId": world.alpha.id, "campaign": seed::reminder_campaign("Opt-outs")});
    let campaign =
        app.mutation(Some(&world.super_admin), "campaigns.create", input).await.data()["id"].clone();
    let first = create_run(&app, &world, &campaign, "first", FIRST_SHEET).await;
    let second = create_run(&app, &world, &campaign, "second", SECOND_SHEET).await;
    for number in [OPTING_OUT, "+13125550162", "+13125550163", "+13125550164"] {
        let script = json!({"toNumber": number, "outcomes": ["reached"], "optOut": number == OPTING_OUT});
        let response = app.http.post(app.url("/simulator/retell/script")).json(&script).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }

    // Act: both runs at once (the second a second later), then a run made afterwards.
    start(&app, member, &first).await;
    clock.advance(TimeDelta::seconds(1));
    start(&app, member, &second).await;
    until_completed(&app, &clock, member, &[&first, &second]).await;
    let later = create_run(&app, &world, &campaign, "later", LATER_SHEET).await;
    start(&app, member, &later).await;
    until_completed(&app, &clock, member, &[&later]).await;

    // Assert: Opal was called once, and heard saying it.
    let calls = app.query(Some(member), "calls.list", json!({"limit": 100})).await;
    let calls = calls.data()["calls"].as_array().unwrap().clone();
    let to = |last4: &str| calls.iter().filter(|c| c["phoneLast4"] == last4).collect::<Vec<_>>();
    assert_eq!(to("0161").len(), 1, "{calls:?}");
    for other in ["0162", "0163", "0164"] {
        assert_eq!(to(other).len(), 1, "{other} is called as usual: {calls:?}");
    }
    let call = to("0161")[0].clone();
    let call_id = call["id"].as_str().unwrap();
    assert_eq!(call["runId"], json!(first));
    let detail = app.query(Some(member), "calls.get", json!({"id": call_id})).await;
    assert!(detail.data()["transcript"].as_str().unwrap().contains("Please stop calling me."));
    assert_eq!(detail.data()["analysis"]["custom"]["opted_out"], true);

    // On the list once, naming the call.
    let listed = app.query(Some(admin), "dnc.list", json!({"limit": 100})).await;
    let listed = listed.data();
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["entries"][0]["phone"], OPTING_OUT);
    assert_eq!(listed["entries"][0]["reason"], format!("opted out during call {call_id}"));

    // Audited once, by the system, naming the call and not the patient.
    let audit =
        app.query(Some(admin), "audit.list", json!({"entityType": "do_not_call", "limit": 100})).await;
    let audit = audit.data()["entries"].as_array().unwrap().clone();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["action"], "do_not_call.added");
    assert_eq!(audit[0]["actorKind"], "system");
    assert!(audit[0]["actorLabel"].as_str().unwrap().contains(call_id), "{audit:?}");
    assert_eq!(audit[0]["entityId"], listed["entries"][0]["id"]);
    let text = text_without_ids(&Value::Array(audit.clone()));
    assert!(!text.contains("0161") && !text.contains("Opal") && !text.contains("Quill"), "{text}");

    // Her rows in the other runs were skipped without a call; everyone else's were called.
    for run in [&second, &later] {
        let rows = rows(&app, member, run).await;
        let opal = row(&rows, "Opal");
        assert_eq!(opal["status"], "skipped", "{opal}");
        assert_eq!(opal["skipReason"], "do_not_call");
        assert_eq!(opal["attempts"], 0);
        let others: Vec<&Value> = rows.iter().filter(|r| r["cells"][0] != "Opal").collect();
        assert!(others.iter().all(|r| r["status"] == "completed" && r["attempts"] == 1), "{rows:?}");
    }
    let first_rows = rows(&app, member, &first).await;
    assert_eq!(row(&first_rows, "Opal")["status"], "completed");

    // Analytics counts the opt-out where it was heard.
    let (heard, skipped) = (funnel(&app, member, &first).await, funnel(&app, member, &second).await);
    assert_eq!(heard["optedOut"], 1, "{heard}");
    assert_eq!(heard["reached"], 2, "{heard}");
    assert_eq!(skipped["optedOut"], 0, "{skipped}");
    assert_eq!((skipped["rows"].clone(), skipped["callable"].clone()), (json!(2), json!(1)), "{skipped}");
    app.stop().await;
}
