//! Cell -> normalised value, per field type, with a reason when the cell cannot be read.
//!
//! Normal forms: dates `YYYY-MM-DD`, times `HH:MM` (24-hour; `HH:MM:SS` when seconds are set),
//! datetimes `YYYY-MM-DDTHH:MM`, phones E.164 (through [`PhoneNumber::parse`]), numbers without
//! a trailing `.0`, booleans `true`/`false`, enums as the option is spelled in the campaign, names
//! and text trimmed (names also with inner whitespace collapsed; case is kept as written).
//!
//! Decisions:
//! - Numeric dates read in their column's order ([`column_date_order`]): day first when some
//!   cells show it (`25/12/1990`) and none show month first (`12/25/1990`), or, with no such
//!   evidence, when the header is in a day-first language (`Fecha de Nacimiento`); otherwise
//!   US order: `3/4/1985` is March 4. A cell that cannot be read in its column's order
//!   (`25/12/1990` in a US column) is read the other way, since no other reading exists.
//! - Two-digit years: a birth date takes the latest century that does not put it after `today`
//!   (`3/4/85` -> 1985, `3/4/19` -> 2019); other dates take the century that puts them within
//!   80 years before to 20 years after `today`.
//! - Excel serials use the 1900 system, including its fictitious 1900-02-29 (serial 60), which is
//!   refused. Workbook date cells carry their own epoch (1900 or 1904) and are converted by
//!   calamine. A serial written as text is accepted only with exactly five digits (1927-2173): a
//!   four-digit number in a date column is far more often a bare year than a serial.
//! - A date field accepts a date with a time and keeps the date; a datetime field refuses a date
//!   without a time (the time would be invented).
//! - Birth dates after `today` or before 1900 are refused.
//! - Month and weekday names come from the vocabulary (`vocab/words.txt`): English and Spanish
//!   (`3 de marzo de 1985`, `15/ene/2026`, `mar. 3, 1985`, `miércoles 2 de dic. 2026`), in any
//!   case, with or without accents and abbreviation dots.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rivvi_domain::campaign::{normalize_header, FieldType};
use rivvi_domain::phone::PhoneError;
use rivvi_domain::PhoneNumber;

use crate::table::{Cell, CellValue, Row};
use crate::vocab;

/// Why a cell could not be read, as the end of a sentence starting with the field's label and
/// the cell's text: `phone '555-0100'` + ` is not a full number`.
pub(crate) type Problem = String;

/// Which of the first two numbers of a numeric date (`03/04/1985`) is the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum DateOrder {
    /// `03/04/1985` is March 4 (US).
    #[default]
    MonthFirst,
    /// `03/04/1985` is April 3 (most of the world, Spanish-speaking countries among them).
    DayFirst,
}

/// Reads `cell` as `field_type`: `Ok(None)` for a blank cell, `Ok(Some(normal form))`, or the
/// problem. Numeric dates are month first unless a number above 12 says otherwise.
#[cfg(test)]
pub(crate) fn transform(
    cell: &Cell,
    field_type: FieldType,
    options: &[String],
    birth_date: bool,
    today: NaiveDate,
) -> Result<Option<String>, Problem> {
    transform_in(cell, field_type, options, birth_date, today, DateOrder::MonthFirst)
}

/// [`transform`] with the column's [`DateOrder`] (see [`column_date_order`]).
pub(crate) fn transform_in(
    cell: &Cell,
    field_type: FieldType,
    options: &[String],
    birth_date: bool,
    today: NaiveDate,
    order: DateOrder,
) -> Result<Option<String>, Problem> {
    if cell.is_blank() {
        return Ok(None);
    }
    if cell.value == CellValue::Error {
        return Err("is a formula error".to_owned());
    }
    let text = without_text_formula(cell.text.trim());
    let out = match field_type {
        FieldType::Text => text.to_owned(),
        FieldType::Name => collapse_whitespace(text),
        FieldType::Date => iso_date(cell_date(cell, today, birth_date, order)?),
        FieldType::Time => format_time(cell_time(cell)?),
        FieldType::Datetime => format_datetime(cell_datetime(cell, today, order)?),
        FieldType::Phone => String::from(phone(text)?),
        FieldType::Number => number(cell)?,
        FieldType::Boolean => boolean(cell)?.to_string(),
        FieldType::Enum => enum_option(text, options)?,
    };
    Ok(Some(out))
}

/// The value inside Excel's text-forcing formula `="00123"`, which exports use to keep leading
/// zeros and long digit strings; any other text as it is.
pub(crate) fn without_text_formula(text: &str) -> &str {
    match text.strip_prefix("=\"").and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner,
        _ => text,
    }
}

/// Trims and turns every run of whitespace (spaces, tabs, non-breaking spaces, newlines) into
/// one space.
pub(crate) fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// phones

pub(crate) fn phone(text: &str) -> Result<PhoneNumber, Problem> {
    let text = without_phone_label(text);
    let exact = exact_scientific(text);
    PhoneNumber::parse(exact.as_deref().unwrap_or(text)).map_err(|e| match e {
        PhoneError::MissingAreaCode => "is not a full number".to_owned(),
        other => format!("is not a valid phone number: it {other}"),
    })
}

