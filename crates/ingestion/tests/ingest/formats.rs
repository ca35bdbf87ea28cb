//! CSV dialects and encodings, and workbooks made on the fly: every form reads to the same rows.

use rivvi_ingestion::{CellValue, IngestError, ReadOptions, SourceFormat};

use crate::support::{cells_at, preview, preview_with, text_rows, try_preview, vars_at, xlsx, V};

const HEADER: [&str; 5] = ["First Name", "Last Name", "DOB", "Phone", "Notes"];

fn encode(delim: &str) -> String {
    let rows = [
        HEADER.to_vec(),
        vec!["Zoë", "Muñoz", "3/4/1985", "(312) 555-0143", "likes \"mornings\""],
        vec!["José", "Ødegård", "1990-12-25", "312.555.0144", "x"],
    ];
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    if c.contains('"') {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        (*c).to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(delim)
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn check_rows(p: &rivvi_ingestion::Preview) {
    assert_eq!(p.counts.callable_rows, 2, "{:?}", p.rows.iter().map(|r| &r.errors).collect::<Vec<_>>());
    assert_eq!(cells_at(p, 2), ["Zoë", "Muñoz", "3/4/1985", "(312) 555-0143", "likes \"mornings\""]);
    let v = vars_at(p, 3);
    assert_eq!(
        (v["firstName"].as_str(), v["lastName"].as_str(), v["dob"].as_str()),
        ("José", "Ødegård", "1990-12-25")
    );
}

#[test]
fn comma_semicolon_tab_and_pipe_files_read_alike() {
    for (delim, name) in [(",", "a.csv"), (";", "a.csv"), ("\t", "a.tsv"), ("\t", "a.txt"), ("|", "a.csv")] {
        let p = preview(encode(delim).as_bytes(), name);
        assert_eq!(p.delimiter, delim.chars().next(), "{name}");
        check_rows(&p);
    }
}

#[test]
fn utf16_and_windows_1252_files_read_alike() {
    let text = encode(",");
    let le: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let be: Vec<u8> =
        [0xFE, 0xFF].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes)).collect();
    let (cp1252, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!unmappable);
    for (bytes, encoding) in [(le, "UTF-16LE"), (be, "UTF-16BE"), (cp1252.into_owned(), "windows-1252")] {
        let p = preview(&bytes, "export.csv");
        assert_eq!(p.encoding, Some(encoding));
        check_rows(&p);
    }
}

#[test]
fn title_rows_blank_rows_and_footer_totals_are_not_data() {
    let csv = "Appointment Reminders\r\nPrinted 11/20/2026\r\n\r\n\
               Patient First Name,Patient Last Name,DOB,Cell Phone\r\n\
               Ann,Lee,1/2/1980,3125550143\r\n\
               Bob,Ray,2/3/1970,3125550144\r\n\
               ,,,\r\n\
               Total: 2\r\n";
    let p = preview(csv.as_bytes(), "list.csv");
    assert_eq!(p.header_row, 4);
    assert_eq!(p.counts.data_rows, 2);
    assert_eq!(p.ignored_rows.iter().map(|r| r.row).collect::<Vec<_>>(), [1, 2, 8]);
}

