//! Excel number formats, enough to show a workbook cell the way Excel shows it: dates and times
//! (`mm/dd/yyyy`, `h:mm AM/PM`, `d-mmm-yy`, `[$-F800]` long dates), and numbers with digit
//! placeholders and literals (`0`, `#,##0.00`, `000000` for MRNs with leading zeros,
//! `(###) ###-####` and `[<=9999999]###-####;(###) ###-####` for phones, `0%`).
//!
//! Anything else (scientific notation, fractions, text sections) falls back to Excel's General
//! format: integers without a decimal point, other numbers to 15 significant digits. Locale
//! variants follow en-US, so built-in format 14 renders as `m/d/yyyy` as US Excel shows it.

use chrono::{Datelike, NaiveDateTime, Timelike};

/// A compiled number format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Format {
    General,
    DateTime(Vec<Dt>),
    Number(Vec<Section>),
}

/// A date/time format element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dt {
    Lit(String),
    Year2,
    Year4,
    Month,
    Month2,
    MonthAbbr,
    MonthName,
    MonthLetter,
    Day,
    Day2,
    DayAbbr,
    DayName,
    Hour,
    Hour2,
    Minute,
    Minute2,
    Second,
    Second2,
    Frac(usize),
    AmPm { lower: bool },
    AP { lower: bool },
    ElapsedHours,
    ElapsedMinutes,
    ElapsedSeconds,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Digit {
    Zero,
    Hash,
    Question,
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Lit(String),
    Digit(Digit),
}

/// One `;`-separated section of a numeric format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Section {
    condition: Option<(Op, f64)>,
    general: bool,
    int: Vec<Item>,
    point: bool,
    frac: Vec<Item>,
    grouping: bool,
    percent: bool,
    scale: i32,
}

/// Compiles a format code; `id` is the built-in format id, when known.
pub(crate) fn compile(code: &str, id: Option<u32>) -> Format {
    // en-US renderings of the locale-dependent built-ins.
    let code = match id {
        Some(14) => "m/d/yyyy",
        Some(22) => "m/d/yyyy h:mm",
        _ => code,
    };
    if code.is_empty() || code.eq_ignore_ascii_case("general") || code.len() > 256 {
        return Format::General;
    }
    let sections = split_sections(code);
    if let Some(first) = sections.first() {
        if let Some(tokens) = date_tokens(first) {
            return Format::DateTime(tokens);
        }
    }
    let mut out = Vec::with_capacity(sections.len());
    for s in sections {
        match number_section(&s) {
            Some(section) => out.push(section),
            None => return Format::General,
        }
    }
    if out.is_empty() {
        Format::General
    } else {
        Format::Number(out)
    }
}

