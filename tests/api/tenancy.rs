//! Organization scoping (DESIGN.md §3): a clinic's token reaches only its own organization;
//! another organization's objects, and guessed ids, are NOT_FOUND; a super admin reaches another
//! organization only by naming it, and that access lands in that organization's audit log.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::support::seed::{self, audit_entries};
use crate::support::TestApp;

fn random_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The campaign ids of a `campaigns.list` page.
fn ids(response: &crate::support::RpcResponse) -> BTreeSet<String> {
    response.data()["campaigns"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_clinic_user_cannot_read_another_orgs_campaign_by_its_id() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;

    // Act / Assert
    for token in [&world.alpha.member, &world.alpha.admin] {
        let response = app.query(Some(token), "campaigns.get", json!({"id": world.beta.campaign_id})).await;
        assert_eq!(response.code(), 404, "{}", response.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn naming_another_org_as_a_clinic_user_is_not_found_rather_than_forbidden() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let beta = &world.beta;

    // Act
    let get = app
        .query(Some(&world.alpha.admin), "campaigns.get", json!({"id": beta.campaign_id, "orgId": beta.id}))
        .await;
    let list = app.query(Some(&world.alpha.admin), "campaigns.list", json!({"orgId": beta.id})).await;

    // Assert
    assert_eq!(get.code(), 404, "{}", get.body);
    assert_eq!(list.code(), 404, "{}", list.body);
    app.stop().await;
}

#[tokio::test]
async fn the_campaign_list_shows_only_the_callers_own_campaigns() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let second = seed::create_campaign(&app, &world.super_admin, &world.alpha.id, "Alpha recalls").await;

    // Act
    let alpha = app.query(Some(&world.alpha.member), "campaigns.list", json!({})).await;
    let beta = app.query(Some(&world.beta.member), "campaigns.list", json!({})).await;

    // Assert
    assert_eq!(ids(&alpha), BTreeSet::from([world.alpha.campaign_id.clone(), second]));
    assert!(alpha.data()["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["orgId"] == world.alpha.id.as_str()));
    assert_eq!((alpha.data()["total"].clone(), alpha.data()["hasMore"].clone()), (json!(2), json!(false)));
    assert_eq!(ids(&beta), BTreeSet::from([world.beta.campaign_id.clone()]));
    app.stop().await;
}

#[tokio::test]
async fn a_clinic_admin_cannot_read_another_org_through_the_admin_procedures() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;

    // Act
    let get =
        app.query(Some(&world.alpha.admin), "admin.organizations.get", json!({"id": world.beta.id})).await;
    let list = app.query(Some(&world.alpha.admin), "admin.organizations.list", json!({})).await;

    // Assert
    assert_eq!(get.code(), 403, "{}", get.body);
    assert_eq!(list.code(), 403, "{}", list.body);
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_of_one_org_never_shows_another_orgs_entries() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let alpha_before = audit_entries(&app, &world.alpha.admin).await;

    // Act: beta changes its settings, and the operator changes beta's campaign.
    let update =
        app.mutation(Some(&world.beta.admin), "organizations.update", json!({"name": "Beta Renamed"})).await;
    assert_eq!(update.code(), 200, "{}", update.body);
    let patch = json!({"orgId": world.beta.id, "id": world.beta.campaign_id, "patch": {"status": "paused"}});
    let update = app.mutation(Some(&world.super_admin), "campaigns.update", patch).await;
    assert_eq!(update.code(), 200, "{}", update.body);
    let alpha_after = audit_entries(&app, &world.alpha.admin).await;
    let beta_after = audit_entries(&app, &world.beta.admin).await;

    // Assert
    assert_eq!(alpha_after, alpha_before, "beta's activity showed up in alpha's log");
    let beta_objects = [world.beta.id.as_str(), world.beta.campaign_id.as_str()];
    for entry in &alpha_after {
        let entity = entry["entityId"].as_str().unwrap_or_default();
        assert!(!beta_objects.contains(&entity), "alpha sees beta's entry {entry}");
    }
    // Beta's own log has both changes, so the filter above is not trivially empty.
    let actions: Vec<&str> = beta_after.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"organization.updated"), "{actions:?}");
    assert!(actions.contains(&"campaign.updated"), "{actions:?}");
    app.stop().await;
}

#[tokio::test]
async fn the_member_list_shows_only_the_callers_org() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;

    // Act
    let response = app.query(Some(&world.alpha.member), "organizations.getMembers", json!({})).await;

    // Assert
    let data = response.data();
    let members: BTreeSet<&str> =
        data["members"].as_array().unwrap().iter().map(|m| m["clerkUserId"].as_str().unwrap()).collect();
    assert_eq!(members, BTreeSet::from(["user_alpha_admin", "user_alpha_member"]));
    assert_eq!(data["total"], 2);
    app.stop().await;
}

#[tokio::test]
async fn updating_settings_changes_only_the_callers_org() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let beta_before = app.query(Some(&world.beta.admin), "organizations.getCurrent", Value::Null).await;

    // Act
    let update = app
        .mutation(
            Some(&world.alpha.admin),
            "organizations.update",
            json!({"name": "Alpha Renamed", "timeZone": "America/Chicago", "callsPerMinute": 42}),
        )
        .await;

    // Assert
    assert_eq!(update.data()["id"], world.alpha.id.as_str());
    let alpha = app.query(Some(&world.alpha.member), "organizations.getCurrent", Value::Null).await;
    assert_eq!(alpha.data()["name"], "Alpha Renamed");
    assert_eq!(alpha.data()["callsPerMinute"], 42);
    let beta_after = app.query(Some(&world.beta.admin), "organizations.getCurrent", Value::Null).await;
    assert_eq!(beta_after.data(), beta_before.data(), "beta changed");
    app.stop().await;
}

