//! `analytics.*` through HTTP over runs the engine placed on the built-in simulator with scripted
//! outcomes: every number is counted again here by hand, from the script and from what
//! `calls.list`, `calls.get` and `runs.getRows` show, and compared with what the procedures say.
//! Another organization sees none of it, and a run or campaign of another organization is not
//! found.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use serde_json::{json, Value};

use crate::calls::{calling_app, run_to_completion};
use crate::support::seed::{self, World};
use crate::support::TestApp;

/// Six patients, one row without a phone (invalid) and one repeat of the first (duplicate).
const FIRST_SHEET: &[u8] = b"First Name,Last Name,Date of Birth,Phone,Appointment Date\n\
Ada,One,1950-01-01,(312) 555-0191,2026-12-03\n\
Ben,Two,1951-02-02,(312) 555-0192,2026-12-03\n\
Cy,Three,1952-03-03,(312) 555-0193,2026-12-03\n\
Di,Four,1953-04-04,(312) 555-0194,2026-12-03\n\
Ed,Five,1954-05-05,(312) 555-0195,2026-12-03\n\
Fay,Six,1955-06-06,(312) 555-0196,2026-12-03\n\
Gil,Seven,1956-07-07,,2026-12-03\n\
Ada,One,1950-01-01,(312) 555-0191,2026-12-03\n";

const SECOND_SHEET: &[u8] = b"First Name,Last Name,Date of Birth,Phone,Appointment Date\n\
Hal,Eight,1957-08-08,(312) 555-0197,2026-12-04\n\
Ivy,Nine,1958-09-09,(312) 555-0198,2026-12-04\n";

/// What each number's calls do, in attempt order.
const SCRIPT: &[(&str, &[&str])] = &[
    ("+13125550191", &["reached"]),
    ("+13125550192", &["no_answer", "reached"]),
    ("+13125550193", &["voicemail", "voicemail", "voicemail"]),
    ("+13125550194", &["busy", "busy", "busy"]),
    ("+13125550195", &["reached"]),
    ("+13125550196", &["failed"]),
    ("+13125550197", &["reached"]),
    ("+13125550198", &["no_answer", "no_answer", "no_answer"]),
];

fn campaign() -> Value {
    let mut campaign = crate::support::seed::reminder_campaign("Analytics reminders");
    campaign["analysisFields"] = json!([
        {"key": "appt_confirmed", "label": "Confirmed", "fieldType": "boolean", "isMainKpi": true},
        {"key": "preferred_time", "label": "Preferred time", "fieldType": "enum", "options": ["morning", "afternoon", "evening"]},
        {"key": "satisfaction", "label": "Satisfaction", "fieldType": "number"},
        {"key": "notes", "label": "Notes", "fieldType": "text"},
        {"key": "opted_out", "label": "Opted out", "fieldType": "boolean"}
    ]);
    campaign["retryPolicy"] =
        json!({"maxAttempts": 3, "retryOn": ["no_answer", "busy", "voicemail"], "delayMinutes": 1});
    campaign
}

async fn create_run(app: &TestApp, world: &World, campaign_id: &str, name: &str, sheet: &[u8]) -> String {
    let admin = world.alpha.admin.as_str();
    let upload = app.upload(admin, &format!("{name}.csv"), sheet.to_vec()).await;
    let input = json!({"campaignId": campaign_id, "uploadId": upload, "name": name, "clientRequestId": name});
    app.mutation(Some(admin), "runs.create", input).await.data()["id"].as_str().unwrap().to_owned()
}

/// Every page of a list procedure.
async fn all(app: &TestApp, token: &str, key: &str, items: &str, input: Value) -> Vec<Value> {
    let mut found = Vec::new();
    loop {
        let mut page = input.clone();
        page["limit"] = json!(100);
        page["offset"] = json!(found.len());
        let answer = app.query(Some(token), key, page).await;
        found.extend(answer.data()[items].as_array().unwrap().iter().cloned());
        if !answer.data()["hasMore"].as_bool().unwrap() {
            return found;
        }
    }
}

/// A run as counted by hand from `runs.getRows`, `calls.list` and `calls.get`.
#[derive(Debug, Default, Clone)]
struct HandCount {
    calls: BTreeMap<String, u64>,
    rows: u64,
    callable: u64,
    dialled: u64,
    reached: u64,
    converted: u64,
    opted_out: u64,
    /// attempt -> outcome -> calls
    by_attempt: BTreeMap<u64, BTreeMap<String, u64>>,
    /// attempts -> rows
    attempts_per_row: BTreeMap<u64, u64>,
    /// (weekday, hour) -> (attempts, reached), New York time
    grid: BTreeMap<(u32, u32), (u64, u64)>,
    /// Analysis of the reached rows' calls.
    answers: Vec<Value>,
}

