//! Phone numbers are assigned by operators, not claimed by clinics (issue 12, item 1), through
//! HTTP: a clinic admin can only pick one of its own outbound numbers as caller id, a number
//! belongs to one organization at a time, and inbound calls find the organization by it.

use serde_json::{json, Value};

use crate::support::{seed, TestApp};

const NUMBER: &str = "+13125550177";

async fn set_caller_number(app: &TestApp, admin: &str, number: &str) -> crate::support::RpcResponse {
    app.mutation(Some(admin), "organizations.update", json!({"callerNumber": number})).await
}

#[tokio::test]
async fn a_clinic_cannot_claim_a_number_that_is_not_assigned_to_it() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let (alpha, beta) = (world.alpha.admin.as_str(), world.beta.admin.as_str());

    // Act
    let unassigned = set_caller_number(&app, alpha, NUMBER).await;
    seed::assign_number(&app, &world.super_admin, &world.alpha.id, "(312) 555-0177").await;
    let own = set_caller_number(&app, alpha, NUMBER).await;
    let taken = set_caller_number(&app, beta, NUMBER).await;
    let again = json!({"orgId": world.beta.id, "number": NUMBER, "purpose": "both"});
    let reassigned = app.mutation(Some(&world.super_admin), "admin.phoneNumbers.assign", again).await;

    // Assert
    assert_eq!(unassigned.code(), 400, "{:?}", unassigned.body);
    assert!(unassigned.message().contains("callerNumber"), "{}", unassigned.message());
    assert_eq!(own.data()["callerNumber"], NUMBER, "written as E.164 once assigned");
    assert_eq!(taken.code(), 400, "another clinic's number: {:?}", taken.body);
    assert_eq!(reassigned.code(), 409, "a number belongs to one organization at a time");
    let listed = app.query(Some(alpha), "organizations.phoneNumbers", Value::Null).await;
    assert_eq!(listed.data()[0]["number"], NUMBER);
    assert_eq!(listed.data()[0]["purpose"], "both");
    let beta_numbers = app.query(Some(beta), "organizations.phoneNumbers", Value::Null).await;
    assert_eq!(beta_numbers.data(), &json!([]), "a clinic sees its own numbers only");
    app.stop().await;
}

#[tokio::test]
async fn a_released_number_leaves_its_clinic_and_can_be_assigned_to_another() {
    // Arrange: alpha holds the number and uses it as caller id.
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let settings = json!({"callerNumber": NUMBER});
    seed::configure(&app, &world.super_admin, &world.alpha.admin, &world.alpha.id, settings).await;

    // Act
    let released =
        app.mutation(Some(&world.super_admin), "admin.phoneNumbers.release", json!({"number": NUMBER})).await;
    let alpha_now = app.query(Some(&world.alpha.admin), "organizations.getCurrent", Value::Null).await;
    seed::assign_number(&app, &world.super_admin, &world.beta.id, NUMBER).await;
    let beta_sets = set_caller_number(&app, &world.beta.admin, NUMBER).await;
    let listed =
        app.query(Some(&world.super_admin), "admin.phoneNumbers.list", json!({"orgId": world.beta.id})).await;
    let unknown = app
        .mutation(Some(&world.super_admin), "admin.phoneNumbers.release", json!({"number": "+13125550199"}))
        .await;

    // Assert
    assert_eq!(released.data()["orgId"], world.alpha.id.as_str());
    assert_eq!(alpha_now.data()["callerNumber"], Value::Null, "its caller id went with the number");
    assert_eq!(beta_sets.data()["callerNumber"], NUMBER);
    assert_eq!(listed.data()["total"], 1);
    assert_eq!(listed.data()["phoneNumbers"][0]["orgId"], world.beta.id.as_str());
    assert_eq!(unknown.code(), 404);
    let actions: Vec<Value> = seed::audit_entries(&app, &world.alpha.admin)
        .await
        .into_iter()
        .map(|e| e["action"].clone())
        .collect();
    assert!(
        actions.contains(&json!("phone_number.assigned"))
            && actions.contains(&json!("phone_number.released"))
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_assignments_name_their_field() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let assign = |input: Value| app.mutation(Some(&world.super_admin), "admin.phoneNumbers.assign", input);
    let cases = [
        (json!({"orgId": world.alpha.id, "number": "555-01", "purpose": "both"}), 400, "number"),
        (json!({"orgId": world.alpha.id, "number": NUMBER, "purpose": "fax"}), 400, "purpose"),
        (
            json!({"orgId": world.alpha.id, "number": NUMBER, "purpose": "inbound", "inboundCampaignId": world.alpha.campaign_id}),
            400,
            "inboundCampaignId",
        ),
        (
            json!({"orgId": "00000000-0000-7000-8000-000000000000", "number": NUMBER, "purpose": "both"}),
            404,
            "",
        ),
    ];
    for (input, code, field) in cases {
        let response = assign(input.clone()).await;
        assert_eq!(response.code(), code, "{input}: {:?}", response.body);
        assert!(response.message().contains(field), "{input}: {}", response.message());
    }
    let numbers = app.query(Some(&world.super_admin), "admin.phoneNumbers.list", json!({})).await;
    assert_eq!(numbers.data()["total"], 0, "nothing was assigned");
    app.stop().await;
}