#[test]
fn a_workbook_shows_formatted_numbers_dates_and_phones_as_excel_does() {
    let bytes = xlsx(&[(
        "Sheet1",
        vec![
            text_rows(&[&["First", "Last", "DOB", "Mobile", "MRN", "Appt Date", "Appt Time", "Home Phone"]])
                .remove(0),
            vec![
                V::S("Ann"),
                V::S("Lee"),
                V::F(31110.0, "m/d/yyyy"),
                V::N(3125550143.0),
                V::F(1234.0, "000000"),
                V::F(46370.0, "[$-F800]dddd, mmmm dd, yyyy"),
                V::F(0.4479166666666667, "h:mm AM/PM"),
                V::F(3125550144.0, "(###) ###-####"),
            ],
            vec![
                V::S("Bob"),
                V::S("Ray"),
                V::N(31110.0),
                V::S("312-555-0145"),
                V::S("001235"),
                V::S("12/14/26"),
                V::S("14:30"),
                V::B(true),
            ],
        ],
    )]);
    let p = preview(&bytes, "book.xlsx");
    assert_eq!(
        cells_at(&p, 2),
        [
            "Ann",
            "Lee",
            "3/4/1985",
            "3125550143",
            "001234",
            "Monday, December 14, 2026",
            "10:45 AM",
            "(312) 555-0144"
        ]
    );
    let v = vars_at(&p, 2);
    assert_eq!(v["dob"], "1985-03-04");
    assert_eq!(v["mrn"], "001234");
    assert_eq!(v["primaryPhone"], "+13125550143");
    assert_eq!(v["secondaryPhone"], "+13125550144");
    assert_eq!(v["appointmentDate"], "2026-12-14");
    assert_eq!(v["appointmentTime"], "10:45");
    // An Excel serial in a General-format cell, a two-digit-year text date, a boolean where a
    // phone belongs (optional: a warning, the row stays callable).
    assert_eq!(cells_at(&p, 3)[2], "31110");
    let v = vars_at(&p, 3);
    assert_eq!(v["dob"], "1985-03-04");
    assert_eq!(v["appointmentDate"], "2026-12-14");
    assert_eq!(v["appointmentTime"], "14:30");
    let row = p.rows.iter().find(|r| r.sheet_row == 3).unwrap();
    assert_eq!(row.warnings[0].field, "secondaryPhone");
    assert!(matches!(row.cells[7].value, CellValue::Bool(true)));
    assert_eq!(p.counts.callable_rows, 2);
}

#[test]
fn the_first_sheet_with_a_header_is_chosen_unless_one_is_named() {
    let bytes = xlsx(&[
        (
            "Read me",
            text_rows(&[&[
                "This export lists next week's appointments. Call the front desk with questions.",
            ]]),
        ),
        (
            "Patients",
            text_rows(&[
                &["First Name", "Last Name", "DOB", "Phone"],
                &["Ann", "Lee", "1/2/1980", "3125550143"],
            ]),
        ),
        (
            "Other",
            text_rows(&[
                &["First Name", "Last Name", "DOB", "Phone"],
                &["Bob", "Ray", "1/2/1970", "3125550144"],
                &["Cy", "Fox", "1/2/1960", "3125550145"],
            ]),
        ),
    ]);
    let p = preview(&bytes, "book.xlsx");
    assert_eq!(p.sheet.as_deref(), Some("Patients"));
    assert_eq!(p.sheet_names, ["Read me", "Patients", "Other"]);
    assert_eq!(p.counts.data_rows, 1);
    let p = preview_with(
        &bytes,
        "book.xlsx",
        ReadOptions { sheet: Some("other".into()), ..ReadOptions::default() },
        None,
    );
    assert_eq!(p.sheet.as_deref(), Some("Other"));
    assert_eq!(p.counts.data_rows, 2);
    let e = try_preview(
        &bytes,
        "book.xlsx",
        ReadOptions { sheet: Some("Nope".into()), ..ReadOptions::default() },
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the workbook has no sheet named \"Nope\"; its sheets are: \"Read me\", \"Patients\", \"Other\""
    );
}

#[test]
fn an_xlsm_named_file_reports_its_format() {
    let bytes = xlsx(&[(
        "S",
        text_rows(&[&["First Name", "Last Name", "DOB", "Phone"], &["Ann", "Lee", "1/2/1980", "3125550143"]]),
    )]);
    assert_eq!(preview(&bytes, "macro.xlsm").format, SourceFormat::Xlsm);
    // The bytes decide, not the name.
    assert_eq!(preview(&bytes, "misnamed.csv").format, SourceFormat::Xlsx);
}

#[test]
fn a_header_only_sheet_is_skipped_for_one_with_data_and_reported_when_alone() {
    let header_only = text_rows(&[&["First Name", "Last Name", "DOB", "Phone"]]);
    let bytes = xlsx(&[("Template", header_only.clone())]);
    assert_eq!(
        try_preview(&bytes, "t.xlsx", ReadOptions::default(), None).unwrap_err(),
        IngestError::HeaderOnly { header_row: 1 }
    );
    let with_data =
        text_rows(&[&["First Name", "Last Name", "DOB", "Phone"], &["Ann", "Lee", "1/2/1980", "3125550143"]]);
    let bytes = xlsx(&[("Template", header_only), ("Data", with_data)]);
    assert_eq!(preview(&bytes, "t.xlsx").sheet.as_deref(), Some("Data"));
}

