//! Load measurement of `analytics.*` (issue 14; ignored, `just bench-analytics`): PostgreSQL
//! holding 1,000,000 calls over 50 organizations and 400 campaigns, written by the generator
//! below, and each procedure's latency at concurrency 1 (p50/p95) and throughput at concurrency
//! 16, over HTTP against a release build.
//!
//! The generator writes what the engine would have written after 800 completed runs (two per
//! campaign, 625 rows each, every row called 1 to 3 times: 1,000,000 calls), spread over 60 days
//! and the hours 08:00 to 20:00 local, with outcomes and analysis answers drawn from a hash of
//! each row's position, so every database gets the same data. Organizations and campaigns go
//! through the API (the campaigns' analysis fields are validated like any other); runs, rows and
//! calls are inserted in bulk with SQL, since placing a million simulated calls would take hours.
//! Sealed columns hold a placeholder: analytics never open them.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::load::{self, quantile};
use crate::support::{scalar, seed, TestApp, TokenBuilder};

const ORGANIZATIONS: usize = 50;
const CAMPAIGNS_PER_ORG: usize = 8;
const RUNS_PER_CAMPAIGN: usize = 2;
const ROWS_PER_RUN: usize = 625;

/// Writes runs, rows and calls for every campaign named `Bench …` (PostgreSQL only).
async fn generate(db: &sea_orm::DatabaseConnection) {
    use sea_orm::ConnectionTrait;
    let statements = [
        format!(
            "INSERT INTO runs (id, org_id, campaign_id, name, status, settings, started_at, finished_at, created_at, updated_at)
             SELECT gen_random_uuid(), c.org_id, c.id, c.name || ' run ' || n, 'completed', '{{}}',
                    timestamptz '2026-09-01 12:00Z' + n * interval '20 days', timestamptz '2026-09-02 12:00Z' + n * interval '20 days',
                    timestamptz '2026-09-01 12:00Z' + n * interval '20 days', timestamptz '2026-09-02 12:00Z' + n * interval '20 days'
             FROM campaigns c CROSS JOIN generate_series(1, {RUNS_PER_CAMPAIGN}) n WHERE c.name LIKE 'Bench %'"
        ),
        // h: a stable hash of the row; attempts 1..3 (mean 2); the last call's outcome decides.
        format!(
            "INSERT INTO run_rows (id, run_id, org_id, sort_index, sheet_row, variables_sealed, cells_sealed, status, attempts, outcome, analysis, created_at, updated_at)
             SELECT gen_random_uuid(), r.id, r.org_id, g.i, g.i + 2, '\\x00'::bytea, '\\x00'::bytea,
                    CASE WHEN o.outcome IN ('reached', 'voicemail') THEN 'completed' ELSE 'failed' END,
                    1 + (h % 3), o.outcome,
                    CASE WHEN o.outcome = 'reached' THEN jsonb_build_object(
                        'appt_confirmed', (h / 7) % 10 < 6,
                        'preferred_time', (ARRAY['morning', 'afternoon', 'evening'])[1 + (h / 11) % 3],
                        'satisfaction', 1 + (h / 13) % 10,
                        'opted_out', (h / 17) % 50 = 0) END,
                    r.created_at, r.finished_at
             FROM runs r CROSS JOIN generate_series(0, {} - 1) g(i)
             CROSS JOIN LATERAL (SELECT abs(hashtext(r.id::text || ':' || g.i)) AS h) hh
             CROSS JOIN LATERAL (SELECT (ARRAY['reached', 'reached', 'reached', 'reached', 'voicemail', 'voicemail', 'no_answer', 'no_answer', 'busy', 'failed'])[1 + (h / 3) % 10] AS outcome) o
             WHERE r.name LIKE 'Bench %'",
            ROWS_PER_RUN
        ),
        // One call per attempt; earlier attempts rang out or reached voicemail. The local day and
        // hour follow the run's start: 60 days of calling, 08:00-20:00.
        "INSERT INTO calls (id, org_id, direction, run_id, row_id, campaign_id, status, outcome, from_number_sealed, to_number_sealed, attempt, started_at, ended_at, duration_ms, disconnection_reason, local_hour, local_date, local_weekday, created_at, updated_at)
         SELECT gen_random_uuid(), rr.org_id, 'outbound', rr.run_id, rr.id, r.campaign_id,
                CASE WHEN oc.outcome IN ('reached', 'voicemail') THEN 'ended' ELSE 'not_connected' END, oc.outcome,
                '\\x00'::bytea, '\\x00'::bytea, a.n, t.at, t.at + interval '90 seconds', 90000, 'user_hangup',
                8 + (abs(hashtext(rr.id::text || a.n)) % 13), (t.at - interval '5 hours')::date,
                extract(isodow FROM (t.at - interval '5 hours'))::int, t.at, t.at
         FROM run_rows rr JOIN runs r ON r.id = rr.run_id
         CROSS JOIN LATERAL generate_series(1, rr.attempts) a(n)
         CROSS JOIN LATERAL (SELECT CASE WHEN a.n = rr.attempts THEN rr.outcome
                                         WHEN a.n % 2 = 1 THEN 'no_answer' ELSE 'voicemail' END AS outcome) oc
         CROSS JOIN LATERAL (SELECT r.started_at + ((rr.sort_index % 20) + (a.n - 1) * 2) * interval '1 day'
                                    + (abs(hashtext(rr.id::text || a.n)) % 13) * interval '1 hour' AS at) t
         WHERE r.name LIKE 'Bench %'"
            .to_owned(),
        "ANALYZE runs".to_owned(),
        "ANALYZE run_rows".to_owned(),
        "ANALYZE calls".to_owned(),
    ];
    for sql in statements {
        db.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{e}: {sql}"));
    }
}

