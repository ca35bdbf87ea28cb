//! `GET /exports/runs/{runId}.csv|.xlsx` and `GET /exports/calls.csv` through HTTP, over a run
//! of a tricky sheet completed on the built-in Retell simulator: every original cell comes back
//! exactly (formula-looking ones neutralised in CSV, plain strings in xlsx) under its own header
//! and in the file's order, with Rivvi's columns after them; the calls file shows only the last
//! digits of numbers; another organization, no token and a bad filter are refused; each export
//! is audit-logged without PHI.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::calls::{calling_app, run_to_completion};
use crate::support::seed::{self, World};
use crate::support::TestApp;

/// Columns in an unusual order, and cells a careless export would change: leading zeros,
/// formulas, a sign, accents, an empty cell, a comma, quotes and a line break.
const TRICKY_SHEET: &str = "MRN,Phone,Notes,Last Name,First Name,Date of Birth,Appointment Date,Comment\n\
00123,(312) 555-0191,\"=HYPERLINK(\"\"http://x\"\")\",Núñez,José,1950-12-09,2026-12-03,\"a, \"\"quoted\"\"\nline\"\n\
00456,(312) 555-0192,+1 555,Turing,Alan,1952-06-23,2026-12-04,-5\n\
,(312) 555-0193,@SUM(A1),Hopper,Grace,1950-12-09,2026-12-05,\n";

const HEADERS: [&str; 8] =
    ["MRN", "Phone", "Notes", "Last Name", "First Name", "Date of Birth", "Appointment Date", "Comment"];

fn original_cells() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "00123",
            "(312) 555-0191",
            "=HYPERLINK(\"http://x\")",
            "Núñez",
            "José",
            "1950-12-09",
            "2026-12-03",
            "a, \"quoted\"\nline",
        ],
        vec!["00456", "(312) 555-0192", "+1 555", "Turing", "Alan", "1952-06-23", "2026-12-04", "-5"],
        vec!["", "(312) 555-0193", "@SUM(A1)", "Hopper", "Grace", "1950-12-09", "2026-12-05", ""],
    ]
}