#[test]
fn progress_is_reported_up_to_the_end() {
    let seen = std::cell::RefCell::new(Vec::new());
    let record = |done: u64, total: u64| seen.borrow_mut().push((done, total));
    let bytes = crate::support::fixture("clinic_b_reminders.csv");
    rivvi_ingestion::report::preview_report(
        &bytes,
        "b.csv",
        None,
        None,
        crate::support::today(),
        Some(&record),
    )
    .unwrap();
    let seen = seen.into_inner();
    assert_eq!(seen.last(), Some(&(1000, 1000)));
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
}

#[test]
fn an_excel_sep_line_names_the_delimiter_and_is_not_data() {
    let csv = "sep=;\r\nFirst Name;Last Name;DOB;Phone;Notes\r\nAnn;Lee;1/2/1980;3125550143;a,b,c,d,e,f\r\n";
    let p = preview(csv.as_bytes(), "export.csv");
    assert_eq!(p.delimiter, Some(';'));
    assert_eq!(p.header_row, 2);
    assert_eq!(p.ignored_rows[0].row, 1);
    assert_eq!(cells_at(&p, 3)[4], "a,b,c,d,e,f");
}

/// A legacy `.xls` (BIFF, written by xlwt) and an `.ods` (written by odfpy, as LibreOffice
/// exports): date cells, a numeric phone cell and accents read like the xlsx and CSV forms.
#[test]
fn legacy_xls_and_opendocument_sheets_read_like_the_others() {
    for (file, format) in
        [("legacy_export.xls", SourceFormat::Xls), ("libreoffice_export.ods", SourceFormat::Ods)]
    {
        let bytes = std::fs::read(format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();

        let p = preview(&bytes, file);

        assert_eq!(p.format, format, "{file}");
        assert_eq!(
            p.counts.callable_rows,
            3,
            "{file}: {:?}",
            p.rows.iter().map(|r| &r.errors).collect::<Vec<_>>()
        );
        let ada = vars_at(&p, 2);
        assert_eq!(ada["dob"], "1961-02-04", "{file}");
        assert_eq!(ada["primaryPhone"], "+13125550143", "{file}: a numeric phone cell");
        assert_eq!(cells_at(&p, 2)[3], "3125550143", "{file}: shown without a decimal point");
        let jose = vars_at(&p, 4);
        assert_eq!((jose["firstName"].as_str(), jose["lastName"].as_str()), ("José", "Muñoz"), "{file}");
    }
}

/// An Excel binary workbook as SheetJS writes it (`tests/fixtures/make_practice_export_xlsb.js`):
/// every cell after the first of a row is a short record without its column, which calamine
/// alone skips. All six columns read back, with the title row, date and datetime cells, a numeric
/// phone and accents handled as in the other formats, and the first sheet (a note) passed over.
#[test]
fn a_binary_workbook_reads_every_column_of_every_row() {
    let bytes = crate::support::fixture("practice_export.xlsb");

    let p = preview(&bytes, "practice_export.xlsb");

    assert_eq!(p.format, SourceFormat::Xlsb);
    assert_eq!(p.sheet.as_deref(), Some("Appointments"));
    assert_eq!(p.sheet_names, ["Notes", "Appointments"]);
    assert_eq!(
        (p.header_row, p.counts.data_rows, p.counts.callable_rows, p.counts.invalid_rows),
        (3, 4, 3, 1)
    );
    assert_eq!(p.ignored_rows.iter().map(|r| r.row).collect::<Vec<_>>(), [1]);
    assert_eq!(
        cells_at(&p, 4),
        ["Ada", "Lovelace", "02/04/1961", "3125550143", "12/01/2026 9:30 AM", "Dr. Byron"]
    );
    let ada = vars_at(&p, 4);
    assert_eq!(
        (ada["dob"].as_str(), ada["primaryPhone"].as_str(), ada["appointmentDate"].as_str()),
        ("1961-02-04", "+13125550143", "2026-12-01")
    );
    assert_eq!((ada["appointmentTime"].as_str(), ada["provider"].as_str()), ("09:30", "Dr. Byron"));
    let jose = vars_at(&p, 6);
    assert_eq!((jose["firstName"].as_str(), jose["provider"].as_str()), ("José", "Dra. Peña"));
    let alan = p.rows.iter().find(|r| r.sheet_row == 7).unwrap();
    assert_eq!(alan.errors[0].field, "primaryPhone");
    assert_eq!(cells_at(&p, 7)[3], "555-0100");
}
