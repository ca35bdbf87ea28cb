//! The header corpus of issue 16 as sheets: [`sets`] reads `header_sets.json` (where every
//! header set comes from, its columns and the variable each must fill), [`file`] makes a CSV or
//! xlsx of [`ROWS`] rows of synthetic cells for a set, and [`judge`] grades a mapping of it.
//!
//! Cells are deterministic per set (a xorshift seeded with the set's id) and vary between sets
//! the way exports do: phones as `(617) 555-0142`, `617.555.0142`, `+1 617 555 0142` or
//! `6175550142`; dates as ISO, `3/4/1985`, `03/04/1985` or `Dec 1, 2026` (Spanish sets:
//! `04/03/1985` or `4 de marzo de 1985`); times as `9:30 AM` or `14:30`; names with accents,
//! hyphens and apostrophes. Birth dates are decades before `today`, appointments within three
//! weeks after it.
//!
//! Included with `#[path]` by the ingestion tests, the CLI tests and the API tests, so the
//! three grade the same sheets the same way.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde_json::Value;

/// Data rows per generated sheet.
pub const ROWS: usize = 50;

/// The variables a corpus column may name: the keys of the built-in reminder set.
pub fn keys() -> Vec<String> {
    rivvi_ingestion::defaults::appointment_reminder().iter().map(|v| v.key().to_owned()).collect()
}

/// The file type a set is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

/// One column of a header set.
#[derive(Debug, Clone)]
pub struct Column {
    pub header: String,
    /// The acceptable sets of variables this column fills; an empty set means "unmapped".
    /// One alternative for most columns.
    pub expected: Vec<BTreeSet<String>>,
    /// The cell generator.
    pub kind: String,
}

/// One export shape.
#[derive(Debug, Clone)]
pub struct HeaderSet {
    pub id: String,
    pub system: String,
    pub source: String,
    pub language: String,
    pub format: Format,
    pub columns: Vec<Column>,
    /// Variables a person could not settle from this sheet either.
    pub ambiguous: Vec<String>,
}

impl HeaderSet {
    pub fn headers(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.header.as_str()).collect()
    }

    pub fn spanish(&self) -> bool {
        self.language == "es"
    }
}

const CORPUS: &str = include_str!("header_sets.json");

/// Every header set, or what is wrong with the corpus file (naming the set and field).
pub fn sets() -> Result<Vec<HeaderSet>, String> {
    let root: Value = serde_json::from_str(CORPUS).map_err(|e| format!("header_sets.json: {e}"))?;
    let sets = root["sets"].as_array().ok_or("header_sets.json: no `sets` array")?;
    sets.iter().enumerate().map(|(i, set)| parse_set(set).map_err(|e| format!("set {i}: {e}"))).collect()
}