fn split_sections(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = code.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            '\\' if !quoted => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ';' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The date/time tokens of a section, or `None` when it has no date or time part.
fn date_tokens(section: &str) -> Option<Vec<Dt>> {
    let chars: Vec<char> = section.chars().collect();
    let mut out: Vec<Dt> = Vec::new();
    let mut i = 0;
    let run =
        |i: usize, lower: char| chars[i..].iter().take_while(|c| c.to_ascii_lowercase() == lower).count();
    while i < chars.len() {
        let c = chars[i];
        let lc = c.to_ascii_lowercase();
        match lc {
            '"' => {
                let end = chars[i + 1..].iter().position(|&c| c == '"').map_or(chars.len(), |p| i + 1 + p);
                out.push(Dt::Lit(chars[i + 1..end].iter().collect()));
                i = end + 1;
            }
            '\\' => {
                if let Some(&n) = chars.get(i + 1) {
                    out.push(Dt::Lit(n.to_string()));
                }
                i += 2;
            }
            '_' => {
                out.push(Dt::Lit(" ".into()));
                i += 2;
            }
            '*' => i += 2,
            '[' => {
                let end = chars[i + 1..].iter().position(|&c| c == ']').map_or(chars.len(), |p| i + 1 + p);
                let inner: String = chars[i + 1..end].iter().collect::<String>().to_ascii_lowercase();
                match inner.as_str() {
                    "h" | "hh" => out.push(Dt::ElapsedHours),
                    "m" | "mm" => out.push(Dt::ElapsedMinutes),
                    "s" | "ss" => out.push(Dt::ElapsedSeconds),
                    // The system long date and time formats replace whatever follows.
                    _ if inner.starts_with("$-") && inner.contains("f800") => {
                        return date_tokens("dddd, mmmm d, yyyy");
                    }
                    _ if inner.starts_with("$-") && inner.contains("f400") => {
                        return date_tokens("h:mm:ss AM/PM");
                    }
                    _ => {}
                }
                i = end + 1;
            }
            'y' | 'e' => {
                let n = run(i, lc);
                out.push(if lc == 'e' || n > 2 { Dt::Year4 } else { Dt::Year2 });
                i += n;
            }
            'm' => {
                let n = run(i, 'm');
                out.push(match n {
                    1 => Dt::Month,
                    2 => Dt::Month2,
                    3 => Dt::MonthAbbr,
                    4 => Dt::MonthName,
                    _ => Dt::MonthLetter,
                });
                i += n;
            }
            'd' => {
                let n = run(i, 'd');
                out.push(match n {
                    1 => Dt::Day,
                    2 => Dt::Day2,
                    3 => Dt::DayAbbr,
                    _ => Dt::DayName,
                });
                i += n;
            }
            'h' => {
                let n = run(i, 'h');
                out.push(if n == 1 { Dt::Hour } else { Dt::Hour2 });
                i += n;
            }
            's' => {
                let n = run(i, 's');
                out.push(if n == 1 { Dt::Second } else { Dt::Second2 });
                i += n;
            }
            'a' => {
                let rest: String = chars[i..].iter().take(5).collect();
                let first3: String = chars[i..].iter().take(3).collect();
                if rest.eq_ignore_ascii_case("am/pm") {
                    out.push(Dt::AmPm { lower: c == 'a' });
                    i += 5;
                } else if first3.eq_ignore_ascii_case("a/p") {
                    out.push(Dt::AP { lower: c == 'a' });
                    i += 3;
                } else {
                    out.push(Dt::Lit(c.to_string()));
                    i += 1;
                }
            }
            '.' if matches!(out.last(), Some(Dt::Second | Dt::Second2 | Dt::ElapsedSeconds))
                && chars.get(i + 1) == Some(&'0') =>
            {
                let n = chars[i + 1..].iter().take_while(|&&c| c == '0').count();
                out.push(Dt::Frac(n));
                i += 1 + n;
            }
            '0' | '#' | '?' | '@' => return None,
            _ => {
                out.push(Dt::Lit(c.to_string()));
                i += 1;
            }
        }
    }
    resolve_minutes(&mut out);
    let has_date_or_time = out.iter().any(|t| !matches!(t, Dt::Lit(_) | Dt::AmPm { .. } | Dt::AP { .. }));
    has_date_or_time.then_some(out)
}

/// `m`/`mm` right after an hour or right before a second is minutes, not months.
fn resolve_minutes(tokens: &mut [Dt]) {
    let significant: Vec<usize> = (0..tokens.len()).filter(|&i| !matches!(tokens[i], Dt::Lit(_))).collect();
    for (k, &i) in significant.iter().enumerate() {
        if !matches!(tokens[i], Dt::Month | Dt::Month2) {
            continue;
        }
        let prev = k.checked_sub(1).and_then(|p| significant.get(p)).map(|&p| &tokens[p]);
        let next = significant.get(k + 1).map(|&n| &tokens[n]);
        let after_hour = matches!(prev, Some(Dt::Hour | Dt::Hour2 | Dt::ElapsedHours));
        let before_second = matches!(next, Some(Dt::Second | Dt::Second2 | Dt::ElapsedSeconds));
        if after_hour || before_second {
            tokens[i] = if tokens[i] == Dt::Month { Dt::Minute } else { Dt::Minute2 };
        }
    }
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Renders a date and time through date tokens. `serial` is the cell's raw value, used by
/// elapsed-time tokens (`[h]`). Digits are pushed by hand: this runs for every date cell.
pub(crate) fn render_datetime(tokens: &[Dt], dt: NaiveDateTime, serial: f64) -> String {
    let twelve = tokens.iter().any(|t| matches!(t, Dt::AmPm { .. } | Dt::AP { .. }));
    let mut out = String::with_capacity(16);
    let month0 = dt.month0() as usize;
    let weekday = dt.weekday().num_days_from_monday() as usize;
    let hour12 = match dt.hour() % 12 {
        0 => 12,
        h => h,
    };
    let hour = if twelve { hour12 } else { dt.hour() };
    let pm = dt.hour() >= 12;
    for t in tokens {
        match t {
            Dt::Lit(s) => out.push_str(s),
            Dt::Year2 => push2(&mut out, dt.year().rem_euclid(100) as u32),
            Dt::Year4 => {
                let y = dt.year();
                if (0..=9999).contains(&y) {
                    push2(&mut out, y as u32 / 100);
                    push2(&mut out, y as u32 % 100);
                } else {
                    out.push_str(&y.to_string());
                }
            }
            Dt::Month => push1(&mut out, dt.month()),
            Dt::Month2 => push2(&mut out, dt.month()),
            Dt::MonthAbbr => out.push_str(&MONTH_NAMES[month0][..3]),
            Dt::MonthName => out.push_str(MONTH_NAMES[month0]),
            Dt::MonthLetter => out.push_str(&MONTH_NAMES[month0][..1]),
            Dt::Day => push1(&mut out, dt.day()),
            Dt::Day2 => push2(&mut out, dt.day()),
            Dt::DayAbbr => out.push_str(&DAY_NAMES[weekday][..3]),
            Dt::DayName => out.push_str(DAY_NAMES[weekday]),
            Dt::Hour => push1(&mut out, hour),
            Dt::Hour2 => push2(&mut out, hour),
            Dt::Minute => push1(&mut out, dt.minute()),
            Dt::Minute2 => push2(&mut out, dt.minute()),
            Dt::Second => push1(&mut out, dt.second()),
            Dt::Second2 => push2(&mut out, dt.second()),
            Dt::Frac(n) => {
                let millis = dt.nanosecond() / 1_000_000 % 1000;
                out.push('.');
                let digits = [millis / 100, millis / 10 % 10, millis % 10];
                for d in digits.iter().take((*n).min(3)) {
                    out.push(char::from(b'0' + *d as u8));
                }
            }
            Dt::AmPm { lower } => out.push_str(match (pm, lower) {
                (false, false) => "AM",
                (true, false) => "PM",
                (false, true) => "am",
                (true, true) => "pm",
            }),
            Dt::AP { lower } => out.push_str(match (pm, lower) {
                (false, false) => "A",
                (true, false) => "P",
                (false, true) => "a",
                (true, true) => "p",
            }),
            Dt::ElapsedHours => out.push_str(&((serial * 24.0).floor() as i64).to_string()),
            Dt::ElapsedMinutes => out.push_str(&((serial * 1440.0).floor() as i64).to_string()),
            Dt::ElapsedSeconds => out.push_str(&((serial * 86400.0).round() as i64).to_string()),
        }
    }
    out
}

/// A number below 100 without padding.
fn push1(out: &mut String, n: u32) {
    if n >= 10 {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// A number below 100, zero-padded to two digits.
fn push2(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

fn number_section(section: &str) -> Option<Section> {
    let mut s = Section {
        condition: None,
        general: false,
        int: Vec::new(),
        point: false,
        frac: Vec::new(),
        grouping: false,
        percent: false,
        scale: 0,
    };
    let chars: Vec<char> = section.chars().collect();
    let mut i = 0;
    let mut items: Vec<Item> = Vec::new();
    let lit = |items: &mut Vec<Item>, text: String| items.push(Item::Lit(text));
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                let end = chars[i + 1..].iter().position(|&c| c == '"').map_or(chars.len(), |p| i + 1 + p);
                lit(&mut items, chars[i + 1..end].iter().collect());
                i = end + 1;
            }
            '\\' => {
                if let Some(&n) = chars.get(i + 1) {
                    lit(&mut items, n.to_string());
                }
                i += 2;
            }
            '_' => {
                lit(&mut items, " ".into());
                i += 2;
            }
            '*' => i += 2,
            '[' => {
                let end = chars[i + 1..].iter().position(|&c| c == ']').map_or(chars.len(), |p| i + 1 + p);
                let inner: String = chars[i + 1..end].iter().collect();
                if let Some(cond) = condition(&inner) {
                    s.condition = Some(cond);
                } else if let Some(symbol) = inner.strip_prefix('$') {
                    // [$€-407]: a currency symbol before the locale.
                    let symbol = symbol.split('-').next().unwrap_or("");
                    lit(&mut items, symbol.to_owned());
                }
                i = end + 1;
            }
            '0' => {
                items.push(Item::Digit(Digit::Zero));
                i += 1;
            }
            '#' => {
                items.push(Item::Digit(Digit::Hash));
                i += 1;
            }
            '?' => {
                items.push(Item::Digit(Digit::Question));
                i += 1;
            }
            '.' if !s.point => {
                s.point = true;
                s.int = std::mem::take(&mut items);
                i += 1;
            }
            ',' => {
                let next_is_digit = matches!(chars.get(i + 1), Some('0' | '#' | '?'));
                let after_digit = items.iter().any(|it| matches!(it, Item::Digit(_)));
                if after_digit && next_is_digit && !s.point {
                    s.grouping = true;
                } else if after_digit && !next_is_digit {
                    s.scale += 1;
                } else {
                    lit(&mut items, ",".into());
                }
                i += 1;
            }
            '%' => {
                s.percent = true;
                lit(&mut items, "%".into());
                i += 1;
            }
            'e' | 'E' | '/' | '@' => return None,
            'G' | 'g' if chars[i..].iter().take(7).collect::<String>().eq_ignore_ascii_case("general") => {
                s.general = true;
                i += 7;
            }
            _ => {
                lit(&mut items, c.to_string());
                i += 1;
            }
        }
    }
    if s.point {
        s.frac = items;
    } else {
        s.int = items;
    }
    let has_digits = s.int.iter().chain(&s.frac).any(|it| matches!(it, Item::Digit(_)));
    if !has_digits && !s.general {
        // A section of only literals (`"N/A"`) shows its text; keep it.
        s.general = false;
    }
    Some(s)
}

fn condition(inner: &str) -> Option<(Op, f64)> {
    let (op, rest) = if let Some(r) = inner.strip_prefix("<=") {
        (Op::Le, r)
    } else if let Some(r) = inner.strip_prefix(">=") {
        (Op::Ge, r)
    } else if let Some(r) = inner.strip_prefix("<>") {
        (Op::Ne, r)
    } else if let Some(r) = inner.strip_prefix('<') {
        (Op::Lt, r)
    } else if let Some(r) = inner.strip_prefix('>') {
        (Op::Gt, r)
    } else if let Some(r) = inner.strip_prefix('=') {
        (Op::Eq, r)
    } else {
        return None;
    };
    rest.trim().parse().ok().map(|v| (op, v))
}

fn holds(cond: (Op, f64), v: f64) -> bool {
    let (op, x) = cond;
    match op {
        Op::Lt => v < x,
        Op::Le => v <= x,
        Op::Gt => v > x,
        Op::Ge => v >= x,
        Op::Eq => v == x,
        Op::Ne => v != x,
    }
}

/// Renders a number through a compiled format (General for date formats).
pub(crate) fn render_number(n: f64, format: &Format) -> String {
    let Format::Number(sections) = format else {
        return general(n);
    };
    let (section, value, sign) = if sections.iter().any(|s| s.condition.is_some()) {
        match sections.iter().find(|s| s.condition.is_some_and(|c| holds(c, n))) {
            Some(s) => (s, n.abs(), if n < 0.0 { "-" } else { "" }),
            None => match sections.iter().find(|s| s.condition.is_none()) {
                Some(s) => (s, n.abs(), if n < 0.0 { "-" } else { "" }),
                None => return general(n),
            },
        }
    } else {
        match (sections.as_slice(), n) {
            ([_, neg, ..], n) if n < 0.0 => (neg, -n, ""),
            ([_, _, zero, ..], n) if n == 0.0 => (zero, n, ""),
            ([first, ..], n) => (first, n.abs(), if n < 0.0 { "-" } else { "" }),
            ([], _) => return general(n),
        }
    };
    if section.general {
        return format!("{sign}{}", general(value));
    }
    render_section(section, value, sign)
}

fn render_section(s: &Section, value: f64, sign: &str) -> String {
    let mut v = value;
    if s.percent {
        v *= 100.0;
    }
    if s.scale > 0 {
        v /= 1000f64.powi(s.scale);
    }
    if !v.is_finite() || v >= 1e15 {
        return format!("{sign}{}", general(value));
    }
    let decimals = s.frac.iter().filter(|it| matches!(it, Item::Digit(_))).count();
    let rendered = format!("{v:.decimals$}");
    let (int_digits, frac_digits) = rendered.split_once('.').unwrap_or((rendered.as_str(), ""));
    let int_digits = if int_digits == "0" { "" } else { int_digits };
    let mut out = String::from(sign);
    out.push_str(&render_int(&s.int, int_digits, s.grouping));
    if s.point {
        out.push('.');
        out.push_str(&render_frac(&s.frac, frac_digits));
    }
    out
}

fn render_int(items: &[Item], digits: &str, grouping: bool) -> String {
    let placeholders: Vec<Digit> =
        items.iter().filter_map(|it| if let Item::Digit(d) = it { Some(*d) } else { None }).collect();
    if placeholders.is_empty() {
        return items.iter().map(|it| if let Item::Lit(s) = it { s.as_str() } else { "" }).collect();
    }
    if grouping {
        let zeros = placeholders.iter().filter(|d| **d == Digit::Zero).count();
        let padded = format!("{digits:0>zeros$}");
        let first = items.iter().position(|it| matches!(it, Item::Digit(_))).unwrap_or(0);
        let last = items.iter().rposition(|it| matches!(it, Item::Digit(_))).unwrap_or(0);
        let lits = |range: &[Item]| -> String {
            range.iter().map(|it| if let Item::Lit(s) = it { s.as_str() } else { "" }).collect()
        };
        return format!("{}{}{}", lits(&items[..first]), group(&padded), lits(&items[last + 1..]));
    }
    // Fill placeholders from the right; the leftmost one takes every extra digit.
    let digits: Vec<char> = digits.chars().collect();
    let mut remaining = digits.len();
    let first_digit = items.iter().position(|it| matches!(it, Item::Digit(_))).unwrap_or(0);
    let mut pieces: Vec<String> = Vec::with_capacity(items.len());
    for (idx, it) in items.iter().enumerate().rev() {
        match it {
            Item::Lit(s) => pieces.push(s.clone()),
            Item::Digit(kind) => {
                if idx == first_digit && remaining > 0 {
                    pieces.push(digits[..remaining].iter().collect());
                    remaining = 0;
                } else if remaining > 0 {
                    remaining -= 1;
                    pieces.push(digits[remaining].to_string());
                } else {
                    match kind {
                        Digit::Zero => pieces.push("0".into()),
                        Digit::Question => pieces.push(" ".into()),
                        Digit::Hash => {}
                    }
                }
            }
        }
    }
    pieces.reverse();
    pieces.concat()
}

fn render_frac(items: &[Item], digits: &str) -> String {
    let mut digits = digits.chars();
    let mut out: Vec<(String, Option<Digit>)> = Vec::new();
    for it in items {
        match it {
            Item::Lit(s) => out.push((s.clone(), None)),
            Item::Digit(kind) => out.push((digits.next().unwrap_or('0').to_string(), Some(*kind))),
        }
    }
    // Optional trailing zeros: `#` drops them, `?` shows spaces.
    for (text, kind) in out.iter_mut().rev() {
        match kind {
            None => continue,
            Some(Digit::Zero) => break,
            Some(k) if text == "0" => *text = if *k == Digit::Hash { String::new() } else { " ".into() },
            Some(_) => break,
        }
    }
    out.into_iter().map(|(t, _)| t).collect()
}

fn group(digits: &str) -> String {
    let n = digits.len();
    let mut out = String::with_capacity(n + n / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Excel's General format: integers without a point, others to 15 significant digits.
pub(crate) fn general(n: f64) -> String {
    if !n.is_finite() {
        return String::new();
    }
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let abs = n.abs();
    if (1e-4..1e15).contains(&abs) {
        let magnitude = abs.log10().floor() as i32;
        let decimals = (14 - magnitude).clamp(0, 20) as usize;
        let s = format!("{n:.decimals$}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return s.to_owned();
    }
    format!("{n}")
}

/// The rendering used when a date or time cell has no format (xls, xlsb, ods): `MM/DD/YYYY`,
/// `h:mm AM`, or both.
pub(crate) fn default_datetime_text(dt: NaiveDateTime, has_date: bool, has_time: bool) -> String {
    match (has_date, has_time) {
        (true, false) => dt.format("%m/%d/%Y").to_string(),
        (false, _) => dt.format("%-I:%M %p").to_string(),
        (true, true) => dt.format("%m/%d/%Y %-I:%M %p").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn dt(y: i32, m: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, mi, 0).unwrap()
    }

    fn date_text(code: &str, id: Option<u32>, value: NaiveDateTime) -> String {
        match compile(code, id) {
            Format::DateTime(tokens) => render_datetime(&tokens, value, 0.0),
            other => panic!("{code} compiled to {other:?}"),
        }
    }

    #[test]
    fn date_and_time_formats_render_as_excel_shows_them() {
        let v = dt(1961, 2, 4, 7, 5);
        assert_eq!(date_text("mm/dd/yyyy", None, v), "02/04/1961");
        assert_eq!(date_text("yyyy-mm-dd", None, v), "1961-02-04");
        assert_eq!(date_text("mm-dd-yy", Some(14), v), "2/4/1961");
        assert_eq!(date_text("d-mmm-yy", Some(15), v), "4-Feb-61");
        assert_eq!(date_text("h:mm AM/PM", Some(18), v), "7:05 AM");
        assert_eq!(date_text("h:mm AM/PM", Some(18), dt(2026, 1, 1, 13, 30)), "1:30 PM");
        assert_eq!(date_text("hh:mm:ss", None, v), "07:05:00");
        assert_eq!(date_text("[$-F800]dddd\\,\\ mmmm\\ dd\\,\\ yyyy", None, v), "Saturday, February 4, 1961");
        assert_eq!(date_text("[$-409]mmmm d, yyyy;@", None, v), "February 4, 1961");
        assert_eq!(date_text("m/d/yy h:mm", Some(22), v), "2/4/1961 7:05");
        assert_eq!(date_text("\"Born \"mmm d", None, v), "Born Feb 4");
    }

    #[test]
    fn numeric_formats_render_digits_literals_and_groups() {
        let r = |code: &str, n: f64| render_number(n, &compile(code, None));
        assert_eq!(r("General", 3125550143.0), "3125550143");
        assert_eq!(r("0", 3125550143.0), "3125550143");
        assert_eq!(r("000000", 1234.0), "001234");
        assert_eq!(r("(###) ###-####", 3125550143.0), "(312) 555-0143");
        assert_eq!(r("[<=9999999]###-####;(###) ###-####", 5550143.0), "555-0143");
        assert_eq!(r("[<=9999999]###-####;(###) ###-####", 3125550143.0), "(312) 555-0143");
        assert_eq!(r("000-00-0000", 123456789.0), "123-45-6789");
        assert_eq!(r("#,##0", 1234567.0), "1,234,567");
        assert_eq!(r("#,##0.00", 1234.5), "1,234.50");
        assert_eq!(r("$#,##0.00;($#,##0.00)", -25.0), "($25.00)");
        assert_eq!(r("0%", 0.25), "25%");
        assert_eq!(r("0.0#", 2.5), "2.5");
        assert_eq!(r("0.00E+00", 12345.0), "12345");
    }

    #[test]
    fn odd_format_codes_fall_back_without_panicking() {
        // "a€" once sliced three bytes into the euro sign.
        for code in
            ["a€/p", "aé", "[", "\"", "\\", "_", "*", "[<=", "0;;;;0", ".", "[h]", "yyyy\"", "0.0.0", ""]
        {
            let f = compile(code, None);
            let _ = render_number(1234.5, &f);
            if let Format::DateTime(tokens) = f {
                let _ = render_datetime(
                    &tokens,
                    NaiveDate::from_ymd_opt(2026, 1, 2).unwrap().and_hms_opt(3, 4, 5).unwrap(),
                    1.5,
                );
            }
        }
    }

    #[test]
    fn general_shows_integers_plainly_and_others_to_fifteen_digits() {
        assert_eq!(general(3125550143.0), "3125550143");
        assert_eq!(general(0.1 + 0.2), "0.3");
        assert_eq!(general(0.4479166666666667), "0.447916666666667");
        assert_eq!(general(-2.5), "-2.5");
        assert_eq!(general(f64::NAN), "");
    }
}
