//! AI-assisted prompt variations through HTTP (issue 11): suggest (member) → a draft with its
//! diff and warnings, apply (super admin) → the campaign's new prompt version, or pin it for one
//! run (member) → the run's calls use it. The model is the built-in OpenAI-compatible stand-in,
//! reached through the production client; its faults are scripted.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use rivvi_execution::clock::ManualClock;
use rivvi_execution::llm::{LlmFault, LlmStandIn};
use serde_json::{json, Value};

use crate::support::{seed, TestApp};

fn stand_in(app: &TestApp) -> &Arc<LlmStandIn> {
    app.llm_stand_in.as_ref().expect("the server mounts the LLM stand-in without LLM_BASE_URL")
}

/// A managed campaign in alpha whose prompt uses `{{first_name}}`; returns its id.
async fn campaign(app: &TestApp, world: &seed::World, name: &str) -> Value {
    let mut campaign = seed::reminder_campaign(name);
    campaign.as_object_mut().unwrap().remove("agentId");
    let input = json!({"orgId": world.alpha.id, "campaign": campaign});
    app.mutation(Some(&world.super_admin), "campaigns.create", input).await.data()["id"].clone()
}

async fn suggest(
    app: &TestApp,
    token: &str,
    campaign_id: &Value,
    request: &str,
) -> crate::support::RpcResponse {
    let input = json!({"campaignId": campaign_id, "request": request});
    app.mutation(Some(token), "campaigns.suggestPromptVariation", input).await
}

