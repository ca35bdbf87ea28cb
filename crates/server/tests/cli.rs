//! The `rivvi` binary as operators run it.
// Tests may unwrap (STYLE.md §1): a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::process::Command;

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
        for (ours, theirs) in [
            ("dataRows", "data_rows"),
            ("invalidRows", "invalid_rows"),
            ("duplicateRows", "duplicate_rows"),
            ("callableRows", "callable_rows"),
            ("distinctPatients", "distinct_patients"),
        ] {
            assert_eq!(report[ours], case[theirs], "{file}: {ours}");
        }
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
