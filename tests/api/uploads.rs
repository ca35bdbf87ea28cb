//! `POST /uploads` through HTTP: both storage backends (a local directory, and S3 through a real
//! in-process s3s-fs server), on whichever database the run selects.

use std::path::PathBuf;

use reqwest::StatusCode;
use rivvi_domain::ids::{OrgId, UploadId};
use rivvi_persistence::sealing::Keys;
use rivvi_persistence::OrgScope;
use rivvi_server::app::Application;
use rivvi_server::storage::envelope::MAGIC;
use rivvi_server::storage::{upload_key, ObjectStore, SealedStore, StorageError, StorageSettings};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::clerk::count_where;
use crate::support::s3::{files_under, S3Server};
use crate::support::seed::{audit_entries, provision, token};
use crate::support::{test_settings, TestApp, TokenBuilder, FRONTEND_ORIGIN};

const BOUNDARY: &str = "rivvi-test-boundary-7f3a";

/// Deterministic bytes that compress badly (a linear congruential generator), so sizes are real.
fn sample_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

fn csv(seed: u64) -> Vec<u8> {
    format!("First Name,Last Name,DOB,Phone\nJane,Doe,03/04/1985,(312) 555-01{:02}\n", seed % 100)
        .into_bytes()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A `multipart/form-data` body: optional plain fields first, then the file part.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((file_name, content_type, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

struct Answer {
    status: StatusCode,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, body, headers }
}

async fn upload_multipart(app: &TestApp, token: Option<&str>, file_name: &str, bytes: &[u8]) -> Answer {
    let mut request = app
        .http
        .post(app.url("/uploads"))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("origin", FRONTEND_ORIGIN)
        .body(multipart(&[("note", "weekly list")], Some((file_name, "text/csv", bytes))));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await.expect("upload sent")).await
}

async fn upload_raw(
    app: &TestApp,
    token: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    bytes: Vec<u8>,
) -> Answer {
    let mut request = app.http.post(app.url(path_and_query)).bearer_auth(token).body(bytes);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send().await.expect("upload sent")).await
}

fn upload_id(answer: &Answer) -> UploadId {
    answer.body["uploadId"]
        .as_str()
        .unwrap_or_else(|| panic!("no uploadId in {}", answer.body))
        .parse()
        .expect("uploadId is a UUID")
}

/// The store the test app writes to, opened beside it with the app's keys.
pub async fn app_store(app: &TestApp, settings: &StorageSettings) -> SealedStore {
    // Test servers run without RIVVI_DATA_KEY: their development key is in the data directory.
    let keys = Keys::load(None, None, Some(app.data_dir.path())).expect("the app's development keys");
    SealedStore::new(ObjectStore::from_settings(settings).await.expect("object store"), keys.sealer)
}

pub async fn local_store(app: &TestApp) -> SealedStore {
    app_store(app, &StorageSettings::local(app.data_dir.path().join("uploads"))).await
}

fn local_objects(app: &TestApp) -> Vec<PathBuf> {
    files_under(&app.data_dir.path().join("uploads"))
}

/// A member token of a fresh clinic, provisioned; returns the token and the clinic's id.
async fn member_of(app: &TestApp, clerk_org: &str) -> (String, OrgId) {
    let token = token(&format!("user_{clerk_org}_member"), clerk_org, "member");
    let org_id: OrgId = provision(app, &token).await.parse().expect("org id is a UUID");
    (token, org_id)
}

