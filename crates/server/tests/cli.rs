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
