//! `dnc.add` / `dnc.list` / `dnc.remove` through HTTP: numbers normalised and read back, adds
//! idempotent, removal by number or id, admins only, every change audited without the number,
//! invalid input refused naming the field with nothing written, and a listed number never
//! dialled by a run.

use serde_json::{json, Value};

use crate::calls::{calling_app, run_to_completion};
use crate::support::seed::{self, row_counts};
use crate::support::TestApp;

async fn list(app: &TestApp, admin: &str) -> Value {
    app.query(Some(admin), "dnc.list", json!({"limit": 100})).await.data().clone()
}

async fn dnc_audit(app: &TestApp, admin: &str) -> Vec<Value> {
    let audit =
        app.query(Some(admin), "audit.list", json!({"entityType": "do_not_call", "limit": 100})).await;
    audit.data()["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_number_is_added_once_read_back_and_removed_with_each_change_audited() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();

    // Add, in two spellings of one number.
    let added = app
        .mutation(Some(admin), "dnc.add", json!({"phone": "(312) 555-0143", "reason": "asked on the phone"}))
        .await;
    let again =
        app.mutation(Some(admin), "dnc.add", json!({"phone": "+1 312 555 0143", "reason": "x"})).await;
    let listed = list(&app, admin).await;

    let entry = &added.data()["entry"];
    assert_eq!(added.data()["added"], true);
    assert_eq!(entry["phone"], "+13125550143");
    assert_eq!(entry["reason"], "asked on the phone");
    assert_eq!(again.data()["added"], false, "adding a listed number again changes nothing");
    assert_eq!(again.data()["entry"]["id"], entry["id"]);
    assert_eq!(again.data()["entry"]["reason"], "asked on the phone");
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["entries"][0]["phone"], "+13125550143");
    assert_eq!(listed["entries"][0]["id"], entry["id"]);
    assert_eq!(list(&app, &world.beta.admin).await["total"], 0, "another organization's list");

    // Remove by number, then by id; an unknown number is a no-op, an unknown id not found.
    let removed = app.mutation(Some(admin), "dnc.remove", json!({"phone": "312.555.0143"})).await;
    let removed_again = app.mutation(Some(admin), "dnc.remove", json!({"phone": "312.555.0143"})).await;
    let second = app.mutation(Some(admin), "dnc.add", json!({"phone": "+16175550188"})).await;
    let second_id = second.data()["entry"]["id"].clone();
    let by_beta = app.mutation(Some(&world.beta.admin), "dnc.remove", json!({"id": second_id})).await;
    let by_id = app.mutation(Some(admin), "dnc.remove", json!({"id": second_id})).await;
    let unknown = app.mutation(Some(admin), "dnc.remove", json!({"id": uuid::Uuid::new_v4()})).await;

    assert_eq!(removed.data(), &json!({"removed": true, "id": entry["id"]}));
    assert_eq!(removed_again.data(), &json!({"removed": false, "id": null}));
    assert_eq!(second.data()["entry"]["reason"], "");
    assert_eq!(by_beta.code(), 404, "another organization's entry is not found: {}", by_beta.body);
    assert_eq!(by_id.data()["removed"], true);
    assert_eq!(unknown.code(), 404);
    assert_eq!(list(&app, admin).await["total"], 0);

    // Two adds and two removals, audited with field names only.
    let audit = dnc_audit(&app, admin).await;
    let actions: Vec<&str> = audit.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["do_not_call.removed", "do_not_call.added", "do_not_call.removed", "do_not_call.added"],
        "{audit:?}"
    );
    assert_eq!(audit[3]["changedFields"], json!(["phone", "reason"]));
    assert_eq!(audit[3]["entityId"], entry["id"]);
    let text = serde_json::to_string(&audit).unwrap();
    assert!(
        !text.contains("5550143") && !text.contains("5550188") && !text.contains("asked"),
        "no values in the audit log: {text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_numbers_are_refused_naming_the_field_and_write_nothing() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let before = row_counts(&app).await;

    let cases = [
        ("dnc.add", json!({"phone": "555-01"}), "phone"),
        ("dnc.add", json!({"phone": "call me maybe"}), "phone"),
        ("dnc.add", json!({"reason": "no phone"}), "phone"),
        ("dnc.add", json!({"phone": "+13125550143", "reason": "two\nlines"}), "reason"),
        ("dnc.remove", json!({"phone": "12"}), "phone"),
        ("dnc.remove", json!({}), "phone"),
        ("dnc.remove", json!({"phone": "+13125550143", "id": uuid::Uuid::new_v4()}), "id"),
        ("dnc.remove", json!({"id": "not-a-uuid"}), "id"),
    ];
    let mut failures = Vec::new();
    for (key, input, field) in cases {
        let response = app.mutation(Some(admin), key, input.clone()).await;
        if response.code() != 400 || !response.message().contains(&format!("\"field\":\"{field}\"")) {
            failures.push(format!("{key} {input}: expected 400 naming {field}, got {}", response.body));
        }
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(row_counts(&app).await, before, "no audit entry or anything else written");
    assert_eq!(list(&app, admin).await["total"], 0);
    app.stop().await;
}

#[tokio::test]
async fn members_may_not_read_or_change_the_list() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let (admin, member) = (world.alpha.admin.as_str(), world.alpha.member.as_str());
    app.mutation(Some(admin), "dnc.add", json!({"phone": "+13125550143"})).await.data();

    let read = app.query(Some(member), "dnc.list", json!({})).await;
    let add = app.mutation(Some(member), "dnc.add", json!({"phone": "+13125550144"})).await;
    let remove = app.mutation(Some(member), "dnc.remove", json!({"phone": "+13125550143"})).await;

    assert_eq!((read.code(), add.code(), remove.code()), (403, 403, 403));
    let listed = list(&app, admin).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["entries"][0]["phone"], "+13125550143");
    app.stop().await;
}

#[tokio::test]
async fn a_run_skips_a_listed_number_without_dialling_it() {
    // Arrange: alpha's seeded run calls (312) 555-0177 and (617) 555-0188; the first is listed.
    let (app, clock, world) = calling_app().await;
    let (admin, member) = (world.alpha.admin.as_str(), world.alpha.member.as_str());
    app.mutation(Some(admin), "dnc.add", json!({"phone": "312-555-0177", "reason": "asked"})).await.data();

    // Act
    run_to_completion(&app, &clock, member, &[&world.alpha.run_id]).await;

    // Assert: the listed row is skipped without a call; the other one was called.
    let rows = app.query(Some(member), "runs.getRows", json!({"runId": world.alpha.run_id})).await;
    let rows = rows.data()["rows"].as_array().unwrap().clone();
    let listed = rows.iter().find(|r| r["cells"][0] == "(312) 555-0177").expect("the listed row");
    let other = rows.iter().find(|r| r["cells"][0] == "(617) 555-0188").expect("the other row");
    assert_eq!(listed["status"], "skipped", "{listed}");
    assert_eq!(listed["skipReason"], "do_not_call");
    assert_eq!(listed["attempts"], 0);
    let calls =
        app.query(Some(member), "calls.list", json!({"runId": world.alpha.run_id, "limit": 100})).await;
    let calls = calls.data()["calls"].as_array().unwrap().clone();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|c| c["phoneLast4"] != "0177" && c["rowId"] != listed["id"]), "{calls:?}");
    assert!(calls.iter().all(|c| c["rowId"] == other["id"]));
    app.stop().await;
}