/// `3.125550143E9` -> `3125550143`: scientific notation that still writes every digit of the
/// whole number (as many mantissa digits as the exponent implies). Excel's usual `3.13E+09` has
/// lost digits and is left for [`PhoneNumber::parse`] to refuse with its reason.
fn exact_scientific(text: &str) -> Option<String> {
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let exponent: usize = exponent.strip_prefix('+').unwrap_or(exponent).parse().ok()?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = || whole.bytes().chain(fraction.bytes());
    let exact = whole.len() == 1 && digits().all(|b| b.is_ascii_digit()) && fraction.len() == exponent;
    exact.then(|| digits().map(char::from).collect())
}

/// Words hand-kept sheets put beside a number to say which line it is.
const PHONE_LABELS: [&str; 14] = [
    "cell",
    "cellphone",
    "mobile",
    "mob",
    "home",
    "work",
    "office",
    "main",
    "primary",
    "landline",
    "c",
    "h",
    "m",
    "w",
];

fn is_phone_label(word: &str) -> bool {
    let word = word.trim_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ':' | '-'));
    PHONE_LABELS.iter().any(|l| l.eq_ignore_ascii_case(word))
}

/// The number without a line label around it: `Cell: 312-555-0143`, `312 555 0143 (cell)`,
/// `(H) 312-555-0143`. Only the known labels are removed; anything else stays and fails parsing
/// with its reason.
fn without_phone_label(text: &str) -> &str {
    let mut t = text.trim();
    if let Some((label, rest)) = t.split_once(':') {
        if is_phone_label(label) {
            t = rest.trim();
        }
    }
    if let Some(rest) = t.strip_prefix('(') {
        if let Some((label, after)) = rest.split_once(')') {
            if is_phone_label(label) {
                t = after.trim();
            }
        }
    }
    if let Some(rest) = t.strip_suffix(')') {
        if let Some((before, label)) = rest.rsplit_once('(') {
            if is_phone_label(label) {
                t = before.trim();
            }
        }
    }
    if let Some((before, label)) = t.rsplit_once(|c: char| c.is_whitespace() || c == '-') {
        if label.chars().all(char::is_alphabetic) && is_phone_label(label) {
            t = before.trim_end_matches(|c: char| c.is_whitespace() || c == '-');
        }
    }
    t
}

// ---------------------------------------------------------------------------------------------
// numbers, booleans, enums

fn number(cell: &Cell) -> Result<String, Problem> {
    let n = match cell.value {
        CellValue::Number(n) => n,
        _ => {
            let t: String =
                cell.text.trim().chars().filter(|c| !matches!(c, ',' | '$' | ' ' | '\u{a0}')).collect();
            t.parse::<f64>().ok().filter(|n| n.is_finite()).ok_or_else(|| "is not a number".to_owned())?
        }
    };
    Ok(format_number(n))
}

/// `3125550143`, `2.5`, `-1`: integers without `.0`, others in their shortest exact form.
pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn boolean(cell: &Cell) -> Result<bool, Problem> {
    match cell.value {
        CellValue::Bool(b) => return Ok(b),
        CellValue::Number(1.0) => return Ok(true),
        CellValue::Number(0.0) => return Ok(false),
        _ => {}
    }
    match cell.text.trim().to_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "x" | "on" | "checked" | "\u{2713}" | "\u{2714}" => Ok(true),
        "false" | "f" | "no" | "n" | "0" | "off" | "unchecked" => Ok(false),
        _ => Err("is not yes or no".to_owned()),
    }
}

fn enum_option(text: &str, options: &[String]) -> Result<String, Problem> {
    if let Some(o) = options.iter().find(|o| o.eq_ignore_ascii_case(text)) {
        return Ok(o.clone());
    }
    let wanted = normalize_header(text);
    if let Some(o) = options.iter().find(|o| normalize_header(o) == wanted) {
        return Ok(o.clone());
    }
    Err(format!("is not one of: {}", options.join(", ")))
}

// ---------------------------------------------------------------------------------------------
// dates

/// The first date Excel's 1900 system can hold, minus one day: serial 1 is 1900-01-01.
fn excel_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1899, 12, 31).unwrap_or(NaiveDate::MIN).and_time(NaiveTime::MIN)
}

/// An Excel 1900-system serial (days since 1899-12-31, with the fictitious 1900-02-29 as serial
/// 60) as a date and time, rounded to the second. `None` for serial 60, negatives, and values
/// past 9999-12-31.
pub fn excel_serial_to_datetime(serial: f64) -> Option<NaiveDateTime> {
    if !serial.is_finite() || !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let mut days = serial.trunc() as i64;
    if days == 60 {
        return None;
    }
    if days > 60 {
        days -= 1; // Excel counts 1900-02-29, which never was
    }
    let mut seconds = (serial.fract() * 86_400.0).round() as i64;
    if seconds >= 86_400 {
        days += 1;
        seconds -= 86_400;
    }
    excel_epoch().checked_add_signed(Duration::days(days) + Duration::seconds(seconds))
}

fn cell_date(cell: &Cell, today: NaiveDate, birth: bool, order: DateOrder) -> Result<NaiveDate, Problem> {
    let date = match cell.value {
        CellValue::Date(d) => d,
        CellValue::DateTime(dt) => dt.date(),
        CellValue::Time(_) => return Err("is a time, not a date".to_owned()),
        CellValue::Number(n) => number_as_date(n)?,
        _ => parse_date_text_in(cell.text.trim(), today, birth, order)?,
    };
    check_birth_date(date, today, birth)?;
    Ok(date)
}