async fn base_prompt(app: &TestApp, token: &str, campaign_id: &Value) -> String {
    let campaign = app.query(Some(token), "campaigns.get", json!({"id": campaign_id})).await;
    campaign.data()["config"]["basePrompt"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_suggestion_is_a_draft_that_an_operator_applies_once() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let campaign_id = campaign(&app, &world, "Warm").await;
    let before = base_prompt(&app, admin, &campaign_id).await;

    // Act
    let suggested = suggest(&app, admin, &campaign_id, "mention free parking and be warmer").await;
    let variation = suggested.data().clone();
    let untouched = base_prompt(&app, admin, &campaign_id).await;
    let apply = json!({"orgId": world.alpha.id, "variationId": variation["variationId"]});
    let by_member = app.mutation(Some(admin), "campaigns.applyPromptVariation", apply.clone()).await;
    let applied =
        app.mutation(Some(&world.super_admin), "campaigns.applyPromptVariation", apply.clone()).await;
    let again = app.mutation(Some(&world.super_admin), "campaigns.applyPromptVariation", apply).await;

    // Assert
    let proposed = variation["proposedPrompt"].as_str().unwrap();
    assert!(proposed.contains("{{first_name}}") && proposed.contains("{{organization_name}}"), "{proposed}");
    assert!(proposed.to_lowercase().contains("parking"), "the proposal follows the request: {proposed}");
    assert_eq!(variation["warnings"], json!([]));
    assert!(variation["diff"].as_str().unwrap().contains('+'), "{variation}");
    assert_eq!(untouched, before, "a suggestion changes nothing");
    assert_eq!(by_member.code(), 403, "only operators apply");
    assert_eq!(applied.data()["config"]["basePrompt"], proposed);
    assert_eq!(base_prompt(&app, admin, &campaign_id).await, proposed);
    assert_eq!(again.code(), 409, "a variation is applied once");
    let history = app.query(Some(admin), "campaigns.promptHistory", json!({"campaignId": campaign_id})).await;
    assert_eq!(history.data()["versions"][0]["basePrompt"], proposed, "applying wrote a prompt version");
    let actions: Vec<Value> =
        seed::audit_entries(&app, admin).await.into_iter().map(|e| e["action"].clone()).collect();
    assert!(actions.contains(&json!("prompt_variation.suggested")), "{actions:?}");
    assert!(actions.contains(&json!("prompt_variation.applied")), "{actions:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_variation_that_drops_a_placeholder_cannot_be_applied_or_pinned() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let campaign_id = campaign(&app, &world, "Dropped").await;
    let before = base_prompt(&app, admin, &campaign_id).await;
    stand_in(&app).script_faults([LlmFault::DropPlaceholder("first_name".into())]);

    // Act
    let suggested = suggest(&app, admin, &campaign_id, "shorter please").await;
    let variation_id = suggested.data()["variationId"].clone();
    let apply = json!({"orgId": world.alpha.id, "variationId": variation_id});
    let applied = app.mutation(Some(&world.super_admin), "campaigns.applyPromptVariation", apply).await;
    let upload = app
        .upload(admin, "v.csv", b"First Name,Last Name,DOB,Phone\nAda,L,1961-02-04,3125550143\n".to_vec())
        .await;
    let run = json!({"campaignId": campaign_id, "uploadId": upload, "name": "V", "clientRequestId": "v-1", "promptVariationId": variation_id});
    let pinned = app.mutation(Some(admin), "runs.create", run).await;

    // Assert
    let warnings = suggested.data()["warnings"].as_array().unwrap().clone();
    assert!(
        warnings.iter().any(|w| w["code"] == "placeholder_dropped" && w["placeholder"] == "first_name"),
        "{warnings:?}"
    );
    assert_eq!(applied.code(), 400);
    assert!(applied.message().contains("variationId"), "{}", applied.message());
    assert_eq!(pinned.code(), 400);
    assert!(pinned.message().contains("promptVariationId"), "{}", pinned.message());
    assert_eq!(base_prompt(&app, admin, &campaign_id).await, before, "the campaign is unchanged");
    let runs = app.query(Some(admin), "runs.list", json!({"campaignId": campaign_id})).await;
    assert_eq!(runs.data()["total"], 0, "no run was written");
    app.stop().await;
}

#[tokio::test]
async fn a_members_run_pinned_to_a_variation_dials_with_it() {
    // Arrange: Wednesday 15:00 UTC, open all week; the campaign keeps its own prompt.
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let settings =
        json!({"officeHours": seed::open_all_week(), "callerNumber": "+13125550100", "callsPerMinute": 600});
    seed::configure(&app, &world.super_admin, admin, &world.alpha.id, settings).await;
    let campaign_id = campaign(&app, &world, "Pinned variation").await;
    let own_prompt = base_prompt(&app, admin, &campaign_id).await;
    let variation = suggest(&app, admin, &campaign_id, "be warmer").await.data().clone();
    let proposed = variation["proposedPrompt"].as_str().unwrap().to_owned();

    // Act
    let upload = app
        .upload(admin, "p.csv", b"First Name,Last Name,DOB,Phone\nAda,L,1961-02-04,3125550143\n".to_vec())
        .await;
    let input = json!({"campaignId": campaign_id, "uploadId": upload, "name": "P", "clientRequestId": "p-1", "promptVariationId": variation["variationId"]});
    let run_id = app.mutation(Some(admin), "runs.create", input).await.data()["id"].clone();
    app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await.data();
    let mut heard: Vec<Value> = Vec::new();
    for _ in 0..100 {
        clock.advance(TimeDelta::seconds(5));
        tokio::time::sleep(Duration::from_millis(40)).await;
        heard = app.http.get(app.url("/simulator/retell/heard")).send().await.unwrap().json().await.unwrap();
        if !heard.is_empty() {
            break;
        }
    }

    // Assert
    let run = app.query(Some(admin), "runs.get", json!({"id": run_id})).await;
    assert_eq!(run.data()["pinned"]["composedPrompt"], proposed.as_str());
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0]["prompt"], proposed.as_str(), "the call used the variation");
    assert_eq!(base_prompt(&app, admin, &campaign_id).await, own_prompt, "the campaign keeps its prompt");
    app.stop().await;
}

