//! The `rivvi` binary as operators run it.
// Tests may unwrap (STYLE.md §1): a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[path = "../../ingestion/tests/fixtures/expected.rs"]
mod expected;
#[path = "../../ingestion/tests/corpus/sheets.rs"]
#[allow(dead_code)]
mod sheets;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ingestion/tests/fixtures");

fn rivvi(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rivvi")).args(args).env_remove("RUST_LOG").output().unwrap()
}

#[test]
fn ingest_preview_gives_every_fixture_its_expected_counts() {
    let expected: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(format!("{FIXTURES}/expected.json")).unwrap()).unwrap();
    for case in expected {
        let file = format!("{FIXTURES}/{}", case["file"].as_str().unwrap());

        let output = rivvi(&["ingest", "preview", &file, "--json"]);

        assert!(output.status.success(), "{file}: {}", String::from_utf8_lossy(&output.stderr));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        expected::assert_expected_counts(&report, &case, &file);
        assert!(report["headerRow"].as_u64().unwrap() >= 1);
        assert!(report["mapping"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["column"].is_string() && m["field"].is_string()));
        let errors = report["errors"].as_array().unwrap().len() as u64;
        assert!(errors >= case["invalid_rows"].as_u64().unwrap(), "{file}: every invalid row has a reason");
    }
}

#[test]
fn ingest_preview_of_a_file_that_is_not_a_sheet_fails_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("patients.csv");
    std::fs::write(&path, (0..2048u32).map(|i| (i % 5) as u8).collect::<Vec<u8>>()).unwrap();

    let output = rivvi(&["ingest", "preview", path.to_str().unwrap(), "--json"]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a spreadsheet"), "{stderr}");
}

