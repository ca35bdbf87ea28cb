//! Load measurement of run exports (issue 14; ignored, `just bench-exports`): runs of 10,000 and
//! 100,000 rows of the ingestion benchmark's generated sheet, each row with one reached call and
//! analysis answers, exported to CSV and xlsx over HTTP; rows per second and how much the process's
//! resident memory rose while each file streamed (sampled every 5 ms; the client counts the
//! bytes and keeps none, so the rise is the server's).
//!
//! Run it with `GLIBC_TUNABLES=glibc.malloc.trim_threshold=0:glibc.malloc.mmap_threshold=65536`
//! (the `just` recipe does): freed memory then goes back to the kernel at once, so an export
//! cannot grow unseen into memory an earlier phase (the 100k-row `runs.create`) left in the
//! allocator.
//!
//! Rows come from `runs.create` (cells sealed like any upload); their calls are inserted with SQL
//! (placing 110,000 simulated calls would measure the engine, not the export).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::bench::gen;
use crate::support::{seed, TestApp};

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Runs `body` while a thread samples the resident set; answers its result and the largest rise
/// over the resident set before it, in MB.
async fn with_peak_rise<T>(body: impl std::future::Future<Output = T>) -> (T, f64) {
    let before = rss_mb();
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let running = running.clone();
        std::thread::spawn(move || {
            let mut peak = 0.0f64;
            while running.load(Ordering::Relaxed) {
                peak = peak.max(rss_mb());
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let value = body.await;
    running.store(false, Ordering::Relaxed);
    let peak = sampler.join().unwrap().max(rss_mb());
    (value, (peak - before).max(0.0))
}

/// A run of `rows` generated rows in alpha, each with one reached call; answers its id.
async fn run_with_calls(app: &TestApp, super_admin: &str, member: &str, org_id: &str, rows: usize) -> String {
    let mut campaign = seed::reminder_campaign(&format!("Export {rows}"));
    campaign["analysisFields"] = json!([
        {"key": "appt_confirmed", "label": "Confirmed", "fieldType": "boolean", "isMainKpi": true},
        {"key": "preferred_time", "label": "Preferred time", "fieldType": "enum", "options": ["morning", "afternoon"]}
    ]);
    let campaign = seed::create_campaign_from(app, super_admin, org_id, campaign).await;
    let (file, _) = gen::csv(rows);
    let upload = app.upload(member, &format!("export-{rows}.csv"), file).await;
    let input = json!({"campaignId": campaign.data()["id"], "uploadId": upload, "name": format!("Export {rows}"), "clientRequestId": format!("export-{rows}")});
    let run_id =
        app.mutation(Some(member), "runs.create", input).await.data()["id"].as_str().unwrap().to_owned();
    let db = app.database.connect().await;
    use sea_orm::ConnectionTrait;
    let sql = format!(
        "UPDATE run_rows SET status = 'completed', attempts = 1, outcome = 'reached',
                analysis = jsonb_build_object('appt_confirmed', sort_index % 3 = 0, 'preferred_time', 'morning')
         WHERE run_id = '{run_id}' AND status = 'pending';
         INSERT INTO calls (id, org_id, direction, run_id, row_id, campaign_id, status, outcome, from_number_sealed,
                            to_number_sealed, attempt, started_at, ended_at, duration_ms, local_hour, local_date,
                            local_weekday, created_at, updated_at)
         SELECT gen_random_uuid(), rr.org_id, 'outbound', rr.run_id, rr.id, r.campaign_id, 'ended', 'reached',
                '\\x00'::bytea, '\\x00'::bytea, 1, now(), now() + interval '1 minute', 60000, 10, current_date, 3, now(), now()
         FROM run_rows rr JOIN runs r ON r.id = rr.run_id WHERE rr.run_id = '{run_id}' AND rr.attempts = 1;
         ANALYZE run_rows; ANALYZE calls;"
    );
    db.execute_unprepared(&sql).await.unwrap();
    run_id
}

/// Downloads `path`, counting bytes without keeping them; answers (bytes, seconds).
async fn download(app: &TestApp, token: &str, path: &str) -> (usize, f64) {
    let started = Instant::now();
    let mut response = app.http.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    let mut bytes = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
    }
    (bytes, started.elapsed().as_secs_f64())
}

#[tokio::test]
#[ignore = "a load measurement: run with `just bench-exports`"]
async fn bench_exports_runs_to_csv_and_xlsx() {
    let app = TestApp::spawn_with(|s| s.upload_limit = 64 * 1024 * 1024).await;
    if !app.database.is_postgres() {
        println!(
            "BENCH exports: skipped (the call generator writes PostgreSQL: set RIVVI_TEST_DATABASE_URL)"
        );
        app.stop().await;
        return;
    }
    let world = seed::world(&app).await;
    let member = world.alpha.member.as_str();
    // `RIVVI_BENCH_EXPORT_ROWS=100000` measures one size only (for a profile).
    let sizes: Vec<usize> = std::env::var("RIVVI_BENCH_EXPORT_ROWS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    let mut runs = Vec::new();
    for rows in sizes {
        runs.push((rows, run_with_calls(&app, &world.super_admin, member, &world.alpha.id, rows).await));
    }
    for (rows, run_id) in runs {
        for format in ["csv", "xlsx"] {
            let path = format!("/exports/runs/{run_id}.{format}");
            let ((bytes, seconds), rise) = with_peak_rise(download(&app, member, &path)).await;
            println!(
                "BENCH exports {format} {rows} rows: {:.2} s = {:.0} rows/s, {:.1} MB; resident memory rose by at most {rise:.1} MB while it streamed",
                seconds,
                rows as f64 / seconds,
                bytes as f64 / 1e6
            );
            println!("BENCH exports resident memory after: {:.0} MB", rss_mb());
        }
    }
    app.stop().await;
}
