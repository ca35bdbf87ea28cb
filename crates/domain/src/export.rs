//! Rules for export files (CSV and xlsx) that are independent of how the file is written.
//!
//! CSV injection (OWASP, "CSV Injection"): a spreadsheet opening a CSV file treats a cell that
//! starts with `=`, `+`, `-` or `@` as a formula, and tab or carriage return can hide one. Every
//! CSV cell is passed through [`neutralise_csv_cell`], headers and Rivvi's own columns included
//! (a call summary or an analysis value comes from a language model and could start with `=`).
//!
//! xlsx files need no such rule: each cell is written as a string cell, which a spreadsheet never
//! evaluates, so the cell keeps exactly the text uploaded (`=SUM(A1)` stays that text, `00123`
//! keeps its zeros). Prefixing there would change the data for no protection.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::IanaZone;

/// The characters that make a spreadsheet read a CSV cell as a formula (all ASCII, so the first
/// byte of a cell decides).
const FORMULA_TRIGGERS: [u8; 6] = [b'=', b'+', b'-', b'@', b'\t', b'\r'];

/// The cell as a CSV file must carry it: unchanged, or prefixed with a single quote `'` when it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return, so a spreadsheet shows it as text
/// instead of evaluating it.
pub fn neutralise_csv_cell(cell: &str) -> Cow<'_, str> {
    if cell.as_bytes().first().is_some_and(|first| FORMULA_TRIGGERS.contains(first)) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// An instant on the organization's wall clock, as export files show it:
/// `2026-11-25 10:00:00 -05:00`. The offset keeps the hour repeated when clocks go back apart.
pub fn local_time(at: DateTime<Utc>, zone: IanaZone) -> String {
    use chrono::{Datelike, Offset, Timelike};
    // Written field by field: a format string would be parsed again for every cell of an export.
    let local = at.with_timezone(&zone.tz());
    let offset = local.offset().fix().local_minus_utc();
    let (sign, offset) = if offset < 0 { ('-', -offset) } else { ('+', offset) };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}:{:02}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
        offset / 3600,
        offset % 3600 / 60
    )
}

/// The name of the original column at `position` (0-based): its header text, or `Column n`
/// (1-based) when the header cell is blank or the run kept no header row.
pub fn column_name(headers: Option<&[String]>, position: usize) -> String {
    headers
        .and_then(|h| h.get(position))
        .filter(|h| !h.trim().is_empty())
        .map_or_else(|| format!("Column {}", position + 1), String::clone)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn formula_looking_cells_are_prefixed_with_a_quote() {
        for cell in ["=HYPERLINK(\"http://x\")", "+1 555", "-5", "@SUM(A1)", "\tcmd", "\r=1+1"] {
            assert_eq!(neutralise_csv_cell(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn other_cells_are_borrowed_unchanged() {
        for cell in ["", "00123", "José Núñez", "a=b", " =1", "'quoted", "1-2", "a, \"b\"\nc"] {
            let out = neutralise_csv_cell(cell);
            assert!(matches!(out, Cow::Borrowed(_)), "{cell:?}");
            assert_eq!(out, cell);
        }
    }

    #[test]
    fn local_times_carry_the_offset_of_the_day() {
        let zone = IanaZone::parse("America/New_York").unwrap();
        let winter = Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap();
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 15, 30, 5).unwrap();

        assert_eq!(local_time(winter, zone), "2026-11-25 10:00:00 -05:00");
        assert_eq!(local_time(summer, zone), "2026-07-01 11:30:05 -04:00");
        let kolkata = IanaZone::parse("Asia/Kolkata").unwrap();
        assert_eq!(local_time(winter, kolkata), "2026-11-25 20:30:00 +05:30");
        let st_johns = IanaZone::parse("America/St_Johns").unwrap();
        assert_eq!(local_time(winter, st_johns), "2026-11-25 11:30:00 -03:30");
    }

    #[test]
    fn columns_without_a_header_are_named_by_position() {
        let headers = vec!["MRN".to_owned(), "  ".to_owned()];

        assert_eq!(column_name(Some(&headers), 0), "MRN");
        assert_eq!(column_name(Some(&headers), 1), "Column 2");
        assert_eq!(column_name(Some(&headers), 2), "Column 3");
        assert_eq!(column_name(None, 0), "Column 1");
    }
}