#[test]
fn ingest_preview_takes_a_campaign_file_and_reports_an_invalid_one() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("campaign.json");
    std::fs::write(
        &campaign,
        r#"{"name": "", "direction": "outbound", "agentId": "agent_x", "basePrompt": "Hi"}"#,
    )
    .unwrap();
    let file = format!("{FIXTURES}/clinic_d_cp1252.csv");

    let output = rivvi(&["ingest", "preview", &file, "--campaign", campaign.to_str().unwrap()]);

    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("name"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn ingest_preview_reads_an_excel_binary_workbook_with_compact_cell_records() {
    let file = format!("{FIXTURES}/practice_export.xlsb");

    let output = rivvi(&["ingest", "preview", &file, "--json"]);

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["format"], "xlsb");
    assert_eq!(report["sheet"], "Appointments");
    assert_eq!(
        (report["headerRow"].as_u64(), report["dataRows"].as_u64(), report["callableRows"].as_u64()),
        (Some(3), Some(4), Some(3))
    );
    let fields: Vec<&str> =
        report["mapping"].as_array().unwrap().iter().map(|m| m["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["firstName", "lastName", "dob", "primaryPhone", "appointmentDate", "appointmentTime", "provider"]
    );
    assert_eq!(report["errors"][0]["row"], 7);
    assert_eq!(report["errors"][0]["field"], "primaryPhone");
}

/// Every corpus sheet (issue 16) written to a directory for `today` (the day the CLI reads them on), each
/// with the CLI's JSON report and the library's own preview.
fn corpus_reports() -> Vec<(sheets::HeaderSet, serde_json::Value, rivvi_ingestion::Preview)> {
    let today = chrono::Utc::now().date_naive();
    let dir = tempfile::tempdir().unwrap();
    sheets::sets()
        .unwrap()
        .into_iter()
        .map(|set| {
            let (name, bytes, preview) = sheets::preview(&set, today).unwrap();
            let path = dir.path().join(&name);
            std::fs::write(&path, bytes).unwrap();

            let output = rivvi(&["ingest", "preview", path.to_str().unwrap(), "--json"]);

            assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
            (set, serde_json::from_slice(&output.stdout).unwrap(), preview)
        })
        .collect()
}

fn report_edges(report: &serde_json::Value) -> Vec<(usize, String)> {
    sheets::wire_mapping(&report["mapping"], "index").into_iter().map(|(c, f, _)| (c, f)).collect()
}

#[test]
fn ingest_preview_json_of_corpus_sheets_reports_the_mapping_doubts_and_counts_the_library_finds() {
    for (set, report, preview) in corpus_reports() {
        let id = &set.id;
        let parts = sheets::wire_mapping(&report["mapping"], "index");
        let library = sheets::mapping_parts(&preview);
        assert_eq!(parts, library, "{id}: mapping");
        let doubts: Vec<&str> =
            report["ambiguities"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        let expected: Vec<&str> = preview.ambiguities.iter().map(|a| a.message.as_str()).collect();
        assert_eq!(doubts, expected, "{id}: ambiguities");
        let count = |k: &str| report[k].as_u64().unwrap() as usize;
        assert_eq!(count("dataRows"), sheets::ROWS, "{id}");
        assert_eq!(
            count("invalidRows") + count("duplicateRows") + count("callableRows"),
            sheets::ROWS,
            "{id}"
        );
        assert_eq!(count("callableRows"), preview.counts.callable_rows, "{id}");
        let graded = sheets::judge(&set, &report_edges(&report), &sheets::doubts_in_messages(doubts));
        println!("{id}: {} {}", graded.verdict.name(), graded.details.join("; "));
    }
}

#[test]
fn ingest_preview_json_maps_the_corpus_at_the_issues_rate_with_no_wrong_guess() {
    let grades: Vec<(String, sheets::Grade)> = corpus_reports()
        .into_iter()
        .map(|(set, report, _)| {
            let doubts = report["ambiguities"].as_array().unwrap().iter().filter_map(|a| a.as_str());
            let grade = sheets::judge(&set, &report_edges(&report), &sheets::doubts_in_messages(doubts));
            (set.id, grade)
        })
        .collect();

    if let Err(shortfall) = sheets::meets_targets(&grades) {
        panic!("{shortfall}");
    }
}

/// A database and data directory of a test's own: a SQLite file in the directory, or a fresh
/// PostgreSQL database when `RIVVI_TEST_DATABASE_URL` names a server (CI runs both).
struct Place {
    dir: tempfile::TempDir,
    url: String,
    postgres: Option<(String, String)>,
}

impl Place {
    async fn new() -> Place {
        use sea_orm::ConnectionTrait;
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("RIVVI_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(admin_url) => {
                let name = format!("rivvi_cli_{}", uuid::Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
                admin.close().await.unwrap();
                let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
                Place { dir, url: format!("{base}/{name}"), postgres: Some((admin_url, name)) }
            }
            None => {
                let url = format!("sqlite://{}/rivvi.db?mode=rwc", dir.path().display());
                Place { dir, url, postgres: None }
            }
        }
    }

    /// `rivvi args` on this database and data directory, with development keys.
    fn rivvi(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_rivvi"))
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("RIVVI_DATA_DIR", self.dir.path())
            .env("STORAGE_URL", format!("file://{}/uploads", self.dir.path().display()))
            .env_remove("RUST_LOG")
            .env_remove("RIVVI_ENV")
            .env_remove("RIVVI_DATA_KEY")
            .env_remove("RIVVI_INDEX_KEY")
            .output()
            .unwrap()
    }

    async fn drop_database(self) {
        use sea_orm::ConnectionTrait;
        if let Some((admin_url, name)) = self.postgres {
            let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
            admin.close().await.unwrap();
        }
    }
}

fn succeeded(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test]
async fn keys_rotate_moves_every_sealed_value_to_a_new_key_and_a_rerun_finds_nothing_left() {
    use rivvi_persistence::sealing::{Keyring, Keys, Sealer, DEV_DATA_KEY_FILE};
    use rivvi_persistence::{do_not_call, identity, patients, uploads, OrgScope};
    use rivvi_server::storage::{ObjectStore, SealedStore, StorageSettings};

    // Arrange: a migrated database holding sealed values of several tables, sealed with the
    // development key the server generated.
    let place = Place::new().await;
    succeeded(&place.rivvi(&["migrate", "up"]));
    let keys = Keys::load(None, None, Some(place.dir.path())).unwrap();
    let db = sea_orm::Database::connect(&place.url).await.unwrap();
    let org = identity::upsert_org_by_clerk_id(&db, "org_rotation", None, None, false).await.unwrap();
    let scope = OrgScope::for_verified_org(org.id);
    let fields = patients::PatientFields {
        first_name: "Grace".into(),
        last_name: "Hopper".into(),
        birth_date: "1906-12-09".into(),
        phone: "+13125550150".into(),
        secondary_phone: Some("+13125550151".into()),
        mrn: Some("MRN-7".into()),
    };
    let identity =
        patients::PatientIdentity { canonical: "grace|hopper|1906-12-09|+13125550150".into(), fields };
    let (patient, _) = patients::find_or_create(&db, &scope, &keys, &identity).await.unwrap();
    do_not_call::add(&db, &scope, &keys, "+13125550150", "asked", None, chrono::Utc::now()).await.unwrap();
    let upload_id = rivvi_domain::ids::UploadId::new();
    let upload = uploads::NewUpload {
        id: upload_id,
        uploaded_by: None,
        file_name: "Hopper, Grace.csv".into(),
        media_type: "text/csv".into(),
        size_bytes: 1,
        sha256: "cd".repeat(32),
        storage_key: format!("orgs/{}/uploads/{upload_id}", org.id),
    };
    uploads::find_or_create(&db, &scope, &keys, upload).await.unwrap();
    let store = |keys: &Keys| {
        let settings = StorageSettings::local(place.dir.path().join("uploads"));
        let sealer = keys.sealer.clone();
        async move { SealedStore::new(ObjectStore::from_settings(&settings).await.unwrap(), sealer) }
    };
    let object = format!("orgs/{}/uploads/{upload_id}", org.id);
    let sheet = bytes::Bytes::from_static(b"First Name,Last Name\nGrace,Hopper\n");
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(sheet.clone())]);
    store(&keys).await.put_stream(&object, body).await.unwrap();
    let before = succeeded(&place.rivvi(&["keys", "status"]));
    assert!(before.contains("patients.first_name_sealed") && before.contains("dev: 1"), "{before}");
    let objects_line = before.lines().find(|l| l.contains("stored objects")).unwrap_or_default();
    assert!(objects_line.ends_with("dev: 1"), "{before}");
    assert!(before.contains("0 values and 0 objects left on other keys than dev"), "{before}");

    // Act: a new key, then everything re-sealed one row per transaction; then once more.
    let rotated = succeeded(&place.rivvi(&["keys", "rotate", "--new-key", "--batch", "1"]));
    let again = succeeded(&place.rivvi(&["keys", "rotate"]));
    let after = succeeded(&place.rivvi(&["keys", "status"]));

    // Assert: 6 patient values, the number and the file name moved; nothing left on `dev`.
    assert!(
        rotated.contains("8 values re-sealed.") && rotated.contains("1 objects re-wrapped."),
        "{rotated}"
    );
    assert!(rotated.contains("0 values and 0 objects left on other keys"), "{rotated}");
    assert!(again.contains("0 values re-sealed.") && again.contains("0 objects re-wrapped."), "{again}");
    assert!(
        after.contains("0 values and 0 objects left on other keys") && !after.contains("dev: "),
        "{after}"
    );
    // Everything opens with the new key alone.
    let spec = std::fs::read_to_string(place.dir.path().join(DEV_DATA_KEY_FILE)).unwrap();
    let newest = spec.split(',').next().unwrap();
    assert!(newest.starts_with("dev2"), "{spec}");
    let only_new = Keys { sealer: Sealer::new(Keyring::parse(newest, "test").unwrap()), ..keys.clone() };
    let opened = patients::get(&db, &scope, &only_new, patient.id).await.unwrap();
    assert_eq!(opened.fields, identity.fields);
    assert!(do_not_call::contains(&db, &scope, &only_new, "+13125550150").await.unwrap());
    assert_eq!(uploads::get(&db, &scope, &only_new, upload_id).await.unwrap().file_name, "Hopper, Grace.csv");
    assert_eq!(store(&only_new).await.get(&object).await.unwrap(), sheet);
    db.close().await.unwrap();
    place.drop_database().await;
}

