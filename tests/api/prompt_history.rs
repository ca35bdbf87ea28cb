//! Prompt versions: every change to a campaign's base prompt or voicemail is kept, with its
//! author, reason and diff, and listed by `campaigns.promptHistory`.

use serde_json::json;

use crate::support::{seed, TestApp};

#[tokio::test]
async fn creating_a_campaign_saves_version_one_and_each_prompt_change_adds_a_diffed_version() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let member = world.alpha.member.as_str();
    let input = json!({"campaignId": world.alpha.campaign_id});
    let first = app.query(Some(member), "campaigns.promptHistory", input.clone()).await;
    let new_prompt = "Hi {{first_name}}, this is {{organization_name}} confirming {{appt_date}}.";

    // Act: a prompt change, then a change that leaves the prompt alone.
    let changed = app
        .mutation(
            Some(&world.super_admin),
            "campaigns.update",
            json!({"orgId": world.alpha.id, "id": world.alpha.campaign_id, "patch": {"basePrompt": new_prompt}}),
        )
        .await;
    app.mutation(
        Some(&world.super_admin),
        "campaigns.update",
        json!({"orgId": world.alpha.id, "id": world.alpha.campaign_id, "patch": {"status": "paused"}}),
    )
    .await;
    let second = app.query(Some(member), "campaigns.promptHistory", input).await;

    // Assert
    // The seeded run pinned a version of its own after the campaign's first one.
    let before = first.data()["versions"].as_array().unwrap();
    let oldest = before.last().unwrap();
    assert_eq!(oldest["number"], 1);
    assert_eq!(oldest["reason"], "campaign created");
    assert!(oldest["runId"].is_null());
    let versions = second.data()["versions"].as_array().unwrap();
    assert_eq!(versions.len(), before.len() + 1, "a status change writes no version: {versions:?}");
    let latest = &versions[0];
    assert_eq!(latest["number"], before.len() + 1);
    assert_eq!(latest["reason"], "base prompt changed");
    assert_eq!(latest["basePrompt"], new_prompt);
    assert!(latest["diff"].as_str().unwrap().contains(&format!("+{new_prompt}")), "{}", latest["diff"]);
    assert_eq!(changed.data()["currentPromptVersionId"], latest["id"]);
    assert!(latest["authorUserId"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn another_organizations_prompt_history_is_not_found() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;

    let response = app
        .query(
            Some(&world.beta.admin),
            "campaigns.promptHistory",
            json!({"campaignId": world.alpha.campaign_id}),
        )
        .await;

    assert_eq!(response.code(), 404);
    app.stop().await;
}
