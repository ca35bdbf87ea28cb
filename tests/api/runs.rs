//! `runs.preview` / `runs.create` / `runs.getRows` through HTTP: real fixture files uploaded,
//! previewed, committed with their patients, every cell kept and sealed, idempotent by
//! `clientRequestId`, and bad files refused without writing anything.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::support::seed::world_with_reminders;
use crate::support::TestApp;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/ingestion/tests/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn expected() -> Vec<Value> {
    serde_json::from_slice(&fixture("expected.json")).unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    crate::support::scalar(&app.database.connect().await, sql).await
}

fn create_input(campaign: &str, upload: &str, request: &str) -> Value {
    json!({"campaignId": campaign, "uploadId": upload, "name": "December reminders", "clientRequestId": request})
}

#[tokio::test]
async fn every_fixture_previews_with_the_expected_counts_and_reasons() {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();

    for case in expected() {
        let file = case["file"].as_str().unwrap();
        let upload = app.upload(member, file, fixture(file)).await;

        let preview = app
            .query(Some(member), "runs.preview", json!({"campaignId": campaign, "uploadId": upload}))
            .await;

        let counts = &preview.data()["counts"];
        crate::expected::assert_expected_counts(counts, &case, file);
        let invalid = preview.data()["invalidRows"].as_array().unwrap();
        assert_eq!(invalid.len() as u64, case["invalid_rows"].as_u64().unwrap(), "{file}");
        for row in invalid {
            assert!(
                !row["errors"].as_array().unwrap().is_empty(),
                "{file}: an invalid row without a reason: {row}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn the_invalid_rows_of_clinic_a_name_their_reasons() {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload =
        app.upload(member, "clinic_a_appointments.xlsx", fixture("clinic_a_appointments.xlsx")).await;

    let preview =
        app.query(Some(member), "runs.preview", json!({"campaignId": campaign, "uploadId": upload})).await;

    let reasons: Vec<String> = preview.data()["invalidRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r["cells"], r["errors"]))
        .collect();
    let harold = reasons.iter().find(|r| r.contains("Harold")).expect("Harold Finch is invalid");
    assert!(harold.contains("phone") && harold.contains("missing"), "{harold}");
    let grace = reasons.iter().find(|r| r.contains("Grace")).expect("Grace Hopper is invalid");
    assert!(grace.contains("555-0100"), "{grace}");
    app.stop().await;
}

#[tokio::test]
async fn a_run_commits_every_row_and_its_patients_and_a_retry_writes_nothing() {
    // Arrange
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload =
        app.upload(member, "clinic_a_appointments.xlsx", fixture("clinic_a_appointments.xlsx")).await;
    let patients_before = count(&app, "SELECT COUNT(*) FROM patients").await;

    // Act
    let created = app.mutation(Some(member), "runs.create", create_input(&campaign, &upload, "req-1")).await;
    let rows_of_run =
        app.query(Some(member), "runs.getRows", json!({"runId": created.data()["id"], "limit": 1})).await;
    let rows_after_first = rows_of_run.data()["total"].as_i64().unwrap();
    let all_rows = count(&app, "SELECT COUNT(*) FROM run_rows").await;
    let patients_after_first = count(&app, "SELECT COUNT(*) FROM patients").await;
    let retried = app.mutation(Some(member), "runs.create", create_input(&campaign, &upload, "req-1")).await;

    // Assert
    let run = created.data();
    assert_eq!(run["status"], "ready");
    assert!(run["promptVersionId"].is_string(), "the run pins its prompt");
    assert_eq!(retried.data()["id"], run["id"]);
    assert_eq!(rows_after_first, 42, "every data row is kept");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM run_rows").await, all_rows, "the retry wrote rows");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM runs WHERE client_request_id = 'req-1'").await, 1);
    assert_eq!(patients_after_first - patients_before, 37);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM patients").await, patients_after_first);

    let rows = app.query(Some(member), "runs.getRows", json!({"runId": run["id"], "limit": 100})).await;
    let counts: Value = rows.data()["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["status"].as_str().unwrap().to_owned(), c["count"].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    assert_eq!(counts, json!({"pending": 37, "skipped": 5}));
    let skipped =
        app.query(Some(member), "runs.getRows", json!({"runId": run["id"], "status": "skipped"})).await;
    let duplicates: Vec<&Value> = skipped.data()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["skipReason"] == "duplicate")
        .collect();
    assert_eq!(duplicates.len(), 3);
    assert!(duplicates
        .iter()
        .all(|r| r["duplicateOf"].is_string() && r["cells"].as_array().unwrap().len() > 3));
    app.stop().await;
}

#[tokio::test]
async fn every_original_cell_reads_back_exactly_as_in_the_file() {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let bytes = fixture("clinic_b_reminders.csv");
    let upload = app.upload(member, "clinic_b_reminders.csv", bytes.clone()).await;
    let run = app.mutation(Some(member), "runs.create", create_input(&campaign, &upload, "req-b")).await;

    let rows =
        app.query(Some(member), "runs.getRows", json!({"runId": run.data()["id"], "limit": 100})).await;

    // The file without its BOM, split into records the way any CSV reader would.
    let text = String::from_utf8(bytes).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut expected_cells = Vec::new();
    let (mut field, mut record, mut quoted, mut chars) =
        (String::new(), Vec::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => record.push(std::mem::take(&mut field)),
            ('\n', false) => {
                record.push(std::mem::take(&mut field));
                expected_cells.push(std::mem::take(&mut record));
            }
            ('\r', false) => {}
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        expected_cells.push(record);
    }
    let stored: Vec<Vec<String>> = rows.data()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cells"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect())
        .collect();
    assert_eq!(stored, expected_cells[1..].to_vec(), "cells differ from the file");
    assert!(stored.iter().flatten().any(|c| c.contains('\n')), "the quoted newline survives");
    assert!(stored.iter().flatten().any(|c| c.contains("Muñoz")), "accents survive");
    app.stop().await;
}

/// The legacy xls, OpenDocument and Excel binary (as SheetJS writes it, compact cell records)
/// fixtures preview and commit like xlsx and CSV: every column of every row is stored.
#[tokio::test]
async fn xls_ods_and_xlsb_workbooks_preview_and_commit_every_column() {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();

    for (file, format, callable, columns) in [
        ("legacy_export.xls", "xls", 3, 5),
        ("libreoffice_export.ods", "ods", 3, 5),
        ("practice_export.xlsb", "xlsb", 3, 6),
    ] {
        let upload = app.upload(member, file, fixture(file)).await;
        let preview = app
            .query(Some(member), "runs.preview", json!({"campaignId": campaign, "uploadId": upload}))
            .await;
        let run = app
            .mutation(Some(member), "runs.create", create_input(&campaign, &upload, &format!("req-{file}")))
            .await;
        let rows =
            app.query(Some(member), "runs.getRows", json!({"runId": run.data()["id"], "limit": 100})).await;

        assert_eq!(preview.data()["format"], format, "{file}");
        assert_eq!(preview.data()["counts"]["callableRows"], callable, "{file}");
        let stored = rows.data()["rows"].as_array().unwrap();
        assert!(stored.iter().all(|r| r["cells"].as_array().unwrap().len() == columns), "{file}: {stored:?}");
        let ada = stored.iter().find(|r| r["cells"][0] == "Ada").expect("Ada's row");
        assert_eq!(ada["cells"][1], "Lovelace", "{file}");
        assert_eq!(ada["cells"][3], "3125550143", "{file}: a numeric phone cell");
    }
    app.stop().await;
}

/// A practice-system export whose appointment is one `scheduled_time` column of dates with times
/// (DrChrono's shape) fills both the appointment date and time in the preview over HTTP.
#[tokio::test]
async fn a_date_and_time_column_fills_the_appointment_date_and_time() {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let csv = "id,first_name,last_name,date_of_birth,cell_phone,scheduled_time,doctor\n\
               1,John,Smith,1985-03-04,+1 312-555-0101,2026-12-01T09:30:00,Dr. Jones\n";
    let upload = app.upload(member, "drchrono.csv", csv.as_bytes().to_vec()).await;

    let preview =
        app.query(Some(member), "runs.preview", json!({"campaignId": campaign, "uploadId": upload})).await;

    let mapping = preview.data()["mapping"].as_array().unwrap().clone();
    let scheduled: Vec<(&str, &str)> = mapping
        .iter()
        .filter(|m| m["header"] == "scheduled_time")
        .map(|m| (m["field"].as_str().unwrap(), m["part"].as_str().unwrap()))
        .collect();
    assert_eq!(scheduled, [("appointmentDate", "date"), ("appointmentTime", "time")], "{mapping:?}");
    assert_eq!(preview.data()["counts"]["callableRows"], 1);
    app.stop().await;
}

/// A Spanish clinic export whose name column gives its layout (`Apellido, Nombre` with cells
/// written with and without the comma) maps with no help over HTTP: the name column says its
/// order on the wire, and every row's names, phone, birth date and appointment come out right.
#[tokio::test]
async fn a_spanish_export_with_a_layout_header_previews_with_no_help() {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let csv = "Expediente,\"Nombre (Apellido, Nombre)\",Fecha de Nacimiento,Teléfono,Fecha de la Cita,Hora de la Cita\n\
               A-1001,\"Pérez, Lucía\",3 de marzo de 1985,(312) 555-0101,15/ene/2027,10:30 hrs\n\
               A-1002,\"Núñez, José\",21/11/1979,312.555.0102,16/ene/2027,14:00\n\
               A-1003,GARCÍA MARÍA,07-abr-1990,3125550103,17/ene/2027,9:15\n";
    let upload = app.upload(member, "citas.csv", csv.as_bytes().to_vec()).await;

    let preview =
        app.query(Some(member), "runs.preview", json!({"campaignId": campaign, "uploadId": upload})).await;

    let data = preview.data();
    let edge = |field: &str| {
        data["mapping"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["field"] == field)
            .cloned()
            .unwrap_or_else(|| panic!("{field} not mapped: {}", preview.body))
    };
    assert_eq!(edge("firstName")["nameOrder"], "lastFirst");
    assert_eq!(edge("lastName")["header"], "Nombre (Apellido, Nombre)");
    assert_eq!(edge("mrn")["header"], "Expediente");
    assert_eq!(edge("dob")["header"], "Fecha de Nacimiento");
    assert_eq!(edge("primaryPhone")["header"], "Teléfono");
    assert_eq!(data["counts"]["callableRows"], 3, "{}", preview.body);
    let rows: Vec<Value> = data["sampleRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v = &r["variables"];
            json!([
                v["firstName"],
                v["lastName"],
                v["dob"],
                v["primaryPhone"],
                v["appointmentDate"],
                v["appointmentTime"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        [
            json!(["Lucía", "Pérez", "1985-03-03", "+13125550101", "2027-01-15", "10:30"]),
            json!(["José", "Núñez", "1979-11-21", "+13125550102", "2027-01-16", "14:00"]),
            json!(["MARÍA", "GARCÍA", "1990-04-07", "+13125550103", "2027-01-17", "09:15"]),
        ],
        "{}",
        preview.body
    );
    app.stop().await;
}

#[tokio::test]
async fn row_data_is_sealed_at_rest() {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "clinic_d_cp1252.csv", fixture("clinic_d_cp1252.csv")).await;
    app.mutation(Some(member), "runs.create", create_input(&campaign, &upload, "req-d")).await.data();

    let db = app.database.connect().await;
    let rows = db
        .query_all(Statement::from_string(db.get_database_backend(), "SELECT * FROM run_rows".to_owned()))
        .await
        .unwrap();
    let dump = format!("{rows:?}");

    for clear in ["Björn", "Bj", "Okafor", "2125551201", "Dr. Brooks"] {
        assert!(!dump.contains(clear), "{clear} is stored in clear");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_same_patients_in_a_second_run_are_the_same_patients() {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "clinic_d_cp1252.csv", fixture("clinic_d_cp1252.csv")).await;
    app.mutation(Some(member), "runs.create", create_input(&campaign, &upload, "first")).await.data();
    let patients = count(&app, "SELECT COUNT(*) FROM patients").await;

    app.mutation(Some(member), "runs.create", create_input(&campaign, &upload, "second")).await.data();

    assert_eq!(count(&app, "SELECT COUNT(*) FROM patients").await, patients);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM runs WHERE client_request_id IN ('first', 'second')").await,
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_files_and_bad_requests_are_refused_naming_the_problem_and_write_nothing() {
    // Arrange
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let garbage = app.upload(member, "patients.csv", (0..4096u32).map(|i| (i % 7) as u8).collect()).await;
    let header_only = app.upload(member, "header.csv", b"first_name,last_name,dob,phone\n".to_vec()).await;
    let truncated =
        app.upload(member, "cut.xlsx", fixture("clinic_a_appointments.xlsx")[..3000].to_vec()).await;
    let all_invalid = app
        .upload(
            member,
            "bad.csv",
            b"first_name,last_name,dob,phone\nAda,Lovelace,1961-02-04,555-0100\n".to_vec(),
        )
        .await;
    let workbook = app.upload(member, "a.xlsx", fixture("clinic_a_appointments.xlsx")).await;
    let beta_upload = app.upload(&world.beta.member, "beta.csv", fixture("clinic_d_cp1252.csv")).await;
    let before = (
        count(&app, "SELECT COUNT(*) FROM runs").await,
        count(&app, "SELECT COUNT(*) FROM run_rows").await,
        count(&app, "SELECT COUNT(*) FROM patients").await,
    );

    let cases = [
        (garbage.as_str(), None, 400, "uploadId", "not a spreadsheet"),
        (header_only.as_str(), None, 400, "uploadId", "no data rows"),
        (truncated.as_str(), None, 400, "uploadId", "corrupt"),
        (all_invalid.as_str(), None, 400, "uploadId", "no callable rows"),
        (workbook.as_str(), Some("Nope"), 400, "sheet", "no sheet named"),
        (beta_upload.as_str(), None, 404, "", "upload not found"),
    ];
    for (upload, sheet, code, field, words) in cases {
        // Act
        let mut input = create_input(&campaign, upload, &format!("req-{upload}"));
        if let Some(sheet) = sheet {
            input["sheet"] = json!(sheet);
        }
        let created = app.mutation(Some(member), "runs.create", input).await;

        // Assert
        assert_eq!(created.code(), code, "{words}: {}", created.body);
        assert!(created.message().contains(words), "{words}: {}", created.message());
        if !field.is_empty() {
            assert!(created.message().contains(&format!("\"field\":\"{field}\"")), "{}", created.message());
        }
    }
    let after = (
        count(&app, "SELECT COUNT(*) FROM runs").await,
        count(&app, "SELECT COUNT(*) FROM run_rows").await,
        count(&app, "SELECT COUNT(*) FROM patients").await,
    );
    assert_eq!(after, before, "a refused run wrote something");
    app.stop().await;
}

#[tokio::test]
async fn another_orgs_run_and_rows_are_not_found() {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "d.csv", fixture("clinic_d_cp1252.csv")).await;
    let run = app.mutation(Some(member), "runs.create", create_input(&campaign, &upload, "r")).await;
    let run_id = run.data()["id"].clone();

    let get = app.query(Some(&world.beta.admin), "runs.get", json!({"id": run_id})).await;
    let rows = app.query(Some(&world.beta.admin), "runs.getRows", json!({"runId": run_id})).await;
    let list = app.query(Some(&world.beta.admin), "runs.list", json!({})).await;

    assert_eq!(get.code(), 404);
    assert_eq!(rows.code(), 404);
    let listed: Vec<&Value> = list.data()["runs"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
    assert!(!listed.contains(&&run_id), "beta lists alpha's run");
    app.stop().await;
}

#[tokio::test]
async fn a_run_is_previewed_and_created_from_an_upload_stored_in_s3() {
    // Arrange: the same flow with S3 object storage (an in-process s3s-fs server).
    let s3 = crate::support::s3::S3Server::start().await;
    let storage = s3.settings();
    let app = TestApp::spawn_with(move |s| s.storage = storage).await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "clinic_c_messy.xlsx", fixture("clinic_c_messy.xlsx")).await;

    // Act
    let preview =
        app.query(Some(member), "runs.preview", json!({"campaignId": campaign, "uploadId": upload})).await;
    let created = app.mutation(Some(member), "runs.create", create_input(&campaign, &upload, "s3")).await;

    // Assert
    assert_eq!(preview.data()["counts"]["callableRows"], 23);
    assert_eq!(preview.data()["headerRow"], 3);
    assert!(!s3.objects().is_empty(), "the upload is in the bucket");
    let rows =
        app.query(Some(member), "runs.getRows", json!({"runId": created.data()["id"], "limit": 1})).await;
    assert_eq!(rows.data()["total"], 23);
    app.stop().await;
}