#[tokio::test]
async fn a_multipart_upload_is_stored_with_its_hash_size_and_an_audit_entry() {
    let app = TestApp::spawn().await;
    let (member, org_id) = member_of(&app, "org_up_multi").await;
    let file = csv(1);

    let answer = upload_multipart(&app, Some(&member), "march patients.csv", &file).await;

    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(answer.body["fileName"], "march patients.csv");
    assert_eq!(answer.body["size"], file.len());
    assert_eq!(answer.body["sha256"], sha256_hex(&file));
    assert_eq!(answer.body["mediaType"], "text/csv");
    assert_eq!(answer.body["duplicate"], false);
    let id = upload_id(&answer);
    let stored = local_store(&app).await.get(&upload_key(org_id, id)).await.unwrap();
    assert_eq!(stored.as_ref(), file.as_slice());
    // The key is ids only: the file name (which may hold PHI) is nowhere on disk.
    let objects = local_objects(&app);
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(!objects[0].display().to_string().contains("march"));
    assert_eq!(count_where(&app, "uploads", &format!("sha256 = '{}'", sha256_hex(&file))).await, 1);
    let admin = token("user_org_up_multi_admin", "org_up_multi", "admin");
    let entries = audit_entries(&app, &admin).await;
    let created: Vec<&Value> = entries.iter().filter(|e| e["action"] == "upload.created").collect();
    assert_eq!(created.len(), 1, "{entries:?}");
    assert_eq!(created[0]["entityId"], id.to_string());
    app.stop().await;
}

