//! Files that cannot become rows get a clear error naming the problem; none panics.

use std::io::Write;

use rivvi_ingestion::{IngestError, ReadOptions};

use crate::support::{fixture, text_rows, try_preview, xlsx};

fn err(bytes: &[u8], name: &str) -> IngestError {
    try_preview(bytes, name, ReadOptions::default(), None).unwrap_err()
}

fn err_with(bytes: &[u8], name: &str, read: ReadOptions) -> IngestError {
    try_preview(bytes, name, read, None).unwrap_err()
}

#[test]
fn an_empty_file_is_empty() {
    assert_eq!(err(b"", "a.csv"), IngestError::Empty);
    assert_eq!(err(b" \r\n\t\n", "a.csv"), IngestError::Empty);
    assert_eq!(err(b"\xEF\xBB\xBF\r\n", "a.csv"), IngestError::Empty);
    assert_eq!(err(b",,,\n,,\n", "a.csv"), IngestError::Empty);
    assert_eq!(err(&xlsx(&[("Empty", vec![])]), "a.xlsx"), IngestError::Empty);
    assert_eq!(IngestError::Empty.to_string(), "the file is empty");
}

#[test]
fn a_header_without_rows_says_so() {
    let e = err(b"Title\n\nFirst Name,Last Name,DOB,Phone\n", "a.csv");
    assert_eq!(e, IngestError::HeaderOnly { header_row: 3 });
    assert_eq!(e.to_string(), "the file has a header row (row 3) but no data rows");
}

#[test]
fn binary_garbage_named_csv_is_not_a_spreadsheet() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let garbage: Vec<u8> = (0..10_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let e = err(&garbage, "patients.csv");
    assert!(matches!(e, IngestError::NotASpreadsheet { .. }), "{e:?}");
    assert!(e.to_string().starts_with("not a spreadsheet or CSV"));
    let e = err(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "patients.csv");
    assert_eq!(e.to_string(), "not a spreadsheet or CSV: a PNG image");
    let e = err(b"%PDF-1.7\n", "patients.xlsx");
    assert_eq!(e.to_string(), "not a spreadsheet or CSV: a PDF document");
    let e = err(&[0u8; 300], "patients.xlsx");
    assert!(e.to_string().contains("named .xlsx but not a workbook"), "{e}");
}

#[test]
fn a_corrupt_or_truncated_workbook_is_named_as_such() {
    let good = fixture("clinic_a_appointments.xlsx");
    for cut in [good.len() / 2, good.len() - 30, 100] {
        let e = err(&good[..cut], "a.xlsx");
        assert!(matches!(e, IngestError::CorruptWorkbook { format: "xlsx", .. }), "cut {cut}: {e:?}");
        assert!(e.to_string().starts_with("the xlsx file is corrupt or truncated"), "{e}");
    }
    // A zip without a workbook inside.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("readme.txt", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(b"hello").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert_eq!(
        err(&bytes, "a.xlsx").to_string(),
        "not a spreadsheet or CSV: a zip archive without a workbook"
    );
}

