//! The run engine as deployed: office hours across a daylight-saving change, a server killed in
//! the middle of a run, and two server instances sharing one PostgreSQL. Everything goes through
//! HTTP and the simulator's signed webhooks; a manual clock stands in for time, and the engine
//! and simulator loops run as in production. Invariants are read straight from the tables.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rivvi_execution::clock::{Clock, ManualClock};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{json, Value};

use crate::support::{scalar, seed, TestApp};

/// Rows of the clinic D fixture: every one must end completed or failed.
const FIXTURE_ROWS: u64 = 20;

/// Moves the clock `step` at a time, letting the loops run between steps, until the run
/// completes (or `max_steps` pass); returns its last `runs.getStats`.
async fn drive_until_completed(
    app: &TestApp,
    clock: &ManualClock,
    admin: &str,
    run_id: &Value,
    step: TimeDelta,
    max_steps: usize,
) -> Value {
    let mut stats = Value::Null;
    for _ in 0..max_steps {
        clock.advance(step);
        tokio::time::sleep(Duration::from_millis(40)).await;
        stats = app.query(Some(admin), "runs.getStats", json!({"id": run_id})).await.data().clone();
        if stats["run"]["status"] == "completed" {
            break;
        }
    }
    stats
}

/// Count of rows per status, from `runs.getStats`.
fn row_count(stats: &Value, status: &str) -> u64 {
    stats["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["status"] == status)
        .and_then(|c| c["count"].as_u64())
        .unwrap_or(0)
}

/// The invariants every run keeps, whatever happened to the servers: no attempt of a row was
/// dialled twice, every row's attempt count is the number of calls placed for it, and no call
/// is left open.
async fn assert_calls_consistent(app: &TestApp) {
    let db = app.database.connect().await;
    let twice = "SELECT COUNT(*) FROM (SELECT row_id, attempt FROM calls WHERE row_id IS NOT NULL \
                 GROUP BY row_id, attempt HAVING COUNT(*) > 1) AS d";
    assert_eq!(scalar(&db, twice).await, 0, "an attempt was dialled twice");
    let miscounted = "SELECT COUNT(*) FROM run_rows r WHERE r.attempts <> \
                      (SELECT COUNT(*) FROM calls c WHERE c.row_id = r.id)";
    assert_eq!(scalar(&db, miscounted).await, 0, "a row's attempts differ from its calls");
    let open = "SELECT COUNT(*) FROM calls WHERE status IN ('registered', 'ongoing')";
    assert_eq!(scalar(&db, open).await, 0, "a call was left open");
    db.close().await.ok();
}

/// When the first and the last call were placed.
async fn dial_span(db: &DatabaseConnection) -> (DateTime<Utc>, DateTime<Utc>) {
    let sql = "SELECT MIN(created_at), MAX(created_at) FROM calls";
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    (row.try_get_by_index(0).unwrap(), row.try_get_by_index(1).unwrap())
}

fn assert_every_row_finished(stats: &Value) {
    assert_eq!(stats["run"]["status"], "completed", "{stats}");
    assert_eq!(row_count(stats, "completed") + row_count(stats, "failed"), FIXTURE_ROWS, "{stats}");
}

#[tokio::test]
async fn a_run_started_on_a_weekend_waits_for_monday_nine_in_the_clinics_zone_across_the_dst_change() {
    // Arrange: Saturday 2026-10-31 16:00 UTC (12:00 EDT). Clocks in New York fall back on Sunday
    // 2026-11-01, so Monday 09:00 EST is 14:00 UTC; 13:00 UTC would be right only under EDT.
    let saturday = Utc.with_ymd_and_hms(2026, 10, 31, 16, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(saturday));
    let app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let weekday = json!({"open": "09:00", "close": "17:00"});
    let hours = json!({"monday": weekday, "tuesday": weekday, "wednesday": weekday, "thursday": weekday, "friday": weekday});
    let settings = json!({"timeZone": "America/New_York", "officeHours": hours, "callerNumber": "+13125550100", "callsPerMinute": 600, "concurrentCallLimit": 50});
    let run_id = seed::reminder_run(&app, &world, settings, "clinic_d_cp1252.csv").await;
    let db = app.database.connect().await;
    let calls = "SELECT COUNT(*) FROM calls";

    // Act: start on Saturday, then walk to Monday 08:59 EST in hour steps, checking on the way.
    let started = app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await;
    let monday_eight_fifty_nine = Utc.with_ymd_and_hms(2026, 11, 2, 13, 59, 0).unwrap();
    let mut placed_while_closed = Vec::new();
    while clock.now() < monday_eight_fifty_nine {
        let next = (clock.now() + TimeDelta::hours(1)).min(monday_eight_fifty_nine);
        clock.set(next);
        tokio::time::sleep(Duration::from_millis(60)).await;
        if scalar(&db, calls).await > 0 {
            placed_while_closed.push(next);
        }
    }
    let waiting = app.query(Some(admin), "runs.getStats", json!({"id": run_id})).await.data().clone();
    clock.set(Utc.with_ymd_and_hms(2026, 11, 2, 14, 0, 0).unwrap());
    let mut first_calls = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        first_calls = scalar(&db, calls).await;
        if first_calls > 0 {
            break;
        }
    }
    let stats = drive_until_completed(&app, &clock, admin, &run_id, TimeDelta::seconds(20), 900).await;

    // Assert
    assert_eq!(started.data()["status"], "running", "a run may start outside office hours and waits");
    assert!(placed_while_closed.is_empty(), "calls placed while closed, at {placed_while_closed:?}");
    assert_eq!(waiting["run"]["status"], "running");
    assert_eq!(row_count(&waiting, "pending"), FIXTURE_ROWS, "{waiting}");
    assert!(first_calls > 0, "no call once the office opened at 09:00 EST");
    let (first_dial, last_dial) = dial_span(&db).await;
    assert_eq!(first_dial, Utc.with_ymd_and_hms(2026, 11, 2, 14, 0, 0).unwrap());
    assert_every_row_finished(&stats);
    assert!(last_dial < Utc.with_ymd_and_hms(2026, 11, 2, 22, 0, 0).unwrap(), "no call after 17:00 EST");
    assert_calls_consistent(&app).await;
    db.close().await.ok();
    app.stop().await;
}

