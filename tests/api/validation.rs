//! Invalid input to every mutation: 400 naming the field (in the message's JSON
//! `{"message", "issues": [{"field", "reason"}]}`), and nothing written: no audit entry, no
//! organization, no campaign, the entity unchanged. Successful updates are audited once, with
//! the names of the changed fields and never their values.

use serde_json::{json, Value};

use crate::support::seed::{self, row_counts, World};
use crate::support::{RpcResponse, TestApp};

/// The `(field, reason)` pairs of a validation failure.
fn issues(response: &RpcResponse) -> Vec<(String, String)> {
    let failure: Value = serde_json::from_str(response.message())
        .unwrap_or_else(|e| panic!("message is not validation JSON ({e}): {}", response.body));
    assert!(failure["message"].as_str().is_some_and(|m| !m.is_empty()), "{failure}");
    failure["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| {
            (
                i["field"].as_str().expect("a field").to_owned(),
                i["reason"].as_str().expect("a reason").to_owned(),
            )
        })
        .collect()
}

/// Checks a 400 names `field` and returns its reason, or describes what went wrong.
fn refusal(response: &RpcResponse, field: &str) -> Result<String, String> {
    if response.code() != 400 {
        return Err(format!("expected 400, got {}: {}", response.code(), response.body));
    }
    let issues = issues(response);
    issues
        .iter()
        .find(|(f, _)| f == field)
        .map(|(_, reason)| reason.clone())
        .ok_or_else(|| format!("no issue for {field}: {issues:?}"))
}

async fn current_org(app: &TestApp, token: &str) -> Value {
    app.query(Some(token), "organizations.getCurrent", Value::Null).await.data().clone()
}

async fn campaign(app: &TestApp, world: &World) -> Value {
    let input = json!({"id": world.alpha.campaign_id});
    app.query(Some(&world.alpha.member), "campaigns.get", input).await.data().clone()
}

/// Sends each case, collecting every failure so one run shows them all.
async fn check_refusals(
    app: &TestApp,
    token: &str,
    key: &str,
    cases: Vec<(Value, &str)>,
    reason_contains: Option<(&str, &str)>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (input, field) in cases {
        let response = app.mutation(Some(token), key, input.clone()).await;
        match refusal(&response, field) {
            Ok(reason) => {
                if let Some((f, needle)) = reason_contains {
                    if f == field && !reason.contains(needle) {
                        failures.push(format!(
                            "{key} {input}: reason for {field} does not name {needle}: {reason}"
                        ));
                    }
                }
            }
            Err(problem) => failures.push(format!("{key} {input}: {problem}")),
        }
    }
    failures
}

#[tokio::test]
async fn invalid_organization_settings_are_refused_naming_the_field_and_write_nothing() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let before = row_counts(&app).await;
    let org_before = current_org(&app, &world.alpha.admin).await;
    let hours =
        |day: &str, open: &str, close: &str| json!({"officeHours": {day: {"open": open, "close": close}}});

    // Act
    let cases = vec![
        (json!({"timeZone": "Mars/Base"}), "timeZone"),
        (json!({"callerNumber": "555-0100"}), "callerNumber"),
        (json!({"concurrentCallLimit": 0}), "concurrentCallLimit"),
        (json!({"concurrentCallLimit": 101}), "concurrentCallLimit"),
        (json!({"callsPerMinute": 0}), "callsPerMinute"),
        (hours("monday", "17:00", "09:00"), "officeHours.monday.open"),
        (hours("monday", "09:00", "09:00"), "officeHours.monday.open"),
        (hours("tuesday", "25:00", "26:00"), "officeHours.tuesday.open"),
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        // A valid field does not carry an invalid one through.
        (json!({"name": "Fine Name", "callsPerMinute": 0}), "callsPerMinute"),
        // Wrong types are named too.
        (json!({"concurrentCallLimit": "ten"}), "concurrentCallLimit"),
    ];
    let failures = check_refusals(&app, &world.alpha.admin, "organizations.update", cases, None).await;

    // Assert
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(row_counts(&app).await, before);
    assert_eq!(current_org(&app, &world.alpha.admin).await, org_before);
    app.stop().await;
}