fn number_as_date(n: f64) -> Result<NaiveDate, Problem> {
    if n.fract() == 0.0 && (19_000_101.0..=21_001_231.0).contains(&n) {
        if let Some(d) = yyyymmdd(&format!("{}", n as i64)) {
            return Ok(d);
        }
    }
    if n.trunc() as i64 == 60 {
        return Err("is Excel's 1900-02-29, a date that does not exist".to_owned());
    }
    match excel_serial_to_datetime(n) {
        Some(dt) if n >= 1.0 => Ok(dt.date()),
        _ => Err("is not a date".to_owned()),
    }
}

fn check_birth_date(date: NaiveDate, today: NaiveDate, birth: bool) -> Result<(), Problem> {
    if !birth {
        return Ok(());
    }
    if date > today {
        return Err("is in the future".to_owned());
    }
    if date.year() < 1900 {
        return Err("is before 1900".to_owned());
    }
    Ok(())
}

fn yyyymmdd(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::from_ymd_opt(
        s.get(0..4)?.parse().ok()?,
        s.get(4..6)?.parse().ok()?,
        s.get(6..8)?.parse().ok()?,
    )
}

/// Resolves a year written with `digits` digits.
fn full_year(year: u32, digits: usize, month: u32, day: u32, today: NaiveDate, birth: bool) -> Option<i32> {
    match digits {
        4 => i32::try_from(year).ok(),
        1 | 2 => {
            let yy = year as i32;
            if birth {
                // The latest century that keeps the date on or before today.
                let this_century = today.year() / 100 * 100;
                for century in [this_century, this_century - 100, this_century - 200] {
                    let y = century + yy;
                    if NaiveDate::from_ymd_opt(y, month, day).is_some_and(|d| d <= today) {
                        return Some(y);
                    }
                }
                None
            } else {
                let this_century = today.year() / 100 * 100;
                [this_century - 100, this_century, this_century + 100]
                    .into_iter()
                    .map(|c| c + yy)
                    .find(|&y| y > today.year() - 80 && y <= today.year() + 20)
            }
        }
        _ => None,
    }
}

fn ymd(y: i32, m: u32, d: u32) -> Result<NaiveDate, Problem> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| "is not a real date".to_owned())
}

/// Reads a date written as text (see the module documentation for the forms), month first.
pub(crate) fn parse_date_text(t: &str, today: NaiveDate, birth: bool) -> Result<NaiveDate, Problem> {
    parse_date_text_in(t, today, birth, DateOrder::MonthFirst)
}

fn parse_date_text_in(
    t: &str,
    today: NaiveDate,
    birth: bool,
    order: DateOrder,
) -> Result<NaiveDate, Problem> {
    let t = t.trim();
    let not_a_date = || "is not a date".to_owned();
    if t.is_empty() || t.len() > 64 {
        return Err(not_a_date());
    }
    if let Some(d) = numeric_date(t, today, birth, order)? {
        return Ok(d);
    }
    if let Some(d) = worded_date(t, today, birth)? {
        return Ok(d);
    }
    if t.len() == 8 {
        if let Some(d) = yyyymmdd(t) {
            return Ok(d);
        }
        // MMDDYYYY
        if t.bytes().all(|b| b.is_ascii_digit()) {
            let (m, d, y) = (num(&t[0..2]), num(&t[2..4]), num(&t[4..8]));
            if let (Some(m), Some(d), Some(y)) = (m, d, y) {
                return ymd(y as i32, m, d);
            }
        }
    }
    if t.len() == 5 && t.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(dt) = t.parse::<f64>().ok().and_then(excel_serial_to_datetime) {
            return Ok(dt.date());
        }
    }
    // A date followed by a time: keep the date.
    if let Some((date, _)) = split_date_time(t, today, birth, order) {
        return Ok(date);
    }
    // A birth date exported as an ISO timestamp with fractions or a zone
    // (`1985-03-04T00:00:00.000Z`, from systems that store dates as midnight timestamps): its
    // calendar date. Not for other dates: an appointment at `2026-12-02T02:00:00Z` is on Dec 1
    // in the clinic's zone, which this pure function does not know.
    if let Some((date, time)) = t.split_once('T').filter(|_| birth) {
        let clock = time.trim_end_matches('Z');
        let clock = clock.split(['+', '-']).next().unwrap_or(clock);
        let clock = clock.split('.').next().unwrap_or(clock);
        if date.len() == 10 && parse_time_text(clock).is_some() {
            if let Some(d) = numeric_date(date, today, birth, order)? {
                return Ok(d);
            }
        }
    }
    Err(not_a_date())
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `1985-03-04`, `1985/3/4`, `3/4/1985`, `3-4-85`, `25.12.1990`.
fn numeric_date(
    t: &str,
    today: NaiveDate,
    birth: bool,
    order: DateOrder,
) -> Result<Option<NaiveDate>, Problem> {
    let sep = match t.bytes().find(|b| !b.is_ascii_digit()) {
        Some(b @ (b'/' | b'-' | b'.')) => b as char,
        _ => return Ok(None),
    };
    let parts: Vec<&str> = t.split(sep).collect();
    if parts.len() != 3 {
        return Ok(None);
    }
    let (Some(a), Some(b), Some(c)) = (num(parts[0]), num(parts[1]), num(parts[2])) else {
        return Ok(None);
    };
    if parts[0].len() == 4 {
        return ymd(a as i32, b, c).map(Some);
    }
    let year_digits = parts[2].len();
    if year_digits == 3 {
        return Ok(None);
    }
    // In the column's order unless that number cannot be a month.
    let (month, day) = match order {
        DateOrder::MonthFirst if a > 12 && b <= 12 => (b, a),
        DateOrder::MonthFirst => (a, b),
        DateOrder::DayFirst if b > 12 && a <= 12 => (a, b),
        DateOrder::DayFirst => (b, a),
    };
    if month == 0 || month > 12 || day == 0 || day > 31 {
        return Err("is not a real date".to_owned());
    }
    let year =
        full_year(c, year_digits, month, day, today, birth).ok_or_else(|| "is not a real date".to_owned())?;
    ymd(year, month, day).map(Some)
}