/// `rivvi storage seal` against a local store in `dir`, with the data key `k1` (and a fixed
/// index key, so no development key is generated).
fn storage_seal(dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rivvi"))
        .args(["storage", "seal"])
        .env_remove("RUST_LOG")
        .env("RIVVI_DATA_DIR", dir)
        .env("STORAGE_URL", format!("file://{}", dir.join("uploads").display()))
        .env("RIVVI_DATA_KEY", format!("k1:{}", key_base64(1)))
        .env("RIVVI_INDEX_KEY", key_base64(2))
        .output()
        .unwrap()
}

fn key_base64(byte: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

#[test]
fn storage_seal_seals_a_plaintext_object_in_place_and_a_rerun_finds_nothing_left() {
    use rivvi_persistence::sealing::Keys;
    use rivvi_server::storage::{ObjectStore, SealedStore, StorageSettings, StoredFormat};

    let dir = tempfile::tempdir().unwrap();
    let sheet = b"First Name,Last Name,DOB,Phone\nJane,Doe,03/04/1985,(312) 555-0101\n".repeat(3000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let keys = Keys::load(Some(&format!("k1:{}", key_base64(1))), Some(&key_base64(2)), None).unwrap();
    let store = runtime.block_on(async {
        let raw =
            ObjectStore::from_settings(&StorageSettings::local(dir.path().join("uploads"))).await.unwrap();
        SealedStore::new(raw, keys.sealer)
    });
    // One object as written before sealing (plaintext, straight into the folder), one sealed.
    let legacy = dir.path().join("uploads/orgs/0190/uploads/0191");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    std::fs::write(&legacy, &sheet).unwrap();
    let chunk = futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"Alice,Smith"))]);
    runtime.block_on(store.put_stream("orgs/0190/uploads/0192", chunk)).unwrap();

    let first = storage_seal(dir.path());
    let rerun = storage_seal(dir.path());

    let report = |output: &std::process::Output| {
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let (first, rerun) = (report(&first), report(&rerun));
    assert!(
        first.contains("2 objects, 1 sealed now with key k1, 1 already sealed, 0 left unsealed"),
        "{first}"
    );
    assert!(
        rerun.contains("2 objects, 0 sealed now with key k1, 2 already sealed, 0 left unsealed"),
        "{rerun}"
    );
    let on_disk = std::fs::read(&legacy).unwrap();
    assert!(!on_disk.windows(4).any(|w| w == b"Jane"), "still plaintext after sealing");
    let format = runtime.block_on(store.key_id_of("orgs/0190/uploads/0191")).unwrap();
    assert_eq!(format, StoredFormat::Sealed { key_id: "k1".into() });
    assert_eq!(runtime.block_on(store.get("orgs/0190/uploads/0191")).unwrap().as_ref(), sheet.as_slice());
}

