//! Operators oversee every clinic (issue 12, item 4), through HTTP: a super admin names a
//! clinic with `orgId` on its reads and run changes, each access and change audited there with
//! the operator as actor; anyone else naming another organization gets 400 naming `orgId`.

use serde_json::{json, Value};

use crate::support::{seed, TestApp};

#[tokio::test]
async fn a_super_admin_pauses_a_clinics_run_by_org_id_and_the_audit_log_shows_the_operator() {
    // Arrange: alpha's seeded run, started by its member.
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let run = world.alpha.run_id.as_str();
    // Office hours closed all week: the started run dials nothing, whatever the hour.
    let caller = json!({"callerNumber": "+13125550100", "officeHours": {}});
    seed::configure(&app, &world.super_admin, &world.alpha.admin, &world.alpha.id, caller).await;
    app.mutation(Some(&world.alpha.member), "runs.start", json!({"id": run})).await.data();

    // Act
    let without_org = app.mutation(Some(&world.super_admin), "runs.pause", json!({"id": run})).await;
    let paused = app
        .mutation(
            Some(&world.super_admin),
            "runs.pause",
            json!({"id": run, "orgId": world.alpha.id, "reason": "checking"}),
        )
        .await;

    // Assert
    assert_eq!(without_org.code(), 404, "an operator acts in its own organization unless it names one");
    assert_eq!(paused.data()["status"], "paused");
    let entries = seed::audit_entries(&app, &world.alpha.admin).await;
    let pause = entries.iter().find(|e| e["action"] == "run.paused").expect("the pause is audited in alpha");
    assert_eq!(pause["actorKind"], "super_admin");
    assert!(entries
        .iter()
        .any(|e| e["action"] == "organization.accessed" && e["actorKind"] == "super_admin"));
    app.stop().await;
}

#[tokio::test]
async fn only_operators_may_name_another_organization() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let reads = [
        ("runs.list", json!({"orgId": world.beta.id})),
        ("calls.list", json!({"orgId": world.beta.id})),
        ("patients.list", json!({"orgId": world.beta.id})),
        ("audit.list", json!({"orgId": world.beta.id})),
    ];
    for (key, input) in reads {
        let refused = app.query(Some(admin), key, input).await;
        assert_eq!(refused.code(), 400, "{key}: {:?}", refused.body);
        assert!(refused.message().contains("orgId"), "{key}: {}", refused.message());
    }
    let own = app.query(Some(admin), "runs.list", json!({"orgId": world.alpha.id})).await;
    assert_eq!(own.data()["total"], 1, "naming one's own organization is fine");
    let stop = app
        .mutation(Some(admin), "runs.cancel", json!({"id": world.beta.run_id, "orgId": world.beta.id}))
        .await;
    assert_eq!(stop.code(), 400);
    app.stop().await;
}

#[tokio::test]
async fn a_super_admin_reads_any_clinic_and_sees_every_run_on_the_dashboard() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let operator = world.super_admin.as_str();

    let runs = app.query(Some(operator), "runs.list", json!({"orgId": world.beta.id})).await;
    let patients = app.query(Some(operator), "patients.list", json!({"orgId": world.alpha.id})).await;
    let members =
        app.query(Some(operator), "organizations.getMembers", json!({"orgId": world.alpha.id})).await;
    let unknown = app
        .query(Some(operator), "runs.list", json!({"orgId": "00000000-0000-7000-8000-000000000000"}))
        .await;
    let dashboard = app.query(Some(operator), "admin.runs.list", json!({})).await;
    let ready = app
        .query(Some(operator), "admin.runs.list", json!({"status": "ready", "orgId": world.alpha.id}))
        .await;
    let renamed = app
        .mutation(
            Some(operator),
            "admin.organizations.update",
            json!({"id": world.alpha.id, "patch": {"name": "Alpha Care"}}),
        )
        .await;
    let bad_zone = app
        .mutation(
            Some(operator),
            "admin.organizations.update",
            json!({"id": world.alpha.id, "patch": {"timeZone": "Mars/Base"}}),
        )
        .await;

    assert_eq!(runs.data()["runs"][0]["id"], world.beta.run_id.as_str());
    assert!(patients.data()["total"].as_u64().unwrap() > 0, "{:?}", patients.body);
    assert!(members.data()["total"].as_u64().unwrap() >= 2);
    assert_eq!(unknown.code(), 404);
    let orgs: Vec<&Value> =
        dashboard.data()["runs"].as_array().unwrap().iter().map(|r| &r["orgId"]).collect();
    assert!(orgs.contains(&&json!(world.alpha.id)) && orgs.contains(&&json!(world.beta.id)), "{orgs:?}");
    let alpha_run = &ready.data()["runs"][0];
    assert_eq!(alpha_run["run"]["id"], world.alpha.run_id.as_str());
    assert!(alpha_run["rowsTotal"].as_u64().unwrap() > 0, "{alpha_run}");
    assert!(alpha_run["rowsFinal"].as_u64().unwrap() <= alpha_run["rowsTotal"].as_u64().unwrap());
    assert_eq!(renamed.data()["name"], "Alpha Care");
    assert_eq!(bad_zone.code(), 400);
    assert!(bad_zone.message().contains("timeZone"), "{}", bad_zone.message());
    let entries = seed::audit_entries(&app, &world.alpha.admin).await;
    assert!(entries.iter().any(|e| e["action"] == "organization.updated" && e["actorKind"] == "super_admin"));
    app.stop().await;
}