#[tokio::test]
async fn invalid_or_duplicate_organizations_are_refused_and_write_nothing() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let before = row_counts(&app).await;
    let sa = world.super_admin.as_str();

    // Act
    let cases = vec![
        (json!({"clerkOrgId": "nope", "name": "Nope Clinic"}), "clerkOrgId"),
        (json!({"clerkOrgId": "org_gamma", "name": "Gamma", "timeZone": "Mars/Base"}), "timeZone"),
        (json!({"clerkOrgId": "org_gamma", "name": ""}), "name"),
        (
            json!({"clerkOrgId": "org_gamma", "name": "Gamma", "concurrentCallLimit": 0}),
            "concurrentCallLimit",
        ),
    ];
    let failures = check_refusals(&app, sa, "admin.organizations.create", cases, None).await;
    let duplicate = app
        .mutation(
            Some(sa),
            "admin.organizations.create",
            json!({"clerkOrgId": seed::ALPHA, "name": "Alpha again"}),
        )
        .await;

    // Assert
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(duplicate.code(), 409, "{}", duplicate.body);
    assert_eq!(row_counts(&app).await, before);
    let alpha = current_org(&app, &world.alpha.admin).await;
    assert_ne!(alpha["name"], "Alpha again");
    app.stop().await;
}

#[tokio::test]
async fn invalid_campaigns_are_refused_naming_the_field_and_write_nothing() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let before = row_counts(&app).await;
    let with = |field: &str, value: Value| {
        let mut campaign = seed::valid_campaign("Flu shots");
        campaign[field] = value;
        json!({"orgId": world.alpha.id, "campaign": campaign})
    };
    let base = seed::valid_campaign("Flu shots");
    let mut variables = base["variables"].as_array().unwrap().clone();
    variables.push(json!({"key": "appt_date", "label": "Second date", "fieldType": "date"}));
    let boolean =
        |key: &str, main: bool| json!({"key": key, "label": key, "fieldType": "boolean", "isMainKpi": main});

    // Act
    let cases = vec![
        (with("name", json!("")), "campaign.name"),
        (with("agentId", json!("")), "campaign.agentId"),
        (with("basePrompt", json!("Hi {{first_name}}, about {{unknown_var}}.")), "campaign.basePrompt"),
        (with("variables", Value::Array(variables)), "campaign.variables[2].key"),
        (
            with("analysisFields", json!([{"key": "reason", "label": "Reason", "fieldType": "enum"}])),
            "campaign.analysisFields[0].options",
        ),
        (
            with("analysisFields", json!([boolean("a", true), boolean("b", true)])),
            "campaign.analysisFields[1].isMainKpi",
        ),
        (
            with("retryPolicy", json!({"maxAttempts": 0, "retryOn": ["no_answer"], "delayMinutes": 60})),
            "campaign.retryPolicy.maxAttempts",
        ),
        (with("variables", json!("x")), "campaign.variables"),
    ];
    let failures = check_refusals(
        &app,
        &world.super_admin,
        "campaigns.create",
        cases,
        Some(("campaign.basePrompt", "unknown_var")),
    )
    .await;

    // Assert
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(row_counts(&app).await, before);
    let list = app.query(Some(&world.alpha.member), "campaigns.list", json!({})).await;
    assert_eq!(list.data()["campaigns"].as_array().map(Vec::len), Some(1), "{}", list.body);
    app.stop().await;
}

#[tokio::test]
async fn invalid_campaign_updates_are_refused_and_leave_the_campaign_as_it_was() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let before = row_counts(&app).await;
    let campaign_before = campaign(&app, &world).await;
    let patch =
        |patch: Value| json!({"orgId": world.alpha.id, "id": world.alpha.campaign_id, "patch": patch});
    let phone_only = json!([seed::valid_campaign("x")["variables"][0]]);

    // Act
    let mut failures = check_refusals(
        &app,
        &world.super_admin,
        "campaigns.update",
        vec![(patch(json!({"basePrompt": "Hello {{unknown_var}}"})), "patch.basePrompt")],
        Some(("patch.basePrompt", "unknown_var")),
    )
    .await;
    // Removing a variable the prompt still uses.
    failures.extend(
        check_refusals(
            &app,
            &world.super_admin,
            "campaigns.update",
            vec![(patch(json!({"variables": phone_only})), "patch.basePrompt")],
            Some(("patch.basePrompt", "appt_date")),
        )
        .await,
    );
    failures.extend(
        check_refusals(
            &app,
            &world.super_admin,
            "campaigns.update",
            vec![
                (patch(json!({"name": "", "status": "paused"})), "patch.name"),
                (patch(json!({"status": "gone"})), "patch.status"),
                (patch(json!({"direction": "inbound"})), "patch.direction"),
            ],
            None,
        )
        .await,
    );
    let unknown = app
        .mutation(
            Some(&world.super_admin),
            "campaigns.update",
            json!({"orgId": world.alpha.id, "id": uuid::Uuid::new_v4(), "patch": {"status": "paused"}}),
        )
        .await;

    // Assert
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(unknown.code(), 404, "{}", unknown.body);
    assert_eq!(row_counts(&app).await, before);
    assert_eq!(campaign(&app, &world).await, campaign_before);
    app.stop().await;
}