#[test]
fn storage_seal_without_a_data_key_in_production_says_which_variable_is_missing() {
    let dir = tempfile::tempdir().unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_rivvi"))
        .args(["storage", "seal"])
        .env_remove("RUST_LOG")
        .env_remove("RIVVI_DATA_KEY")
        .env("RIVVI_ENV", "production")
        .env("RIVVI_DATA_DIR", dir.path())
        .env("STORAGE_URL", format!("file://{}", dir.path().join("uploads").display()))
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("RIVVI_DATA_KEY"), "{stderr}");
}

/// Sets `column` of the `table` row `id` to `at`, as if it had been written then (the command
/// reads the wall clock, so the data is made old instead).
async fn backdate(
    db: &sea_orm::DatabaseConnection,
    table: &str,
    column: &str,
    id: uuid::Uuid,
    at: chrono::DateTime<chrono::Utc>,
) {
    use sea_orm::ConnectionTrait;
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => format!("UPDATE {table} SET {column} = $1 WHERE id = $2"),
        _ => format!("UPDATE {table} SET {column} = ? WHERE id = ?"),
    };
    let statement = sea_orm::Statement::from_sql_and_values(backend, sql, [at.into(), id.into()]);
    assert_eq!(db.execute(statement).await.unwrap().rows_affected(), 1, "{table} {id}");
}

