//! Sealed objects (issue 15, item 1) through HTTP: a patient sheet uploaded with `POST /uploads`
//! is nowhere in plaintext on the local disk or in the S3 server's directory, still previews and
//! becomes a run, and a stored object changed or cut short fails the preview with a clear error.
//! Objects stored before sealing keep working until sealed in place, and a re-wrapped object
//! opens under the new key.

use std::path::{Path, PathBuf};

use rivvi_domain::ids::{OrgId, UploadId};
use rivvi_server::config::Secret;
use rivvi_server::storage::envelope::MAGIC;
use rivvi_server::storage::{upload_key, Rewrapped, Sealing, StorageSettings, StoredFormat};
use serde_json::json;

use crate::support::s3::{files_under, S3Server};
use crate::support::{seed, TestApp};
use crate::uploads::app_store;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/ingestion/tests/fixtures");
/// 30 patients; UTF-8 with a BOM, phones and birth dates in several spellings.
const SHEET: &str = "clinic_b_reminders.csv";

fn sheet() -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{SHEET}")).unwrap()
}

/// What must never be found in storage: every patient's names, phone and birth date, as the
/// sheet spells them and as the system normalizes them (E.164, digits only, ISO date). Names
/// shorter than five bytes are only looked for with the other name, so a random match in
/// ciphertext (about one in a trillion for five bytes) cannot make the test flaky.
fn patient_needles(csv_bytes: &[u8]) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(csv_bytes);
    let mut needles = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        let (first, last, birth, phone) = (&record[0], &record[1], &record[2], &record[3]);
        needles.push(format!("{first} {last}"));
        needles.push(format!("{first},{last}"));
        needles.extend([first, last].into_iter().filter(|name| name.len() >= 5).map(str::to_owned));
        needles.push(phone.to_owned());
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let national = digits.strip_prefix('1').filter(|d| d.len() == 10).unwrap_or(&digits).to_owned();
        needles.push(format!("+1{national}"));
        needles.push(national);
        needles.push(birth.to_owned());
        let parts: Vec<&str> = birth.split('/').collect();
        needles.push(format!("{}-{}-{}", parts[2], parts[0], parts[1]));
    }
    needles.sort();
    needles.dedup();
    needles
}

/// Every needle found in any file under `dir`, with the file.
fn found_under(dir: &Path, needles: &[String]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in needles {
            if bytes.windows(needle.len()).any(|window| window == needle.as_bytes()) {
                found.push((file.clone(), needle.clone()));
            }
        }
    }
    found
}

fn storage_key(world: &seed::World, upload: &str) -> String {
    let org: OrgId = world.alpha.id.parse().unwrap();
    let upload: UploadId = upload.parse().unwrap();
    upload_key(org, upload)
}

async fn preview(app: &TestApp, token: &str, campaign: &str, upload: &str) -> crate::support::RpcResponse {
    app.query(Some(token), "runs.preview", json!({"campaignId": campaign, "uploadId": upload})).await
}

/// Uploads the sheet and checks the folder holds none of its PHI, then previews it and makes a
/// run of it. `folder` is where the store keeps its bytes.
async fn sheet_is_sealed_and_still_ingests(app: &TestApp, folder: &Path) {
    let (world, campaign) = seed::world_with_reminders(app).await;
    let member = world.alpha.member.as_str();
    let needles = patient_needles(&sheet());
    // The scan finds what it looks for: every needle that is spelled as in the sheet.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join(SHEET), sheet()).unwrap();
    assert!(found_under(plain.path(), &needles).len() >= 30 * 3, "the scan must see the plaintext");

    let upload = app.upload(member, "march patients.csv", sheet()).await;

    let leaks = found_under(folder, &needles);
    assert!(
        leaks.is_empty(),
        "{} PHI values in storage, such as {:?}",
        leaks.len(),
        &leaks[..leaks.len().min(3)]
    );
    let preview = preview(app, member, &campaign, &upload).await;
    assert_eq!(preview.data()["counts"]["callableRows"], 30, "{:?}", preview.body);
    let created = seed::create_run(app, member, &campaign, &upload, "Sealed", "sealed-1").await;
    let rows =
        app.query(Some(member), "runs.getRows", json!({"runId": created.data()["id"], "limit": 1})).await;
    assert_eq!(rows.data()["total"], 30, "{:?}", rows.body);
}

