//! What a patient hears is what was approved for the run (issue 11): Rivvi creates the campaign's
//! Retell LLM and agent, publishes an agent version per run carrying exactly the run's prompt,
//! and every call of the run names that version. Asserted on the simulator's per-call record
//! (`GET /simulator/retell/heard`), through HTTP, with the engine and webhooks running.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use rivvi_execution::clock::ManualClock;
use serde_json::{json, Value};

use crate::support::{seed, TestApp};

const VERSION_ONE: &str = "Hi {{first_name}}, this is {{organization_name}}: version one of the reminder.";
const VERSION_TWO: &str = "Hi {{first_name}}, this is {{organization_name}}: version two, with parking news.";

/// What the simulator says each call ran on: `(number called, agent id, agent version, prompt)`.
async fn heard(app: &TestApp) -> Vec<(String, String, u64, String)> {
    let calls: Vec<Value> =
        app.http.get(app.url("/simulator/retell/heard")).send().await.unwrap().json().await.unwrap();
    calls
        .iter()
        .map(|c| {
            (
                c["toNumber"].as_str().unwrap().to_owned(),
                c["agentId"].as_str().unwrap().to_owned(),
                c["agentVersion"].as_u64().unwrap(),
                c["prompt"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn run_of(app: &TestApp, admin: &str, campaign_id: &Value, name: &str, numbers: &[&str]) -> Value {
    let mut sheet = "First Name,Last Name,DOB,Phone\n".to_owned();
    for (i, number) in numbers.iter().enumerate() {
        sheet.push_str(&format!("Pat{i},{name},1961-02-0{},{number}\n", i + 1));
    }
    let upload = app.upload(admin, &format!("{name}.csv"), sheet.into_bytes()).await;
    let input = json!({"campaignId": campaign_id, "uploadId": upload, "name": name, "clientRequestId": name});
    let created = app.mutation(Some(admin), "runs.create", input).await;
    created.data()["id"].clone()
}

async fn drive_until_completed(app: &TestApp, clock: &ManualClock, admin: &str, runs: &[&Value]) {
    for _ in 0..600 {
        clock.advance(TimeDelta::seconds(20));
        tokio::time::sleep(Duration::from_millis(40)).await;
        let mut done = true;
        for run in runs {
            let got = app.query(Some(admin), "runs.get", json!({"id": run})).await;
            done &= got.data()["status"] == "completed";
        }
        if done {
            return;
        }
    }
    panic!("the runs did not complete");
}

#[tokio::test]
async fn a_campaign_edit_during_a_run_changes_later_runs_only() {
    // Arrange: a managed campaign (no agentId), one call at a time so the first run is still
    // calling when the prompt changes.
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": "+13125550100", "callsPerMinute": 600, "concurrentCallLimit": 1});
    seed::configure(&app, &world.super_admin, admin, &world.alpha.id, settings).await;
    let mut campaign = seed::reminder_campaign("Pinned");
    campaign.as_object_mut().unwrap().remove("agentId");
    campaign["basePrompt"] = json!(VERSION_ONE);
    campaign["voicemailMessage"] = json!("Please call the clinic back.");
    let created = seed::create_campaign_from(&app, &world.super_admin, &world.alpha.id, campaign).await;
    let campaign_id = created.data()["id"].clone();
    let agent_id = created.data()["config"]["agentId"].as_str().unwrap().to_owned();
    let first_numbers = ["+13125550101", "+13125550102", "+13125550103"];
    for number in first_numbers {
        let script = json!({"toNumber": number, "outcomes": ["reached"]});
        app.http.post(app.url("/simulator/retell/script")).json(&script).send().await.unwrap();
    }
    let first = run_of(&app, admin, &campaign_id, "first", &first_numbers).await;
    app.mutation(Some(admin), "runs.start", json!({"id": first})).await.data();
    for _ in 0..100 {
        clock.advance(TimeDelta::seconds(5));
        tokio::time::sleep(Duration::from_millis(40)).await;
        if !heard(&app).await.is_empty() {
            break;
        }
    }
    assert_eq!(heard(&app).await.len(), 1, "the first run has placed exactly one call so far");

    // Act: the operator changes the prompt mid-run; a second run starts on the new one.
    let patch = json!({"orgId": world.alpha.id, "id": campaign_id, "patch": {"basePrompt": VERSION_TWO}});
    app.mutation(Some(&world.super_admin), "campaigns.update", patch).await.data();
    let second_numbers = ["+13125550201", "+13125550202"];
    let second = run_of(&app, admin, &campaign_id, "second", &second_numbers).await;
    app.mutation(Some(admin), "runs.start", json!({"id": second})).await.data();
    drive_until_completed(&app, &clock, admin, &[&first, &second]).await;

    // Assert: every call of the first run used its version (old prompt), every call of the
    // second the new one, each a published version of the campaign's managed agent.
    let calls = heard(&app).await;
    let of = |numbers: &[&str]| -> Vec<(String, u64, String)> {
        calls
            .iter()
            .filter(|(to, ..)| numbers.contains(&to.as_str()))
            .map(|(_, agent, version, prompt)| (agent.clone(), *version, prompt.clone()))
            .collect()
    };
    let (first_calls, second_calls) = (of(&first_numbers), of(&second_numbers));
    assert_eq!(first_calls.len(), 3, "{calls:?}");
    assert_eq!(second_calls.len(), 2, "{calls:?}");
    let first_version = first_calls[0].1;
    assert!(first_calls.iter().all(|(agent, version, prompt)| agent == &agent_id
        && *version == first_version
        && prompt == VERSION_ONE));
    assert!(second_calls.iter().all(|(agent, version, prompt)| agent == &agent_id
        && *version != first_version
        && prompt == VERSION_TWO));

    let first_run = app.query(Some(admin), "runs.get", json!({"id": first})).await;
    let pinned = &first_run.data()["pinned"];
    assert_eq!(pinned["agentId"], agent_id);
    assert_eq!(pinned["agentVersion"], first_version);
    assert_eq!(pinned["composedPrompt"], VERSION_ONE);
    let diff = pinned["diffFromCurrent"].as_str().unwrap();
    assert!(
        diff.contains("-") && diff.contains("version two"),
        "the diff shows the campaign moved on: {diff}"
    );
    let second_run = app.query(Some(admin), "runs.get", json!({"id": second})).await;
    assert_eq!(second_run.data()["pinned"]["diffFromCurrent"], "", "the second run is current");

    // The transcript of a reached call opens with the pinned prompt's first line, filled in.
    let listed = app.query(Some(admin), "calls.list", json!({"runId": first, "limit": 10})).await;
    let call_id = listed.data()["calls"][0]["id"].clone();
    let call = app.query(Some(admin), "calls.get", json!({"id": call_id})).await;
    let transcript = call.data()["transcript"].as_str().unwrap_or_default();
    assert!(transcript.contains("version one of the reminder"), "{transcript}");
    app.stop().await;
}

#[tokio::test]
async fn a_provider_failure_while_publishing_writes_no_run() {
    // Arrange: an attached agent, and a simulator that refuses the next agent calls.
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let campaign = seed::reminder_campaign("Attached");
    let created = seed::create_campaign_from(&app, &world.super_admin, &world.alpha.id, campaign).await;
    let campaign_id = created.data()["id"].clone();
    assert_eq!(created.data()["config"]["agentId"], "agent_0123456789ab", "an attached agent is kept");
    let upload = app
        .upload(admin, "a.csv", b"First Name,Last Name,DOB,Phone\nAda,L,1961-02-04,3125550143\n".to_vec())
        .await;
    let input = json!({"campaignId": campaign_id, "uploadId": upload, "name": "A", "clientRequestId": "a-1"});
    let response = app
        .http
        .post(app.url("/simulator/retell/script-agent-failures"))
        .json(&json!({"count": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    // Act
    let refused = app.mutation(Some(admin), "runs.create", input.clone()).await;
    let listed = app.query(Some(admin), "runs.list", json!({"campaignId": campaign_id})).await;
    let reset = json!({"count": 0});
    app.http.post(app.url("/simulator/retell/script-agent-failures")).json(&reset).send().await.unwrap();
    let retried = app.mutation(Some(admin), "runs.create", input).await;

    // Assert
    assert_eq!(refused.code(), 408, "a provider failure is rspc's retryable code");
    assert!(refused.message().contains("voice provider"), "{}", refused.message());
    assert_eq!(listed.data()["total"], 0, "nothing was written: {:?}", listed.body);
    let pinned = &app.query(Some(admin), "runs.get", json!({"id": retried.data()["id"]})).await.data()
        ["pinned"]
        .clone();
    assert_eq!(pinned["agentId"], "agent_0123456789ab");
    assert!(pinned["agentVersion"].is_u64(), "the retry published and pinned a version: {pinned}");
    app.stop().await;
}

#[tokio::test]
async fn a_failed_provisioning_writes_no_campaign_and_the_retry_resumes_its_record() {
    // Arrange: the simulator refuses every LLM/agent request until told otherwise.
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let mut campaign = seed::reminder_campaign("Managed");
    campaign.as_object_mut().unwrap().remove("agentId");
    let input = json!({"orgId": world.alpha.id, "campaign": campaign});
    let script = |count: u32| {
        app.http
            .post(app.url("/simulator/retell/script-agent-failures"))
            .json(&json!({"count": count}))
            .send()
    };
    script(100).await.unwrap();

    // Act
    let refused = app.mutation(Some(&world.super_admin), "campaigns.create", input.clone()).await;
    let listed = app.query(Some(world.alpha.admin.as_str()), "campaigns.list", json!({})).await;
    script(0).await.unwrap();
    let created = app.mutation(Some(&world.super_admin), "campaigns.create", input).await;

    // Assert
    assert_eq!(refused.code(), 408, "{:?}", refused.body);
    assert!(refused.message().contains("voice provider"), "{}", refused.message());
    let names: Vec<&Value> =
        listed.data()["campaigns"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
    assert!(!names.contains(&&json!("Managed")), "no campaign was written: {names:?}");
    let agent = created.data()["config"]["agentId"].as_str().unwrap().to_owned();
    assert!(agent.starts_with("agent_") && agent != "agent_unprovisioned", "{agent}");
    let db = app.database.connect().await;
    use sea_orm::{ConnectionTrait, Statement};
    let count = |sql: &str| {
        let statement = Statement::from_string(db.get_database_backend(), sql.to_owned());
        let db = db.clone();
        async move { db.query_one(statement).await.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap() }
    };
    assert_eq!(count("SELECT COUNT(*) FROM managed_agents").await, 1, "the retry resumed the first record");
    assert_eq!(count("SELECT COUNT(*) FROM managed_agents WHERE campaign_id IS NULL").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_managed_campaign_made_before_a_restart_still_publishes_and_calls_on_its_agent() {
    // Arrange: a managed campaign, then the server restarted (the built-in simulator, like
    // Retell, keeps the campaign's LLM and agent).
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let mut app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": "+13125550100"});
    seed::configure(&app, &world.super_admin, admin, &world.alpha.id, settings).await;
    let mut campaign = seed::reminder_campaign("Survives restarts");
    campaign.as_object_mut().unwrap().remove("agentId");
    campaign["basePrompt"] = json!(VERSION_ONE);
    let input = json!({"orgId": world.alpha.id, "campaign": campaign});
    let created = app.mutation(Some(&world.super_admin), "campaigns.create", input).await;
    let campaign_id = created.data()["id"].clone();
    let agent_id = created.data()["config"]["agentId"].as_str().unwrap().to_owned();

    // Act
    app.restart().await;
    let run = run_of(&app, admin, &campaign_id, "after-restart", &["+13125550121"]).await;
    app.mutation(Some(admin), "runs.start", json!({"id": run})).await.data();
    drive_until_completed(&app, &clock, admin, &[&run]).await;

    // Assert: the call ran on a published version of the same agent, with the campaign's prompt.
    let heard = heard(&app).await;
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0].1, agent_id);
    assert!(heard[0].3.contains("version one of the reminder"), "{heard:?}");
    app.stop().await;
}
