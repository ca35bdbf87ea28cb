//! A run from an uploaded sheet to completed, through HTTP, with the engine placing calls on the
//! built-in Retell simulator and the simulator's signed webhooks coming back to /webhooks/retell.
//! A manual clock moves through the calls; the engine and simulator loops run as in production.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use rivvi_execution::clock::ManualClock;
use serde_json::{json, Value};

use crate::support::{seed, TestApp};

#[tokio::test]
async fn a_run_places_its_calls_through_the_simulator_and_completes() {
    // Arrange: Wednesday 2026-11-25 15:00 UTC is 10:00 in New York, inside every calling window.
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": "+13125550100", "callsPerMinute": 600, "concurrentCallLimit": 50});
    let run_id = seed::reminder_run(&app, &world, settings, "clinic_d_cp1252.csv").await;

    // Act
    let started = app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await;
    let mut stats = Value::Null;
    for _ in 0..600 {
        clock.advance(TimeDelta::seconds(20));
        tokio::time::sleep(Duration::from_millis(50)).await;
        stats = app.query(Some(admin), "runs.getStats", json!({"id": run_id})).await.data().clone();
        if stats["run"]["status"] == "completed" {
            break;
        }
    }

    // Assert
    assert_eq!(started.data()["status"], "running");
    assert_eq!(stats["run"]["status"], "completed", "{stats}");
    let rows: serde_json::Map<String, Value> = stats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["status"].as_str().unwrap().to_owned(), c["count"].clone()))
        .collect();
    let finished = rows.get("completed").and_then(Value::as_u64).unwrap_or(0)
        + rows.get("failed").and_then(Value::as_u64).unwrap_or(0);
    assert_eq!(finished, 20, "every row ends completed or failed: {rows:?}");
    let calls: u64 = stats["calls"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert!(calls >= 20, "at least one call per row: {stats}");
    assert!(stats["calls"].as_array().unwrap().iter().all(|c| !c["outcome"].is_null()), "no call left open");

    let again = app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await;
    assert_eq!(again.code(), 409, "a completed run cannot start again");
    app.stop().await;
}

#[tokio::test]
async fn a_forged_or_stale_retell_webhook_changes_nothing() {
    let app = TestApp::spawn().await;
    let body =
        json!({"event": "call_ended", "call": {"call_id": "call_x", "call_status": "ended"}}).to_string();
    let now = chrono::Utc::now().timestamp_millis();
    let stale = rivvi_execution::retell::webhook::sign("wrong-key", body.as_bytes(), now);
    let cases = [None, Some(stale), Some(format!("v={now},d=00"))];
    for signature in cases {
        let mut request = app.http.post(app.url("/webhooks/retell")).body(body.clone());
        if let Some(signature) = &signature {
            request = request.header("x-retell-signature", signature);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{signature:?}");
    }
    let db = app.database.connect().await;
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM webhook_events".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 0);
    app.stop().await;
}

#[tokio::test]
async fn retries_follow_the_campaign_policy_attempt_by_attempt_and_stop_at_its_limit() {
    // Arrange: three patients whose calls the simulator scripts; retry no answer and busy, at
    // most three attempts, five minutes apart.
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": "+13125550100", "callsPerMinute": 600, "concurrentCallLimit": 10});
    seed::configure(&app, &world.super_admin, admin, &world.alpha.id, settings).await;
    let mut campaign = seed::reminder_campaign("Retries");
    campaign["retryPolicy"] = json!({"maxAttempts": 3, "retryOn": ["no_answer", "busy"], "delayMinutes": 5});
    let input = json!({"orgId": world.alpha.id, "campaign": campaign});
    let campaign_id =
        app.mutation(Some(&world.super_admin), "campaigns.create", input).await.data()["id"].clone();
    let sheet = "First Name,Last Name,DOB,Phone\n\
                 Ada,Never,1961-02-04,(312) 555-0101\n\
                 Bo,Busy,1970-03-05,(312) 555-0102\n\
                 Cy,Voicemail,1980-04-06,(312) 555-0103\n";
    let upload = app.upload(admin, "retries.csv", sheet.as_bytes().to_vec()).await;
    let input = json!({"campaignId": campaign_id, "uploadId": upload, "name": "Retries", "clientRequestId": "retries"});
    let run_id = app.mutation(Some(admin), "runs.create", input).await.data()["id"].clone();
    for (number, outcomes) in [
        ("+13125550101", json!(["no_answer", "no_answer", "no_answer", "reached"])),
        ("+13125550102", json!(["busy", "reached"])),
        ("+13125550103", json!(["voicemail", "reached"])),
    ] {
        let script = json!({"toNumber": number, "outcomes": outcomes});
        let response = app.http.post(app.url("/simulator/retell/script")).json(&script).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }

    // Act
    app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await.data();
    let mut stats = Value::Null;
    for _ in 0..400 {
        clock.advance(TimeDelta::seconds(20));
        tokio::time::sleep(Duration::from_millis(40)).await;
        stats = app.query(Some(admin), "runs.getStats", json!({"id": run_id})).await.data().clone();
        if stats["run"]["status"] == "completed" {
            break;
        }
    }

    // Assert: each row's calls, attempt by attempt, with their outcomes and the delay between.
    assert_eq!(stats["run"]["status"], "completed", "{stats}");
    let db = app.database.connect().await;
    use sea_orm::{ConnectionTrait, Statement};
    let sql = "SELECT r.sheet_row, r.status, c.attempt, c.outcome, c.created_at, c.ended_at \
               FROM calls c JOIN run_rows r ON r.id = c.row_id ORDER BY r.sheet_row, c.attempt";
    let rows = db.query_all(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    let mut by_row: std::collections::BTreeMap<i32, Vec<(String, i32, String)>> = Default::default();
    let mut previous_end: Option<(i32, chrono::DateTime<Utc>)> = None;
    for row in &rows {
        let sheet_row: i32 = row.try_get_by_index(0).unwrap();
        let status: String = row.try_get_by_index(1).unwrap();
        let attempt: i32 = row.try_get_by_index(2).unwrap();
        let outcome: String = row.try_get_by_index(3).unwrap();
        let created: chrono::DateTime<Utc> = row.try_get_by_index(4).unwrap();
        let ended: chrono::DateTime<Utc> = row.try_get_by_index(5).unwrap();
        if let Some((same_row, end)) = previous_end.filter(|(r, _)| *r == sheet_row) {
            assert!(created - end >= TimeDelta::minutes(5), "row {same_row} retried before the delay");
        }
        previous_end = Some((sheet_row, ended));
        by_row.entry(sheet_row).or_default().push((status, attempt, outcome));
    }
    let summary: Vec<(String, Vec<(i32, String)>)> = by_row
        .into_values()
        .map(|calls| (calls[0].0.clone(), calls.into_iter().map(|(_, a, o)| (a, o)).collect()))
        .collect();
    let outcomes = |list: &[(i32, &str)]| list.iter().map(|(a, o)| (*a, (*o).to_owned())).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            ("failed".to_owned(), outcomes(&[(1, "no_answer"), (2, "no_answer"), (3, "no_answer")])),
            ("completed".to_owned(), outcomes(&[(1, "busy"), (2, "reached")])),
            (summary[2].0.clone(), outcomes(&[(1, "voicemail")])),
        ],
        "three attempts at most, busy retried, voicemail not in the policy"
    );
    db.close().await.ok();
    app.stop().await;
}