/// `March 4, 1985`, `Mar 4 1985`, `4 Mar 1985`, `4-Mar-85`, `Monday, March 4th, 1985`, and the
/// same in the other languages of the vocabulary (`3 de marzo de 1985`, `15/ene/2026`).
fn worded_date(t: &str, today: NaiveDate, birth: bool) -> Result<Option<NaiveDate>, Problem> {
    let lower = t.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-' || c == '/')
        .filter(|w| !w.is_empty())
        .collect();
    let mut month = None;
    let mut numbers: Vec<(u32, usize)> = Vec::new();
    for w in &words {
        if let Some(m) = vocab::month(w) {
            if month.replace(m).is_some() {
                return Ok(None);
            }
            continue;
        }
        if vocab::is_weekday(w) || vocab::is_date_filler(w) {
            continue;
        }
        let digits = w.trim_end_matches(['.', 's', 't', 'n', 'd', 'r', 'h']);
        let suffix = &w[digits.len()..];
        if !matches!(suffix, "" | "." | "st" | "nd" | "rd" | "th") {
            return Ok(None);
        }
        let Some(n) = num(digits) else { return Ok(None) };
        numbers.push((n, digits.len()));
    }
    let Some(month) = month else { return Ok(None) };
    let [(d, _), (y, y_digits)] = numbers.as_slice() else {
        return Ok(None);
    };
    let (day, year, year_digits) =
        if *y_digits <= 2 && *d > 31 { (*y, *d, numbers[0].1) } else { (*d, *y, *y_digits) };
    let year = full_year(year, year_digits, month, day, today, birth)
        .ok_or_else(|| "is not a real date".to_owned())?;
    ymd(year, month, day).map(Some)
}

// ---------------------------------------------------------------------------------------------
// times

fn cell_time(cell: &Cell) -> Result<NaiveTime, Problem> {
    match cell.value {
        CellValue::Time(t) => Ok(t),
        CellValue::DateTime(dt) => Ok(dt.time()),
        CellValue::Date(_) => Err("is a date, not a time".to_owned()),
        CellValue::Number(n) if (0.0..1.0).contains(&n) => fraction_of_day(n),
        // A 24-hour HHMM time typed into a number cell (`930`, `1415`).
        CellValue::Number(n) if n.fract() == 0.0 && (100.0..2400.0).contains(&n) => {
            let hhmm = n as u32;
            NaiveTime::from_hms_opt(hhmm / 100, hhmm % 100, 0).ok_or_else(|| "is not a time".to_owned())
        }
        CellValue::Number(_) => Err("is not a time".to_owned()),
        _ => parse_time_text(cell.text.trim()).ok_or_else(|| "is not a time".to_owned()),
    }
}

fn fraction_of_day(n: f64) -> Result<NaiveTime, Problem> {
    let seconds = (n * 86_400.0).round() as u32 % 86_400;
    NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0).ok_or_else(|| "is not a time".to_owned())
}

/// `7:00 AM`, `7am`, `7:00 a.m.`, `14:30`, `14:30:15`, `0730`, `noon`, `0.4479` (a fraction of a
/// day written out).
pub(crate) fn parse_time_text(t: &str) -> Option<NaiveTime> {
    let lower: String = t.trim().to_lowercase().chars().filter(|c| !c.is_whitespace() && *c != '.').collect();
    match lower.as_str() {
        "" => return None,
        "noon" => return NaiveTime::from_hms_opt(12, 0, 0),
        "midnight" => return NaiveTime::from_hms_opt(0, 0, 0),
        _ => {}
    }
    let lower = vocab::without_time_unit(&lower);
    if t.trim().starts_with("0.") {
        return t
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| (0.0..1.0).contains(n))
            .and_then(|n| fraction_of_day(n).ok());
    }
    let (clock, meridiem) = if let Some(c) = lower.strip_suffix("am").or_else(|| lower.strip_suffix('a')) {
        (c, Some(false))
    } else if let Some(c) = lower.strip_suffix("pm").or_else(|| lower.strip_suffix('p')) {
        (c, Some(true))
    } else {
        (lower, None)
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let (h, m, s) = match parts.as_slice() {
        // `0930`, and `930` (a number cell that lost its leading zero, or `9.30`), `930 AM`.
        [hhmm] if (3..=4).contains(&hhmm.len()) && hhmm.bytes().all(|b| b.is_ascii_digit()) => {
            let split = hhmm.len() - 2;
            (num(&hhmm[..split])?, num(&hhmm[split..])?, 0)
        }
        [h] if meridiem.is_some() && h.len() <= 2 => (num(h)?, 0, 0),
        [h, m] if m.len() == 2 && h.len() <= 2 => (num(h)?, num(m)?, 0),
        [h, m, s] if m.len() == 2 && s.len() == 2 && h.len() <= 2 => (num(h)?, num(m)?, num(s)?),
        _ => return None,
    };
    let h = match meridiem {
        Some(pm) => {
            if !(1..=12).contains(&h) {
                return None;
            }
            (h % 12) + if pm { 12 } else { 0 }
        }
        None => h,
    };
    NaiveTime::from_hms_opt(h, m, s)
}