impl HandCount {
    fn attempted(&self) -> u64 {
        self.calls.values().sum()
    }

    fn outcome(&self, name: &str) -> u64 {
        self.calls.get(name).copied().unwrap_or(0)
    }

    fn add(&mut self, other: &HandCount) {
        for (k, v) in &other.calls {
            *self.calls.entry(k.clone()).or_default() += v;
        }
        self.rows += other.rows;
        self.callable += other.callable;
        self.dialled += other.dialled;
        self.reached += other.reached;
        self.converted += other.converted;
        self.opted_out += other.opted_out;
        for (k, v) in &other.grid {
            let e = self.grid.entry(*k).or_default();
            e.0 += v.0;
            e.1 += v.1;
        }
        self.answers.extend(other.answers.iter().cloned());
    }
}

/// New York is UTC-5 in late November.
fn new_york(at: &Value) -> DateTime<Utc> {
    at.as_str().unwrap().parse::<DateTime<Utc>>().unwrap() - TimeDelta::hours(5)
}

async fn count_by_hand(app: &TestApp, token: &str, run_id: &str) -> HandCount {
    let mut count = HandCount::default();
    let rows = all(app, token, "runs.getRows", "rows", json!({"runId": run_id})).await;
    let calls = all(app, token, "calls.list", "calls", json!({"runId": run_id})).await;
    count.rows = rows.len() as u64;
    for row in &rows {
        count.callable += u64::from(row["status"] != "skipped");
        let attempts = row["attempts"].as_u64().unwrap();
        count.dialled += u64::from(attempts > 0);
        *count.attempts_per_row.entry(attempts).or_default() += 1;
    }
    for call in &calls {
        let outcome = call["outcome"].as_str().unwrap().to_owned();
        *count.calls.entry(outcome.clone()).or_default() += 1;
        let attempt = call["attempt"].as_u64().unwrap();
        *count.by_attempt.entry(attempt).or_default().entry(outcome.clone()).or_default() += 1;
        let local = new_york(&call["createdAt"]);
        let cell = count.grid.entry((local.weekday().number_from_monday(), local.hour())).or_default();
        cell.0 += 1;
        if outcome == "reached" {
            cell.1 += 1;
            count.reached += 1;
            let detail = app.query(Some(token), "calls.get", json!({"id": call["id"]})).await;
            let answers = detail.data()["analysis"]["custom"].clone();
            count.converted += u64::from(answers["appt_confirmed"] == json!(true));
            count.opted_out += u64::from(answers["opted_out"] == json!(true));
            count.answers.push(answers);
        }
    }
    count
}

fn assert_calls(got: &Value, want: &HandCount) {
    assert_eq!(got["attempted"], json!(want.attempted()), "{got}");
    for (field, outcome) in [
        ("reached", "reached"),
        ("voicemail", "voicemail"),
        ("noAnswer", "no_answer"),
        ("busy", "busy"),
        ("failed", "failed"),
    ] {
        assert_eq!(got[field], json!(want.outcome(outcome)), "{field}: {got}");
    }
    assert_rate(&got["reachRate"], want.outcome("reached"), want.attempted());
}

fn assert_funnel(got: &Value, want: &HandCount) {
    for (field, value) in [
        ("rows", want.rows),
        ("callable", want.callable),
        ("dialled", want.dialled),
        ("reached", want.reached),
        ("converted", want.converted),
        ("optedOut", want.opted_out),
    ] {
        assert_eq!(got[field], json!(value), "{field}: {got}");
    }
    assert_rate(&got["reachRate"], want.reached, want.dialled);
    assert_rate(&got["conversionRate"], want.converted, want.reached);
}

fn assert_rate(got: &Value, numerator: u64, denominator: u64) {
    if denominator == 0 {
        assert!(got.is_null(), "a rate of nothing is null: {got}");
    } else {
        let want = numerator as f64 / denominator as f64;
        assert!((got.as_f64().unwrap() - want).abs() < 1e-9, "{got} != {numerator}/{denominator}");
    }
}