fn parse_set(set: &Value) -> Result<HeaderSet, String> {
    let text = |field: &str| -> Result<String, String> {
        set[field].as_str().map(str::to_owned).ok_or_else(|| format!("`{field}` is missing or not text"))
    };
    let id = text("id")?;
    let keys = keys();
    let format = match set["format"].as_str() {
        None | Some("csv") => Format::Csv,
        Some("xlsx") => Format::Xlsx,
        Some(other) => return Err(format!("{id}: unknown format {other:?}")),
    };
    let columns = set["columns"]
        .as_array()
        .ok_or_else(|| format!("{id}: `columns` is missing"))?
        .iter()
        .map(|c| parse_column(c, &keys).map_err(|e| format!("{id}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let ambiguous = match &set["ambiguous"] {
        Value::Null => Vec::new(),
        Value::Array(keys) => keys
            .iter()
            .map(|k| k.as_str().filter(|k| keys.iter().any(|key| key == k)).map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("{id}: `ambiguous` names an unknown variable"))?,
        _ => return Err(format!("{id}: `ambiguous` is not a list")),
    };
    Ok(HeaderSet {
        system: text("system")?,
        source: text("source")?,
        language: text("language")?,
        format,
        columns,
        ambiguous,
        id,
    })
}

fn parse_column(column: &Value, keys: &[String]) -> Result<Column, String> {
    let [header, expected, kind] = column.as_array().map(Vec::as_slice).unwrap_or_default() else {
        return Err(format!("column {column} is not [header, expected, kind]"));
    };
    let header = header.as_str().ok_or_else(|| format!("column {column}: header is not text"))?;
    let kind = kind.as_str().ok_or_else(|| format!("column {header:?}: kind is not text"))?;
    let alternative = |v: &Value| -> Result<BTreeSet<String>, String> {
        match v {
            Value::Null => Ok(BTreeSet::new()),
            Value::String(s) => s
                .split('+')
                .map(|k| keys.iter().any(|key| key == k).then(|| k.to_owned()))
                .collect::<Option<BTreeSet<_>>>()
                .ok_or_else(|| format!("column {header:?}: unknown variable in {s:?}")),
            other => Err(format!("column {header:?}: expected {other} is not a variable")),
        }
    };
    let expected = match expected {
        Value::Array(alts) => alts.iter().map(alternative).collect::<Result<Vec<_>, _>>()?,
        single => vec![alternative(single)?],
    };
    if !KINDS.contains(&kind) {
        return Err(format!("column {header:?}: unknown cell kind {kind:?}"));
    }
    Ok(Column { header: header.to_owned(), expected, kind: kind.to_owned() })
}

// ------------------------------------------------------------------------------------ grading

/// How a mapping of a set compares with what the set expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Every expected variable filled from its column and nothing else mapped (a variable the
    /// set lists as ambiguous may instead be left unmapped with an ambiguity reported).
    Right,
    /// Nothing wrong; every variable left unfilled is named by a reported ambiguity.
    Ambiguous,
    /// Nothing wrong, but a variable a person would fill is left unfilled without a word.
    Missed,
    /// A column fills a variable the set does not expect of it (a trap column taken, a guess).
    Wrong,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Right => "right",
            Verdict::Ambiguous => "ambiguous",
            Verdict::Missed => "missed",
            Verdict::Wrong => "wrong",
        }
    }
}

/// A reported ambiguity, reduced to what grading needs: the column and variable it names
/// (`None` when only the variable is known, as in the CLI's message text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doubt {
    pub column: Option<usize>,
    pub field: String,
}

/// A verdict with the reasons for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grade {
    pub verdict: Verdict,
    pub details: Vec<String>,
}

/// The target: at least this share of sets mapped right with no help.
pub const RIGHT_TARGET_PERCENT: usize = 95;

/// Checks the targets over graded sets `(id, grade)`: no wrong guess, and at least
/// [`RIGHT_TARGET_PERCENT`] right; the error lists what fell short.
pub fn meets_targets(graded: &[(String, Grade)]) -> Result<(), String> {
    let listed = |verdict: Verdict| -> Vec<String> {
        graded
            .iter()
            .filter(|(_, g)| g.verdict == verdict)
            .map(|(id, g)| format!("{id}: {}", g.details.join("; ")))
            .collect()
    };
    let wrong = listed(Verdict::Wrong);
    if !wrong.is_empty() {
        return Err(format!("wrong guesses:\n{}", wrong.join("\n")));
    }
    let right = graded.iter().filter(|(_, g)| g.verdict == Verdict::Right).count();
    if right * 100 < RIGHT_TARGET_PERCENT * graded.len() {
        let short: Vec<String> = [Verdict::Ambiguous, Verdict::Missed].into_iter().flat_map(listed).collect();
        return Err(format!(
            "{right} of {} sets right, below {RIGHT_TARGET_PERCENT}%:\n{}",
            graded.len(),
            short.join("\n")
        ));
    }
    Ok(())
}

