//! Where the header row is, and where the data ends.
//!
//! # Header
//! Exports often put a title (`Weekly Recall List - generated 11/20/2026`), a note or blank rows
//! above the header. Among the first [`SCAN_ROWS`] non-blank rows, a row can be the header when
//! at least [`MIN_LABEL_SHARE`] of its non-blank cells are labels (text that does not look like a
//! date, number, phone or e-mail, and is short) and it has at least two non-blank cells (one for
//! a one-column sheet). Candidates are scored by: the share of cells that use words clinic exports
//! use in headers (`DOB`, `Mobile #`, `Appt Date`: see [`crate::vocab`]), counted double; how much
//! of the sheet's width the row covers, counted double; the label share; distinct labels; whether
//! the next row holds data; and, as a tie-break, being earlier. A row with no known word must
//! cover at least half the width or be the first row, so a short title is never taken for the
//! header of an unfamiliar sheet. The best candidate wins.
//!
//! # Footer
//! Working back from the last row, a row is a footer (not data) while it has few non-blank cells
//! (at most three, and at most half the header's width) and looks like a summary: its first
//! non-blank cell starts with a summary word (`Total`, `Totals`, `Count`, `Grand total`,
//! `Records`, `Page`, `Printed`, `Generated`, `End of report`, ...) followed by nothing, a colon,
//! digits or spaces (so `Page, Larry` in a name column stays data), or it is a number of a few
//! digits (`23`, a count or sum, not a phone) and nothing else. Footers are only recognised
//! after the last data row: a `Total` row in the middle of the data is data, and shows up as an
//! invalid row rather than vanishing. Blank rows never reach this point (tables keep only
//! non-blank rows).

use crate::table::{Cell, CellValue, Layout, Row};
use crate::vocab;

/// How many non-blank rows from the top may precede the header.
pub(crate) const SCAN_ROWS: usize = 30;
/// The least share of label cells in a header row.
const MIN_LABEL_SHARE: f64 = 0.75;
/// Headers are short: a longer text is a title or a note.
const MAX_LABEL_CHARS: usize = 80;

/// The outcome of [`detect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Detection {
    Found(Layout),
    NoRows,
    NoHeader,
    HeaderOnly { header_row: u32 },
}

/// Finds the header and the data rows of one sheet's non-blank rows.
pub(crate) fn detect(rows: &[Row]) -> Detection {
    if rows.is_empty() {
        return Detection::NoRows;
    }
    let scan = rows.len().min(SCAN_ROWS);
    let max_width = rows.iter().take(scan + 20).map(Row::non_blank).max().unwrap_or(0).max(1);
    let mut best: Option<(f64, usize)> = None;
    for i in 0..scan {
        let next = rows.get(i + 1);
        if let Some(score) = header_score(&rows[i], i, next, max_width) {
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i));
            }
        }
    }
    let Some((_, header)) = best else {
        return Detection::NoHeader;
    };
    let header_width = rows[header].non_blank();
    let mut end = rows.len();
    while end > header + 1 && is_footer(&rows[end - 1], header_width) {
        end -= 1;
    }
    if end == header + 1 {
        return Detection::HeaderOnly { header_row: rows[header].number };
    }
    Detection::Found(Layout { header, data: header + 1..end })
}

fn header_score(row: &Row, index: usize, next: Option<&Row>, max_width: usize) -> Option<f64> {
    let cells: Vec<&Cell> = row.cells.iter().filter(|c| !c.is_blank()).collect();
    let n = cells.len();
    if n == 0 || n < 2.min(max_width) {
        return None;
    }
    let labels: Vec<&str> = cells.iter().filter(|c| is_label(c)).map(|c| c.text.trim()).collect();
    let label_share = labels.len() as f64 / n as f64;
    if label_share < MIN_LABEL_SHARE {
        return None;
    }
    let known = labels.iter().filter(|l| vocab::is_known_header(l)).count();
    let width_share = n as f64 / max_width as f64;
    if known == 0 && index > 0 && width_share < 0.5 {
        return None;
    }
    let mut distinct: Vec<String> =
        labels.iter().map(|l| rivvi_domain::campaign::normalize_header(l)).collect();
    distinct.sort();
    distinct.dedup();
    let distinct_share = distinct.len() as f64 / n as f64;
    let next_has_data = next.is_some_and(|r| r.cells.iter().any(|c| !c.is_blank() && !is_label(c)));
    Some(
        2.0 * known as f64 / n as f64
            + 2.0 * width_share
            + label_share
            + 0.5 * distinct_share
            + if next_has_data { 1.0 } else { 0.0 }
            - 0.01 * index as f64,
    )
}

/// A cell that could be a column label: short text that does not look like a value.
pub(crate) fn is_label(cell: &Cell) -> bool {
    if cell.value != CellValue::Text {
        return false;
    }
    let t = cell.text.trim();
    !t.is_empty() && t.chars().count() <= MAX_LABEL_CHARS && !looks_like_value(t)
}

