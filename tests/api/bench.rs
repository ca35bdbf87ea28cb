//! Load measurements, not tests: ignored by default and run by `just bench` (release build, with
//! `RIVVI_TEST_DATABASE_URL` for PostgreSQL). They print their numbers for docs/benchmarks.md and
//! assert only correctness, never time.

use std::time::Instant;

use serde_json::json;

use crate::support::{seed, TestApp};

// The deterministic 100k-row export generator the ingestion benchmarks use, shared rather than
// copied so both measure the same file.
#[path = "../../crates/ingestion/benches/support/gen.rs"]
#[allow(dead_code)]
pub mod gen;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

#[tokio::test]
#[ignore = "a load measurement: run with `just bench`"]
async fn bench_runs_create_commits_100k_rows() {
    let rows = std::env::var("RIVVI_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    // The server logs each phase's time with the run it creates (RUST_LOG=info to see it).
    rivvi_server::telemetry::init(false);
    let (file, expected) = gen::csv(rows);
    let app = TestApp::spawn_with(|s| s.upload_limit = 64 * 1024 * 1024).await;
    let (world, campaign_id) = seed::world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "bench.csv", file).await;

    let started = Instant::now();
    let preview =
        app.query(Some(member), "runs.preview", json!({"campaignId": campaign_id, "uploadId": upload})).await;
    let preview_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let created = seed::create_run(&app, member, &campaign_id, &upload, "Bench", "bench").await;
    let create_seconds = started.elapsed().as_secs_f64();

    assert_eq!(preview.data()["counts"]["callableRows"], expected.callable_rows);
    let run_id = created.data()["id"].clone();
    let stored = app.query(Some(member), "runs.getRows", json!({"runId": run_id, "limit": 1})).await;
    assert_eq!(stored.data()["total"], expected.data_rows);
    let database = if app.database.is_postgres() { "PostgreSQL" } else { "SQLite" };
    println!(
        "BENCH runs.create {database}: {rows} rows; preview over HTTP {preview_seconds:.2} s; create {create_seconds:.2} s = {:.0} rows/s; peak RSS of the test process (server, client and file) {:.0} MB",
        rows as f64 / create_seconds,
        peak_rss_mb()
    );
    app.stop().await;
}
