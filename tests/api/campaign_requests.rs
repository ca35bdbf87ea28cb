//! A clinic asks for a campaign and an operator fulfils it (issue 12, item 3), through HTTP:
//! create → in progress → fulfilled with the campaign built → the clinic sees it; a rejection
//! with its note; refusals of bad input and of moves the state machine forbids.

use serde_json::{json, Value};

use crate::support::{seed, TestApp};

fn request() -> Value {
    json!({
        "name": "Flu shots",
        "goal": "Patients over 65 book a flu shot",
        "description": "Call everyone over 65 who has not had a shot this season.",
        "desiredVariables": ["Last visit", "Preferred location"],
        "dueDate": "2099-01-31"
    })
}

#[tokio::test]
async fn a_request_goes_from_the_clinic_to_an_operator_and_back_with_its_campaign() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let (admin, member, operator) =
        (world.alpha.admin.as_str(), world.alpha.member.as_str(), world.super_admin.as_str());

    // Act
    let by_member = app.mutation(Some(member), "campaignRequests.create", request()).await;
    let created = app.mutation(Some(admin), "campaignRequests.create", request()).await.data().clone();
    let id = created["id"].clone();
    let pending = app
        .query(
            Some(operator),
            "admin.campaignRequests.list",
            json!({"status": "pending", "orgId": world.alpha.id}),
        )
        .await;
    let taken = app
        .mutation(
            Some(operator),
            "admin.campaignRequests.update",
            json!({"id": id, "status": "in_progress", "note": "On it"}),
        )
        .await;
    let campaign_id = seed::create_campaign(&app, operator, &world.alpha.id, "Flu shots 2099").await;
    let fulfilled = app
        .mutation(
            Some(operator),
            "admin.campaignRequests.fulfil",
            json!({"id": id, "campaignId": campaign_id}),
        )
        .await;
    let seen = app.query(Some(member), "campaignRequests.get", json!({"id": id})).await;
    let listed = app.query(Some(member), "campaignRequests.list", json!({})).await;
    let again = app
        .mutation(Some(operator), "admin.campaignRequests.update", json!({"id": id, "status": "in_progress"}))
        .await;

    // Assert
    assert_eq!(by_member.code(), 403, "a clinic admin asks");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["desiredVariables"], json!(["Last visit", "Preferred location"]));
    assert_eq!(created["dueDate"], "2099-01-31");
    assert_eq!(pending.data()["requests"][0]["id"], id);
    assert_eq!(taken.data()["status"], "in_progress");
    assert_eq!(taken.data()["note"], "On it");
    assert_eq!(fulfilled.data()["status"], "fulfilled");
    assert_eq!(seen.data()["status"], "fulfilled");
    assert_eq!(seen.data()["campaignId"], campaign_id.as_str(), "the clinic sees the campaign built for it");
    assert_eq!(listed.data()["total"], 1);
    assert_eq!(again.code(), 409, "a fulfilled request moves no more");
    let actions: Vec<Value> =
        seed::audit_entries(&app, admin).await.into_iter().map(|e| e["action"].clone()).collect();
    for action in ["campaign_request.created", "campaign_request.updated", "campaign_request.fulfilled"] {
        assert!(actions.contains(&json!(action)), "{action} in {actions:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_rejection_needs_a_note_and_ends_the_request() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let operator = world.super_admin.as_str();
    let id = app.mutation(Some(&world.alpha.admin), "campaignRequests.create", request()).await.data()["id"]
        .clone();

    let without_note = app
        .mutation(Some(operator), "admin.campaignRequests.update", json!({"id": id, "status": "rejected"}))
        .await;
    let rejected = app
        .mutation(
            Some(operator),
            "admin.campaignRequests.update",
            json!({"id": id, "status": "rejected", "note": "Out of scope"}),
        )
        .await;
    let fulfil = app
        .mutation(
            Some(operator),
            "admin.campaignRequests.fulfil",
            json!({"id": id, "campaignId": world.alpha.campaign_id}),
        )
        .await;
    let as_status = app
        .mutation(Some(operator), "admin.campaignRequests.update", json!({"id": id, "status": "fulfilled"}))
        .await;

    assert_eq!(without_note.code(), 400);
    assert!(without_note.message().contains("note"), "{}", without_note.message());
    assert_eq!(rejected.data()["status"], "rejected");
    assert_eq!(rejected.data()["note"], "Out of scope");
    assert_eq!(fulfil.code(), 409, "a rejected request cannot be fulfilled");
    assert_eq!(as_status.code(), 400, "fulfilling goes through fulfil, with its campaign");
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_name_their_fields_and_other_clinics_see_nothing() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let mut bad = request();
    bad["name"] = json!(" ");
    bad["dueDate"] = json!("2020-01-01");
    bad["sampleUploadId"] = json!(world.beta.upload_id);
    let refused = app.mutation(Some(admin), "campaignRequests.create", bad).await;
    let mut foreign_upload = request();
    foreign_upload["sampleUploadId"] = json!(world.beta.upload_id);
    let foreign = app.mutation(Some(admin), "campaignRequests.create", foreign_upload).await;
    let id = app.mutation(Some(admin), "campaignRequests.create", request()).await.data()["id"].clone();
    let outsider = app.query(Some(&world.beta.member), "campaignRequests.get", json!({"id": id})).await;
    let other_campaign = app
        .mutation(
            Some(&world.super_admin),
            "admin.campaignRequests.fulfil",
            json!({"id": id, "campaignId": world.beta.campaign_id}),
        )
        .await;

    assert_eq!(refused.code(), 400);
    for field in ["name", "dueDate"] {
        assert!(refused.message().contains(field), "{field}: {}", refused.message());
    }
    assert_eq!(foreign.code(), 400);
    assert!(foreign.message().contains("sampleUploadId"), "{}", foreign.message());
    assert_eq!(outsider.code(), 404);
    assert_eq!(other_campaign.code(), 400);
    assert!(other_campaign.message().contains("campaignId"), "{}", other_campaign.message());
    let listed = app.query(Some(admin), "campaignRequests.list", json!({})).await;
    assert_eq!(listed.data()["total"], 1, "only the valid request was written");
    app.stop().await;
}
