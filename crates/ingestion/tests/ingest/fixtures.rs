//! The shared fixtures give exactly the counts in `expected.json`, and keep every cell as the
//! file shows it.

use rivvi_ingestion::preview::RowStatus;
use rivvi_ingestion::{CellValue, SourceFormat};
use serde_json::Value;

use crate::support::{cells_at, fixture, preview, report, vars_at};

#[test]
fn every_fixture_gives_the_expected_counts() {
    let expected: Value = serde_json::from_slice(&fixture("expected.json")).unwrap();
    for case in expected.as_array().unwrap() {
        let name = case["file"].as_str().unwrap();
        let got = serde_json::to_value(report(&fixture(name), name)).unwrap();
        crate::expected::assert_expected_counts(&got, case, name);
    }
}

#[test]
fn clinic_a_names_its_invalid_rows_and_reasons() {
    let r = report(&fixture("clinic_a_appointments.xlsx"), "clinic_a_appointments.xlsx");
    let errors: Vec<(u32, &str, &str)> =
        r.errors.iter().map(|e| (e.row, e.field.as_str(), e.reason.as_str())).collect();
    assert_eq!(
        errors,
        [
            (42, "primaryPhone", "phone missing"),
            (43, "primaryPhone", "phone '555-0100' is not a full number")
        ]
    );
    let p = preview(&fixture("clinic_a_appointments.xlsx"), "clinic_a_appointments.xlsx");
    assert_eq!(&cells_at(&p, 42)[..2], ["Harold", "Finch"]);
    assert_eq!(&cells_at(&p, 43)[..2], ["Grace", "Hopper"]);
}

#[test]
fn clinic_a_keeps_repeat_appointments_as_duplicates_with_all_their_cells() {
    let p = preview(&fixture("clinic_a_appointments.xlsx"), "clinic_a_appointments.xlsx");
    let dups: Vec<(u32, u32)> = p
        .rows
        .iter()
        .filter(|r| r.status == RowStatus::Duplicate)
        .map(|r| (r.sheet_row, p.rows[r.duplicate_of.unwrap()].sheet_row))
        .collect();
    // James Kowalski's phone is written "(212) 555-1093" then "212-555-1093".
    assert_eq!(dups, [(34, 24), (37, 17), (40, 28)]);
    let row34 = p.rows.iter().find(|r| r.sheet_row == 34).unwrap();
    assert_eq!(row34.cells.len(), 9);
    assert_eq!(cells_at(&p, 34)[3], "212-555-1093");
    assert!(row34.reason.as_deref().unwrap().contains("row 24"));
}

#[test]
fn clinic_a_cells_read_as_excel_shows_them() {
    let p = preview(&fixture("clinic_a_appointments.xlsx"), "clinic_a_appointments.xlsx");
    assert_eq!(p.format, SourceFormat::Xlsx);
    assert_eq!(p.sheet.as_deref(), Some("Appointments"));
    // DOB and Appt Date are mm/dd/yyyy date cells, Appt Time is built-in format 18 (h:mm AM/PM).
    assert_eq!(&cells_at(&p, 2)[2..6], ["01/04/1992", "4155551741", "12/14/2026", "10:45 AM"]);
    let row = &p.rows[0];
    assert!(matches!(row.cells[2].value, CellValue::Date(_)));
    assert!(matches!(row.cells[5].value, CellValue::Time(_)));
    let v = vars_at(&p, 2);
    assert_eq!(v["dob"], "1992-01-04");
    assert_eq!(v["appointmentDate"], "2026-12-14");
    assert_eq!(v["appointmentTime"], "10:45");
    assert_eq!(v["primaryPhone"], "+14155551741");
    assert_eq!(v["firstName"], "Maria");
    assert_eq!(v["lastName"], "Muñoz");
    assert_eq!(p.rows[0].identity(), Some("maria|munoz|1992-01-04|+14155551741"));
}

