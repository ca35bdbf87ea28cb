//! What a column's cells look like, as evidence for mapping beside its header.
//!
//! A profile reads a bounded sample of the data rows ([`SAMPLE_ROWS`], spread evenly over the
//! table, so a sorted export shows its start, middle and end) and counts, among the non-blank
//! cells, the share that read as each kind of value. The readers are the preview's own
//! (`transform`), so a cell counted as a phone here is a phone the preview accepts.
//!
//! Decisions:
//! - Kinds are not exclusive in principle but are made so in practice: a cell is tried as a date,
//!   then a time, then a phone, then a name, then an identifier; the first reading wins.
//! - Digits alone are not a date here (`10021` is more often an account number than an Excel
//!   serial written as text, and a number cell is a date only when its format says so, which
//!   the reader already turned into a date cell); eight digits that spell a real `YYYYMMDD` are.
//! - A time is a time of day written as one (`9:30`, `9:30 AM`, `noon`) or a time cell: `0930`
//!   could be a code.
//! - Birth-date-like: 0 to 120 years before `today` and more than a year ago. Appointment-like
//!   ("recent"): from a year before `today` to two years after. The two never overlap.
//! - A personal name is one to three words of letters (apostrophes, hyphens and initials'
//!   dots allowed), or `Last, First` with one to three words on each side; a lone word needs two
//!   letters (`M` and `F` are a sex column).

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::table::{Cell, CellValue, Table};
use crate::transform;

/// The most data rows a profile reads.
pub const SAMPLE_ROWS: usize = 1000;

/// What the sampled cells of one column hold. Shares are in 0..=1; every share but `empty` is
/// among the non-blank cells (0 when there are none).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnProfile {
    /// Cells read (one per sampled row).
    pub sampled: usize,
    /// Of those, the non-blank ones.
    pub filled: usize,
    /// Share of sampled cells that are blank.
    pub empty: f64,
    /// Share that read as phone numbers.
    pub phone: f64,
    /// Share that read as dates of any age.
    pub date: f64,
    /// Share that read as dates decades in the past: birth-date-like.
    pub birth_date: f64,
    /// Share that read as dates near today: appointment-like.
    pub recent_date: f64,
    /// Share that read as times of day without a date.
    pub time: f64,
    /// Share that read as personal names.
    pub name: f64,
    /// Share that read as whole names: `Last, First` or two to three words.
    pub whole_name: f64,
    /// Share that read as `Last, First` names.
    pub comma_name: f64,
    /// Share that read as identifiers: a code with a digit and no spaces, not a phone or date.
    pub identifier: f64,
    /// Share that read as none of the above.
    pub free_text: f64,
    /// Distinct non-blank texts over non-blank cells.
    pub distinct: f64,
}

/// The kind a single cell reads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    BirthDate,
    RecentDate,
    OtherDate,
    Time,
    Phone,
    Name { whole: bool, comma: bool },
    Identifier,
    FreeText,
}

/// Profiles every column of `table` (as many as [`Table::width`]) from at most
/// [`SAMPLE_ROWS`] of its data rows.
pub fn profile_table(table: &Table, today: NaiveDate) -> Vec<ColumnProfile> {
    let rows = table.data_rows();
    let width = table.width();
    let picked: Vec<usize> = if rows.len() <= SAMPLE_ROWS {
        (0..rows.len()).collect()
    } else {
        (0..SAMPLE_ROWS).map(|i| i * rows.len() / SAMPLE_ROWS).collect()
    };
    let window = Window::new(today);
    (0..width).map(|c| profile_cells(picked.iter().map(|&r| rows[r].cell(c)), &window)).collect()
}

/// The date ranges a cell is judged against.
struct Window {
    today: NaiveDate,
    oldest_birth: NaiveDate,
    year_ago: NaiveDate,
    latest_recent: NaiveDate,
}

impl Window {
    fn new(today: NaiveDate) -> Window {
        // Checked: `today` comes from the caller, and chrono's operators panic at its limits.
        let shift = |days: i64| today.checked_add_signed(Duration::days(days));
        Window {
            today,
            oldest_birth: shift(-(120 * 365 + 30)).unwrap_or(NaiveDate::MIN),
            year_ago: shift(-365).unwrap_or(NaiveDate::MIN),
            latest_recent: shift(2 * 365 + 1).unwrap_or(NaiveDate::MAX),
        }
    }

    fn date_kind(&self, d: NaiveDate) -> Kind {
        if d >= self.oldest_birth && d < self.year_ago {
            Kind::BirthDate
        } else if d >= self.year_ago && d <= self.latest_recent {
            Kind::RecentDate
        } else {
            Kind::OtherDate
        }
    }
}