/// What a CSV export must carry for an original cell.
fn neutralised(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// A campaign in alpha with two analysis fields, and a completed run of [`TRICKY_SHEET`] named
/// with an accent.
async fn completed_tricky_run(
    app: &TestApp,
    clock: &rivvi_execution::clock::ManualClock,
    world: &World,
) -> String {
    let mut campaign = seed::reminder_campaign("Tricky reminders");
    campaign["analysisFields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "callback_note", "label": "Callback note", "fieldType": "text"}));
    let created = seed::create_campaign_from(app, &world.super_admin, &world.alpha.id, campaign).await;
    let campaign_id = created.data()["id"].as_str().unwrap().to_owned();
    let member = world.alpha.member.as_str();
    let upload = app.upload(member, "tricky.csv", TRICKY_SHEET.as_bytes().to_vec()).await;
    let run = seed::create_run(app, member, &campaign_id, &upload, "Relances José", "tricky").await;
    let run_id = run.data()["id"].as_str().unwrap().to_owned();
    run_to_completion(app, clock, member, &[&run_id]).await;
    run_id
}

async fn get(app: &TestApp, token: Option<&str>, path: &str) -> reqwest::Response {
    let mut request = app.http.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name:?} in {header:?}"))
}

#[tokio::test]
async fn a_run_exports_every_original_cell_and_its_results_as_csv_and_xlsx() {
    // Arrange
    let (app, clock, world) = calling_app().await;
    let run_id = completed_tricky_run(&app, &clock, &world).await;
    let member = world.alpha.member.as_str();
    let rows = app.query(Some(member), "runs.getRows", json!({"runId": run_id, "limit": 100})).await;
    let rows = rows.data()["rows"].as_array().unwrap().clone();
    let org = app.query(Some(member), "organizations.getCurrent", Value::Null).await;
    let zone = org.data()["timeZone"].as_str().unwrap().to_owned();

    // Act
    let csv_response = get(&app, Some(member), &format!("/exports/runs/{run_id}.csv")).await;
    let csv_status = csv_response.status();
    let csv_type = csv_response.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let disposition = csv_response.headers()[CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    let csv_bytes = csv_response.bytes().await.unwrap();
    let xlsx_response = get(&app, Some(member), &format!("/exports/runs/{run_id}.xlsx")).await;
    let xlsx_status = xlsx_response.status();
    let xlsx_type = xlsx_response.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let xlsx_bytes = xlsx_response.bytes().await.unwrap();

    // Assert: the CSV file, its headers in the sheet's order, then Rivvi's columns.
    assert_eq!(csv_status, StatusCode::OK, "{}", String::from_utf8_lossy(&csv_bytes));
    assert_eq!(csv_type, "text/csv; charset=utf-8");
    assert!(disposition.starts_with("attachment; filename=\"Relances Jos_.csv\""), "{disposition}");
    assert!(disposition.ends_with("filename*=UTF-8''Relances%20Jos%C3%A9.csv"), "{disposition}");
    let (header, lines) = parse_csv(&csv_bytes);
    assert_eq!(header[..HEADERS.len()], HEADERS.map(str::to_owned));
    let added = [
        "Rivvi status",
        "Rivvi attempts",
        "Rivvi outcome",
        "Rivvi skip reason",
        "Rivvi last call summary",
        "Analysis: Confirmed",
        "Analysis: Callback note",
    ];
    assert_eq!(header[HEADERS.len()..HEADERS.len() + added.len()], added.map(str::to_owned));
    let times = ["call started", "call ended", "updated"].map(|c| format!("Rivvi {c} ({zone})"));
    assert_eq!(header[HEADERS.len() + added.len()..], times);

    // Every original cell exactly as uploaded, the formula-looking ones prefixed with `'`.
    let expected = original_cells();
    assert_eq!(lines.len(), expected.len());
    assert_eq!(rows.len(), expected.len());
    for ((line, cells), row) in lines.iter().zip(&expected).zip(&rows) {
        let neutral: Vec<String> = cells.iter().map(|c| neutralised(c)).collect();
        assert_eq!(line[..HEADERS.len()], neutral[..]);
        assert_eq!(row["cells"], json!(cells), "what the run stored");
        assert_eq!(line[column(&header, "Rivvi status")], row["status"].as_str().unwrap());
        assert_eq!(line[column(&header, "Rivvi attempts")], row["attempts"].to_string());
        assert_eq!(line[column(&header, "Rivvi outcome")], row["outcome"].as_str().unwrap_or_default());
        let confirmed = &line[column(&header, "Analysis: Confirmed")];
        if row["outcome"] == "reached" {
            assert!(confirmed == "true" || confirmed == "false", "{confirmed:?}");
            assert!(!line[column(&header, "Rivvi last call summary")].is_empty());
        }
        let started = &line[column(&header, &times[0])];
        if !started.is_empty() {
            assert_eq!(started.len(), "2026-11-25 10:00:00 -05:00".len(), "{started}");
        }
        assert!(!line[column(&header, &times[2])].is_empty());
    }
    assert!(rows.iter().all(|r| r["status"] != "pending"), "the run completed: {rows:?}");
    assert!(lines.iter().any(|l| l[2] == "'=HYPERLINK(\"http://x\")"));

    // The xlsx file: the same cells, each a plain string, and no formula anywhere.
    assert_eq!(xlsx_status, StatusCode::OK);
    assert_eq!(xlsx_type, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx_bytes.to_vec())).unwrap();
    let sheet = workbook.sheet_names()[0].clone();
    let range = workbook.worksheet_range(&sheet).unwrap();
    let formulas = workbook.worksheet_formula(&sheet).unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no formula: {formulas:?}");
    let grid: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(grid.len(), expected.len() + 1);
    let xlsx_header: Vec<String> = grid[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(xlsx_header, header);
    for (line, cells) in grid[1..].iter().zip(&expected) {
        for (got, want) in line.iter().zip(cells) {
            match got {
                Data::String(text) => assert_eq!(text, want),
                Data::Empty => assert_eq!(*want, ""),
                other => panic!("{want:?} came back as {other:?}, not a string"),
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn calls_export_by_filter_and_exports_are_refused_outside_the_organization_and_audited() {
    // Arrange
    let (app, clock, world) = calling_app().await;
    let run_id = completed_tricky_run(&app, &clock, &world).await;
    let member = world.alpha.member.as_str();
    let listed = app.query(Some(member), "calls.list", json!({"runId": run_id, "limit": 100})).await;
    let listed = listed.data()["calls"].as_array().unwrap().clone();

    // Act
    let calls =
        get(&app, Some(member), &format!("/exports/calls.csv?runId={run_id}&dateField=createdAt")).await;
    let calls_status = calls.status();
    let calls_bytes = calls.bytes().await.unwrap();
    let run_export = get(&app, Some(member), &format!("/exports/runs/{run_id}.csv")).await.status();
    let other_org = get(&app, Some(&world.beta.admin), &format!("/exports/runs/{run_id}.csv")).await;
    let anonymous = get(&app, None, &format!("/exports/runs/{run_id}.xlsx")).await;
    let bad_filter = get(&app, Some(member), "/exports/calls.csv?status=lost").await;
    let unknown_filter = get(&app, Some(member), "/exports/calls.csv?phone=5550191").await;

    // Assert: the run's calls, newest first, with only the last four digits of each number.
    assert_eq!(calls_status, StatusCode::OK);
    let text = String::from_utf8(calls_bytes.to_vec()).unwrap();
    assert!(!text.contains("555-0191") && !text.contains("5550191"), "no full number: {text}");
    let (header, lines) = parse_csv(&calls_bytes);
    assert_eq!(header[..4], ["Call ID", "Direction", "Status", "Outcome"].map(str::to_owned));
    let ids: Vec<&str> = lines.iter().map(|l| l[0].as_str()).collect();
    let listed_ids: Vec<&str> = listed.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, listed_ids);
    assert!(!lines.is_empty());
    for line in &lines {
        assert_eq!(line[column(&header, "Run ID")], run_id);
        let last4 = &line[column(&header, "Phone last 4")];
        assert!(["0191", "0192", "0193"].contains(&last4.as_str()), "{last4}");
    }
    assert!(lines.iter().any(|l| l[column(&header, "Patient name")] == "José Núñez"));

    // Refusals: JSON errors like every plain HTTP route.
    assert_eq!(run_export, StatusCode::OK);
    assert_eq!(other_org.status(), StatusCode::NOT_FOUND);
    assert_eq!(other_org.json::<Value>().await.unwrap(), json!({"error": "run not found"}));
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.json::<Value>().await.unwrap()["error"].is_string());
    assert_eq!(bad_filter.status(), StatusCode::BAD_REQUEST);
    let message = bad_filter.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned();
    assert!(message.contains("status:"), "{message}");
    assert_eq!(unknown_filter.status(), StatusCode::BAD_REQUEST);
    let message = unknown_filter.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned();
    assert!(message.contains("phone:"), "{message}");

    // Audit: one entry per export that went out, with its format and row count and no PHI.
    let audit = app.query(Some(&world.alpha.admin), "audit.list", json!({"entityType": "export"})).await;
    let entries = audit.data()["entries"].as_array().unwrap().clone();
    let fields = |entity: &str| -> Vec<Value> {
        entries.iter().filter(|e| e["entityId"] == entity).map(|e| e["changedFields"].clone()).collect()
    };
    assert_eq!(fields(&run_id), vec![json!(["format=csv", "rows=3"])]);
    let calls_entry = fields("calls");
    assert_eq!(calls_entry, vec![json!(["format=csv", format!("rows={}", listed.len()), "filter=runId"])]);
    assert!(entries.iter().all(|e| e["action"] == "export.created" && e["actorKind"] == "user"));
    let logged = serde_json::to_string(&entries).unwrap();
    for phi in ["Núñez", "José", "00123", "HYPERLINK", "555-019"] {
        assert!(!logged.contains(phi), "{phi} in the audit log: {logged}");
    }
    app.stop().await;
}

/// A run longer than several export pages (pages are read several at a time, each on a task of
/// its own): every row comes back once, in sheet order, in CSV and in xlsx.
#[tokio::test]
async fn a_run_of_many_pages_exports_every_row_once_in_sheet_order() {
    // Arrange
    const ROWS: usize = 1_234;
    let app = TestApp::spawn().await;
    let (world, campaign_id) = seed::world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    let mut sheet = String::from("MRN,Phone,First Name,Last Name,Date of Birth,Appointment Date\n");
    for i in 0..ROWS {
        sheet.push_str(&format!("M{i:05},(312) 555-{i:04},Pat{i},Long,1960-01-01,2026-12-03\n"));
    }
    let upload = app.upload(member, "many.csv", sheet.into_bytes()).await;
    let run = seed::create_run(&app, member, &campaign_id, &upload, "Many", "many").await;
    let run_id = run.data()["id"].as_str().unwrap().to_owned();
    let expected: Vec<String> = (0..ROWS).map(|i| format!("M{i:05}")).collect();

    // Act
    let csv = get(&app, Some(member), &format!("/exports/runs/{run_id}.csv")).await;
    let xlsx = get(&app, Some(member), &format!("/exports/runs/{run_id}.xlsx")).await;

    // Assert
    assert_eq!(csv.status(), StatusCode::OK);
    let (header, rows) = parse_csv(&csv.bytes().await.unwrap());
    let mrn = column(&header, "MRN");
    assert_eq!(rows.iter().map(|r| r[mrn].clone()).collect::<Vec<_>>(), expected);
    assert_eq!(xlsx.status(), StatusCode::OK);
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(xlsx.bytes().await.unwrap())).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    let cells: Vec<String> = range.rows().skip(1).map(|r| r[0].to_string()).collect();
    assert_eq!(cells, expected);
    app.stop().await;
}