/// `HH:MM`, or `HH:MM:SS` when the seconds are set. Written by hand: chrono's formatter is
/// a measurable share of a 100k-row preview.
fn format_time(t: NaiveTime) -> String {
    let mut out = String::with_capacity(8);
    push_time(&mut out, t);
    out
}

fn push_time(out: &mut String, t: NaiveTime) {
    push2(out, t.hour());
    out.push(':');
    push2(out, t.minute());
    if t.second() != 0 {
        out.push(':');
        push2(out, t.second());
    }
}

fn push2(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

fn push_date(out: &mut String, d: NaiveDate) {
    let y = d.year();
    if (0..=9999).contains(&y) {
        let y = y as u32;
        push2(out, y / 100);
        push2(out, y % 100);
    } else {
        out.push_str(&y.to_string());
    }
    out.push('-');
    push2(out, d.month());
    out.push('-');
    push2(out, d.day());
}

/// `YYYY-MM-DD`.
pub(crate) fn iso_date(d: NaiveDate) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, d);
    out
}

// ---------------------------------------------------------------------------------------------
// datetimes

fn cell_datetime(cell: &Cell, today: NaiveDate, order: DateOrder) -> Result<NaiveDateTime, Problem> {
    match cell.value {
        CellValue::DateTime(dt) => Ok(dt),
        CellValue::Date(_) => Err("is a date without a time".to_owned()),
        CellValue::Time(_) => Err("is a time without a date".to_owned()),
        CellValue::Number(n) if n >= 1.0 => {
            excel_serial_to_datetime(n).ok_or_else(|| "is not a date and time".to_owned())
        }
        _ => split_date_time(cell.text.trim(), today, false, order)
            .map(|(d, time)| d.and_time(time))
            .ok_or_else(|| "is not a date and time".to_owned()),
    }
}

/// `2026-12-14 08:15`, `2026-12-02T08:00`, `12/14/2026 8:15 AM`, `Dec 14, 2026 at 8:15 AM`.
pub(crate) fn parse_datetime_text(t: &str, today: NaiveDate) -> Option<NaiveDateTime> {
    split_date_time(t, today, false, DateOrder::MonthFirst).map(|(d, time)| d.and_time(time))
}

/// Finds a split of `t` into a date and a time (at a `T` after an ISO date, or at a space).
fn split_date_time(
    t: &str,
    today: NaiveDate,
    birth: bool,
    order: DateOrder,
) -> Option<(NaiveDate, NaiveTime)> {
    let t = t.trim();
    if t.len() > 64 {
        return None;
    }
    if let Some((d, rest)) = t.split_once('T') {
        if d.len() == 10 {
            if let (Ok(date), Some(time)) =
                (parse_date_text_only(d, today, birth, order), parse_time_text(rest))
            {
                return Some((date, time));
            }
        }
    }
    for (i, _) in t.char_indices().filter(|(_, c)| c.is_whitespace()) {
        let (d, rest) = t.split_at(i);
        let rest = rest.trim_start();
        let rest = vocab::without_date_time_joiner(rest);
        if let (Ok(date), Some(time)) =
            (parse_date_text_only(d.trim_end_matches(','), today, birth, order), parse_time_text(rest))
        {
            return Some((date, time));
        }
    }
    None
}

/// [`parse_date_text`] without the date-and-time fallback (no recursion).
fn parse_date_text_only(
    t: &str,
    today: NaiveDate,
    birth: bool,
    order: DateOrder,
) -> Result<NaiveDate, Problem> {
    if let Some(d) = numeric_date(t, today, birth, order)? {
        return Ok(d);
    }
    worded_date(t, today, birth)?.ok_or_else(|| "is not a date".to_owned())
}

/// `YYYY-MM-DDTHH:MM`, with `:SS` when the seconds are set.
fn format_datetime(dt: NaiveDateTime) -> String {
    let mut out = String::with_capacity(19);
    push_date(&mut out, dt.date());
    out.push('T');
    push_time(&mut out, dt.time());
    out
}

/// The date part of a cell for a date variable and the time part for its paired time variable
/// (`2026-12-02T08:00` -> `08:00`, `9:30 AM` -> `09:30`); `None` when the cell has no time of
/// day.
pub(crate) fn time_part(cell: &Cell, today: NaiveDate) -> Option<String> {
    match cell.value {
        CellValue::DateTime(dt) => Some(format_time(dt.time())),
        CellValue::Time(t) => Some(format_time(t)),
        CellValue::Text => {
            let t = cell.text.trim();
            parse_datetime_text(t, today).map(|dt| dt.time()).or_else(|| parse_time_text(t)).map(format_time)
        }
        _ => None,
    }
}

/// How many of a column's first non-blank cells [`holds_dates_with_times`] looks at.
const SHAPE_SAMPLE: usize = 50;