#[tokio::test]
async fn purge_dry_run_lists_the_expired_upload_and_deletes_nothing_then_purge_deletes_it() {
    use rivvi_persistence::{identity, uploads, OrgScope};
    use rivvi_server::storage::{upload_key, ObjectStore, SealedStore, StorageSettings};
    use sea_orm::ConnectionTrait;

    // Arrange: an organization with the default 30 days, one upload made 40 days ago and never
    // used, one made today; both stored.
    let place = Place::new().await;
    succeeded(&place.rivvi(&["migrate", "up"]));
    let keys = rivvi_persistence::sealing::Keys::load(None, None, Some(place.dir.path())).unwrap();
    let db = sea_orm::Database::connect(&place.url).await.unwrap();
    let org =
        identity::upsert_org_by_clerk_id(&db, "org_purge", Some("Purge Clinic"), None, false).await.unwrap();
    let scope = OrgScope::for_verified_org(org.id);
    let store = SealedStore::new(
        ObjectStore::from_settings(&StorageSettings::local(place.dir.path().join("uploads"))).await.unwrap(),
        keys.sealer.clone(),
    );
    let mut stored = Vec::new();
    for (n, name) in ["Old, Patient.csv", "New, Patient.csv"].into_iter().enumerate() {
        let id = rivvi_domain::ids::UploadId::new();
        let key = upload_key(org.id, id);
        let new = uploads::NewUpload {
            id,
            uploaded_by: None,
            file_name: name.into(),
            media_type: "text/csv".into(),
            size_bytes: 1,
            sha256: format!("{n}").repeat(64),
            storage_key: key.clone(),
        };
        uploads::find_or_create(&db, &scope, &keys, new).await.unwrap();
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(
            b"First Name\nAda\n",
        ))]);
        store.put_stream(&key, body).await.unwrap();
        stored.push((id, place.dir.path().join("uploads").join(&key)));
    }
    let (old, old_file) = stored[0].clone();
    let (new, new_file) = stored[1].clone();
    backdate(&db, "uploads", "created_at", old.as_uuid(), chrono::Utc::now() - chrono::TimeDelta::days(40))
        .await;
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
            db.query_one(statement).await.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap()
        }
    };

    // Act: a dry run, then the purge, then another dry run.
    let dry = succeeded(&place.rivvi(&["purge", "--dry-run"]));
    let uploads_after_dry_run = count("SELECT COUNT(*) FROM uploads").await;
    let old_file_after_dry_run = old_file.is_file();
    let purged = succeeded(&place.rivvi(&["purge"]));
    let again = succeeded(&place.rivvi(&["purge", "--dry-run"]));

    // Assert: the dry run named the old upload in its organization and changed nothing.
    assert!(dry.starts_with("Dry run: nothing is changed."), "{dry}");
    assert!(dry.contains(&format!("Purge Clinic ({})", org.id)), "{dry}");
    assert!(dry.contains(&format!("upload {old}")) && !dry.contains(&new.to_string()), "{dry}");
    assert!(dry.contains("Total: 1 uploads would be deleted, 0 calls would be cleared"), "{dry}");
    assert_eq!(uploads_after_dry_run, 2);
    assert!(old_file_after_dry_run);
    // The purge deleted the old object and row, kept the new one, and audited it.
    assert!(purged.contains(&format!("upload {old}")), "{purged}");
    assert!(
        purged.contains("Total: 1 uploads deleted, 0 calls cleared, in 1 of 1 organizations."),
        "{purged}"
    );
    assert!(!old_file.exists(), "the old object is still stored");
    assert!(new_file.is_file());
    assert!(uploads::get(&db, &scope, &keys, old).await.is_err());
    assert_eq!(uploads::get(&db, &scope, &keys, new).await.unwrap().file_name, "New, Patient.csv");
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_log WHERE action = 'retention.purged' AND actor_kind = 'system'")
            .await,
        1
    );
    assert!(again.contains("Total: 0 uploads would be deleted"), "{again}");
    db.close().await.unwrap();
    place.drop_database().await;
}

/// `rivvi demo` on `place`, with the simulated clock starting at `start_at`; fails the test
/// unless it exits 0 well inside the three minutes it promises. Returns its stdout.
fn demo(place: &Place, start_at: &str) -> String {
    let started = std::time::Instant::now();
    let output = place.rivvi(&["demo", "--start-at", start_at]);
    let took = started.elapsed();
    let stdout = succeeded(&output);
    assert!(took < std::time::Duration::from_secs(180), "the demo took {took:?}:\n{stdout}");
    stdout
}