#[tokio::test]
async fn guessed_ids_are_not_found() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let (alpha, sa) = (&world.alpha.admin, &world.super_admin);
    let alpha_org = world.alpha.id.as_str();

    // Act / Assert
    let cases: Vec<(&str, &str, Value)> = vec![
        ("alpha admin", alpha, json!({"id": random_id()})),
        ("alpha admin", alpha, json!({"id": random_id(), "orgId": random_id()})),
        ("super admin", sa, json!({"id": random_id(), "orgId": alpha_org})),
        ("super admin", sa, json!({"id": world.alpha.campaign_id, "orgId": random_id()})),
    ];
    let mut outcomes = Vec::new();
    for (who, token, input) in &cases {
        let response = app.query(Some(token), "campaigns.get", input.clone()).await;
        outcomes.push((format!("campaigns.get as {who} {input}"), response.code()));
    }
    for (who, token) in [("alpha admin", alpha), ("super admin", sa)] {
        let response = app.query(Some(token), "campaigns.list", json!({"orgId": random_id()})).await;
        outcomes.push((format!("campaigns.list as {who}"), response.code()));
    }
    let response = app.query(Some(sa), "admin.organizations.get", json!({"id": random_id()})).await;
    outcomes.push(("admin.organizations.get".into(), response.code()));
    let patch = json!({"orgId": alpha_org, "id": random_id(), "patch": {"status": "paused"}});
    let response = app.mutation(Some(sa), "campaigns.update", patch).await;
    outcomes.push(("campaigns.update of a guessed campaign".into(), response.code()));
    let create = json!({"orgId": random_id(), "campaign": seed::valid_campaign("Nowhere")});
    let response = app.mutation(Some(sa), "campaigns.create", create).await;
    outcomes.push(("campaigns.create in a guessed org".into(), response.code()));

    let wrong: Vec<_> = outcomes.iter().filter(|(_, code)| *code != 404).collect();
    assert!(wrong.is_empty(), "expected 404 for: {wrong:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_super_admin_reads_another_orgs_campaigns_only_by_naming_it_and_the_read_is_audited() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let beta = &world.beta;
    let accessed = |entries: &[Value]| {
        entries
            .iter()
            .filter(|e| e["action"] == "organization.accessed" && e["entityId"] == beta.id.as_str())
            .cloned()
            .collect::<Vec<_>>()
    };
    let before = accessed(&audit_entries(&app, &beta.admin).await);

    // Act: without orgId the operator is in their own organization, where beta's campaign is not.
    let own_list = app.query(Some(&world.super_admin), "campaigns.list", json!({})).await;
    let own_get = app.query(Some(&world.super_admin), "campaigns.get", json!({"id": beta.campaign_id})).await;
    let after_unnamed = accessed(&audit_entries(&app, &beta.admin).await);
    let named = app
        .query(Some(&world.super_admin), "campaigns.get", json!({"id": beta.campaign_id, "orgId": beta.id}))
        .await;
    let after_named = accessed(&audit_entries(&app, &beta.admin).await);

    // Assert
    assert!(!ids(&own_list).contains(&beta.campaign_id), "{}", own_list.body);
    assert_eq!(own_get.code(), 404, "{}", own_get.body);
    assert_eq!(after_unnamed.len(), before.len(), "an unnamed read was logged in beta");
    assert_eq!(named.data()["id"], beta.campaign_id.as_str());
    assert_eq!(after_named.len(), before.len() + 1, "the named read was not logged exactly once");
    let entry = &after_named[0];
    assert_eq!(entry["actorKind"], "super_admin");
    assert_eq!(entry["actorLabel"], "user_operator");
    assert_eq!(entry["changedFields"], json!([]));
    // Alpha's log knows nothing of it.
    let alpha = audit_entries(&app, &world.alpha.admin).await;
    assert!(alpha.iter().all(|e| e["entityId"] != beta.id.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn the_campaign_list_pages_and_says_whether_more_follow() {
    // Arrange: three campaigns in alpha (the seeded "Alpha confirmations" among them), by name.
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    seed::create_campaign(&app, &world.super_admin, &world.alpha.id, "Aardvark recalls").await;
    seed::create_campaign(&app, &world.super_admin, &world.alpha.id, "Zulu follow-ups").await;
    let member = Some(world.alpha.member.as_str());

    // Act
    let first = app.query(member, "campaigns.list", json!({"limit": 2})).await;
    let rest = app.query(member, "campaigns.list", json!({"limit": 2, "offset": 2})).await;
    let too_many = app.query(member, "campaigns.list", json!({"limit": 101})).await;

    // Assert
    let names = |page: &crate::support::RpcResponse| {
        page.data()["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["config"]["name"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first).len(), 2, "{}", first.body);
    assert_eq!(names(&first), [json!("Aardvark recalls"), json!("Alpha confirmations")]);
    assert_eq!((first.data()["total"].clone(), first.data()["hasMore"].clone()), (json!(3), json!(true)));
    assert_eq!(names(&rest), [json!("Zulu follow-ups")]);
    assert_eq!(rest.data()["hasMore"], json!(false));
    assert_eq!(too_many.code(), 400, "{}", too_many.body);
    assert!(too_many.body.to_string().contains("limit"), "{}", too_many.body);
    app.stop().await;
}