/// Grades `edges` (column index, variable key) and `doubts` against the set.
///
/// A date column that also fills the appointment time when the set has no time column is not
/// counted wrong: the mapper pairs them on purpose (`map/mod.rs`, step 5) and a date-only cell
/// gives no time.
pub fn judge(set: &HeaderSet, edges: &[(usize, String)], doubts: &[Doubt]) -> Grade {
    let mut details = Vec::new();
    let expects_time =
        set.columns.iter().any(|c| c.expected.iter().any(|alt| alt.contains("appointmentTime")));
    let got: Vec<BTreeSet<String>> = (0..set.columns.len())
        .map(|c| {
            let mut got: BTreeSet<String> =
                edges.iter().filter(|(ec, _)| *ec == c).map(|(_, f)| f.clone()).collect();
            if !expects_time && got.contains("appointmentDate") {
                got.remove("appointmentTime");
            }
            got
        })
        .collect();
    let allowed = |c: usize| set.columns[c].expected.iter().any(|alt| got[c].is_subset(alt));
    // Variables filled from a column that may give them.
    let filled: BTreeSet<&str> = (0..set.columns.len())
        .filter(|&c| allowed(c))
        .flat_map(|c| got[c].iter().map(String::as_str))
        .collect();
    let mut wrong = false;
    let mut missing: Vec<(usize, String)> = Vec::new();
    for (c, column) in set.columns.iter().enumerate() {
        // The alternative that leaves least unfilled.
        let best = column
            .expected
            .iter()
            .filter(|alt| got[c].is_subset(alt))
            .map(|alt| alt.iter().filter(|k| !filled.contains(k.as_str())).cloned().collect())
            .min_by_key(|left: &Vec<String>| left.len());
        match best {
            None => {
                wrong = true;
                details.push(format!(
                    "{:?} -> {} (expected {})",
                    column.header,
                    join(&got[c]),
                    describe(column)
                ));
            }
            Some(left) => missing.extend(left.into_iter().map(|k| (c, k))),
        }
    }
    let doubted = |c: usize, k: &str| doubts.iter().any(|d| d.field == k || d.column == Some(c));
    let (mut silent, mut open) = (false, false);
    for (c, key) in &missing {
        let header = &set.columns[*c].header;
        let listed = set.ambiguous.contains(key);
        match (doubted(*c, key), listed) {
            (true, true) => details.push(format!("{key} from {header:?}: left as the ambiguity it is")),
            (true, false) => {
                open = true;
                details.push(format!("{key} from {header:?}: reported ambiguous"));
            }
            (false, true) => {
                open = true;
                details.push(format!(
                    "{key} from {header:?}: unmapped, no ambiguity reported (listed ambiguous)"
                ));
            }
            (false, false) => {
                silent = true;
                details.push(format!("{key} from {header:?}: unmapped, nothing reported"));
            }
        }
    }
    let verdict = if wrong {
        Verdict::Wrong
    } else if silent {
        Verdict::Missed
    } else if open {
        Verdict::Ambiguous
    } else {
        Verdict::Right
    };
    Grade { verdict, details }
}

fn join(keys: &BTreeSet<String>) -> String {
    if keys.is_empty() {
        "nothing".to_owned()
    } else {
        keys.iter().cloned().collect::<Vec<_>>().join("+")
    }
}

fn describe(column: &Column) -> String {
    column.expected.iter().map(join).collect::<Vec<_>>().join(" or ")
}

/// The library's own reading of a set's file under the built-in reminder variables: the file
/// name, its bytes and the preview (what the CLI and `runs.preview` must agree with).
pub fn preview(
    set: &HeaderSet,
    today: NaiveDate,
) -> Result<(String, Vec<u8>, rivvi_ingestion::Preview), String> {
    let (name, bytes) = file(set, today)?;
    let options = rivvi_ingestion::IngestOptions {
        read: rivvi_ingestion::ReadOptions::default(),
        today,
        mapping: None,
    };
    let variables = rivvi_ingestion::defaults::appointment_reminder();
    let preview = rivvi_ingestion::ingest(&bytes, &name, &variables, &options, None)
        .map_err(|e| format!("{name} cannot be read: {e}"))?;
    Ok((name, bytes, preview))
}

/// A preview's column -> variable edges.
pub fn edges(p: &rivvi_ingestion::Preview) -> Vec<(usize, String)> {
    p.mapping.iter().map(|m| (m.column, m.field.clone())).collect()
}

/// A preview's ambiguities as doubts, one per candidate.
pub fn doubts(p: &rivvi_ingestion::Preview) -> Vec<Doubt> {
    p.ambiguities
        .iter()
        .flat_map(|a| a.candidates.iter().map(|c| Doubt { column: Some(c.column), field: c.field.clone() }))
        .collect()
}

/// A preview's mapping as (column, variable, part as on the wire).
pub fn mapping_parts(p: &rivvi_ingestion::Preview) -> Vec<(usize, String, Value)> {
    p.mapping
        .iter()
        .map(|m| (m.column, m.field.clone(), serde_json::to_value(m.part).unwrap_or_default()))
        .collect()
}