fn profile_cells<'a>(cells: impl Iterator<Item = &'a Cell>, window: &Window) -> ColumnProfile {
    let mut p = ColumnProfile::default();
    let mut counts = [0usize; 9];
    let mut distinct: HashSet<&str> = HashSet::new();
    for cell in cells {
        p.sampled += 1;
        if cell.is_blank() {
            continue;
        }
        p.filled += 1;
        distinct.insert(cell.text.trim());
        let slot = match classify(cell, window) {
            Kind::BirthDate => 0,
            Kind::RecentDate => 1,
            Kind::OtherDate => 2,
            Kind::Time => 3,
            Kind::Phone => 4,
            Kind::Name { whole, comma } => {
                counts[5] += usize::from(whole);
                counts[6] += usize::from(comma);
                7
            }
            Kind::Identifier => 8,
            Kind::FreeText => {
                continue;
            }
        };
        counts[slot] += 1;
    }
    if p.sampled > 0 {
        p.empty = 1.0 - p.filled as f64 / p.sampled as f64;
    }
    if p.filled == 0 {
        return p;
    }
    let share = |n: usize| n as f64 / p.filled as f64;
    p.birth_date = share(counts[0]);
    p.recent_date = share(counts[1]);
    p.date = share(counts[0] + counts[1] + counts[2]);
    p.time = share(counts[3]);
    p.phone = share(counts[4]);
    p.whole_name = share(counts[5]);
    p.comma_name = share(counts[6]);
    p.name = share(counts[7]);
    p.identifier = share(counts[8]);
    p.free_text =
        1.0 - share(counts[0] + counts[1] + counts[2] + counts[3] + counts[4] + counts[7] + counts[8]);
    p.distinct = distinct.len() as f64 / p.filled as f64;
    p
}

fn classify(cell: &Cell, window: &Window) -> Kind {
    match cell.value {
        CellValue::Date(d) => return window.date_kind(d),
        CellValue::DateTime(dt) => return window.date_kind(dt.date()),
        CellValue::Time(_) => return Kind::Time,
        CellValue::Error | CellValue::Bool(_) | CellValue::Empty => return Kind::FreeText,
        CellValue::Number(_) | CellValue::Text => {}
    }
    let text = transform::without_text_formula(cell.text.trim());
    if let Some(kind) = text_date(text, window) {
        return kind;
    }
    if is_time_of_day(text) {
        return Kind::Time;
    }
    if transform::phone(text).is_ok() {
        return Kind::Phone;
    }
    if cell.value == CellValue::Text {
        if let Some(kind) = personal_name(text) {
            return kind;
        }
    }
    if is_identifier(text) {
        return Kind::Identifier;
    }
    Kind::FreeText
}

/// A text date (see the module documentation for what is not one here). A date the appointment
/// reading puts in no range is read again as a birth date, whose two-digit years go back a
/// century (`1/5/40` is 1940 for a birth date, 2040 otherwise).
fn text_date(text: &str, window: &Window) -> Option<Kind> {
    let digits_only = text.bytes().all(|b| b.is_ascii_digit());
    if text.is_empty() || (digits_only && text.len() != 8) || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = transform::parse_date_text(text, window.today, false).ok()?;
    match window.date_kind(date) {
        Kind::OtherDate => {
            let birth = transform::parse_date_text(text, window.today, true).ok()?;
            Some(window.date_kind(birth))
        }
        kind => Some(kind),
    }
}

fn is_time_of_day(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let written_as_time = text.contains(':')
        || lower.ends_with('m')
        || lower.ends_with("m.")
        || matches!(lower.as_str(), "noon" | "midnight");
    written_as_time && transform::parse_time_text(text).is_some()
}

/// One to three name words, or `Last, First` with one to three on each side.
fn personal_name(text: &str) -> Option<Kind> {
    if text.chars().count() > 60 {
        return None;
    }
    let words = |part: &str| -> Option<usize> {
        let words: Vec<&str> = part.split_whitespace().collect();
        ((1..=3).contains(&words.len()) && words.iter().all(|w| is_name_word(w))).then_some(words.len())
    };
    match text.split_once(',') {
        Some((last, first)) if !first.contains(',') => {
            words(last)?;
            words(first)?;
            Some(Kind::Name { whole: true, comma: true })
        }
        Some(_) => None,
        None => {
            let n = words(text)?;
            if n == 1 && text.chars().filter(|c| c.is_alphabetic()).count() < 2 {
                return None;
            }
            Some(Kind::Name { whole: n >= 2, comma: false })
        }
    }
}

/// A capitalised word of letters (`O'Brien`, `Anne-Marie`, `J.`), or a lower-case particle of a
/// family name (`van`, `de la`): a note such as `needs interpreter, Spanish` is not a name.
fn is_name_word(word: &str) -> bool {
    let letters_only = word.chars().all(|c| c.is_alphabetic() || matches!(c, '\'' | '\u{2019}' | '-' | '.'));
    let capitalised = word.chars().next().is_some_and(char::is_uppercase);
    letters_only && (capitalised || NAME_PARTICLES.contains(&word))
}