#[tokio::test]
async fn a_raw_upload_takes_its_name_from_the_query_or_the_header() {
    let app = TestApp::spawn().await;
    let (member, org_id) = member_of(&app, "org_up_raw").await;
    let first = sample_bytes(70_000, 1);
    let second = csv(2);

    let by_query = upload_raw(
        &app,
        &member,
        "/uploads?fileName=Clinic%20list.xlsx",
        &[("content-type", "application/octet-stream")],
        first.clone(),
    )
    .await;
    let by_header = upload_raw(
        &app,
        &member,
        "/uploads",
        &[("x-file-name", "Pati%C3%ABnten.csv"), ("content-type", "text/csv; charset=utf-8")],
        second.clone(),
    )
    .await;

    assert_eq!(by_query.status, StatusCode::CREATED, "{}", by_query.body);
    assert_eq!(by_query.body["fileName"], "Clinic list.xlsx");
    assert_eq!(
        by_query.body["mediaType"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(by_query.body["sha256"], sha256_hex(&first));
    assert_eq!(by_query.body["size"], first.len());
    assert_eq!(by_header.status, StatusCode::CREATED, "{}", by_header.body);
    assert_eq!(by_header.body["fileName"], "Patiënten.csv");
    assert_eq!(by_header.body["mediaType"], "text/csv");
    let store = local_store(&app).await;
    assert_eq!(
        store.get(&upload_key(org_id, upload_id(&by_query))).await.unwrap().as_ref(),
        first.as_slice()
    );
    assert_eq!(
        store.get(&upload_key(org_id, upload_id(&by_header))).await.unwrap().as_ref(),
        second.as_slice()
    );
    app.stop().await;
}

#[tokio::test]
async fn the_same_file_uploaded_eight_times_at_once_is_stored_once() {
    let app = TestApp::spawn().await;
    let (member, _) = member_of(&app, "org_up_race").await;
    let file = csv(5);

    let uploads = (0..8).map(|_| upload_raw(&app, &member, "/uploads?fileName=race.csv", &[], file.clone()));
    let answers = futures_util::future::join_all(uploads).await;

    let created = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "one upload wins: {:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    assert!(answers.iter().all(|a| a.status.is_success()), "the others are told it is a duplicate");
    let first = upload_id(&answers[0]);
    assert!(answers.iter().all(|a| upload_id(a) == first), "every answer names the same upload");
    assert_eq!(local_objects(&app).len(), 1, "{:?}", local_objects(&app));
    assert_eq!(count_where(&app, "uploads", &format!("sha256 = '{}'", sha256_hex(&file))).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_same_file_twice_in_an_org_is_one_upload_and_another_org_gets_its_own() {
    let app = TestApp::spawn().await;
    let (alpha, _) = member_of(&app, "org_up_dup_a").await;
    let (beta, _) = member_of(&app, "org_up_dup_b").await;
    let file = csv(3);

    let first = upload_multipart(&app, Some(&alpha), "list.csv", &file).await;
    let again = upload_raw(&app, &alpha, "/uploads?fileName=renamed.csv", &[], file.clone()).await;
    let other_org = upload_multipart(&app, Some(&beta), "list.csv", &file).await;

    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(upload_id(&again), upload_id(&first));
    assert_eq!(again.body["fileName"], "list.csv", "the existing upload is returned");
    assert_eq!(other_org.status, StatusCode::CREATED);
    assert_eq!(other_org.body["duplicate"], false);
    assert_ne!(upload_id(&other_org), upload_id(&first));
    // One object per organization: the redundant copy was deleted.
    assert_eq!(local_objects(&app).len(), 2, "{:?}", local_objects(&app));
    assert_eq!(count_where(&app, "uploads", &format!("sha256 = '{}'", sha256_hex(&file))).await, 2);
    app.stop().await;
}

#[tokio::test]
async fn without_a_token_an_upload_is_401_with_cors_headers_and_without_an_org_403() {
    let app = TestApp::spawn().await;
    let no_org = TokenBuilder::user("user_up_no_org").sign();
    let forged =
        TokenBuilder::user("user_up_forged").in_org("org_up_auth", "admin").signed_by_untrusted_key().sign();

    let anonymous = upload_multipart(&app, None, "a.csv", &csv(4)).await;
    let rejected = upload_multipart(&app, Some(&forged), "a.csv", &csv(4)).await;
    let outside = upload_multipart(&app, Some(&no_org), "a.csv", &csv(4)).await;

    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.body["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", anonymous.body);
    assert_eq!(
        anonymous.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
        Some(FRONTEND_ORIGIN)
    );
    assert!(anonymous.headers.contains_key("x-request-id"));
    assert_eq!(rejected.status, StatusCode::UNAUTHORIZED, "{}", rejected.body);
    assert_eq!(outside.status, StatusCode::FORBIDDEN, "{}", outside.body);
    assert!(outside.body["error"].as_str().unwrap_or_default().contains("organization"));
    assert_eq!(count_where(&app, "uploads", "1 = 1").await, 0);
    assert!(local_objects(&app).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_browser_preflight_for_a_raw_upload_allows_the_file_name_header() {
    let app = TestApp::spawn().await;

    let response = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/uploads"))
        .header("origin", FRONTEND_ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,x-file-name,content-type")
        .send()
        .await
        .unwrap();

    assert!(response.status().is_success(), "{}", response.status());
    let allowed =
        response.headers().get("access-control-allow-headers").unwrap().to_str().unwrap().to_lowercase();
    assert!(allowed.contains("x-file-name"), "{allowed}");
    app.stop().await;
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413_and_stores_and_records_nothing() {
    let app = TestApp::spawn_with(|settings| settings.upload_limit = 1024).await;
    let (member, _) = member_of(&app, "org_up_limit").await;
    let big = sample_bytes(4096, 5);
    let audit_before = count_where(&app, "audit_log", "1 = 1").await;

    // Multipart: the body is within the multipart allowance, so the file is streamed and the
    // limit trips mid-way.
    let multipart = upload_multipart(&app, Some(&member), "big.csv", &big).await;
    // Raw with a Content-Length: refused before reading.
    let raw = upload_raw(&app, &member, "/uploads?fileName=big.csv", &[], big.clone()).await;
    // Raw and chunked (no Content-Length): the limit trips while streaming.
    let chunked = chunked_upload(&app, &member, &big).await;
    // Exactly at the limit is fine.
    let at_limit = upload_raw(&app, &member, "/uploads?fileName=ok.csv", &[], sample_bytes(1024, 6)).await;

    for (label, answer) in [("multipart", &multipart), ("raw", &raw)] {
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{label}: {}", answer.body);
        assert!(
            answer.body["error"].as_str().unwrap_or_default().contains("1024"),
            "{label}: {}",
            answer.body
        );
    }
    assert_eq!(chunked, 413);
    assert_eq!(at_limit.status, StatusCode::CREATED, "{}", at_limit.body);
    assert_eq!(count_where(&app, "uploads", &format!("sha256 = '{}'", sha256_hex(&big))).await, 0);
    assert_eq!(count_where(&app, "uploads", "1 = 1").await, 1);
    assert_eq!(count_where(&app, "audit_log", "1 = 1").await, audit_before + 1);
    assert_eq!(local_objects(&app).len(), 1, "{:?}", local_objects(&app));
    app.stop().await;
}

/// A raw upload with `Transfer-Encoding: chunked`, written by hand (reqwest would send a
/// Content-Length); returns the response status code.
async fn chunked_upload(app: &TestApp, token: &str, bytes: &[u8]) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    let mut request = format!(
        "POST /uploads?fileName=chunked.csv HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.address
    )
    .into_bytes();
    for chunk in bytes.chunks(512) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).await.expect("request written");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

#[tokio::test]
async fn an_empty_or_nameless_upload_is_400() {
    let app = TestApp::spawn().await;
    let (member, _) = member_of(&app, "org_up_empty").await;

    let empty_raw = upload_raw(&app, &member, "/uploads?fileName=empty.csv", &[], Vec::new()).await;
    let empty_part = upload_multipart(&app, Some(&member), "empty.csv", b"").await;
    let nameless = upload_raw(&app, &member, "/uploads", &[], csv(7)).await;
    let no_file_part = answer(
        app.http
            .post(app.url("/uploads"))
            .bearer_auth(&member)
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(multipart(&[("note", "no file here")], None))
            .send()
            .await
            .unwrap(),
    )
    .await;

    for (label, answer) in [
        ("empty raw", &empty_raw),
        ("empty part", &empty_part),
        ("nameless", &nameless),
        ("no file", &no_file_part),
    ] {
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{label}: {}", answer.body);
        assert!(answer.body["error"].is_string(), "{label}: {}", answer.body);
    }
    assert!(empty_raw.body["error"].as_str().unwrap().contains("empty"));
    assert!(nameless.body["error"].as_str().unwrap().contains("fileName"));
    assert_eq!(count_where(&app, "uploads", "1 = 1").await, 0);
    assert!(local_objects(&app).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_upload_is_loaded_back_for_its_own_org_only() {
    let app = TestApp::spawn().await;
    let (alpha, alpha_id) = member_of(&app, "org_up_load_a").await;
    let (_, beta_id) = member_of(&app, "org_up_load_b").await;
    let file = sample_bytes(10_000, 8);
    let uploaded = upload_raw(&app, &alpha, "/uploads?fileName=list.csv", &[], file.clone()).await;
    let id = upload_id(&uploaded);
    // A second instance of the server over the same database and data directory, as ingestion
    // would run in any instance.
    let mut settings = test_settings(&app.database.url, app.data_dir.path());
    settings.migrate_on_start = false;
    let instance = Application::build(settings).await.unwrap();

    let (record, bytes) =
        rivvi_server::services::uploads::load(instance.state(), &OrgScope::for_verified_org(alpha_id), id)
            .await
            .unwrap();
    let other =
        rivvi_server::services::uploads::load(instance.state(), &OrgScope::for_verified_org(beta_id), id)
            .await
            .map_err(rivvi_server::api::ApiError::from)
            .unwrap_err();

    assert_eq!(bytes.as_ref(), file.as_slice());
    assert_eq!(record.file_name, "list.csv");
    assert_eq!(record.sha256, sha256_hex(&file));
    assert!(matches!(other, rivvi_server::api::ApiError::NotFound { entity: "upload" }), "{other}");
    drop(instance);
    app.stop().await;
}

#[tokio::test]
async fn readyz_reports_storage() {
    let app = TestApp::spawn().await;
    let body: Value = app.http.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["storage"], "ok", "{body}");
    app.stop().await;
}

// --- S3, through a real S3 server (s3s-fs) on 127.0.0.1

#[tokio::test]
async fn an_upload_round_trips_through_s3_including_a_multipart_sized_file() {
    let s3 = S3Server::start().await;
    let settings = s3.settings();
    let app = TestApp::spawn_with(|s| s.storage = settings.clone()).await;
    let (member, org_id) = member_of(&app, "org_up_s3").await;
    // Over one 8 MiB part: exercises CreateMultipartUpload / UploadPart / Complete.
    let large = sample_bytes(9 * 1024 * 1024 + 123, 9);
    let small = csv(9);

    let large_answer = upload_raw(&app, &member, "/uploads?fileName=large.xlsx", &[], large.clone()).await;
    let small_answer = upload_multipart(&app, Some(&member), "small.csv", &small).await;
    let duplicate = upload_multipart(&app, Some(&member), "small-again.csv", &small).await;

    assert_eq!(large_answer.status, StatusCode::CREATED, "{}", large_answer.body);
    assert_eq!(large_answer.body["sha256"], sha256_hex(&large));
    assert_eq!(large_answer.body["size"], large.len());
    assert_eq!(small_answer.status, StatusCode::CREATED, "{}", small_answer.body);
    assert_eq!(duplicate.status, StatusCode::OK);
    assert_eq!(upload_id(&duplicate), upload_id(&small_answer));
    let store = app_store(&app, &settings).await;
    let large_key = upload_key(org_id, upload_id(&large_answer));
    let small_key = upload_key(org_id, upload_id(&small_answer));
    assert_eq!(store.get(&large_key).await.unwrap().as_ref(), large.as_slice());
    assert_eq!(store.get(&small_key).await.unwrap().as_ref(), small.as_slice());
    // Stored sealed: a header and a 16-byte tag per 64 KiB chunk on top of the plaintext.
    let stored_size = store.head(&large_key).await.unwrap().map(|info| info.size).unwrap();
    assert!(stored_size > large.len() as u64 + 16 * 145, "{stored_size}");
    // On the server's disk, under the bucket and prefix: exactly the two objects, sealed.
    let on_disk = std::fs::read(s3.object_path(&small_key)).unwrap();
    assert!(on_disk.starts_with(&MAGIC) && !on_disk.windows(4).any(|w| w == b"Jane"));
    let mut expected = vec![s3.object_path(&large_key), s3.object_path(&small_key)];
    expected.sort();
    assert_eq!(s3.objects(), expected);
    let ready: Value = app.http.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["storage"], "ok", "{ready}");
    app.stop().await;
}

#[tokio::test]
async fn an_over_limit_upload_leaves_no_object_in_s3() {
    let s3 = S3Server::start().await;
    let settings = s3.settings();
    let app = TestApp::spawn_with(|s| {
        s.storage = settings.clone();
        s.upload_limit = 2048;
    })
    .await;
    let (member, _) = member_of(&app, "org_up_s3_limit").await;

    let answer = upload_multipart(&app, Some(&member), "big.csv", &sample_bytes(8192, 10)).await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.body);
    assert_eq!(count_where(&app, "uploads", "1 = 1").await, 0);
    assert!(s3.objects().is_empty(), "{:?}", s3.objects());
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_s3_secret_is_rejected_by_the_store() {
    let s3 = S3Server::start().await;
    let store = ObjectStore::from_settings(&s3.settings_with_secret("not-the-secret")).await.unwrap();
    let chunks = futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"x"))]);

    let ping = store.ping().await;
    let put = store.put_stream("orgs/a/uploads/b", chunks).await;

    assert!(matches!(ping, Err(StorageError::S3 { op: "HeadBucket", .. })), "{ping:?}");
    let err = put.unwrap_err();
    assert!(matches!(&err, StorageError::S3 { op: "PutObject", .. }), "{err:?}");
    assert!(err.to_string().contains("403"), "{err}");
    assert!(s3.objects().is_empty());
    // The right secret works against the same server.
    ObjectStore::from_settings(&s3.settings()).await.unwrap().ping().await.unwrap();
}

#[tokio::test]
async fn with_a_wrong_s3_secret_the_server_is_not_ready_and_uploads_fail_cleanly() {
    let s3 = S3Server::start().await;
    let settings = s3.settings_with_secret("not-the-secret");
    let app = TestApp::spawn_with(|s| s.storage = settings.clone()).await;
    let (member, _) = member_of(&app, "org_up_s3_bad").await;

    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    let ready_status = ready.status();
    let ready: Value = ready.json().await.unwrap();
    let upload = upload_multipart(&app, Some(&member), "a.csv", &csv(11)).await;

    assert_eq!(ready_status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready["storage"], "unreachable");
    assert_eq!(ready["database"], "ok");
    assert_eq!(upload.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(upload.body["error"], "internal error", "no storage detail reaches the client");
    assert_eq!(count_where(&app, "uploads", "1 = 1").await, 0);
    app.stop().await;
}