/// A mapping as the CLI report (`index`) or `runs.preview` (`column`) sends it, as
/// (column, variable, part); entries missing a field are left out, so a comparison fails.
pub fn wire_mapping(mapping: &Value, column_key: &str) -> Vec<(usize, String, Value)> {
    mapping
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            let column = usize::try_from(m[column_key].as_u64()?).ok()?;
            Some((column, m["field"].as_str()?.to_owned(), m["part"].clone()))
        })
        .collect()
}

/// Doubts from ambiguity messages alone (the CLI's report): every variable key a message names.
pub fn doubts_in_messages<'a>(messages: impl IntoIterator<Item = &'a str>) -> Vec<Doubt> {
    let keys = keys();
    messages
        .into_iter()
        .flat_map(|m| keys.iter().filter(move |k| m.contains(k.as_str())))
        .map(|k| Doubt { column: None, field: k.clone() })
        .collect()
}

// ---------------------------------------------------------------------------------- the cells

/// Every cell kind [`file`] can generate.
pub const KINDS: &[&str] = &[
    "account_number",
    "address",
    "age",
    "appt_date",
    "appt_date_compact",
    "appt_datetime",
    "appt_datetime_compact",
    "appt_datetime_iso",
    "appt_datetime_long",
    "appt_datetime_sql",
    "appt_end_datetime",
    "appt_end_time",
    "appt_end_time_hhmm",
    "appt_status",
    "appt_time",
    "appt_time_hhmm",
    "appt_type",
    "city",
    "client_status",
    "contact_method",
    "dob",
    "dob_child",
    "dob_compact",
    "dob_iso",
    "dob_long",
    "dob_short_year",
    "document_id",
    "document_type",
    "duration",
    "email",
    "emergency_name",
    "emergency_phone",
    "first_name",
    "first_name_caps",
    "free_text",
    "full_name_first_last",
    "full_name_last_first",
    "full_name_last_first_caps",
    "future_date",
    "gender",
    "guarantor_name",
    "guarantor_phone",
    "insurance",
    "language",
    "last_name",
    "last_name_caps",
    "location_name",
    "member_id",
    "middle_initial",
    "middle_name",
    "money",
    "mrn",
    "operatory",
    "past_date",
    "phone",
    "phone_alt",
    "phone_alt_digits",
    "phone_digits",
    "phone_e164",
    "phone_type",
    "phone_work",
    "provider_code",
    "provider_name",
    "provider_name_caps",
    "provider_name_last_first",
    "relationship",
    "service_code",
    "small_int",
    "specialty",
    "state",
    "timezone",
    "username",
    "zip",
];

#[rustfmt::skip]
const FIRST_EN: &[&str] = &[
    "John", "Mary", "José", "Zoë", "Chloé", "Liam", "Noah", "Aaliyah", "Kenji", "Fatima", "Wei",
    "Olivia", "Dmitri", "Anne-Marie", "Seán", "Priya", "Grace", "Mateo", "Harper", "Björn", "Jean-Luc",
    "Amara", "Nguyen Van", "Ellie",
];
#[rustfmt::skip]
const LAST_EN: &[&str] = &[
    "Smith", "Muñoz", "O'Connor", "Van der Berg", "Kowalski", "Nguyen", "Dubois", "Johnson", "Okafor",
    "Chen", "Patel", "Smith-Jones", "Garcia", "Lee", "O'Brien", "D'Angelo", "Martin", "Brown", "Müller",
    "Washington", "Nakamura", "Abernathy-Cole", "Ruiz", "Fitzgerald",
];
#[rustfmt::skip]
const FIRST_ES: &[&str] = &[
    "María", "José", "Juan Carlos", "Lucía", "Sofía", "Mateo", "Valentina", "Santiago", "Camila",
    "Diego", "Ximena", "Andrés", "Guadalupe", "Martín", "Renée", "Íñigo", "Paula", "Ángel", "Begoña",
    "Raúl",
];
#[rustfmt::skip]
const LAST_ES: &[&str] = &[
    "García", "Martínez", "Rodríguez", "López", "Hernández", "González", "Pérez", "Sánchez", "Ramírez",
    "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Muñoz", "Álvarez", "Peña", "Ortiz-Ruiz",
    "de la Cruz", "Ibáñez",
];
const AREA_CODES: &[u32] = &[617, 312, 212, 415, 305, 512, 206, 303, 404, 702, 213, 646];
const MONTHS_ES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// A tiny xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn for_set(id: &str) -> Rng {
        // FNV-1a of the id, so adding a set does not change the others' cells.
        let hash = id
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Rng(hash | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// How a set writes its values (one export writes every row alike).
struct Style {
    phone: usize,
    date: usize,
    time: usize,
    mrn_prefix: &'static str,
}

/// A cell as the file holds it: the text a CSV shows, and for xlsx a typed value where a
/// workbook would have one.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub typed: Option<Typed>,
}