/// The callable rows the preview reported, and the final outcomes of the summary, which must add
/// up to them.
fn assert_every_callable_patient_has_a_final_outcome(stdout: &str) {
    let number_after = |line: &str, before: &str| -> u32 {
        let (_, rest) = line.split_once(before).unwrap_or_else(|| panic!("no {before:?} in {line}"));
        rest.trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    let sheet = stdout.lines().find(|l| l.starts_with("Sheet ")).expect("the preview's counts");
    let callable = number_after(sheet, "data rows:");
    assert_eq!(callable, 32, "{sheet}");
    let outcomes = stdout.lines().find(|l| l.starts_with("Patients by final outcome:")).expect("a summary");
    let (terms, total) = outcomes.trim_start_matches("Patients by final outcome:").split_once('=').unwrap();
    let parts: Vec<u32> =
        terms.split('+').map(|term| term.trim().rsplit(' ').next().unwrap().parse().unwrap()).collect();
    assert_eq!(parts.iter().sum::<u32>(), callable, "{outcomes}");
    assert!(total.trim().starts_with(&format!("{callable} of {callable} callable rows")), "{outcomes}");
    for label in ["reached", "voicemail", "no answer", "busy", "failed"] {
        assert!(terms.contains(label), "{label}: {outcomes}");
    }
    assert!(stdout.contains("Converted (appt_confirmed = yes):"), "{stdout}");
    assert!(stdout.contains("Calls by hour (America/New_York):"), "{stdout}");
    assert!(stdout.contains("dev-token --org org_rivvi_demo --role admin"), "{stdout}");
    assert!(stdout.contains("/exports/runs/") && stdout.contains("/rspc/calls.get"), "{stdout}");
}

#[tokio::test]
async fn demo_on_a_saturday_night_waits_for_monday_office_hours_and_completes_and_a_rerun_reuses_the_clinic()
{
    let place = Place::new().await;

    // Saturday 2026-12-05 03:00 UTC: Friday 22:00 in New York, office hours closed until Monday.
    let first = demo(&place, "2026-12-05T03:00:00Z");
    let again = demo(&place, "2026-12-05T03:00:00Z");

    assert!(
        first.contains(
            "simulated clock: skipped 2 d 11 h to Mon 09:00 America/New_York — outside office hours"
        ),
        "{first}"
    );
    // The patients further west wait for their own 08:00 (Denver and Phoenix: 10:00 in New York).
    assert!(first.contains("to Mon 10:00 America/New_York — outside the patients' 08:00–21:00 local window"));
    assert!(
        first.contains("Campaign \"Appointment reminders (demo)\"")
            && first.contains("created by the operator")
    );
    assert_every_callable_patient_has_a_final_outcome(&first);
    // The rerun finds the clinic and campaign, and starts after the first run's calls.
    assert!(again.contains("): reused."), "{again}");
    assert!(again.contains("just after the previous demo's last call"), "{again}");
    assert_every_callable_patient_has_a_final_outcome(&again);
    let run_of = |out: &str| out.lines().find(|l| l.starts_with("Run ")).unwrap().to_owned();
    assert_ne!(run_of(&first), run_of(&again), "a fresh run each time");
    place.drop_database().await;
}

#[tokio::test]
async fn demo_on_a_weekday_before_office_hours_skips_to_nine_in_new_york_and_completes() {
    let place = Place::new().await;

    // Wednesday 2026-12-02 11:30 UTC: 06:30 in New York.
    let stdout = demo(&place, "2026-12-02T11:30:00Z");

    assert!(stdout.contains("starts Wed 2026-12-02 11:30 UTC (Wed 06:30 America/New_York)"), "{stdout}");
    assert!(
        stdout.contains(
            "simulated clock: skipped 2 h 30 min to Wed 09:00 America/New_York — outside office hours"
        ),
        "{stdout}"
    );
    assert_every_callable_patient_has_a_final_outcome(&stdout);
    place.drop_database().await;
}