#[tokio::test]
async fn an_uploaded_sheet_is_nowhere_in_plaintext_in_the_uploads_folder_and_still_becomes_a_run() {
    let app = TestApp::spawn().await;

    sheet_is_sealed_and_still_ingests(&app, &app.data_dir.path().join("uploads")).await;

    app.stop().await;
}

#[tokio::test]
async fn an_uploaded_sheet_is_nowhere_in_plaintext_on_the_s3_server_and_still_becomes_a_run() {
    let s3 = S3Server::start().await;
    let settings = s3.settings();
    let app = TestApp::spawn_with(|s| s.storage = settings).await;

    sheet_is_sealed_and_still_ingests(&app, s3.root.path()).await;

    assert!(!s3.objects().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_changed_byte_or_a_cut_in_a_stored_upload_fails_the_preview_with_a_clear_error() {
    let app = TestApp::spawn().await;
    let (world, campaign) = seed::world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "list.csv", sheet()).await;
    let path = app.data_dir.path().join("uploads").join(storage_key(&world, &upload));
    let stored = std::fs::read(&path).unwrap();
    let flipped = |at: usize| {
        let mut bytes = stored.clone();
        bytes[at] ^= 0x20;
        bytes
    };
    let cases = [
        ("a byte of the body", flipped(stored.len() / 2)),
        ("the last byte of the tag", flipped(stored.len() - 1)),
        ("a byte of the wrapped key", flipped(MAGIC.len() + 40)),
        ("a byte of the magic (read as an old plaintext object)", flipped(2)),
        ("one byte cut", stored[..stored.len() - 1].to_vec()),
        ("the body cut", stored[..stored.len() / 2].to_vec()),
        ("the header cut", stored[..MAGIC.len() + 10].to_vec()),
        ("bytes appended", [stored.as_slice(), b"extra"].concat()),
    ];

    for (label, damaged) in cases {
        std::fs::write(&path, &damaged).unwrap();

        let answer = preview(&app, member, &campaign, &upload).await;

        assert_eq!(answer.code(), 409, "{label}: {:?}", answer.body);
        assert!(answer.message().contains("failed its integrity check"), "{label}: {}", answer.message());
        assert!(answer.message().contains(&upload), "{label}: {}", answer.message());
    }
    // The original bytes preview again: the failures were the damage, nothing else.
    std::fs::write(&path, &stored).unwrap();
    assert_eq!(preview(&app, member, &campaign, &upload).await.data()["counts"]["callableRows"], 30);
    app.stop().await;
}

#[tokio::test]
async fn a_changed_byte_in_an_s3_object_fails_the_preview_with_a_clear_error() {
    let s3 = S3Server::start().await;
    let settings = s3.settings();
    let app = TestApp::spawn_with(|s| s.storage = settings).await;
    let (world, campaign) = seed::world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "list.csv", sheet()).await;
    let path = s3.object_path(&storage_key(&world, &upload));
    let mut stored = std::fs::read(&path).unwrap();
    let middle = stored.len() / 2;
    stored[middle] ^= 0x01;
    std::fs::write(&path, &stored).unwrap();

    let answer = preview(&app, member, &campaign, &upload).await;

    assert_eq!(answer.code(), 409, "{:?}", answer.body);
    assert!(answer.message().contains("failed its integrity check"), "{}", answer.message());
    app.stop().await;
}