/// A workbook value with its Excel number format.
#[derive(Debug, Clone, Copy)]
pub enum Typed {
    Number(f64),
    Formatted(f64, &'static str),
}

/// One patient's values, from which every column of a row is drawn.
struct Person {
    first: String,
    last: String,
    middle: String,
    birth: NaiveDate,
    child_birth: NaiveDate,
    phone: (u32, u32),
    alt_phone: Option<(u32, u32)>,
    work_phone: Option<(u32, u32)>,
    other_phone: (u32, u32),
    other_first: String,
    other_last: String,
    appointment: NaiveDateTime,
    past: NaiveDate,
    future: NaiveDate,
    account: u64,
    mrn: String,
    provider: (&'static str, &'static str),
    location: &'static str,
}

const PROVIDERS: &[(&str, &str)] =
    &[("Mary", "Jones"), ("Ann", "Lee"), ("Rafael", "Ortega"), ("Priya", "Shah"), ("Tom", "Becker")];
const PROVIDERS_ES: &[(&str, &str)] =
    &[("Ana", "Torres"), ("Luis", "Paredes"), ("Carmen", "Vega"), ("Jorge", "Salas")];
const LOCATIONS: &[&str] = &["Lakeside Clinic", "Main Street Office", "North Campus", "Family Medicine"];
const LOCATIONS_ES: &[&str] = &["Sede Norte", "Consultorio Centro", "Clínica San José", "Unidad Sur"];

fn person(rng: &mut Rng, spanish: bool, today: NaiveDate, index: usize, style: &Style) -> Person {
    let (firsts, lasts) = if spanish { (FIRST_ES, LAST_ES) } else { (FIRST_EN, LAST_EN) };
    let phone = |rng: &mut Rng| (AREA_CODES[rng.below(AREA_CODES.len())], 100 + rng.below(100) as u32);
    let birth = today - Duration::days(365 * 18 + rng.below(365 * 70) as i64);
    let child_birth = today - Duration::days(365 + rng.below(365 * 15) as i64);
    let day = today + Duration::days(1 + rng.below(21) as i64);
    let minutes = 8 * 60 + 15 * rng.below(36) as u32;
    let time = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).unwrap_or_default();
    let (provider_pool, location_pool) =
        if spanish { (PROVIDERS_ES, LOCATIONS_ES) } else { (PROVIDERS, LOCATIONS) };
    Person {
        first: rng.pick(firsts).to_owned(),
        last: rng.pick(lasts).to_owned(),
        middle: rng.pick(firsts).to_owned(),
        birth,
        child_birth,
        phone: phone(rng),
        alt_phone: (!rng.chance(30)).then(|| phone(rng)),
        work_phone: (!rng.chance(40)).then(|| phone(rng)),
        other_phone: phone(rng),
        other_first: rng.pick(firsts).to_owned(),
        other_last: rng.pick(lasts).to_owned(),
        appointment: day.and_time(time),
        past: today - Duration::days(1 + rng.below(1000) as i64),
        future: today + Duration::days(30 + rng.below(335) as i64),
        account: 10_000 + index as u64 * 7 + rng.below(7) as u64,
        mrn: format!("{}{:07}", style.mrn_prefix, 1_000_000 + rng.below(8_999_999)),
        provider: provider_pool[rng.below(provider_pool.len())],
        location: location_pool[rng.below(location_pool.len())],
    }
}

