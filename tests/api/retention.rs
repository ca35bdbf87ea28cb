//! Retention (issue 15, item 6) through the running server: its worker runs the maintenance step
//! every 200 ms on a manual clock, which the tests move across the retention periods.
//!
//! A negative ("still there at day 29") is only worth asserting after a pass that saw that day.
//! The tests get that proof from a canary: a fresh upload in beta (kept a day, or 7) whose run is
//! cancelled at once. Once the canary's deletion is committed (its audit entry is listed), a pass
//! ran at the new time, and in that same pass (one `now` for every organization, taken in name
//! order, beta renamed to come last) alpha's upload was looked at and kept, or deleted.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rivvi_domain::ids::{OrgId, UploadId};
use rivvi_execution::clock::{Clock, ManualClock};
use rivvi_server::storage::upload_key;
use serde_json::{json, Value};

use crate::calls::run_to_completion;
use crate::support::s3::S3Server;
use crate::support::seed::{self, open_all_week, World};
use crate::support::{RpcResponse, TestApp};

const EVERY: Duration = Duration::from_millis(200);
const CALLER_NUMBER: &str = "+13125550100";

/// Two patients, both reached (scripted), so both calls have a transcript and a summary.
const SHEET: &[u8] = b"First Name,Last Name,Date of Birth,Phone,Appointment Date\n\
Retta,Keepington,1950-01-01,(312) 555-0171,2026-12-03\n\
Osgood,Vanderpurge,1951-02-02,(312) 555-0172,2026-12-03\n";

/// A run paused before it finished.
const PAUSED_SHEET: &[u8] = b"First Name,Last Name,Date of Birth,Phone,Appointment Date\n\
Pia,Halfway,1952-03-03,(312) 555-0173,2026-12-04\n\
Quin,Halfway,1953-04-04,(312) 555-0174,2026-12-04\n";

/// Names that must never appear in an audit entry.
const NAMES: [&str; 4] = ["Retta", "Keepington", "Osgood", "Vanderpurge"];

/// A server purging every 200 ms on a manual clock; beta keeps uploads `beta_days`.
async fn retention_app(
    beta_days: u32,
    configure: impl FnOnce(&mut rivvi_server::config::Settings),
) -> (TestApp, Arc<ManualClock>, World) {
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let app = TestApp::spawn_with_clock(
        |s| {
            s.simulator_time_scale = 1.0;
            s.retention_every = Some(EVERY);
            configure(s);
        },
        clock.clone(),
    )
    .await;
    let world = seed::world(&app).await;
    let beta = app
        .mutation(Some(&world.beta.admin), "organizations.update", json!({"uploadRetentionDays": beta_days}))
        .await;
    assert_eq!(beta.data()["uploadRetentionDays"], beta_days);
    // A pass takes organizations by name: the canary's last, after alpha ("org_alpha") and the
    // operator organization.
    let renamed =
        app.mutation(Some(&world.beta.admin), "organizations.update", json!({"name": "zzz canary"})).await;
    assert_eq!(renamed.data()["name"], "zzz canary");
    (app, clock, world)
}

fn key_of(org: &str, upload: &str) -> String {
    upload_key(org.parse::<OrgId>().unwrap(), upload.parse::<UploadId>().unwrap())
}

async fn preview(app: &TestApp, token: &str, campaign: &str, upload: &str) -> RpcResponse {
    app.query(Some(token), "runs.preview", json!({"campaignId": campaign, "uploadId": upload})).await
}

/// Whether the upload's row is still there, asked as a user would: a preview of it.
async fn upload_exists(app: &TestApp, token: &str, campaign: &str, upload: &str) -> bool {
    let answer = preview(app, token, campaign, upload).await;
    match answer.code() {
        200 => true,
        404 => false,
        other => panic!("preview of {upload}: {other} {}", answer.body),
    }
}

/// A run of `upload` in `campaign`, made and (with `cancel`) cancelled at once.
async fn run_of(
    app: &TestApp,
    token: &str,
    campaign: &str,
    upload: &str,
    name: &str,
    cancel: bool,
) -> String {
    let input = json!({"campaignId": campaign, "uploadId": upload, "name": name, "clientRequestId": name});
    let run = app.mutation(Some(token), "runs.create", input).await.data()["id"].as_str().unwrap().to_owned();
    if cancel {
        let cancelled = app.mutation(Some(token), "runs.cancel", json!({"id": run})).await;
        assert_eq!(cancelled.data()["status"], "cancelled");
    }
    run
}

