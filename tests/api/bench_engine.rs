//! Load measurement of the engine and the Retell webhook endpoint (ignored; `just bench`): three
//! clinics each running a 10k-row run against the built-in simulator, served by two server
//! instances on one database.
//!
//! Time runs [`FAST_FORWARD`] times faster than the wall clock (a scaled clock shared by both
//! instances and their simulators), so each organization's 600 calls per clock minute become
//! up to 80 per real second, and the call events of all three can arrive above 200 per second.
//! Prints webhook latency (p50/p99 from the server's own `/metrics` histogram, as Prometheus's
//! `histogram_quantile` would compute it), the event rate, dispatch time per call and how full
//! the concurrency limit was kept; asserts only correctness: every row final, no attempt dialled
//! twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rivvi_execution::clock::Clock;
use serde_json::json;

use crate::support::{scalar, scalar_with, seed, TestApp, TokenBuilder};

use crate::bench::gen;

/// Clock seconds per real second.
const FAST_FORWARD: f64 = 8.0;
const CONCURRENT_CALL_LIMIT: i64 = 100;

/// Wall time since `real_start`, times `factor`, from `start`.
struct ScaledClock {
    start: DateTime<Utc>,
    real_start: Instant,
    factor: f64,
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.real_start.elapsed().as_secs_f64() * self.factor;
        self.start + TimeDelta::microseconds((elapsed * 1e6) as i64)
    }
}

/// A server for large runs (64 MiB uploads, the simulator at 20x) whose clock runs `factor` times
/// faster than the wall clock from Wednesday 2026-11-25 19:00 UTC: 14:00 in New York, 09:00 in
/// Honolulu, inside every generated patient's calling window for the whole run. A second instance
/// shares the clock.
pub(crate) async fn fast_forward_app(factor: f64) -> (TestApp, Arc<dyn Clock>) {
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock {
        start: Utc.with_ymd_and_hms(2026, 11, 25, 19, 0, 0).unwrap(),
        real_start: Instant::now(),
        factor,
    });
    let app = TestApp::spawn_with_clock(
        |s| {
            s.upload_limit = 64 * 1024 * 1024;
            s.simulator_time_scale = 20.0;
            crate::support::without_rate_limits(s);
        },
        clock.clone(),
    )
    .await;
    (app, clock)
}

/// A quantile from a Prometheus histogram's cumulative buckets, interpolated linearly inside the
/// bucket it falls in (what `histogram_quantile` does).
fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    let total = buckets.last().map(|b| b.1).unwrap_or(0.0);
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                return previous.0;
            }
            let width = count - previous.1;
            let into = if width > 0.0 { (rank - previous.1) / width } else { 0.0 };
            return previous.0 + (bound - previous.0) * into;
        }
        previous = (bound, count);
    }
    previous.0
}

/// The cumulative buckets of `metric` for the series whose labels contain every one of `labels`,
/// summed over the matching series.
fn buckets(exposition: &str, metric: &str, labels: &[&str]) -> Vec<(f64, f64)> {
    let mut by_bound: Vec<(f64, f64)> = Vec::new();
    let prefix = format!("{metric}_bucket{{");
    for line in exposition.lines().filter(|l| l.starts_with(&prefix)) {
        if !labels.iter().all(|l| line.contains(l)) {
            continue;
        }
        let Some(le) = line.split("le=\"").nth(1).and_then(|r| r.split('"').next()) else { continue };
        let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::NAN) };
        let count: f64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        match by_bound.iter_mut().find(|(b, _)| *b == bound) {
            Some(entry) => entry.1 += count,
            None => by_bound.push((bound, count)),
        }
    }
    by_bound.sort_by(|a, b| a.0.total_cmp(&b.0));
    by_bound
}

