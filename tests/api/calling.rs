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