#[tokio::test]
async fn a_server_killed_in_the_middle_of_a_run_resumes_after_restart_and_dials_no_attempt_twice() {
    // Arrange: Wednesday 10:00 in New York; five calls at a time so the kill finds some in flight.
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let mut app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": "+13125550100", "callsPerMinute": 600, "concurrentCallLimit": 5});
    let run_id = seed::reminder_run(&app, &world, settings, "clinic_d_cp1252.csv").await;
    let db = app.database.connect().await;

    // Act: run until some calls have ended and some are in flight, then kill the server.
    app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await.data();
    let mut in_flight = 0;
    for _ in 0..300 {
        clock.advance(TimeDelta::seconds(10));
        tokio::time::sleep(Duration::from_millis(40)).await;
        let ended = scalar(&db, "SELECT COUNT(*) FROM calls WHERE status = 'ended'").await;
        in_flight = scalar(&db, "SELECT COUNT(*) FROM calls WHERE status IN ('registered', 'ongoing')").await;
        if ended > 0 && in_flight > 0 {
            break;
        }
    }
    app.kill();
    let calls_at_kill = scalar(&db, "SELECT COUNT(*) FROM calls").await;
    app.restart().await;
    let stats = drive_until_completed(&app, &clock, admin, &run_id, TimeDelta::seconds(20), 1200).await;

    // Assert
    assert!(in_flight > 0, "the kill should find calls in flight");
    assert!(calls_at_kill > 0);
    assert_every_row_finished(&stats);
    assert_calls_consistent(&app).await;
    db.close().await.ok();
    app.stop().await;
}

#[tokio::test]
async fn two_instances_on_one_postgresql_never_exceed_the_concurrency_limit() {
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    if !app.database.is_postgres() {
        // The embedded SQLite default is one instance by design; scale-out needs PostgreSQL.
        app.stop().await;
        return;
    }
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let limit = 3;
    let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": "+13125550100", "callsPerMinute": 600, "concurrentCallLimit": limit});
    let run_id = seed::reminder_run(&app, &world, settings, "clinic_d_cp1252.csv").await;
    let second = app.another_instance().await;
    let db = app.database.connect().await;

    // Act: both instances' engines serve the run; sample the open calls between clock steps.
    app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await.data();
    let open = "SELECT COUNT(*) FROM calls WHERE status IN ('registered', 'ongoing')";
    let mut most_open = 0;
    let mut stats = Value::Null;
    for _ in 0..1200 {
        clock.advance(TimeDelta::seconds(10));
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            most_open = most_open.max(scalar(&db, open).await);
        }
        stats = second.query(Some(admin), "runs.getStats", json!({"id": run_id})).await.data().clone();
        if stats["run"]["status"] == "completed" {
            break;
        }
    }

    // Assert
    assert!(most_open <= limit, "{most_open} calls open at once, limit {limit}");
    assert!(most_open > 0);
    assert_every_row_finished(&stats);
    assert_calls_consistent(&app).await;
    db.close().await.ok();
    second.stop().await;
    app.stop().await;
}