#[tokio::test]
async fn an_s3_object_stored_before_sealing_previews_until_it_is_sealed_in_place() {
    let s3 = S3Server::start().await;
    let settings = s3.settings();
    let app = TestApp::spawn_with(|s| s.storage = settings.clone()).await;
    let (world, campaign) = seed::world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "list.csv", sheet()).await;
    let key = storage_key(&world, &upload);
    let store = app_store(&app, &settings).await;
    // As it was stored before this change: the plaintext under the same key.
    let plaintext = futures_util::stream::iter([Ok(bytes::Bytes::from(sheet()))]);
    store.raw().put_stream(&key, plaintext).await.unwrap();
    assert_eq!(std::fs::read(s3.object_path(&key)).unwrap(), sheet());

    let legacy = preview(&app, member, &campaign, &upload).await;
    let mut outcomes = Vec::new();
    for object in store.list("orgs/").await.unwrap() {
        outcomes.push(store.seal_plaintext(&object).await.unwrap());
    }
    let mut again = Vec::new();
    for object in store.list("orgs/").await.unwrap() {
        again.push(store.seal_plaintext(&object).await.unwrap());
    }
    let sealed = preview(&app, member, &campaign, &upload).await;

    assert_eq!(legacy.data()["counts"]["callableRows"], 30, "{:?}", legacy.body);
    // The seeded world's own upload was sealed when it arrived; this one was not.
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Sealing::Sealed { .. })).count(), 1, "{outcomes:?}");
    assert!(again.iter().all(|o| *o == Sealing::AlreadySealed), "{again:?}");
    assert!(found_under(s3.root.path(), &patient_needles(&sheet())).is_empty());
    assert_eq!(store.key_id_of(&key).await.unwrap(), StoredFormat::Sealed { key_id: "dev".into() });
    assert_eq!(sealed.data()["counts"]["callableRows"], 30, "{:?}", sealed.body);
    app.stop().await;
}

#[tokio::test]
async fn an_s3_object_rewrapped_with_a_new_key_previews_through_a_server_holding_that_key() {
    let s3 = S3Server::start().await;
    let settings = s3.settings();
    let app = TestApp::spawn_with(|s| s.storage = settings.clone()).await;
    let (world, campaign) = seed::world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "list.csv", sheet()).await;
    let key = storage_key(&world, &upload);
    // RIVVI_DATA_KEY after a rotation: a new active key, the development key still listed.
    let dev_key = std::fs::read_to_string(app.data_dir.path().join("dev-data-key")).unwrap();
    let rotated_spec = format!("2026-01:{},{}", base64_key(7), dev_key.trim());
    let rotated = rivvi_server::storage::SealedStore::new(
        store_raw(&settings).await,
        rivvi_persistence::sealing::Keys::load(Some(&rotated_spec), None, Some(app.data_dir.path()))
            .unwrap()
            .sealer,
    );

    let first = rotated.rewrap(&key).await.unwrap();
    let second = rotated.rewrap(&key).await.unwrap();
    let after = app.another_instance_with(|s| s.data_key = Some(Secret::new(rotated_spec.clone()))).await;
    let through_new_key = preview(&after, member, &campaign, &upload).await;
    let through_old_ring = preview(&app, member, &campaign, &upload).await;

    assert_eq!(first, Rewrapped::Rewrapped { from: "dev".into() });
    assert_eq!(second, Rewrapped::AlreadyActive);
    assert_eq!(rotated.key_id_of(&key).await.unwrap(), StoredFormat::Sealed { key_id: "2026-01".into() });
    assert_eq!(through_new_key.data()["counts"]["callableRows"], 30, "{:?}", through_new_key.body);
    // A server whose RIVVI_DATA_KEY lacks the new key cannot open it: an operator error, 500.
    assert_eq!(through_old_ring.code(), 500, "{:?}", through_old_ring.body);
    after.stop().await;
    app.stop().await;
}

async fn store_raw(settings: &StorageSettings) -> rivvi_server::storage::ObjectStore {
    rivvi_server::storage::ObjectStore::from_settings(settings).await.unwrap()
}

fn base64_key(byte: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}