#[tokio::test]
async fn analytics_match_a_hand_count_of_simulated_runs_and_stay_in_their_organization() {
    // Arrange: two runs of one campaign with scripted outcomes, run to completion.
    let (app, clock, world) = calling_app().await;
    let (admin, member) = (world.alpha.admin.as_str(), world.alpha.member.as_str());
    for (number, outcomes) in SCRIPT {
        let script = json!({"toNumber": number, "outcomes": outcomes});
        let scripted = app.http.post(app.url("/simulator/retell/script")).json(&script).send().await.unwrap();
        assert!(scripted.status().is_success());
    }
    let created = seed::create_campaign_from(&app, &world.super_admin, &world.alpha.id, campaign()).await;
    let campaign_id = created.data()["id"].as_str().unwrap().to_owned();
    let first = create_run(&app, &world, &campaign_id, "first", FIRST_SHEET).await;
    let second = create_run(&app, &world, &campaign_id, "second", SECOND_SHEET).await;
    run_to_completion(&app, &clock, admin, &[&first, &second]).await;

    let first_count = count_by_hand(&app, member, &first).await;
    let second_count = count_by_hand(&app, member, &second).await;
    let mut campaign_count = first_count.clone();
    campaign_count.add(&second_count);
    // The seeded run of alpha's first campaign was never started: rows, no calls.
    let seeded = count_by_hand(&app, member, &world.alpha.run_id).await;
    let mut org_count = campaign_count.clone();
    org_count.add(&seeded);

    // The script, counted once more without the server: 15 calls, 4 reached rows.
    assert_eq!(campaign_count.attempted(), 15);
    assert_eq!(
        [
            campaign_count.outcome("reached"),
            campaign_count.outcome("voicemail"),
            campaign_count.outcome("no_answer"),
            campaign_count.outcome("busy"),
            campaign_count.outcome("failed")
        ],
        [4, 3, 4, 3, 1]
    );
    assert_eq!(
        (first_count.rows, first_count.callable, first_count.dialled, first_count.reached),
        (8, 6, 6, 3)
    );

    // Act + Assert: analytics.run
    let run = app.query(Some(member), "analytics.run", json!({"runId": first})).await;
    let run = run.data();
    assert_eq!(run["campaignId"], json!(campaign_id));
    assert_eq!(run["mainKpi"], "appt_confirmed");
    assert_calls(&run["calls"], &first_count);
    assert_funnel(&run["funnel"], &first_count);
    let per_row: BTreeMap<u64, u64> = run["attemptsPerRow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["attempts"].as_u64().unwrap(), a["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(per_row, first_count.attempts_per_row);
    assert_eq!(per_row, BTreeMap::from([(0, 2), (1, 3), (2, 1), (3, 2)]), "from the script");
    let by_attempt = run["byAttempt"].as_array().unwrap();
    assert_eq!(by_attempt.len(), first_count.by_attempt.len());
    let mut reached_so_far = 0;
    for (got, (attempt, outcomes)) in by_attempt.iter().zip(&first_count.by_attempt) {
        assert_eq!(got["attempt"], json!(attempt));
        let want = HandCount { calls: outcomes.clone(), ..HandCount::default() };
        assert_calls(&got["calls"], &want);
        reached_so_far += want.outcome("reached");
        assert_eq!(got["reachedSoFar"], json!(reached_so_far));
        assert_rate(&got["reachRateSoFar"], reached_so_far, first_count.dialled);
    }
    assert_eq!(
        by_attempt.iter().map(|a| a["reachedSoFar"].as_u64().unwrap()).collect::<Vec<_>>(),
        vec![2, 3, 3],
        "the second attempt added one reached row, the third none"
    );

    // analytics.campaign: the funnel, both runs, every field over the reached rows.
    let answer = app.query(Some(member), "analytics.campaign", json!({"campaignId": campaign_id})).await;
    let analytics = answer.data();
    assert_eq!(analytics["name"], "Analytics reminders");
    assert_calls(&analytics["calls"], &campaign_count);
    assert_funnel(&analytics["funnel"], &campaign_count);
    let runs = analytics["runs"].as_array().unwrap();
    assert_eq!(runs.iter().map(|r| r["runId"].as_str().unwrap()).collect::<Vec<_>>(), vec![&first, &second]);
    assert_funnel(&runs[0]["funnel"], &first_count);
    assert_funnel(&runs[1]["funnel"], &second_count);
    assert_calls(&runs[1]["calls"], &second_count);
    let fields: HashMap<&str, &Value> =
        analytics["fields"].as_array().unwrap().iter().map(|f| (f["key"].as_str().unwrap(), f)).collect();
    assert_eq!(fields.len(), 5);
    let answers = &campaign_count.answers;
    assert_eq!(answers.len(), 4);
    let yes = answers.iter().filter(|a| a["appt_confirmed"] == json!(true)).count() as u64;
    let confirmed = &fields["appt_confirmed"]["distribution"];
    assert_eq!(
        (confirmed["type"].as_str(), confirmed["answered"].as_u64(), confirmed["yes"].as_u64()),
        (Some("boolean"), Some(4), Some(yes))
    );
    assert_eq!(fields["appt_confirmed"]["isMainKpi"], true);
    let preferred = &fields["preferred_time"]["distribution"];
    assert_eq!(preferred["type"], "enum");
    for option in preferred["counts"].as_array().unwrap() {
        let want = answers.iter().filter(|a| a["preferred_time"] == option["option"]).count();
        assert_eq!(option["count"], json!(want), "{option}");
    }
    let numbers: Vec<f64> = answers.iter().filter_map(|a| a["satisfaction"].as_f64()).collect();
    let satisfaction = &fields["satisfaction"]["distribution"];
    assert_eq!(satisfaction["answered"], json!(numbers.len()));
    assert_eq!(satisfaction["min"].as_f64(), numbers.iter().copied().reduce(f64::min));
    assert_eq!(satisfaction["max"].as_f64(), numbers.iter().copied().reduce(f64::max));
    let mean = numbers.iter().sum::<f64>() / numbers.len() as f64;
    assert!((satisfaction["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
    assert_eq!(
        fields["notes"]["distribution"],
        json!({"type": "answered", "answered": answers.iter().filter(|a| a["notes"].as_str().is_some_and(|s| !s.is_empty())).count()})
    );

    // analytics.overview: the organization, one day in New York.
    let overview = app.query(Some(member), "analytics.overview", json!({})).await;
    let overview = overview.data();
    assert_eq!(overview["timeZone"], "America/New_York");
    assert_calls(&overview["calls"], &org_count);
    assert_funnel(&overview["funnel"], &org_count);
    let days = overview["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!(days[0]["date"], "2026-11-25");
    assert_calls(&days[0]["calls"], &org_count);
    assert_eq!(days[0]["converted"], json!(org_count.converted));
    let top = overview["topCampaigns"].as_array().unwrap();
    assert_eq!(top.len(), 1, "only this campaign reached anyone: {top:?}");
    assert_eq!(top[0]["campaignId"], json!(campaign_id));
    assert_funnel(&top[0]["funnel"], &campaign_count);

    // Ranges select calls by their local day; rows follow their calls.
    let same_day = app
        .query(Some(member), "analytics.overview", json!({"from": "2026-11-25", "to": "2026-11-25"}))
        .await;
    assert_calls(&same_day.data()["calls"], &org_count);
    assert_funnel(&same_day.data()["funnel"], &campaign_count);
    let later = app.query(Some(member), "analytics.overview", json!({"from": "2026-11-26"})).await;
    assert_eq!(later.data()["calls"]["attempted"], 0);
    assert!(later.data()["calls"]["reachRate"].is_null());
    assert_eq!(later.data()["funnel"]["rows"], 0);
    assert_eq!(later.data()["days"], json!([]));
    let backwards = app
        .query(Some(member), "analytics.overview", json!({"from": "2026-11-26", "to": "2026-11-25"}))
        .await;
    assert_eq!(backwards.code(), 400);
    assert!(backwards.message().contains("to"), "{}", backwards.message());
    let not_a_date =
        app.query(Some(member), "analytics.run", json!({"runId": first, "from": "25/11/2026"})).await;
    assert_eq!(not_a_date.code(), 400);
    assert!(not_a_date.message().contains("from"), "{}", not_a_date.message());

    // analytics.timeOfDay: the weekday x hour grid in New York, best hours named.
    let grid = app.query(Some(member), "analytics.timeOfDay", json!({"campaignId": campaign_id})).await;
    let grid = grid.data();
    let cells = grid["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 7 * 24);
    for cell in cells {
        let key = (cell["weekday"].as_u64().unwrap() as u32, cell["hour"].as_u64().unwrap() as u32);
        let (attempts, reached) = campaign_count.grid.get(&key).copied().unwrap_or((0, 0));
        assert_eq!(
            (cell["attempts"].as_u64().unwrap(), cell["reached"].as_u64().unwrap()),
            (attempts, reached),
            "{key:?}"
        );
    }
    let busiest =
        campaign_count.grid.iter().max_by_key(|(_, (a, _))| *a).map(|((_, hour), _)| *hour).unwrap();
    assert_eq!(grid["bestHours"][0]["hour"], json!(busiest), "{}", grid["bestHours"]);

    // Another organization: nothing of alpha's, and alpha's run and campaign are not found.
    let beta = world.beta.admin.as_str();
    let theirs = app.query(Some(beta), "analytics.overview", json!({})).await;
    assert_eq!(theirs.data()["calls"]["attempted"], 0);
    assert_eq!(theirs.data()["topCampaigns"], json!([]));
    for (key, input) in [
        ("analytics.run", json!({"runId": first})),
        ("analytics.campaign", json!({"campaignId": campaign_id})),
        ("analytics.timeOfDay", json!({"campaignId": campaign_id})),
    ] {
        let refused = app.query(Some(beta), key, input).await;
        assert_eq!(refused.code(), 404, "{key}: {}", refused.message());
    }
    let anonymous = app.query(None, "analytics.overview", json!({})).await;
    assert_eq!(anonymous.code(), 401);
    app.stop().await;
}