/// Whether a column's cells are dates with times of day: at least 80% of its first non-blank
/// cells, and at least one time other than midnight (a birth date stored as a date-time cell
/// is a date).
pub(crate) fn holds_dates_with_times(rows: &[Row], column: usize, today: NaiveDate) -> bool {
    let (mut seen, mut dated, mut past_midnight) = (0usize, 0usize, false);
    for cell in rows.iter().map(|r| r.cell(column)).filter(|c| !c.is_blank()).take(SHAPE_SAMPLE) {
        seen += 1;
        let datetime = match cell.value {
            CellValue::DateTime(dt) => Some(dt),
            CellValue::Text => parse_datetime_text(cell.text.trim(), today),
            _ => None,
        };
        if let Some(dt) = datetime {
            dated += 1;
            past_midnight |= dt.time() != NaiveTime::MIN;
        }
    }
    seen > 0 && past_midnight && dated * 5 >= seen * 4
}

/// The order of a column's numeric dates: a date whose first number is above 12 (`25/12/1990`)
/// shows day first, one whose second number is (`12/25/1990`) shows month first. Cells showing
/// one order and none the other settle it for the whole column, so `03/04/1985` beside
/// `25/12/1990` is April 3; with no evidence, `default` (the header's language, see
/// [`crate::vocab::header_date_order`]); with both, each cell by itself, month first.
pub(crate) fn column_date_order(rows: &[Row], column: usize, default: DateOrder) -> DateOrder {
    let (mut day_first, mut month_first) = (false, false);
    let cells = rows.iter().map(|r| r.cell(column)).filter(|c| c.value == CellValue::Text && !c.is_blank());
    for cell in cells.take(SHAPE_SAMPLE) {
        if let Some((a, b)) = leading_numbers(cell.text.trim()) {
            day_first |= a > 12 && b <= 12;
            month_first |= b > 12 && a <= 12;
        }
    }
    match (day_first, month_first) {
        (true, false) => DateOrder::DayFirst,
        (false, true) | (true, true) => DateOrder::MonthFirst,
        (false, false) => default,
    }
}

