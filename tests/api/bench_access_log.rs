//! Cost of the PHI access log on `runs.getRows` (issue 15; ignored, `just bench-access-log`): the
//! procedure reading 100 rows of a 1,000-row run, at concurrency 1 (p50/p95) and 16 (requests per
//! second), beside the cost of the one statement the log adds (the same `audit_log` insert, timed
//! alone on the same database, committed on its own: an upper bound, since inside `runs.getRows`
//! it shares the read's transaction and commit), so the share of the log in each request can be
//! read off.

use std::time::{Duration, Instant};

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::{OrgId, UserId};
use rivvi_persistence::audit::{self, AuditActor, AuditRecord};
use serde_json::json;

use crate::bench::gen;
use crate::support::load::{self, quantile};
use crate::support::{seed, TestApp};

#[tokio::test]
#[ignore = "a load measurement: run with `just bench-access-log`"]
async fn bench_access_log_cost_on_get_rows() {
    let app = TestApp::spawn_with(|s| {
        s.upload_limit = 64 * 1024 * 1024;
        crate::support::without_rate_limits(s);
    })
    .await;
    let (world, campaign_id) = seed::world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let (file, _) = gen::csv(1_000);
    let upload = app.upload(member, "access.csv", file).await;
    let input =
        json!({"campaignId": campaign_id, "uploadId": upload, "name": "Access", "clientRequestId": "access"});
    let run_id =
        app.mutation(Some(member), "runs.create", input).await.data()["id"].as_str().unwrap().to_owned();

    let mut url = reqwest::Url::parse(&app.url("/rspc/runs.getRows")).unwrap();
    url.query_pairs_mut().append_pair("input", &json!({"runId": run_id, "limit": 100}).to_string());
    for _ in 0..20 {
        load::get(&app.http, &url, member).await;
    }
    let latencies = load::latencies(&app.http, &url, member, 300).await;
    let per_second = load::throughput(&app.http, &url, member, 16, Duration::from_secs(10)).await;

    // The statement the log adds, alone (with a hundred row ids: the upper bound).
    let db = app.database.connect().await;
    let org: OrgId = world.alpha.id.parse().unwrap();
    let entry = || AuditRecord {
        org: Some(org),
        actor: AuditActor::User { user_id: UserId::new(), label: "user_alpha_member".into() },
        action: AuditAction::RunRowsViewed.as_str().to_owned(),
        entity_type: "run".into(),
        entity_id: Some(run_id.clone()),
        changed_fields: std::iter::once("rows=100".to_owned())
            .chain((0..100).map(|_| format!("row:{}", uuid::Uuid::new_v4())))
            .collect(),
        request_id: Some(uuid::Uuid::new_v4().to_string()),
    };
    let mut inserts = Vec::with_capacity(300);
    for _ in 0..300 {
        let at = Instant::now();
        audit::record(&db, entry()).await.unwrap();
        inserts.push(at.elapsed().as_secs_f64() * 1e3);
    }
    inserts.sort_by(f64::total_cmp);

    // A/B of the read's own transaction, as `services::runs::rows` runs it, with and without the
    // entry: the pages and counts read and opened, then committed (interleaved, 300 each).
    let keys = rivvi_persistence::sealing::Keys::load(None, None, Some(app.data_dir.path())).unwrap();
    let scope = rivvi_persistence::OrgScope::for_verified_org(org);
    let run: rivvi_domain::ids::RunId = run_id.parse().unwrap();
    let (mut without, mut with, mut counted) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..900 {
        use sea_orm::TransactionTrait;
        let logged = n % 3 != 0;
        let at = Instant::now();
        let txn = db.begin().await.unwrap();
        let page = rivvi_persistence::Page::new(100, 0);
        let (rows, _) =
            rivvi_persistence::run_rows::list(&txn, &scope, &keys, run, None, page).await.unwrap();
        rivvi_persistence::run_rows::counts_by_status(&txn, &scope, run).await.unwrap();
        if logged {
            let mut record = entry();
            // n % 3 == 1: the page, as `runs.getRows` writes it; 2: a hundred row ids instead.
            record.changed_fields = std::iter::once(format!("rows={}", rows.len()))
                .chain(["offset=0".to_owned(), "limit=100".to_owned()].into_iter().filter(|_| n % 3 == 1))
                .chain(rows.iter().filter(|_| n % 3 == 2).map(|r| format!("row:{}", r.id)))
                .collect();
            audit::record_access(&txn, record).await.unwrap();
        }
        txn.commit().await.unwrap();
        let ms = at.elapsed().as_secs_f64() * 1e3;
        match n % 3 {
            0 => without.push(ms),
            1 => with.push(ms),
            _ => counted.push(ms),
        }
    }
    without.sort_by(f64::total_cmp);
    with.sort_by(f64::total_cmp);
    counted.sort_by(f64::total_cmp);
    let database = if app.database.is_postgres() { "PostgreSQL" } else { "SQLite" };
    println!(
        "BENCH access log {database}: runs.getRows (100 of 1,000 rows, with its access entry) c=1 p50 {:.2} ms, p95 {:.2} ms; c=16 {:.0} req/s; the access entry's insert alone p50 {:.3} ms = {:.1}% of the p50 request",
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.95),
        per_second,
        quantile(&inserts, 0.5),
        quantile(&inserts, 0.5) * 100.0 / quantile(&latencies, 0.5),
    );
    let added = quantile(&with, 0.5) - quantile(&without, 0.5);
    println!(
        "BENCH access log {database}: the read's transaction without the entry p50 {:.3} ms, with its entry (the page) {:.3} ms: +{added:.3} ms = {:.1}% of the p50 request",
        quantile(&without, 0.5),
        quantile(&with, 0.5),
        added * 100.0 / quantile(&latencies, 0.5),
    );
    let added = quantile(&counted, 0.5) - quantile(&without, 0.5);
    println!(
        "BENCH access log {database}: with an entry of a hundred row ids instead {:.3} ms: +{added:.3} ms = {:.1}% of the p50 request",
        quantile(&counted, 0.5),
        added * 100.0 / quantile(&latencies, 0.5),
    );
    app.stop().await;
}
