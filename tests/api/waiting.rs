//! Runs never wait silently (issue 17, item 2), through HTTP with the engine and the simulator on
//! a manual clock: `runs.getStats` names why a running run's pending rows are not dialled and
//! until when (office hours, the patient's window, concurrency, a retry, the do-not-call list, no
//! caller number), and `runs.start` refuses a run that could not place a single call, naming the
//! fix.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use rivvi_execution::clock::{Clock, ManualClock};
use serde_json::{json, Value};

use crate::support::seed::{self, World};
use crate::support::TestApp;

const CALLER_NUMBER: &str = "+13125550100";

async fn app_at(at: chrono::DateTime<Utc>) -> (TestApp, Arc<ManualClock>, World) {
    let clock = Arc::new(ManualClock::new(at));
    let app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    let world = seed::world(&app).await;
    (app, clock, world)
}

async fn waiting(app: &TestApp, token: &str, run: &str) -> Vec<Value> {
    let stats = app.query(Some(token), "runs.getStats", json!({"id": run})).await;
    stats.data()["waiting"].as_array().unwrap_or_else(|| panic!("no waiting in {}", stats.body)).clone()
}

/// Polls `runs.getStats` (the engine works on its own ticks) until `done` holds of its waiting
/// groups, moving the clock by `step` each time.
async fn until_waiting(
    app: &TestApp,
    clock: &ManualClock,
    token: &str,
    run: &str,
    step: TimeDelta,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut last = Vec::new();
    for _ in 0..200 {
        last = waiting(app, token, run).await;
        if done(&last) {
            return last;
        }
        clock.advance(step);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("waiting never matched: {last:?}");
}

fn group<'a>(groups: &'a [Value], reason: &str) -> Option<&'a Value> {
    groups.iter().find(|g| g["reason"] == reason)
}

#[tokio::test]
async fn a_run_started_on_a_saturday_night_waits_for_office_hours_and_says_until_when() {
    // Arrange: Saturday 2026-11-28 03:00 UTC; the default office hours (Monday to Friday
    // 09:00-17:00 New York); one of the two numbers on the do-not-call list.
    let (app, _clock, world) = app_at(Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap()).await;
    let (admin, run) = (world.alpha.admin.as_str(), world.alpha.run_id.as_str());
    seed::configure(&app, &world.super_admin, admin, &world.alpha.id, json!({"callerNumber": CALLER_NUMBER}))
        .await;
    app.mutation(Some(admin), "dnc.add", json!({"phone": "(617) 555-0188"})).await.data();

    // Act
    let started = app.mutation(Some(admin), "runs.start", json!({"id": run})).await;
    assert_eq!(started.data()["status"], "running");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let groups = waiting(&app, admin, run).await;

    // Assert: Monday 09:00 in New York is 14:00 UTC.
    assert_eq!(
        groups,
        vec![
            json!({"reason": "outside_office_hours", "rows": 1, "until": "2026-11-30T14:00:00Z"}),
            json!({"reason": "do_not_call", "rows": 1, "until": null}),
        ]
    );
    let calls = app.query(Some(admin), "calls.list", json!({"limit": 10})).await;
    assert_eq!(calls.data()["total"], 0, "nothing was dialled");
    app.stop().await;
}