/// The audit entries of `action` in `token`'s organization, newest first.
async fn entries_of(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    seed::audit_entries(app, admin).await.into_iter().filter(|e| e["action"] == action).collect()
}

#[tokio::test]
async fn a_settings_update_is_audited_once_with_only_the_changed_field_names() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let org = current_org(&app, admin).await;
    // Two fields restate their current value; only the name changes.
    let update = json!({"name": "Alpha Renamed", "timeZone": org["timeZone"], "callsPerMinute": org["callsPerMinute"]});
    let before = row_counts(&app).await;

    // Act
    let first = app.mutation(Some(admin), "organizations.update", update.clone()).await;
    let after_first = row_counts(&app).await;
    let again = app.mutation(Some(admin), "organizations.update", update).await;
    let after_again = row_counts(&app).await;

    // Assert
    assert_eq!(first.data()["name"], "Alpha Renamed");
    assert_eq!(after_first.audit_log, before.audit_log + 1, "one audit row per update");
    let entries = entries_of(&app, admin, "organization.updated").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["changedFields"], json!(["name"]));
    assert_eq!(entries[0]["entityId"], world.alpha.id.as_str());
    assert_eq!(entries[0]["actorLabel"], "user_alpha_admin");
    assert!(!entries[0].to_string().contains("Alpha Renamed"), "a value leaked: {}", entries[0]);

    assert_eq!(again.data()["name"], "Alpha Renamed");
    assert_eq!(after_again, after_first, "a no-op update wrote something");
    app.stop().await;
}

#[tokio::test]
async fn a_campaign_update_is_audited_once_with_only_the_changed_field_names() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let current = campaign(&app, &world).await;
    let prompt = "Hello {{first_name}}, {{organization_name}} here about {{appt_date}}. Secret-ish wording.";
    // The name restates its current value; status and prompt change.
    let update = json!({
        "orgId": world.alpha.id,
        "id": world.alpha.campaign_id,
        "patch": {"name": current["config"]["name"], "status": "paused", "basePrompt": prompt}
    });
    let before = row_counts(&app).await;
    let accessed_before = entries_of(&app, admin, "organization.accessed").await.len();

    // Act
    let first = app.mutation(Some(&world.super_admin), "campaigns.update", update.clone()).await;
    let after_first = row_counts(&app).await;
    let again = app.mutation(Some(&world.super_admin), "campaigns.update", update).await;

    // Assert
    assert_eq!(first.data()["config"]["status"], "paused");
    // One row for the update and one for the prompt version the new base prompt makes.
    assert_eq!(after_first.audit_log, before.audit_log + 2, "one audit row per change");
    assert_eq!(entries_of(&app, admin, "prompt_version.created").await.len(), 2, "creation and this change");
    let entries = entries_of(&app, admin, "campaign.updated").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["changedFields"], json!(["status", "basePrompt"]));
    assert_eq!(entries[0]["entityId"], world.alpha.campaign_id.as_str());
    assert_eq!(entries[0]["actorKind"], "super_admin");
    assert!(!entries[0].to_string().contains("Secret-ish"), "a value leaked: {}", entries[0]);

    // Changing nothing records no change; it still read alpha's campaign, which is an access.
    assert_eq!(again.data()["config"]["basePrompt"], prompt);
    assert_eq!(entries_of(&app, admin, "campaign.updated").await.len(), 1, "a no-op update was audited");
    assert_eq!(entries_of(&app, admin, "organization.accessed").await.len(), accessed_before + 1);
    app.stop().await;
}