/// An xlsx whose parts inflate far beyond their compressed size.
fn zip_bomb(inflated: usize) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let good = fixture("clinic_a_appointments.xlsx");
    let mut source = zip::ZipArchive::new(std::io::Cursor::new(good)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..source.len() {
        out.raw_copy_file(source.by_index(i).unwrap()).unwrap();
    }
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    out.start_file("xl/media/padding.bin", options).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..inflated >> 20 {
        out.write_all(&zeros).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn an_xlsx_that_inflates_enormously_is_refused_before_it_is_inflated() {
    let bytes = zip_bomb(16 << 20);
    assert!(bytes.len() < 64 * 1024, "the bomb is {} bytes", bytes.len());
    let e = err_with(
        &bytes,
        "bomb.xlsx",
        ReadOptions { max_uncompressed_bytes: 8 << 20, ..ReadOptions::default() },
    );
    assert!(matches!(e, IngestError::TooLargeUncompressed { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("the xlsx file expands to 16.0 MB uncompressed, more than the 8 MB allowed"),
        "{e}"
    );
    // Within the limit it is a normal workbook.
    let ok = try_preview(&bytes, "bomb.xlsx", ReadOptions::default(), None).unwrap();
    assert_eq!(ok.counts.data_rows, 42);
}

#[test]
fn a_ten_megabyte_cell_is_refused() {
    let mut csv = b"First Name,Last Name,DOB,Phone\nAnn,Lee,1/2/1980,\"".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 10 << 20));
    csv.extend(b"\"\n");
    let e = err(&csv, "big.csv");
    assert_eq!(e, IngestError::CellTooLarge { row: 2, column: 3, limit: 64 * 1024 });
    assert_eq!(e.to_string(), "the cell at row 2, column D holds more than 64 KB (limit)");
    // Unquoted, too.
    let mut csv = b"First Name,Last Name,DOB,Phone\n".to_vec();
    csv.extend(std::iter::repeat_n(b'y', 10 << 20));
    assert!(matches!(err(&csv, "big.csv"), IngestError::CellTooLarge { row: 2, column: 0, .. }));
    // In a workbook (Excel caps cells at 32,767 characters, so the limit is lowered here).
    let long = "z".repeat(30_000);
    let bytes = xlsx(&[(
        "S",
        text_rows(&[&["First Name", "Last Name", "DOB", "Phone"], &["Ann", &long, "1/2/1980", "3125550143"]]),
    )]);
    let e = err_with(&bytes, "big.xlsx", ReadOptions { max_cell_bytes: 10_000, ..ReadOptions::default() });
    assert_eq!(e, IngestError::CellTooLarge { row: 2, column: 1, limit: 10_000 });
}

#[test]
fn more_rows_than_the_limit_are_refused() {
    let mut csv = String::from("First Name,Last Name,DOB,Phone\n");
    for i in 0..101 {
        csv.push_str(&format!("A{i},B,1/2/1980,312555{:04}\n", 1000 + i));
    }
    let limit = ReadOptions { max_rows: 100, ..ReadOptions::default() };
    assert_eq!(err_with(csv.as_bytes(), "a.csv", limit.clone()), IngestError::TooManyRows { limit: 100 });
    assert_eq!(
        IngestError::TooManyRows { limit: 100 }.to_string(),
        "the file has more than 100 data rows; split it into smaller files"
    );
    // Far more: refused while reading, not after.
    for i in 0..10_000 {
        csv.push_str(&format!("C{i},D,1/2/1980,3125550143\n"));
    }
    assert_eq!(err_with(csv.as_bytes(), "a.csv", limit.clone()), IngestError::TooManyRows { limit: 100 });
    let rows: Vec<Vec<String>> =
        (0..150).map(|i| vec![format!("A{i}"), "B".into(), "1/2/1980".into(), "3125550143".into()]).collect();
    let mut all: Vec<Vec<&str>> = vec![vec!["First Name", "Last Name", "DOB", "Phone"]];
    all.extend(rows.iter().map(|r| r.iter().map(String::as_str).collect()));
    let refs: Vec<&[&str]> = all.iter().map(Vec::as_slice).collect();
    let bytes = xlsx(&[("S", text_rows(&refs))]);
    assert_eq!(err_with(&bytes, "a.xlsx", limit), IngestError::TooManyRows { limit: 100 });
}

#[test]
fn a_workbook_without_any_header_lists_its_sheets() {
    use crate::support::V;
    let numbers = vec![vec![V::N(1.0), V::N(2.0)], vec![V::N(3.0), V::N(4.0)]];
    let bytes = xlsx(&[("Numbers", numbers.clone()), ("More", numbers)]);
    let e = err(&bytes, "n.xlsx");
    assert_eq!(e, IngestError::NoHeader { sheets: vec!["Numbers".into(), "More".into()] });
    assert_eq!(e.to_string(), "no sheet has a detectable header row (sheets: \"Numbers\", \"More\")");
    assert!(matches!(
        err(b"3125550143,1/2/1980\n3125550144,1/3/1980\n", "n.csv"),
        IngestError::NoHeader { .. }
    ));
}

#[test]
fn other_documents_are_named() {
    assert!(err(b"<!DOCTYPE html><html><table></table></html>", "a.xls")
        .to_string()
        .contains("an HTML page"));
    let xml =
        br#"<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>"#;
    assert!(err(xml, "a.xls").to_string().contains("Excel 2003 XML spreadsheet"));
}

#[test]
fn a_workbook_that_trips_calamine_is_an_error_not_a_crash() {
    // Found by `fuzz/`: a damaged cell reference overflows calamine's column arithmetic.
    let bytes =
        std::fs::read(crate::support::fixture_path("../fuzz_regressions/calamine-cell-ref-overflow.xlsx"))
            .unwrap();
    match try_preview(&bytes, "a.xlsx", ReadOptions::default(), None) {
        Err(IngestError::CorruptWorkbook { format: "xlsx", .. }) => {}
        // Without overflow checks (release builds) calamine wraps instead of panicking.
        Ok(_) | Err(_) if !cfg!(debug_assertions) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_xls_whose_sector_chain_loops_is_refused_before_it_is_read() {
    // Found by `fuzz/`: a 6 KB xls whose directory chain loops made calamine allocate 4 GB.
    let bytes =
        std::fs::read(crate::support::fixture_path("../fuzz_regressions/calamine-cfb-chain-loop.xls"))
            .unwrap();

    let e = try_preview(&bytes, "a.xls", ReadOptions::default(), None).unwrap_err();

    assert!(matches!(e, IngestError::CorruptWorkbook { format: "xls", .. }), "{e:?}");
    assert!(e.to_string().contains("xls"), "{e}");
}