/// A fresh beta upload whose run is cancelled now.
async fn canary(app: &TestApp, world: &World, n: u32) -> String {
    let member = world.beta.member.as_str();
    let sheet = format!("Patient phone,Appointment date\n(312) 555-02{n:02},2026-12-01\n");
    let upload = app.upload(member, &format!("canary-{n}.csv"), sheet.into_bytes()).await;
    run_of(app, member, &world.beta.campaign_id, &upload, &format!("canary-{n}"), true).await;
    upload
}

/// Waits until the worker's deletion of the beta `upload` is committed: its audit entry is
/// listed (in the transaction of the deletion), and the upload is not found.
async fn until_gone(app: &TestApp, world: &World, upload: &str) {
    let named = format!("upload:{upload}");
    for _ in 0..100 {
        let entries = retention_entries(app, &world.beta.admin).await;
        if entries.iter().any(|entry| entry["changedFields"].as_array().unwrap().contains(&json!(named))) {
            assert!(!upload_exists(app, &world.beta.member, &world.beta.campaign_id, upload).await);
            return;
        }
        tokio::time::sleep(EVERY / 2).await;
    }
    panic!("upload {upload} was never purged");
}

/// Sets the clock to `at`, then waits for a pass that saw it (the canary planted before it is
/// gone). Returns the next canary, planted at `at`.
async fn pass_at(
    app: &TestApp,
    clock: &ManualClock,
    world: &World,
    canary_upload: &str,
    at: DateTime<Utc>,
    n: u32,
) -> String {
    clock.set(at);
    until_gone(app, world, canary_upload).await;
    canary(app, world, n).await
}

async fn call_detail(app: &TestApp, token: &str, id: &str) -> Value {
    app.query(Some(token), "calls.get", json!({"id": id})).await.data().clone()
}