#[tokio::test]
async fn rows_put_back_by_the_patients_calling_window_say_when_it_opens() {
    // Arrange: 04:00 UTC, office hours around the clock: 22:00 in Chicago and 23:00 in Boston,
    // both patients' 08:00-21:00 windows closed.
    let (app, clock, world) = app_at(Utc.with_ymd_and_hms(2026, 11, 25, 4, 0, 0).unwrap()).await;
    let (admin, run) = (world.alpha.admin.as_str(), world.alpha.run_id.as_str());
    let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": CALLER_NUMBER});
    seed::configure(&app, &world.super_admin, admin, &world.alpha.id, settings).await;

    // Act
    app.mutation(Some(admin), "runs.start", json!({"id": run})).await.data();
    let groups = until_waiting(&app, &clock, admin, run, TimeDelta::seconds(1), |groups| {
        group(groups, "outside_patient_window").is_some_and(|g| g["rows"] == 2)
    })
    .await;

    // Assert: Boston's window opens first, 08:00 EST = 13:00 UTC.
    assert_eq!(
        groups,
        vec![json!({"reason": "outside_patient_window", "rows": 2, "until": "2026-11-25T13:00:00Z"})]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_full_concurrency_limit_and_a_scheduled_retry_are_named() {
    // Arrange: one call at a time; the Chicago patient does not answer the first time.
    let (app, clock, world) = app_at(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()).await;
    let (admin, run) = (world.alpha.admin.as_str(), world.alpha.run_id.as_str());
    let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": CALLER_NUMBER, "concurrentCallLimit": 1});
    seed::configure(&app, &world.super_admin, admin, &world.alpha.id, settings).await;
    let script = json!({"toNumber": "+13125550177", "outcomes": ["no_answer", "reached"]});
    let scripted = app.http.post(app.url("/simulator/retell/script")).json(&script).send().await.unwrap();
    assert_eq!(scripted.status(), 204);

    // Act: the first row is dialled; the second waits for the slot.
    app.mutation(Some(admin), "runs.start", json!({"id": run})).await.data();
    let full = until_waiting(&app, &clock, admin, run, TimeDelta::zero(), |groups| {
        group(groups, "concurrency_full").is_some()
    })
    .await;
    // Then the first call goes unanswered and its row waits for its retry.
    let retrying = until_waiting(&app, &clock, admin, run, TimeDelta::seconds(10), |groups| {
        group(groups, "retry_scheduled").is_some()
    })
    .await;

    // Assert: the rows not dialled wait for the slot the first call holds (how many of the two
    // are pending at that instant depends on the engine's pace).
    assert_eq!(full.len(), 1, "{full:?}");
    assert_eq!(full[0]["until"], Value::Null);
    assert!((1..=2).contains(&full[0]["rows"].as_u64().unwrap()), "{full:?}");
    let retry = group(&retrying, "retry_scheduled").unwrap();
    assert_eq!(retry["rows"], 1);
    let until: chrono::DateTime<Utc> = retry["until"].as_str().unwrap().parse().unwrap();
    assert!(until > clock.now(), "the retry is ahead: {retrying:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_run_that_could_not_place_a_call_is_refused_at_start_naming_the_fix() {
    let (app, _clock, world) = app_at(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()).await;
    let (admin, run) = (world.alpha.admin.as_str(), world.alpha.run_id.as_str());

    // No caller number.
    let refused = app.mutation(Some(admin), "runs.start", json!({"id": run})).await;
    assert_eq!(refused.code(), 400, "{}", refused.body);
    assert!(refused.message().contains("callerNumber"), "{}", refused.message());
    assert!(refused.message().contains("admin.phoneNumbers.assign"), "{}", refused.message());

    // A paused campaign.
    seed::configure(&app, &world.super_admin, admin, &world.alpha.id, json!({"callerNumber": CALLER_NUMBER}))
        .await;
    let pause =
        json!({"orgId": world.alpha.id, "id": world.alpha.campaign_id, "patch": {"status": "paused"}});
    app.mutation(Some(&world.super_admin), "campaigns.update", pause).await.data();
    let refused = app.mutation(Some(admin), "runs.start", json!({"id": run})).await;
    assert_eq!(refused.code(), 400, "{}", refused.body);
    assert!(
        refused.message().contains("campaignId") && refused.message().contains("paused"),
        "{}",
        refused.message()
    );
    let still = app.query(Some(admin), "runs.get", json!({"id": run})).await;
    assert_eq!(still.data()["status"], "ready", "a refused start changes nothing");

    // Both fixed: it starts.
    let resume =
        json!({"orgId": world.alpha.id, "id": world.alpha.campaign_id, "patch": {"status": "active"}});
    app.mutation(Some(&world.super_admin), "campaigns.update", resume).await.data();
    let started = app.mutation(Some(admin), "runs.start", json!({"id": run})).await;
    assert_eq!(started.data()["status"], "running");
    app.stop().await;
}