#[test]
fn clinic_b_keeps_quoted_newlines_quotes_and_accents_byte_exact() {
    let bytes = fixture("clinic_b_reminders.csv");
    let p = preview(&bytes, "clinic_b_reminders.csv");
    assert_eq!(p.encoding, Some("UTF-8 with BOM"));
    assert_eq!(p.headers[0], "first_name");
    assert_eq!(
        cells_at(&p, 5),
        [
            "Amara",
            "Muñoz",
            "11/09/2006",
            "+1 617.555.1163",
            "2026-12-02 14:00",
            "Dr. Alvarez",
            "Line one\nLine two"
        ]
    );
    assert_eq!(cells_at(&p, 4)[6], "Prefers \"Bob\"");
    assert_eq!(cells_at(&p, 3)[6], "Needs interpreter, Spanish");
    // Every accented name in the file comes back byte for byte.
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    for name in ["José", "Sofía", "Zoë", "Chloé", "Muñoz"] {
        let in_file = text.matches(name).count();
        let in_cells = p.rows.iter().flat_map(|r| &r.cells).filter(|c| c.text == name).count();
        assert_eq!(in_cells, in_file, "{name}");
    }
    let v = vars_at(&p, 5);
    assert_eq!(v["appointmentDate"], "2026-12-02");
    assert_eq!(v["appointmentTime"], "14:00");
    assert_eq!(v["dob"], "2006-11-09");
    // A quoted newline does not shift the row numbers: the header is row 1, 30 records follow.
    assert_eq!(p.rows.last().unwrap().sheet_row, 31);
}

#[test]
fn clinic_c_finds_the_header_splits_names_and_falls_back_to_the_home_phone() {
    let p = preview(&fixture("clinic_c_messy.xlsx"), "clinic_c_messy.xlsx");
    assert_eq!(p.header_row, 3);
    assert_eq!(p.ignored_rows.iter().map(|r| r.row).collect::<Vec<_>>(), [1, 28]);
    // Mobile # is a number cell.
    assert_eq!(cells_at(&p, 5)[2], "7735551129");
    assert!(matches!(p.rows[1].cells[2].value, CellValue::Number(_)));
    let v = vars_at(&p, 5);
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("Fatima", "Brown"));
    assert_eq!(v["primaryPhone"], "+17735551129");
    // Row 4: Mobile # is empty, Home Phone is used, and the row says so.
    let v = vars_at(&p, 4);
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("Dmitri", "Van der Berg"));
    assert_eq!(v["primaryPhone"], "+16175551175");
    assert_eq!(v["dob"], "2012-02-21");
    let row4 = p.rows.iter().find(|r| r.sheet_row == 4).unwrap();
    assert_eq!(row4.notes, ["phone taken from \"Home Phone\" because \"Mobile #\" is empty"]);
    // A date cell and a text date in the same column.
    assert_eq!(vars_at(&p, 6)["dob"], "1997-01-16");
    assert_eq!(cells_at(&p, 6)[1], "1997-01-16");
    assert_eq!(vars_at(&p, 7)["dob"], "2013-11-11");
}

#[test]
fn clinic_d_reads_windows_1252_with_semicolons() {
    let p = preview(&fixture("clinic_d_cp1252.csv"), "clinic_d_cp1252.csv");
    assert_eq!((p.encoding, p.delimiter), (Some("windows-1252"), Some(';')));
    assert_eq!(cells_at(&p, 2)[..2], ["Björn", "Muñoz"]);
    assert_eq!(cells_at(&p, 21)[..2], ["Zoë", "Davis"]);
    let v = vars_at(&p, 2);
    assert_eq!(v["appointmentDate"], "2026-12-02");
    assert_eq!(v["appointmentTime"], "08:00");
}

#[test]
fn a_preview_serializes_in_camel_case_with_rows_variables_and_patient() {
    let p = preview(&fixture("clinic_c_messy.xlsx"), "clinic_c_messy.xlsx");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["headerRow"], 3);
    assert_eq!(json["counts"]["callableRows"], 23);
    assert_eq!(json["unmappedColumns"][0]["header"], "Visit Type");
    let row = &json["rows"][0];
    assert_eq!(row["sheetRow"], 4);
    assert_eq!(row["status"], "callable");
    assert_eq!(row["variables"]["lastName"], "Van der Berg");
    assert_eq!(row["patient"]["phone"], "+16175551175");
    assert_eq!(row["patient"]["identity"], "dmitri|vanderberg|2012-02-21|+16175551175");
    assert_eq!(row["cells"][0]["text"], "Van der Berg, Dmitri");
    assert_eq!(row["cells"][1]["value"]["kind"], "text");
    assert_eq!(
        json["rows"][1]["cells"][2]["value"],
        serde_json::json!({"kind": "number", "value": 7735551129.0})
    );
    assert_eq!(json["mapping"][0]["part"], "givenName");
}