/// The first two numbers of a numeric date that does not start with its year (`25/12/1990`,
/// `3-4-85 10:00`).
fn leading_numbers(t: &str) -> Option<(u32, u32)> {
    let date = t.split([' ', 'T']).next()?;
    let sep = date.bytes().find(|b| !b.is_ascii_digit()).filter(|b| matches!(b, b'/' | b'-' | b'.'))?;
    let parts: Vec<&str> = date.split(char::from(sep)).collect();
    match parts.as_slice() {
        [a, b, _] if a.len() <= 2 && b.len() <= 2 => Some((num(a)?, num(b)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn date(t: &str) -> Result<NaiveDate, Problem> {
        parse_date_text(t, today(), true)
    }

    #[test]
    fn text_dates_in_every_common_form_parse() {
        let cases = [
            ("3/4/1985", d(1985, 3, 4)),
            ("1985-03-04T00:00:00Z", d(1985, 3, 4)),
            ("1985-03-04T05:00:00.000Z", d(1985, 3, 4)),
            ("1985-03-04T00:00:00-05:00", d(1985, 3, 4)),
            ("03/04/1985", d(1985, 3, 4)),
            ("3-4-1985", d(1985, 3, 4)),
            ("1985-03-04", d(1985, 3, 4)),
            ("1985/3/4", d(1985, 3, 4)),
            ("March 4, 1985", d(1985, 3, 4)),
            ("Mar 4 1985", d(1985, 3, 4)),
            ("Mar. 4th, 1985", d(1985, 3, 4)),
            ("4 Mar 1985", d(1985, 3, 4)),
            ("4-Mar-1985", d(1985, 3, 4)),
            ("Monday, March 4, 1985", d(1985, 3, 4)),
            ("Sept 30 1999", d(1999, 9, 30)),
            ("25/12/1990", d(1990, 12, 25)),
            ("19850304", d(1985, 3, 4)),
            ("03041985", d(1985, 3, 4)),
            ("31110", d(1985, 3, 4)),
            ("1985-03-04T10:00", d(1985, 3, 4)),
            ("3/4/1985 10:00 AM", d(1985, 3, 4)),
        ];
        for (input, expected) in cases {
            assert_eq!(date(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn spanish_month_and_weekday_names_parse_like_english_ones() {
        let cases = [
            ("3 de marzo de 1985", d(1985, 3, 3)),
            ("3 de Marzo del 1985", d(1985, 3, 3)),
            ("03-mar-1985", d(1985, 3, 3)),
            ("15/ene/2026", d(2026, 1, 15)),
            ("15 ENE. 2026", d(2026, 1, 15)),
            ("marzo 3, 1985", d(1985, 3, 3)),
            ("1 de septiembre de 1999", d(1999, 9, 1)),
            ("1 setiembre 1999", d(1999, 9, 1)),
            ("7-dic-85", d(1985, 12, 7)),
            ("lunes, 3 de agosto de 2026", d(2026, 8, 3)),
            ("Miércoles 2 de Dic. 2020", d(2020, 12, 2)),
            ("sáb 4 abr 2026", d(2026, 4, 4)),
        ];
        for (input, expected) in cases {
            assert_eq!(date(input), Ok(expected), "{input}");
        }
        assert_eq!(date("3 de 1985"), Err("is not a date".into()));
        assert_eq!(date("3 de marzo de 1985 de"), Ok(d(1985, 3, 3)), "fillers are only skipped");
        assert_eq!(date("31 de febrero de 1985"), Err("is not a real date".into()));
        assert_eq!(date("3 de marzo y 1985"), Err("is not a date".into()));
        assert_eq!(
            parse_datetime_text("15/ene/2026 10:30", today()),
            Some(d(2026, 1, 15).and_hms_opt(10, 30, 0).unwrap())
        );
    }

    #[test]
    fn a_column_shows_its_date_order_and_day_first_columns_read_day_first() {
        let rows = |cells: &[&str]| -> Vec<Row> {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| Row { number: i as u32 + 2, cells: vec![Cell::text(*c)] })
                .collect()
        };
        use DateOrder::*;
        assert_eq!(column_date_order(&rows(&["03/04/1985", "25/12/1990"]), 0, MonthFirst), DayFirst);
        assert_eq!(column_date_order(&rows(&["03/04/1985", "12/25/1990 10:00"]), 0, DayFirst), MonthFirst);
        assert_eq!(column_date_order(&rows(&["03/04/1985", "1990-12-25"]), 0, DayFirst), DayFirst);
        assert_eq!(column_date_order(&rows(&["03/04/1985", "1990-12-25"]), 0, MonthFirst), MonthFirst);
        assert_eq!(column_date_order(&rows(&["25/12/1990", "12/25/1990"]), 0, DayFirst), MonthFirst);
        let day_first = |t: &str| parse_date_text_in(t, today(), true, DayFirst);
        assert_eq!(day_first("03/04/1985"), Ok(d(1985, 4, 3)));
        assert_eq!(day_first("25.12.1990"), Ok(d(1990, 12, 25)));
        assert_eq!(day_first("12/25/1990"), Ok(d(1990, 12, 25)), "a day cannot be the month");
        assert_eq!(day_first("1985-03-04"), Ok(d(1985, 3, 4)), "year first is always year-month-day");
        assert_eq!(day_first("03/04/1985 10:00"), Ok(d(1985, 4, 3)));
        let cell = Cell::text("03/04/2026 10:30");
        assert_eq!(
            transform_in(&cell, FieldType::Datetime, &[], false, today(), DayFirst),
            Ok(Some("2026-04-03T10:30".into()))
        );
    }

    #[test]
    fn two_digit_years_never_put_a_birth_date_in_the_future() {
        assert_eq!(date("3/4/85"), Ok(d(1985, 3, 4)));
        assert_eq!(date("3/4/19"), Ok(d(2019, 3, 4)));
        assert_eq!(date("11/24/26"), Ok(d(2026, 11, 24)));
        assert_eq!(date("11/25/26"), Ok(d(1926, 11, 25)));
        assert_eq!(date("4-Mar-85"), Ok(d(1985, 3, 4)));
        // Not a birth date: the century nearest today.
        assert_eq!(parse_date_text("12/14/26", today(), false), Ok(d(2026, 12, 14)));
        assert_eq!(parse_date_text("1/5/46", today(), false), Ok(d(2046, 1, 5)));
        assert_eq!(parse_date_text("1/5/47", today(), false), Ok(d(1947, 1, 5)));
    }

    #[test]
    fn impossible_or_implausible_dates_are_refused_with_a_reason() {
        assert_eq!(date("2/30/1985"), Err("is not a real date".into()));
        assert_eq!(date("13/13/1985"), Err("is not a real date".into()));
        assert_eq!(date("soon"), Err("is not a date".into()));
        assert_eq!(date("1985"), Err("is not a date".into()));
        let cell = Cell::text("12/1/2030");
        let month_first = DateOrder::MonthFirst;
        assert_eq!(cell_date(&cell, today(), true, month_first), Err("is in the future".into()));
        assert_eq!(
            cell_date(&Cell::text("1/1/1850"), today(), true, month_first),
            Err("is before 1900".into())
        );
    }

    #[test]
    fn excel_serials_follow_the_1900_system_and_its_leap_year_bug() {
        assert_eq!(excel_serial_to_datetime(1.0).unwrap().date(), d(1900, 1, 1));
        assert_eq!(excel_serial_to_datetime(59.0).unwrap().date(), d(1900, 2, 28));
        assert_eq!(excel_serial_to_datetime(60.0), None);
        assert_eq!(excel_serial_to_datetime(61.0).unwrap().date(), d(1900, 3, 1));
        assert_eq!(excel_serial_to_datetime(33607.0).unwrap().date(), d(1992, 1, 4));
        let dt = excel_serial_to_datetime(46370.447916666664).unwrap();
        assert_eq!(dt, d(2026, 12, 14).and_hms_opt(10, 45, 0).unwrap());
        let num = |n| Cell { text: String::new(), value: CellValue::Number(n) };
        assert_eq!(
            cell_date(&num(60.0), today(), true, DateOrder::MonthFirst),
            Err("is Excel's 1900-02-29, a date that does not exist".into())
        );
        assert_eq!(cell_date(&num(19850304.0), today(), true, DateOrder::MonthFirst), Ok(d(1985, 3, 4)));
    }

    #[test]
    fn times_read_in_twelve_and_twenty_four_hour_forms_and_as_fractions() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let cases = [
            ("7:00 AM", t(7, 0)),
            ("7:00AM", t(7, 0)),
            ("7 am", t(7, 0)),
            ("7:30 p.m.", t(19, 30)),
            ("12:00 AM", t(0, 0)),
            ("12 PM", t(12, 0)),
            ("14:30", t(14, 30)),
            ("0730", t(7, 30)),
            ("930", t(9, 30)),
            ("930 AM", t(9, 30)),
            ("9.30", t(9, 30)),
            ("1215pm", t(12, 15)),
            ("noon", t(12, 0)),
            ("0.4479166666666667", t(10, 45)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_time_text(input), Some(expected), "{input}");
        }
        // Spanish exports write a unit after the time.
        for (input, expected) in
            [("10:30 hrs", t(10, 30)), ("10.30 h", t(10, 30)), ("16:45 Horas", t(16, 45))]
        {
            assert_eq!(parse_time_text(input), Some(expected), "{input}");
        }
        // "1é1" is four bytes: it once reached a byte slice inside the é.
        for bad in ["13:00 PM", "25:00", "7:5", "later", "0 AM", "1é1", "é1", "hrs", "10:30 days"] {
            assert_eq!(parse_time_text(bad), None, "{bad}");
        }
        let fraction = Cell { text: "10:45 AM".into(), value: CellValue::Number(0.4479166666666667) };
        assert_eq!(transform(&fraction, FieldType::Time, &[], false, today()), Ok(Some("10:45".into())));
        let number = |n: f64| Cell { text: n.to_string(), value: CellValue::Number(n) };
        assert_eq!(transform(&number(930.0), FieldType::Time, &[], false, today()), Ok(Some("09:30".into())));
        assert!(transform(&number(975.0), FieldType::Time, &[], false, today()).is_err());
        assert!(transform(&number(7.0), FieldType::Time, &[], false, today()).is_err());
    }

    #[test]
    fn datetimes_read_from_iso_us_and_cells() {
        let expect = |input: &str, out: &str| {
            assert_eq!(
                transform(&Cell::text(input), FieldType::Datetime, &[], false, today()),
                Ok(Some(out.to_owned())),
                "{input}"
            );
        };
        expect("2026-12-14 08:15", "2026-12-14T08:15");
        expect("2026-12-02T08:00", "2026-12-02T08:00");
        expect("12/14/2026 8:15 AM", "2026-12-14T08:15");
        expect("Dec 14, 2026 at 8:15 PM", "2026-12-14T20:15");
        expect("14 de diciembre de 2026 a las 8:15", "2026-12-14T08:15");
        expect("14/12/2026 A LAS 16:00 hrs", "2026-12-14T16:00");
        expect("14/12/2026 a la 1:00 p. m.", "2026-12-14T13:00");
        let cell = Cell { text: "12/14/2026".into(), value: CellValue::Date(d(2026, 12, 14)) };
        assert_eq!(
            transform(&cell, FieldType::Datetime, &[], false, today()),
            Err("is a date without a time".into())
        );
    }

    #[test]
    fn phones_numbers_booleans_enums_and_names_normalise() {
        let t = |text: &str, ft| transform(&Cell::text(text), ft, &[], false, today());
        assert_eq!(t("(312) 555-0143", FieldType::Phone), Ok(Some("+13125550143".into())));
        assert_eq!(t("555-0100", FieldType::Phone), Err("is not a full number".into()));
        assert!(t("312-555-0143 x12", FieldType::Phone)
            .unwrap_err()
            .starts_with("is not a valid phone number: it must not"));
        for labelled in [
            "Cell: (312) 555-0143",
            "312 555 0143 (cell)",
            "(H) 312-555-0143",
            "312-555-0143 - Mobile",
            "c: 3125550143",
        ] {
            assert_eq!(t(labelled, FieldType::Phone), Ok(Some("+13125550143".into())), "{labelled}");
        }
        for unlabelled in ["312 555 0143 (wife)", "Fax: 312-555-0143", "312-555-0143, 312-555-0144"] {
            assert!(t(unlabelled, FieldType::Phone).is_err(), "{unlabelled}");
        }
        assert!(t("2026-12-02T02:00:00Z", FieldType::Date).is_err(), "a zoned appointment is not guessed");
        assert_eq!(t("3.125550143E9", FieldType::Phone), Ok(Some("+13125550143".into())));
        assert_eq!(t("3.125550143E+09", FieldType::Phone), Ok(Some("+13125550143".into())));
        assert!(t("3.13E+09", FieldType::Phone).unwrap_err().contains("scientific notation"));
        assert_eq!(t("=\"3125550143\"", FieldType::Phone), Ok(Some("+13125550143".into())));
        assert_eq!(t("=\"001234\"", FieldType::Text), Ok(Some("001234".into())));
        assert_eq!(t("$1,234.50", FieldType::Number), Ok(Some("1234.5".into())));
        assert_eq!(t("42", FieldType::Number), Ok(Some("42".into())));
        assert_eq!(t("Yes", FieldType::Boolean), Ok(Some("true".into())));
        assert_eq!(t("n", FieldType::Boolean), Ok(Some("false".into())));
        assert_eq!(
            t("  Anne-Marie \u{a0} Smith\tJones ", FieldType::Name),
            Ok(Some("Anne-Marie Smith Jones".into()))
        );
        assert_eq!(t("   ", FieldType::Text), Ok(None));
        let options = vec!["New patient".to_owned(), "Follow-up".to_owned()];
        let e = |text: &str| transform(&Cell::text(text), FieldType::Enum, &options, false, today());
        assert_eq!(e("follow up"), Ok(Some("Follow-up".into())));
        assert_eq!(e("NEW PATIENT"), Ok(Some("New patient".into())));
        assert_eq!(e("Annual"), Err("is not one of: New patient, Follow-up".into()));
    }
}