/// Lower-case words inside family names.
const NAME_PARTICLES: [&str; 14] =
    ["van", "von", "der", "den", "de", "del", "della", "la", "le", "da", "di", "du", "dos", "bin"];

fn is_identifier(text: &str) -> bool {
    (2..=30).contains(&text.len())
        && text.bytes().any(|b| b.is_ascii_digit())
        && !text.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Row, SourceFormat};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    fn table(header: &[&str], rows: &[Vec<Cell>]) -> Table {
        let mut all = vec![Row { number: 1, cells: header.iter().map(|h| Cell::text(*h)).collect() }];
        for (i, cells) in rows.iter().enumerate() {
            all.push(Row { number: i as u32 + 2, cells: cells.clone() });
        }
        Table::from_rows(SourceFormat::Csv, all).unwrap()
    }

    fn profile_of(column: &[&str]) -> ColumnProfile {
        let rows: Vec<Vec<Cell>> = column.iter().map(|t| vec![Cell::text("x"), Cell::text(*t)]).collect();
        profile_table(&table(&["First Name", "Value"], &rows), today()).swap_remove(1)
    }

    #[test]
    fn phones_dates_times_names_and_codes_are_told_apart() {
        let p = profile_of(&["(312) 555-0143", "312.555.0144", "+1 617 555 0100", "3125550199", ""]);
        assert_eq!((p.sampled, p.filled), (5, 4));
        assert!((p.empty - 0.2).abs() < 1e-9);
        assert_eq!(p.phone, 1.0);
        assert_eq!(p.date, 0.0);

        let p = profile_of(&["03/04/1985", "1972-11-30", "Nov 30, 1972", "7/9/01", "19850304"]);
        assert_eq!((p.birth_date, p.recent_date, p.phone), (1.0, 0.0, 0.0));

        let p = profile_of(&["12/01/2026", "2026-12-14 08:15", "Jan 5, 2027", "11/20/2026"]);
        assert_eq!((p.recent_date, p.birth_date, p.date), (1.0, 0.0, 1.0));

        let p = profile_of(&["9:30 AM", "14:00", "noon", "7pm"]);
        assert_eq!(p.time, 1.0);

        let p = profile_of(&["Smith, John", "García, María José", "Ann van Dijk", "O'Brien"]);
        assert_eq!(p.name, 1.0);
        assert_eq!((p.whole_name, p.comma_name), (0.75, 0.5));

        let p = profile_of(&["A-1001", "E1002233", "10021", "0930"]);
        assert_eq!((p.identifier, p.date, p.time), (1.0, 0.0, 0.0));

        let p = profile_of(&["Needs interpreter, Spanish", "prefers mornings please call", "M", "Yes!"]);
        assert_eq!(p.free_text, 1.0);
    }

    #[test]
    fn typed_cells_count_by_their_type_and_numbers_are_not_serials() {
        let date = Cell {
            text: "01/04/1992".into(),
            value: CellValue::Date(NaiveDate::from_ymd_opt(1992, 1, 4).unwrap()),
        };
        let phone = Cell { text: "4155551741".into(), value: CellValue::Number(4_155_551_741.0) };
        let serial = Cell { text: "33607".into(), value: CellValue::Number(33607.0) };
        let rows = vec![vec![date.clone(), phone.clone(), serial.clone()]; 3];
        let p = profile_table(&table(&["A", "B", "C"], &rows), today());
        assert_eq!(p[0].birth_date, 1.0);
        assert_eq!(p[1].phone, 1.0);
        assert_eq!((p[2].date, p[2].identifier), (0.0, 1.0));
    }

    #[test]
    fn a_today_at_the_calendar_limits_does_not_panic() {
        let rows = vec![vec![Cell::text("3/4/1985"), Cell::text("12/01/2026")]; 3];
        let t = table(&["A", "B"], &rows);
        for today in [NaiveDate::MIN, NaiveDate::MAX] {
            assert_eq!(profile_table(&t, today).len(), 2);
        }
    }

    #[test]
    fn the_distinct_ratio_counts_repeated_texts_once() {
        let p = profile_of(&["Annual", "Annual", "Recall", "Annual"]);
        assert_eq!(p.distinct, 0.5);
    }

    #[test]
    fn a_long_table_is_sampled_across_its_whole_length() {
        // The first half of the rows are blank in the second column, the second half phones: a
        // sample of the first rows only would see no phone at all.
        let n = 5 * SAMPLE_ROWS;
        let rows: Vec<Vec<Cell>> = (0..n)
            .map(|i| {
                let phone = if i < n / 2 { String::new() } else { format!("312555{:04}", i % 10_000) };
                vec![Cell::text(format!("Name{i}")), Cell::text(phone)]
            })
            .collect();
        let p = profile_table(&table(&["First Name", "Phone"], &rows), today());
        assert_eq!(p[1].sampled, SAMPLE_ROWS);
        assert!((p[1].empty - 0.5).abs() < 0.01, "{}", p[1].empty);
        assert_eq!(p[1].phone, 1.0);
    }
}