/// `_sum` and `_count` of `metric`, summed over its series.
pub(crate) fn sum_and_count(exposition: &str, metric: &str) -> (f64, f64) {
    let value = |suffix: &str| -> f64 {
        let prefix = format!("{metric}{suffix}");
        exposition
            .lines()
            .filter(|l| l.starts_with(&prefix) && l[prefix.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum()
    };
    (value("_sum"), value("_count"))
}

#[tokio::test]
#[ignore = "a load measurement: run with `just bench`"]
async fn bench_engine_10k_rows_two_instances_webhook_latency() {
    let rows = std::env::var("RIVVI_BENCH_CALL_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let (app, clock) = fast_forward_app(FAST_FORWARD).await;
    let second = app.another_instance().await;
    let world = seed::world(&app).await;
    let (file, expected) = gen::csv(rows);
    let mut runs = Vec::new();
    // Alpha, beta and a third clinic, each with its own number. The clock runs fast, so the
    // admins' tokens must outlive the default hour of clock time.
    let long_lived =
        |user: &str, org: &str| TokenBuilder::user(user).in_org(org, "admin").expires_in(86_400).sign();
    let gamma_admin = long_lived("user_gamma_admin", "org_gamma");
    let gamma_id = seed::provision(&app, &gamma_admin).await;
    let clinics = [
        (long_lived("user_alpha_admin", seed::ALPHA), world.alpha.id.clone(), "+13125550100"),
        (long_lived("user_beta_admin", seed::BETA), world.beta.id.clone(), "+13125550111"),
        (gamma_admin, gamma_id, "+13125550122"),
    ];
    for (admin, org_id, number) in &clinics {
        let admin = admin.as_str();
        let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": number, "callsPerMinute": 600, "concurrentCallLimit": CONCURRENT_CALL_LIMIT});
        seed::configure(&app, &world.super_admin, admin, org_id, settings).await;
        let mut campaign = seed::reminder_campaign("Load");
        campaign["retryPolicy"] =
            json!({"maxAttempts": 2, "retryOn": ["no_answer", "busy"], "delayMinutes": 1});
        let input = json!({"orgId": org_id, "campaign": campaign});
        let campaign = app.mutation(Some(&world.super_admin), "campaigns.create", input).await;
        let campaign_id = campaign.data()["id"].clone();
        let upload = app.upload(admin, "load.csv", file.clone()).await;
        let input =
            json!({"campaignId": campaign_id, "uploadId": upload, "name": "Load", "clientRequestId": "load"});
        let run = app.mutation(Some(admin), "runs.create", input).await;
        runs.push((admin, run.data()["id"].clone()));
    }
    let db = app.database.connect().await;
    let events_sql = "SELECT COUNT(*) FROM webhook_events";
    let events_before = scalar(&db, events_sql).await;

    // Act: start both, then sample once a second until both complete.
    let started = Instant::now();
    for (admin, run_id) in &runs {
        app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await.data();
    }
    let open_sql = "SELECT COUNT(*) FROM calls WHERE status IN ('registered', 'ongoing')";
    let due_sql = "SELECT COUNT(*) FROM run_rows WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= $1)";
    let limit = (CONCURRENT_CALL_LIMIT * runs.len() as i64) as f64;
    let mut occupancy = Vec::new();
    let mut stats = Vec::new();
    while started.elapsed() < Duration::from_secs(1800) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let due = scalar_with(&db, due_sql, vec![clock.now().into()]).await;
        let open = scalar(&db, open_sql).await;
        if due > 0 {
            occupancy.push(open as f64 / limit);
        }
        stats.clear();
        for (admin, run_id) in &runs {
            stats
                .push(second.query(Some(admin), "runs.getStats", json!({"id": run_id})).await.data().clone());
        }
        if stats.iter().all(|s| s["run"]["status"] == "completed") {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let events = scalar(&db, events_sql).await - events_before;
    let calls = scalar(&db, "SELECT COUNT(*) FROM calls").await;
    let twice = "SELECT COUNT(*) FROM (SELECT row_id, attempt FROM calls \
                 GROUP BY row_id, attempt HAVING COUNT(*) > 1) AS d";
    let twice = scalar(&db, twice).await;
    let miscounted = "SELECT COUNT(*) FROM run_rows r \
                      WHERE r.attempts <> (SELECT COUNT(*) FROM calls c WHERE c.row_id = r.id)";
    let miscounted = scalar(&db, miscounted).await;
    let exposition = app.scrape_metrics().await;

    // Assert: correctness only.
    for stats in &stats {
        assert_eq!(stats["run"]["status"], "completed", "{stats}");
        let counts = stats["rows"].as_array().unwrap();
        let total: u64 = counts.iter().map(|c| c["count"].as_u64().unwrap()).sum();
        let open = ["pending", "dialing", "in_call"];
        assert!(
            counts.iter().all(|c| !open.contains(&c["status"].as_str().unwrap())),
            "every row final: {stats}"
        );
        assert_eq!(total, expected.data_rows as u64, "{stats}");
    }
    assert_eq!(twice, 0, "an attempt was dialled twice");
    assert_eq!(miscounted, 0, "a row's attempts differ from its calls");

    // Report
    let webhook = buckets(&exposition, "http_request_duration_seconds", &["route=\"/webhooks/retell\""]);
    let (p50, p99) = (histogram_quantile(0.5, &webhook) * 1e3, histogram_quantile(0.99, &webhook) * 1e3);
    let (tick_seconds, _) = sum_and_count(&exposition, "rivvi_engine_dispatch_tick_seconds");
    let create = buckets(&exposition, "rivvi_provider_create_call_seconds", &[]);
    let mean_occupancy = occupancy.iter().sum::<f64>() / occupancy.len().max(1) as f64;
    let database = if app.database.is_postgres() { "PostgreSQL" } else { "SQLite" };
    println!(
        "BENCH engine {database}, 2 instances, 3 clinics: a {rows}-row run each ({} callable), {calls} calls, {events} webhook events in {seconds:.0} s = {:.0} events/s, {:.1} calls/s; webhook p50 {p50:.1} ms, p99 {p99:.1} ms; dispatcher {:.2} ms per call (create-call on loopback p50 {:.1} ms); concurrency limit filled {:.0}% on average while rows were due ({} samples)",
        expected.callable_rows,
        events as f64 / seconds,
        calls as f64 / seconds,
        tick_seconds * 1e3 / calls.max(1) as f64,
        histogram_quantile(0.5, &create) * 1e3,
        mean_occupancy * 100.0,
        occupancy.len(),
    );
    db.close().await.ok();
    second.stop().await;
    app.stop().await;
}