fn phone_text((area, line): (u32, u32), style: usize) -> String {
    match style {
        0 => format!("({area}) 555-{line:04}"),
        1 => format!("{area}.555.{line:04}"),
        2 => format!("+1 {area} 555 {line:04}"),
        3 => format!("{area}555{line:04}"),
        _ => format!("{area}-555-{line:04}"),
    }
}

fn date_text(d: NaiveDate, style: usize, spanish: bool) -> String {
    if spanish {
        return match style % 3 {
            0 => format!("{:02}/{:02}/{}", d.day(), d.month(), d.year()),
            1 => format!("{} de {} de {}", d.day(), MONTHS_ES[d.month0() as usize], d.year()),
            _ => d.format("%Y-%m-%d").to_string(),
        };
    }
    match style % 4 {
        0 => format!("{}/{}/{}", d.month(), d.day(), d.year()),
        1 => d.format("%m/%d/%Y").to_string(),
        2 => d.format("%Y-%m-%d").to_string(),
        _ => d.format("%b %-d, %Y").to_string(),
    }
}

fn time_text(t: NaiveTime, style: usize, spanish: bool) -> String {
    match if spanish { 1 } else { style % 4 } {
        0 => t.format("%-I:%M %p").to_string(),
        1 => t.format("%H:%M").to_string(),
        2 => t.format("%I:%M %p").to_string(),
        _ => t.format("%-I:%M%P").to_string(),
    }
}

/// Days since 1899-12-30: the Excel serial of a date.
fn serial(d: NaiveDate) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
    (d - epoch).num_days() as f64
}

fn serial_time(t: NaiveTime) -> f64 {
    f64::from(t.num_seconds_from_midnight()) / 86_400.0
}