/// Text that reads as a value: a number, a date, a phone number, an e-mail address.
pub(crate) fn looks_like_value(t: &str) -> bool {
    if t.contains('@') && !t.contains(' ') {
        return true;
    }
    let digits = t.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    // Only digits and the separators of numbers, dates, times and phone numbers.
    let value_chars = t.chars().all(|c| c.is_ascii_digit() || " +-./:(),$%".contains(c) || c == '\u{a0}');
    if value_chars {
        return true;
    }
    // `March 4, 1985`, `4 Mar 1985`, `7:00 AM`: a date or time with words.
    let reference = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    crate::transform::parse_date_text(t, reference, false).is_ok()
        || crate::transform::parse_time_text(t).is_some()
}

const SUMMARY_WORDS: &[&str] = &[
    "grand total",
    "subtotal",
    "sub total",
    "totals",
    "total",
    "count",
    "sum",
    "records",
    "record count",
    "row count",
    "rows",
    "number of",
    "# of",
    "end of report",
    "end of list",
    "report generated",
    "generated",
    "printed",
    "run date",
    "report date",
    "page",
    "confidential",
];

fn is_footer(row: &Row, header_width: usize) -> bool {
    let cells: Vec<&Cell> = row.cells.iter().filter(|c| !c.is_blank()).collect();
    let n = cells.len();
    if n == 0 {
        return true;
    }
    if n > 3 || n * 2 > header_width.max(2) {
        return false;
    }
    if cells.iter().all(|c| is_small_number(c)) {
        return true;
    }
    let Some(first) = cells.first() else { return false };
    let text = first.text.trim().to_lowercase();
    SUMMARY_WORDS.iter().any(|w| {
        text.strip_prefix(w).is_some_and(|rest| {
            rest.is_empty()
                || rest.starts_with(|c: char| c == ':' || c == '=' || c.is_ascii_digit() || c.is_whitespace())
        })
    }) || counted_items(&text)
}

/// `23 records`, `42 patients`.
fn counted_items(text: &str) -> bool {
    let Some((number, rest)) = text.split_once(' ') else { return false };
    !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit() || b == b',')
        && matches!(
            rest.trim().trim_end_matches('.'),
            "records" | "rows" | "patients" | "appointments" | "entries" | "items" | "total"
        )
}

/// A count or a sum, not a phone number or an id: at most six digits.
fn is_small_number(cell: &Cell) -> bool {
    match cell.value {
        CellValue::Number(n) => n.abs() < 1_000_000.0,
        CellValue::Text => {
            let t = cell.text.trim();
            !t.is_empty() && t.len() <= 7 && t.bytes().all(|b| b.is_ascii_digit() || b == b',')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(number: u32, cells: &[&str]) -> Row {
        Row { number, cells: cells.iter().map(|t| Cell::text(*t)).collect() }
    }

    fn found(rows: &[Row]) -> Layout {
        match detect(rows) {
            Detection::Found(layout) => layout,
            other => panic!("expected a layout, got {other:?}"),
        }
    }

    #[test]
    fn a_title_above_the_header_is_skipped() {
        let rows = vec![
            row(1, &["Weekly Recall List - generated 11/20/2026"]),
            row(3, &["Name", "Birthdate", "Mobile #", "Home Phone", "Visit Type"]),
            row(4, &["Brown, Fatima", "2/1/1938", "7735551129", "", "Annual"]),
            row(5, &["Lee, Olivia", "11/5/2010", "7735551796", "", "Recall"]),
            row(7, &["Total: 2"]),
        ];
        let layout = found(&rows);
        assert_eq!(layout.header, 1);
        assert_eq!(layout.data, 2..4);
    }

    #[test]
    fn an_unfamiliar_header_on_the_first_row_is_accepted() {
        let rows = vec![row(1, &["Zorp", "Blip", "Quux"]), row(2, &["a", "12", "3125550143"])];
        assert_eq!(found(&rows).header, 0);
    }

    #[test]
    fn several_footer_rows_are_dropped_but_short_data_rows_stay() {
        let rows = vec![
            row(1, &["First Name", "Last Name", "DOB", "Phone", "Provider", "Location"]),
            row(2, &["Ann", "Lee", "1/2/1980", "3125550143", "Dr. Chen", "Main"]),
            row(3, &["Page, Larry"]),
            row(5, &["Totals", "1"]),
            row(6, &["Printed 11/20/2026"]),
            row(7, &["2"]),
        ];
        assert_eq!(found(&rows).data, 1..3);
    }

    #[test]
    fn a_header_without_data_is_reported_as_such() {
        let rows = vec![row(2, &["First Name", "Last Name", "Phone"]), row(3, &["Count: 0"])];
        assert_eq!(detect(&rows), Detection::HeaderOnly { header_row: 2 });
        assert_eq!(detect(&[]), Detection::NoRows);
    }

    #[test]
    fn a_sheet_of_values_has_no_header() {
        let rows = vec![row(1, &["3125550143", "1/2/1980"]), row(2, &["3125550144", "1/3/1980"])];
        assert_eq!(detect(&rows), Detection::NoHeader);
    }

    #[test]
    fn values_and_labels_are_told_apart() {
        for v in [
            "3125550143",
            "(312) 555-0143",
            "02/04/1961",
            "2026-12-02T08:00",
            "7:00 AM",
            "March 4, 1985",
            "a@b.co",
            "$25.00",
        ] {
            assert!(looks_like_value(v), "{v}");
        }
        for l in ["Phone 2", "Mobile #", "D.O.B.", "Appt Time", "Name", "Total: 23"] {
            assert!(!looks_like_value(l), "{l}");
        }
    }
}