#[tokio::test]
async fn model_failures_are_typed_errors_that_store_nothing() {
    let app = TestApp::spawn_with(|s| s.llm_request_timeout = Duration::from_millis(300)).await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let campaign_id = campaign(&app, &world, "Faults").await;
    let cases = [
        (LlmFault::InvalidJson, "unusable"),
        (LlmFault::RateLimited, "rate limited"),
        (LlmFault::Delay(Duration::from_millis(1500)), "in time"),
        (LlmFault::ServerError, "unavailable"),
    ];
    for (fault, says) in cases {
        stand_in(&app).script_faults([fault.clone()]);
        let refused = suggest(&app, admin, &campaign_id, "be warmer").await;
        assert_eq!(refused.code(), 408, "{fault:?}: {:?}", refused.body);
        assert!(
            refused.message().contains(says) && refused.message().contains("try again"),
            "{}",
            refused.message()
        );
    }
    let suggested: Vec<Value> = seed::audit_entries(&app, admin)
        .await
        .into_iter()
        .filter(|e| e["action"] == "prompt_variation.suggested")
        .collect();
    assert!(suggested.is_empty(), "no draft was stored: {suggested:?}");

    // Bad input, and another organization's variation or campaign.
    let empty = suggest(&app, admin, &campaign_id, "   ").await;
    assert_eq!(empty.code(), 400);
    assert!(empty.message().contains("request"), "{}", empty.message());
    let variation = suggest(&app, admin, &campaign_id, "be warmer").await.data()["variationId"].clone();
    let outsider = world.beta.admin.as_str();
    assert_eq!(suggest(&app, outsider, &campaign_id, "be warmer").await.code(), 404);
    let wrong_org = json!({"orgId": world.beta.id, "variationId": variation});
    let applied = app.mutation(Some(&world.super_admin), "campaigns.applyPromptVariation", wrong_org).await;
    assert_eq!(applied.code(), 404);
    let unknown = json!({"orgId": world.alpha.id, "variationId": "00000000-0000-7000-8000-000000000000"});
    let applied = app.mutation(Some(&world.super_admin), "campaigns.applyPromptVariation", unknown).await;
    assert_eq!(applied.code(), 404);
    app.stop().await;
}

#[tokio::test]
async fn a_variation_whose_placeholder_the_campaign_no_longer_declares_cannot_be_applied() {
    // Arrange: a clean draft that keeps {{appointmentDate}} (a declared variable); then the
    // operator drops that variable (and its use) from the campaign.
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let mut campaign = seed::reminder_campaign("Moved on");
    campaign.as_object_mut().unwrap().remove("agentId");
    campaign["basePrompt"] =
        json!("Hi {{first_name}}, this is {{organization_name}} about your visit on {{appointmentDate}}.");
    let input = json!({"orgId": world.alpha.id, "campaign": campaign});
    let created = app.mutation(Some(&world.super_admin), "campaigns.create", input).await;
    let campaign_id = created.data()["id"].clone();
    let variation = suggest(&app, admin, &campaign_id, "be warmer").await.data().clone();
    assert_eq!(variation["warnings"], json!([]));
    assert!(variation["proposedPrompt"].as_str().unwrap().contains("{{appointmentDate}}"));
    let variables: Vec<Value> = created.data()["config"]["variables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["key"] != "appointmentDate")
        .cloned()
        .collect();
    let patch = json!({"basePrompt": "Hello, this is {{organization_name}}.", "variables": variables});
    let update = json!({"orgId": world.alpha.id, "id": campaign_id, "patch": patch});
    app.mutation(Some(&world.super_admin), "campaigns.update", update).await.data();

    // Act
    let apply = json!({"orgId": world.alpha.id, "variationId": variation["variationId"]});
    let applied = app.mutation(Some(&world.super_admin), "campaigns.applyPromptVariation", apply).await;

    // Assert
    assert_eq!(applied.code(), 400, "{:?}", applied.body);
    assert!(applied.message().contains("no longer matches"), "{}", applied.message());
    assert_eq!(base_prompt(&app, admin, &campaign_id).await, "Hello, this is {{organization_name}}.");
    app.stop().await;
}