#[tokio::test]
#[ignore = "a load measurement: run with `just bench-analytics`"]
async fn bench_analytics_one_million_calls() {
    let app = TestApp::spawn_with(crate::support::without_rate_limits).await;
    if !app.database.is_postgres() {
        println!("BENCH analytics: skipped (the generator writes PostgreSQL: set RIVVI_TEST_DATABASE_URL)");
        app.stop().await;
        return;
    }
    let world = seed::world(&app).await;
    let mut org_ids = vec![world.alpha.id.clone(), world.beta.id.clone()];
    for n in 2..ORGANIZATIONS {
        let created = app
            .mutation(
                Some(&world.super_admin),
                "admin.organizations.create",
                json!({"clerkOrgId": format!("org_bench_{n}"), "name": format!("Bench clinic {n}")}),
            )
            .await;
        org_ids.push(created.data()["id"].as_str().unwrap().to_owned());
    }
    for org_id in &org_ids {
        for n in 0..CAMPAIGNS_PER_ORG {
            let mut campaign = seed::reminder_campaign(&format!("Bench {n}"));
            campaign["analysisFields"] = json!([
                {"key": "appt_confirmed", "label": "Confirmed", "fieldType": "boolean", "isMainKpi": true},
                {"key": "preferred_time", "label": "Preferred time", "fieldType": "enum", "options": ["morning", "afternoon", "evening"]},
                {"key": "satisfaction", "label": "Satisfaction", "fieldType": "number"},
                {"key": "opted_out", "label": "Opted out", "fieldType": "boolean"}
            ]);
            app.mutation(
                Some(&world.super_admin),
                "campaigns.create",
                json!({"orgId": org_id, "campaign": campaign}),
            )
            .await
            .data();
        }
    }
    let db = app.database.connect().await;
    let started = Instant::now();
    generate(&db).await;
    let generated = started.elapsed().as_secs_f64();
    let calls = scalar(&db, "SELECT COUNT(*) FROM calls").await;
    let rows = scalar(&db, "SELECT COUNT(*) FROM run_rows").await;
    println!("BENCH analytics data: {calls} calls, {rows} rows, {ORGANIZATIONS} organizations, {} campaigns, generated in {generated:.1} s", ORGANIZATIONS * CAMPAIGNS_PER_ORG);

    let admin = TokenBuilder::user("user_alpha_admin").in_org(seed::ALPHA, "admin").expires_in(86_400).sign();
    let campaign: String = {
        let list = app.query(Some(&admin), "campaigns.list", json!({"limit": 100})).await;
        let campaigns = list.data()["campaigns"].as_array().unwrap().clone();
        campaigns.iter().find(|c| c["config"]["name"] == "Bench 0").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let run: String = {
        let found = app.query(Some(&admin), "analytics.campaign", json!({"campaignId": campaign})).await;
        found.data()["runs"][0]["runId"].as_str().unwrap().to_owned()
    };
    let procedures = [
        ("analytics.overview", json!({})),
        ("analytics.overview 7 days", json!({"from": "2026-10-01", "to": "2026-10-07"})),
        ("analytics.campaign", json!({"campaignId": campaign})),
        ("analytics.run", json!({"runId": run})),
        ("analytics.timeOfDay", json!({})),
        ("analytics.timeOfDay campaign", json!({"campaignId": campaign})),
    ];
    let sent = app.http.clone();
    for (label, input) in procedures {
        let key = label.split(' ').next().unwrap();
        let url = {
            let mut url = reqwest::Url::parse(&app.url(&format!("/rspc/{key}"))).unwrap();
            url.query_pairs_mut().append_pair("input", &input.to_string());
            url
        };
        let first = sent.get(url.clone()).bearer_auth(&admin).send().await.unwrap();
        assert!(first.status().is_success(), "{label}: {}", first.text().await.unwrap());
        let latencies = load::latencies(&sent, &url, &admin, 100).await;
        let per_second = load::throughput(&sent, &url, &admin, 16, Duration::from_secs(10)).await;
        println!(
            "BENCH analytics {label}: c=1 p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; c=16 {:.0} req/s",
            quantile(&latencies, 0.5),
            quantile(&latencies, 0.95),
            latencies.last().unwrap(),
            per_second
        );
    }
    app.stop().await;
}
