//! The PHI access log through HTTP: every read that returns patient data (`patients.get`,
//! `patients.list`, `patients.searchByPhone`, `calls.get`, `runs.getRows`, `runs.preview`,
//! exports) leaves an entry naming the reader, the action, the entity ids and the row count, and
//! never a value; `audit.list { kind }` separates reads from changes.

use serde_json::{json, Value};

use crate::calls::{calling_app, run_to_completion};

/// Entries of `kind` (`read`/`change`) in the caller's organization, newest first.
async fn entries(app: &crate::support::TestApp, admin: &str, kind: &str) -> Vec<Value> {
    let found = app.query(Some(admin), "audit.list", json!({"kind": kind, "limit": 100})).await;
    found.data()["entries"].as_array().unwrap().clone()
}

fn fields(entry: &Value) -> Vec<&str> {
    entry["changedFields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_read_of_patient_data_is_in_the_access_log_without_values() {
    // Arrange: alpha's seeded run completed on the simulator, so there are calls to open.
    let (app, clock, world) = calling_app().await;
    let (admin, member) = (world.alpha.admin.as_str(), world.alpha.member.as_str());
    run_to_completion(&app, &clock, admin, &[&world.alpha.run_id]).await;
    let before = entries(&app, admin, "read").await.len();

    // Act: each PHI read once, by the member.
    let patient = app.query(Some(member), "patients.get", json!({"id": world.alpha.patient_id})).await;
    let listed = app.query(Some(member), "patients.list", json!({"limit": 10})).await;
    let phone = patient.data()["phone"].as_str().unwrap().to_owned();
    let searched = app.query(Some(member), "patients.searchByPhone", json!({"phone": phone})).await;
    let calls = app.query(Some(member), "calls.list", json!({"runId": world.alpha.run_id})).await;
    let call_id = calls.data()["calls"][0]["id"].as_str().unwrap().to_owned();
    let call = app.query(Some(member), "calls.get", json!({"id": call_id})).await;
    let rows =
        app.query(Some(member), "runs.getRows", json!({"runId": world.alpha.run_id, "limit": 2})).await;
    let preview = app
        .query(
            Some(member),
            "runs.preview",
            json!({"campaignId": world.alpha.campaign_id, "uploadId": world.alpha.upload_id}),
        )
        .await;
    let export = app
        .http
        .get(app.url(&format!("/exports/runs/{}.csv", world.alpha.run_id)))
        .bearer_auth(member)
        .send()
        .await
        .unwrap();
    assert!(export.status().is_success());
    export.bytes().await.unwrap();

    // Assert: one read entry per read, newest first, by the member, with ids and counts only.
    let reads = entries(&app, admin, "read").await;
    assert_eq!(reads.len() - before, 7, "{reads:#?}");
    let actions: Vec<&str> = reads[..7].iter().rev().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "patient.viewed",
            "patient.listed",
            "patient.searched",
            "call.viewed",
            "run.rows_viewed",
            "upload.previewed",
            "export.created"
        ]
    );
    let by_action = |action: &str| reads.iter().find(|e| e["action"] == action).unwrap().clone();
    for entry in &reads[..7] {
        assert_eq!(entry["kind"], "read");
        assert_eq!(entry["actorLabel"], "user_alpha_member", "{entry}");
    }
    let viewed = by_action("patient.viewed");
    assert_eq!(viewed["entityId"], json!(world.alpha.patient_id));
    assert_eq!(fields(&viewed), ["rows=1", &format!("patient:{}", world.alpha.patient_id)]);
    let listed_ids: Vec<String> = listed.data()["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("patient:{}", p["id"].as_str().unwrap()))
        .collect();
    let listed_entry = by_action("patient.listed");
    assert_eq!(fields(&listed_entry)[0], format!("rows={}", listed_ids.len()));
    assert_eq!(fields(&listed_entry)[1..], listed_ids.iter().map(String::as_str).collect::<Vec<_>>()[..]);
    let found = searched.data().as_array().unwrap().len();
    assert!(found >= 1);
    assert_eq!(fields(&by_action("patient.searched"))[0], format!("rows={found}"));
    let call_entry = by_action("call.viewed");
    assert_eq!(call_entry["entityId"], json!(call_id));
    assert_eq!(fields(&call_entry)[..2], ["rows=1", &format!("call:{call_id}")]);
    let rows_entry = by_action("run.rows_viewed");
    assert_eq!(rows_entry["entityId"], json!(world.alpha.run_id));
    assert_eq!(rows.data()["rows"].as_array().unwrap().len(), 2);
    assert_eq!(fields(&rows_entry), ["rows=2", "offset=0", "limit=2"]);
    let preview_entry = by_action("upload.previewed");
    assert_eq!(preview_entry["entityId"], json!(world.alpha.upload_id));
    let preview_rows = preview.data()["counts"]["dataRows"].as_u64().unwrap();
    assert_eq!(fields(&preview_entry), [format!("rows={preview_rows}")]);

    // Never a value: no name, number, birth date or transcript reached the log.
    let log = serde_json::to_string(&reads).unwrap();
    let detail = call.data();
    for value in [
        patient.data()["firstName"].as_str().unwrap(),
        patient.data()["lastName"].as_str().unwrap(),
        patient.data()["birthDate"].as_str().unwrap(),
        &phone,
        detail["toNumber"].as_str().unwrap(),
    ] {
        assert!(!log.contains(value), "{value} in the access log");
    }

    // Reads and changes are told apart: the changes hold no read, the reads no change.
    let changes = entries(&app, admin, "change").await;
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|e| e["kind"] == "change"), "{changes:#?}");
    let all = app.query(Some(admin), "audit.list", json!({"limit": 100})).await;
    assert_eq!(all.data()["total"], json!(reads.len() + changes.len()));
    let bad = app.query(Some(admin), "audit.list", json!({"kind": "everything"})).await;
    assert_eq!(bad.code(), 400);
    assert!(bad.message().contains("kind"), "{}", bad.message());

    // Another organization's log holds none of it.
    let theirs = entries(&app, world.beta.admin.as_str(), "read").await;
    assert!(theirs.iter().all(|e| !serde_json::to_string(e).unwrap().contains(&world.alpha.patient_id)));
    app.stop().await;
}