async fn retention_entries(app: &TestApp, admin: &str) -> Vec<Value> {
    let listed = app.query(Some(admin), "audit.list", json!({"entityType": "retention", "limit": 100})).await;
    listed.data()["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn expired_uploads_and_transcripts_go_on_time_and_the_runs_keep_every_cell() {
    // Arrange: alpha (30 days for uploads, 365 for transcripts) completes a run of two reached
    // patients and pauses another; beta, the canary, keeps uploads a day.
    let (app, clock, world) = retention_app(1, |_| {}).await;
    let (admin, member) = (world.alpha.admin.as_str(), world.alpha.member.as_str());
    let settings = json!({"officeHours": open_all_week(), "callerNumber": CALLER_NUMBER, "callsPerMinute": 600, "concurrentCallLimit": 50});
    seed::configure(&app, &world.super_admin, admin, &world.alpha.id, settings).await;
    let input = json!({"orgId": world.alpha.id, "campaign": seed::reminder_campaign("Retention")});
    let campaign = app.mutation(Some(&world.super_admin), "campaigns.create", input).await.data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for number in ["+13125550171", "+13125550172"] {
        let script = json!({"toNumber": number, "outcomes": ["reached"]});
        let response = app.http.post(app.url("/simulator/retell/script")).json(&script).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }
    let upload = app.upload(admin, "done.csv", SHEET.to_vec()).await;
    let run = run_of(&app, admin, &campaign, &upload, "done", false).await;
    let paused_upload = app.upload(admin, "paused.csv", PAUSED_SHEET.to_vec()).await;
    let paused = run_of(&app, admin, &campaign, &paused_upload, "paused", false).await;
    let first_call_possible = clock.now();
    run_to_completion(&app, &clock, member, &[&run]).await;
    let finished = clock.now();
    // The paused run never dials: started on a holiday (no call is placed), paused at once.
    let today = finished.date_naive();
    let holidays = json!([today.pred_opt().unwrap(), today, today.succ_opt().unwrap()]);
    let mut hours = open_all_week();
    hours["holidays"] = holidays;
    app.mutation(Some(admin), "organizations.update", json!({"officeHours": hours})).await.data();
    assert_eq!(
        app.mutation(Some(member), "runs.start", json!({"id": paused})).await.data()["status"],
        "running"
    );
    assert_eq!(
        app.mutation(Some(member), "runs.pause", json!({"id": paused})).await.data()["status"],
        "paused"
    );
    let object = app.data_dir.path().join("uploads").join(key_of(&world.alpha.id, &upload));
    assert!(object.is_file(), "{}", object.display());
    let calls = app.query(Some(member), "calls.list", json!({"runId": run, "limit": 100})).await;
    let call_ids: Vec<String> = calls.data()["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(call_ids.len(), 2, "{}", calls.body);
    for id in &call_ids {
        let detail = call_detail(&app, member, id).await;
        assert!(detail["transcript"].is_string() && detail["summary"].is_string(), "{detail}");
    }
    let rows_before = app.query(Some(member), "runs.getRows", json!({"runId": run, "limit": 100})).await;
    let rows_before = rows_before.data()["rows"].clone();
    let canary_0 = canary(&app, &world, 0).await;

    // Act and assert: 29 days after the run ended, the upload is still there.
    let canary_2 = pass_at(&app, &clock, &world, &canary_0, finished + TimeDelta::days(29), 2).await;
    assert!(upload_exists(&app, member, &campaign, &upload).await, "kept at 29 days");
    assert!(object.is_file());

    // 31 days: the object and the row are gone; the paused run's upload stays.
    let canary_3 = pass_at(&app, &clock, &world, &canary_2, finished + TimeDelta::days(31), 3).await;
    assert!(!object.exists(), "the stored object is deleted");
    let answer = preview(&app, member, &campaign, &upload).await;
    assert_eq!(answer.code(), 404, "{}", answer.body);
    assert!(upload_exists(&app, member, &campaign, &paused_upload).await, "a paused run's upload is kept");
    let kept = app.query(Some(member), "runs.get", json!({"id": run})).await;
    assert_eq!(kept.data()["status"], "completed", "{}", kept.body);
    assert_eq!(kept.data()["uploadId"], Value::Null, "{}", kept.body);
    let rows_after = app.query(Some(member), "runs.getRows", json!({"runId": run, "limit": 100})).await;
    assert_eq!(rows_after.data()["rows"], rows_before, "every row and cell is kept");
    assert!(rows_after.body.to_string().contains("Vanderpurge"), "{}", rows_after.body);

    // Transcripts: all there 364 days after the first call could start, all gone 366 days
    // after the last one ended; the analysis stays.
    let canary_4 =
        pass_at(&app, &clock, &world, &canary_3, first_call_possible + TimeDelta::days(364), 4).await;
    for id in &call_ids {
        let detail = call_detail(&app, member, id).await;
        assert!(detail["transcript"].is_string(), "kept at 364 days: {detail}");
    }
    pass_at(&app, &clock, &world, &canary_4, finished + TimeDelta::days(366), 5).await;
    for id in &call_ids {
        let detail = call_detail(&app, member, id).await;
        assert_eq!(detail["transcript"], Value::Null, "{detail}");
        assert_eq!(detail["summary"], Value::Null, "{detail}");
        assert_eq!(detail["recordingUrl"], Value::Null, "{detail}");
        assert!(detail["analysis"].is_object(), "the analysis stays: {detail}");
        assert_eq!(detail["status"], "ended", "{detail}");
    }
    assert!(upload_exists(&app, member, &campaign, &paused_upload).await, "still paused, still kept");

    // Audited in alpha as system actions naming counts and upload ids, never a patient.
    let entries = retention_entries(&app, admin).await;
    assert_eq!(entries.len(), 2, "one entry per pass that changed something: {entries:?}");
    for entry in &entries {
        assert_eq!(entry["action"], "retention.purged");
        assert_eq!(entry["actorKind"], "system");
        assert_eq!(entry["actorLabel"], "retention");
        assert_eq!(entry["kind"], "change");
        let text = entry.to_string();
        for name in NAMES.iter().chain(["555-017", "1950-01-01"].iter()) {
            assert!(!text.contains(name), "{name} in {text}");
        }
    }
    let fields = |entry: &Value| -> Vec<String> {
        entry["changedFields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
    };
    // Newest first: the transcripts, then the upload.
    assert_eq!(
        fields(&entries[1]),
        [
            "uploads_deleted=1".to_owned(),
            "calls_cleared=0".into(),
            "upload_retention_days=30".into(),
            "transcript_retention_days=365".into(),
            format!("upload:{upload}"),
        ]
    );
    assert_eq!(
        fields(&entries[0]),
        ["uploads_deleted=0", "calls_cleared=2", "upload_retention_days=30", "transcript_retention_days=365"]
    );
    let beta_entries = retention_entries(&app, &world.beta.admin).await;
    assert_eq!(beta_entries.len(), 4, "one per canary: {beta_entries:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_organization_keeping_uploads_7_days_loses_its_s3_object_after_8_while_the_default_keeps_it() {
    // Arrange: on S3, an upload in each organization whose run was cancelled at once.
    let s3 = S3Server::start().await;
    let storage = s3.settings();
    let (app, clock, world) = retention_app(7, |s| s.storage = storage).await;
    let member = world.alpha.member.as_str();
    let sheet = b"Patient phone,Appointment date\n(312) 555-0299,2026-12-01\n".to_vec();
    let alpha_upload = app.upload(member, "alpha.csv", sheet).await;
    run_of(&app, member, &world.alpha.campaign_id, &alpha_upload, "alpha", true).await;
    let beta_upload = canary(&app, &world, 0).await;
    let alpha_object = s3.object_path(&key_of(&world.alpha.id, &alpha_upload));
    let beta_object = s3.object_path(&key_of(&world.beta.id, &beta_upload));
    assert!(alpha_object.is_file() && beta_object.is_file(), "{}", beta_object.display());

    // Act
    clock.advance(TimeDelta::days(8));
    until_gone(&app, &world, &beta_upload).await;

    // Assert: beta's object is out of the bucket; alpha (30 days) keeps both.
    assert!(!beta_object.exists(), "{} is still in the bucket", beta_object.display());
    assert!(upload_exists(&app, member, &world.alpha.campaign_id, &alpha_upload).await);
    assert!(alpha_object.is_file());
    let entries = retention_entries(&app, &world.beta.admin).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["changedFields"][0], "uploads_deleted=1");
    assert_eq!(entries[0]["changedFields"][2], "upload_retention_days=7");
    assert!(retention_entries(&app, &world.alpha.admin).await.is_empty());
    app.stop().await;
}

/// The `(field, reason)` pairs of a 400 validation failure.
fn issues(response: &RpcResponse) -> Vec<(String, String)> {
    assert_eq!(response.code(), 400, "{}", response.body);
    let failure: Value = serde_json::from_str(response.message()).unwrap();
    failure["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["field"].as_str().unwrap().to_owned(), i["reason"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn retention_settings_are_shown_changed_audited_and_refused_out_of_range_naming_the_field() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();

    let current = app.query(Some(admin), "organizations.getCurrent", Value::Null).await;
    assert_eq!(current.data()["uploadRetentionDays"], 30);
    assert_eq!(current.data()["transcriptRetentionDays"], 365);

    for (field, value) in [
        ("uploadRetentionDays", json!(0)),
        ("uploadRetentionDays", json!(3651)),
        ("uploadRetentionDays", json!("thirty")),
        ("transcriptRetentionDays", json!(0)),
        ("transcriptRetentionDays", json!(3651)),
        ("transcriptRetentionDays", json!(-1)),
        ("transcriptRetentionDays", json!("a year")),
    ] {
        let answer = app.mutation(Some(admin), "organizations.update", json!({ field: value })).await;
        let issues = issues(&answer);
        assert!(issues.iter().any(|(f, _)| f == field), "{field}={value}: {issues:?}");
    }
    let member = app
        .mutation(Some(&world.alpha.member), "organizations.update", json!({"uploadRetentionDays": 60}))
        .await;
    assert_eq!(member.code(), 403, "{}", member.body);

    let changed = app
        .mutation(
            Some(admin),
            "organizations.update",
            json!({"uploadRetentionDays": 3650, "transcriptRetentionDays": 1}),
        )
        .await;
    assert_eq!(changed.data()["uploadRetentionDays"], 3650);
    assert_eq!(changed.data()["transcriptRetentionDays"], 1);
    let current = app.query(Some(admin), "organizations.getCurrent", Value::Null).await;
    assert_eq!(current.data()["uploadRetentionDays"], 3650);
    let entries = seed::audit_entries(&app, admin).await;
    let update = entries.iter().find(|e| e["action"] == "organization.updated").unwrap();
    assert_eq!(update["changedFields"], json!(["uploadRetentionDays", "transcriptRetentionDays"]));
    app.stop().await;
}