fn ascii(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'á' | 'à' | 'ä' | 'Á' => Some('a'),
            'é' | 'è' | 'ë' | 'É' => Some('e'),
            'í' | 'ï' | 'Í' => Some('i'),
            'ó' | 'ö' | 'Ó' => Some('o'),
            'ú' | 'ü' | 'Ú' => Some('u'),
            'ñ' => Some('n'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn cell(kind: &str, p: &Person, s: &Style, spanish: bool, rng: &mut Rng) -> Cell {
    let text = |t: String| Cell { text: t, typed: None };
    let date_fmt: &'static str = if spanish { "dd/mm/yyyy" } else { "mm/dd/yyyy" };
    let date = |d: NaiveDate, style: usize| Cell {
        text: date_text(d, style, spanish),
        typed: Some(Typed::Formatted(serial(d), date_fmt)),
    };
    let t = p.appointment.time();
    let end = t + Duration::minutes(30);
    let day = p.appointment.date();
    let full = |first: &str, last: &str| format!("{first} {last}");
    match kind {
        "first_name" => text(p.first.clone()),
        "first_name_caps" => text(p.first.to_uppercase()),
        "last_name" => text(p.last.clone()),
        "last_name_caps" => text(p.last.to_uppercase()),
        "middle_initial" => text(p.middle.chars().take(1).collect()),
        "middle_name" => text(p.middle.clone()),
        "full_name_first_last" => text(full(&p.first, &p.last)),
        "full_name_last_first" => text(format!("{}, {}", p.last, p.first)),
        "full_name_last_first_caps" => text(format!("{}, {}", p.last, p.first).to_uppercase()),
        "dob" => date(p.birth, s.date),
        "dob_child" => date(p.child_birth, s.date),
        // Style 2 is ISO in both languages.
        "dob_iso" => date(p.birth, 2),
        "dob_compact" => text(p.birth.format("%Y%m%d").to_string()),
        "dob_short_year" => text(p.birth.format("%m/%d/%y").to_string()),
        "dob_long" => text(p.birth.format("%B %-d, %Y").to_string()),
        "appt_date" => date(day, s.date),
        "appt_date_compact" => text(day.format("%Y%m%d").to_string()),
        "past_date" => date(p.past, s.date),
        "future_date" => date(p.future, s.date),
        "appt_time" => Cell {
            text: time_text(t, s.time, spanish),
            typed: Some(Typed::Formatted(serial_time(t), "h:mm AM/PM")),
        },
        "appt_time_hhmm" => text(t.format("%H%M").to_string()),
        "appt_end_time" => text(time_text(end, s.time, spanish)),
        "appt_end_time_hhmm" => text(end.format("%H%M").to_string()),
        "appt_datetime" | "appt_end_datetime" => {
            let at = if kind == "appt_datetime" { t } else { end };
            Cell {
                text: format!("{} {}", date_text(day, s.date, spanish), time_text(at, s.time, spanish)),
                typed: Some(Typed::Formatted(
                    serial(day) + serial_time(at),
                    if spanish { "dd/mm/yyyy hh:mm" } else { "mm/dd/yyyy h:mm AM/PM" },
                )),
            }
        }
        "appt_datetime_iso" => text(p.appointment.format("%Y-%m-%dT%H:%M:%S").to_string()),
        "appt_datetime_sql" => text(p.appointment.format("%Y-%m-%d %H:%M:%S").to_string()),
        "appt_datetime_compact" => text(p.appointment.format("%Y%m%d %H%M%S").to_string()),
        "appt_datetime_long" => text(p.appointment.format("%A, %B %-d, %Y at %-I:%M %p").to_string()),
        "phone" => text(phone_text(p.phone, s.phone)),
        "phone_digits" => Cell {
            text: phone_text(p.phone, 3),
            typed: Some(Typed::Number(f64::from(p.phone.0) * 1e7 + 5_550_000.0 + f64::from(p.phone.1))),
        },
        "phone_e164" => text(format!("+1{}555{:04}", p.phone.0, p.phone.1)),
        "phone_alt" => text(p.alt_phone.map(|n| phone_text(n, s.phone)).unwrap_or_default()),
        "phone_alt_digits" => text(p.alt_phone.map(|n| phone_text(n, 3)).unwrap_or_default()),
        "phone_work" => text(p.work_phone.map(|n| phone_text(n, s.phone)).unwrap_or_default()),
        "emergency_phone" | "guarantor_phone" => text(phone_text(p.other_phone, s.phone)),
        "emergency_name" | "guarantor_name" => text(full(&p.other_first, &p.other_last)),
        "relationship" => text(
            rng.pick(if spanish {
                &["Madre", "Padre", "Esposo(a)", "Hijo(a)"]
            } else {
                &["Mother", "Father", "Spouse", "Child", "Other"]
            })
            .to_owned(),
        ),
        "mrn" => text(p.mrn.clone()),
        "account_number" => {
            Cell { text: p.account.to_string(), typed: Some(Typed::Number(p.account as f64)) }
        }
        "small_int" => text((1 + rng.below(3)).to_string()),
        "document_id" => text((10_000_000 + rng.below(89_999_999)).to_string()),
        "document_type" => text(rng.pick(&["CC", "TI", "CE", "PA"]).to_owned()),
        "member_id" => text(format!("XJH{:09}", rng.below(999_999_999))),
        "username" => text(format!("{}{}", ascii(&p.first), rng.below(100))),
        "provider_name" => {
            let title = if spanish { "Dr(a)." } else { "Dr." };
            text(format!("{title} {} {}", p.provider.0, p.provider.1))
        }
        "provider_name_caps" => text(format!("{}, {} MD", p.provider.1, p.provider.0).to_uppercase()),
        "provider_name_last_first" => text(format!("{}, {} MD", p.provider.1, p.provider.0)),
        "provider_code" => text(format!("{}{}", &p.provider.1[..2].to_uppercase(), 1 + rng.below(3))),
        "location_name" => text(p.location.to_owned()),
        "operatory" => text(format!("OP{}", 1 + rng.below(6))),
        "specialty" => text(rng.pick(&["Family Medicine", "Cardiology", "Pediatrics"]).to_owned()),
        "email" => text(format!("{}.{}@example.com", ascii(&p.first), ascii(&p.last))),
        "address" => text(format!(
            "{} {}",
            10 + rng.below(990),
            rng.pick(&["Main St", "Oak Ave", "Calle 8", "Elm St Apt 2"])
        )),
        "city" => text(rng.pick(&["Boston", "Chicago", "Miami", "Austin", "Bogotá"]).to_owned()),
        "state" => text(rng.pick(&["MA", "IL", "FL", "TX", "NY"]).to_owned()),
        "zip" => text(format!("{:05}", 2000 + rng.below(97_000))),
        "gender" => {
            text(rng.pick(if spanish { &["Femenino", "Masculino"] } else { &["F", "M", "U"] }).to_owned())
        }
        "age" => text((18 + rng.below(70)).to_string()),
        "insurance" => {
            text(rng.pick(&["Blue Cross", "Aetna PPO", "Medicare", "OSDE 210", "Self Pay"]).to_owned())
        }
        "free_text" => text(
            rng.pick(&[
                "prefers mornings",
                "needs interpreter, Spanish",
                "",
                "bring insurance card",
                "follow-up on labs",
            ])
            .to_owned(),
        ),
        "appt_type" => text(
            rng.pick(if spanish {
                &["Consulta general", "Control", "Primera vez"]
            } else {
                &["FOLLOW UP", "NEW PATIENT", "Annual Physical", "Telehealth"]
            })
            .to_owned(),
        ),
        "appt_status" => text(
            rng.pick(if spanish {
                &["Confirmada", "Pendiente"]
            } else {
                &["Scheduled", "Confirmed", "Pending"]
            })
            .to_owned(),
        ),
        "client_status" => text(rng.pick(&["Active", "Inactive"]).to_owned()),
        "contact_method" => text(rng.pick(&["Teléfono", "Correo electrónico", "SMS"]).to_owned()),
        "service_code" => text(rng.pick(&["90834", "90837", "90791"]).to_owned()),
        "duration" => text(rng.pick(&["15", "30", "45", "60"]).to_owned()),
        "money" => text(format!("${}.00", rng.below(200))),
        "language" => text(rng.pick(&["English", "Spanish", "Vietnamese"]).to_owned()),
        "phone_type" => text(rng.pick(&["Mobile", "Home", "Work"]).to_owned()),
        "timezone" => {
            text(rng.pick(&["America/New_York", "America/Chicago", "America/Los_Angeles"]).to_owned())
        }
        _ => text(String::new()),
    }
}

/// The header row and [`ROWS`] data rows of a set, for a given `today`.
pub fn rows(set: &HeaderSet, today: NaiveDate) -> Vec<Vec<Cell>> {
    let mut rng = Rng::for_set(&set.id);
    let style = Style {
        phone: rng.below(5),
        date: rng.below(4),
        time: rng.below(4),
        mrn_prefix: ["E", "MR", "", "P-"][rng.below(4)],
    };
    let spanish = set.spanish();
    let mut out = vec![set.columns.iter().map(|c| Cell { text: c.header.clone(), typed: None }).collect()];
    for i in 0..ROWS {
        let p = person(&mut rng, spanish, today, i, &style);
        out.push(set.columns.iter().map(|c| cell(&c.kind, &p, &style, spanish, &mut rng)).collect());
    }
    out
}

/// The set as a file: its name (`<id>.csv` or `.xlsx`) and bytes.
pub fn file(set: &HeaderSet, today: NaiveDate) -> Result<(String, Vec<u8>), String> {
    let rows = rows(set, today);
    match set.format {
        Format::Csv => Ok((format!("{}.csv", set.id), csv(&rows))),
        Format::Xlsx => {
            Ok((format!("{}.xlsx", set.id), xlsx(&rows).map_err(|e| format!("{}: {e}", set.id))?))
        }
    }
}

fn csv(rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut out = String::new();
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .map(|c| {
                if c.text.contains([',', '"', '\n']) {
                    format!("\"{}\"", c.text.replace('"', "\"\""))
                } else {
                    c.text.clone()
                }
            })
            .collect();
        let _ = writeln!(out, "{}", fields.join(","));
    }
    out.into_bytes()
}

fn xlsx(rows: &[Vec<Cell>]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell.typed {
                Some(Typed::Number(n)) => {
                    sheet.write_number(r, c, n)?;
                }
                Some(Typed::Formatted(n, format)) => {
                    sheet.write_number_with_format(r, c, n, &CellFormat::new().set_num_format(format))?;
                }
                None if cell.text.is_empty() => {}
                None => {
                    sheet.write_string(r, c, &cell.text)?;
                }
            }
        }
    }
    workbook.save_to_buffer()
}
