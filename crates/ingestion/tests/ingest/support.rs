//! Shared helpers: fixture bytes, the test day, and small generated workbooks.

use std::path::PathBuf;

use chrono::NaiveDate;
use rivvi_ingestion::report::{preview_report, Report};

/// The day the fixtures were made for.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

/// The CLI report of bytes under the built-in variables.
pub fn report(bytes: &[u8], name: &str) -> Report {
    preview_report(bytes, name, None, None, today(), None).unwrap()
}

/// A cell for [`xlsx`].
#[derive(Clone, Copy)]
pub enum V<'a> {
    S(&'a str),
    N(f64),
    /// A number with a number format (dates are serials with a date format).
    F(f64, &'a str),
    B(bool),
    Blank,
}

/// An xlsx workbook with the given sheets (name, rows), made with rust_xlsxwriter.
pub fn xlsx(sheets: &[(&str, Vec<Vec<V<'_>>>)]) -> Vec<u8> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match *v {
                    V::S(s) => {
                        ws.write_string(r, c, s).unwrap();
                    }
                    V::N(n) => {
                        ws.write_number(r, c, n).unwrap();
                    }
                    V::F(n, f) => {
                        ws.write_number_with_format(r, c, n, &Format::new().set_num_format(f)).unwrap();
                    }
                    V::B(b) => {
                        ws.write_boolean(r, c, b).unwrap();
                    }
                    V::Blank => {}
                }
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

/// Rows of text cells.
pub fn text_rows<'a>(rows: &[&[&'a str]]) -> Vec<Vec<V<'a>>> {
    rows.iter().map(|r| r.iter().map(|s| if s.is_empty() { V::Blank } else { V::S(s) }).collect()).collect()
}

/// The preview of bytes under the built-in variables, with default options.
pub fn preview(bytes: &[u8], name: &str) -> rivvi_ingestion::Preview {
    preview_with(bytes, name, rivvi_ingestion::ReadOptions::default(), None)
}

pub fn preview_with(
    bytes: &[u8],
    name: &str,
    read: rivvi_ingestion::ReadOptions,
    mapping: Option<rivvi_ingestion::ExplicitMapping>,
) -> rivvi_ingestion::Preview {
    try_preview(bytes, name, read, mapping).unwrap()
}

pub fn try_preview(
    bytes: &[u8],
    name: &str,
    read: rivvi_ingestion::ReadOptions,
    mapping: Option<rivvi_ingestion::ExplicitMapping>,
) -> Result<rivvi_ingestion::Preview, rivvi_ingestion::IngestError> {
    let vars = rivvi_ingestion::defaults::appointment_reminder();
    let options = rivvi_ingestion::IngestOptions { read, today: today(), mapping };
    rivvi_ingestion::ingest(bytes, name, &vars, &options, None)
}

/// The variables of the data row at sheet row `row`.
pub fn vars_at(p: &rivvi_ingestion::Preview, row: u32) -> std::collections::BTreeMap<String, String> {
    let r = p.rows.iter().find(|r| r.sheet_row == row).unwrap_or_else(|| panic!("no data row {row}"));
    r.variables().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// The cell texts of the data row at sheet row `row`.
pub fn cells_at(p: &rivvi_ingestion::Preview, row: u32) -> Vec<String> {
    let r = p.rows.iter().find(|r| r.sheet_row == row).unwrap_or_else(|| panic!("no data row {row}"));
    r.cells.iter().map(|c| c.text.clone()).collect()
}
