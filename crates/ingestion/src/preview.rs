//! Table + mapping -> every data row typed, validated and de-duplicated, with counts.
//!
//! Decisions:
//! - A required variable that is blank or unreadable makes the row invalid (`errors`). An
//!   optional variable that is unreadable is left out and reported as a warning, and the row
//!   stays callable: a bad home phone should not stop a call to a good mobile.
//! - A blank phone (the variable with role `phone`) falls back to the secondary phone
//!   (role `secondaryPhone`), with a note on the row. A phone that is present but invalid does
//!   not fall back: which number staff meant is not ours to guess.
//! - Row reasons quote the cell (`phone '555-0100' is not a full number`) so staff can find it.
//!   They are patient data: shown to the uploader, never logged.
//! - De-duplication is by [`crate::identity`] among valid rows: the first valid row of a patient
//!   is callable, later ones are duplicates pointing at it (`duplicateOf`, a data-row index) and
//!   keep all their cells. Invalid rows are never duplicates of anything.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::NaiveDate;
use rivvi_domain::campaign::{FieldType, PatientField, VariableDefinition};
use rivvi_domain::IanaZone;
use serde::Serialize;

use crate::identity;
use crate::map::{Ambiguity, ColumnMapping, Mapping, NameOrder, ValuePart};
use crate::read::Progress;
use crate::table::{Cell, CellValue, Row, SourceFormat, Table};
use crate::transform::{self, collapse_whitespace, DateOrder};
use crate::vocab;

/// How to build a preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewOptions {
    /// The day birth dates may not be after, and two-digit years are resolved against.
    pub today: NaiveDate,
}

/// What happens to a row in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RowStatus {
    /// Valid and the first row of its patient: will be called.
    Callable,
    /// A required value is missing or unreadable.
    Invalid,
    /// Valid, but its patient has an earlier row in the file.
    Duplicate,
}

/// A problem with one value of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    /// The variable key.
    pub field: String,
    /// What is wrong, quoting the cell (patient data: display only, never log).
    pub reason: String,
}

/// The variables a preview fills, in campaign order, shared by all its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    keys: Vec<String>,
    roles: Vec<Option<PatientField>>,
}

impl Fields {
    /// The variable keys, in campaign order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    fn index_of_role(&self, role: PatientField) -> Option<usize> {
        self.roles.iter().position(|r| *r == Some(role))
    }
}

/// The patient identity fields of a row, in normal forms (borrowed from the row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient<'a> {
    /// Given name as written (trimmed, whitespace collapsed).
    pub first_name: Option<&'a str>,
    /// Family name as written.
    pub last_name: Option<&'a str>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<&'a str>,
    /// E.164: the number to call.
    pub phone: Option<&'a str>,
    /// E.164.
    pub secondary_phone: Option<&'a str>,
    /// As written, trimmed.
    pub mrn: Option<&'a str>,
    /// An IANA zone name.
    pub time_zone: Option<&'a str>,
    /// [`crate::identity::canonical_identity`] of a valid row; the server HMACs it.
    pub identity: Option<&'a str>,
}

/// One data row, with everything the file said and what we made of it.
///
/// Variable values are stored once, by position in the shared [`Fields`] (a 100k-row file would
/// otherwise spend much of its time allocating map nodes and patient copies); read them with
/// [`IngestedRow::variable`], [`IngestedRow::variables`] and [`IngestedRow::patient`]. It
/// serializes as `{index, sheetRow, cells, variables: {key: value}, patient, status,
/// duplicateOf, errors, warnings, notes, reason}`.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestedRow {
    /// 0-based index among the data rows (the run's sort order).
    pub index: usize,
    /// 1-based row number in the sheet.
    pub sheet_row: u32,
    /// Every original cell, mapped or not.
    pub cells: Vec<Cell>,
    fields: Arc<Fields>,
    values: Vec<Option<Value>>,
    identity: Option<String>,
    /// Callable, invalid or duplicate.
    pub status: RowStatus,
    /// For a duplicate: the `index` of the patient's first row.
    pub duplicate_of: Option<usize>,
    /// Why the row is invalid.
    pub errors: Vec<RowError>,
    /// Optional values that could not be read (the row stays callable).
    pub warnings: Vec<RowError>,
    /// What was done on the row's behalf (`phone taken from "Home Phone"`).
    pub notes: Vec<String>,
    /// One sentence on why the row will not be called, for invalid and duplicate rows.
    pub reason: Option<String>,
}

/// A normalised value: usually its own string, but a text or name cell that needs no
/// normalising is read from the cell itself (no copy: most cells of a clean export).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Cell(usize),
    Owned(String),
}

fn resolve<'a>(value: &'a Value, cells: &'a [Cell]) -> &'a str {
    match value {
        Value::Cell(c) => cells.get(*c).map_or("", |cell| cell.text.as_str()),
        Value::Owned(s) => s,
    }
}

impl IngestedRow {
    fn value_at(&self, i: usize) -> Option<&str> {
        Some(resolve(self.values.get(i)?.as_ref()?, &self.cells))
    }

    /// The normalised value of variable `key`, when present and readable.
    pub fn variable(&self, key: &str) -> Option<&str> {
        self.value_at(self.fields.keys.iter().position(|k| k == key)?)
    }

    /// Every present variable as `(key, normalised value)`, in campaign order.
    pub fn variables(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .keys
            .iter()
            .zip(&self.values)
            .filter_map(|(k, v)| Some((k.as_str(), resolve(v.as_ref()?, &self.cells))))
    }

    /// The identity fields.
    pub fn patient(&self) -> Patient<'_> {
        let role = |r| self.fields.index_of_role(r).and_then(|i| self.value_at(i));
        let (mut first_name, mut last_name) = (role(PatientField::FirstName), role(PatientField::LastName));
        if first_name.is_none() && last_name.is_none() {
            if let Some(full) = role(PatientField::FullName) {
                // A whole-name column alone: split on the fly (rare; see `split_full_name`).
                let (f, l) = split_name_slices(full);
                first_name = f;
                last_name = l;
            }
        }
        Patient {
            first_name,
            last_name,
            birth_date: role(PatientField::BirthDate),
            phone: role(PatientField::Phone),
            secondary_phone: role(PatientField::SecondaryPhone),
            mrn: role(PatientField::Mrn),
            time_zone: role(PatientField::TimeZone),
            identity: self.identity.as_deref(),
        }
    }

    /// The canonical identity of a valid row ([`crate::identity`]); the server HMACs it.
    pub fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }
}

struct VariablesView<'a>(&'a IngestedRow);

impl Serialize for VariablesView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in self.0.variables() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for IngestedRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct View<'a> {
            index: usize,
            sheet_row: u32,
            cells: &'a [Cell],
            variables: VariablesView<'a>,
            patient: Patient<'a>,
            status: RowStatus,
            duplicate_of: Option<usize>,
            errors: &'a [RowError],
            warnings: &'a [RowError],
            notes: &'a [String],
            reason: Option<&'a str>,
        }
        View {
            index: self.index,
            sheet_row: self.sheet_row,
            cells: &self.cells,
            variables: VariablesView(self),
            patient: self.patient(),
            status: self.status,
            duplicate_of: self.duplicate_of,
            errors: &self.errors,
            warnings: &self.warnings,
            notes: &self.notes,
            reason: self.reason.as_deref(),
        }
        .serialize(serializer)
    }
}

/// Row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Rows between the header and the footer (blank rows excluded).
    pub data_rows: usize,
    /// Rows with an error.
    pub invalid_rows: usize,
    /// Valid rows of a patient seen earlier in the file.
    pub duplicate_rows: usize,
    /// Rows that will be called.
    pub callable_rows: usize,
    /// Distinct patients among valid rows.
    pub distinct_patients: usize,
}

/// A column no variable takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnmappedColumn {
    /// 0-based index.
    pub column: usize,
    /// Header text.
    pub header: String,
}

/// Why a non-blank row is not data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum IgnoredKind {
    /// Above the header (a title or note).
    Title,
    /// Below the data (totals, counts, notes).
    Footer,
}

/// A non-blank row that is not data, kept so nothing in the file goes unaccounted for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoredRow {
    /// 1-based sheet row.
    pub row: u32,
    /// Title or footer.
    pub kind: IgnoredKind,
    /// Its cells.
    pub cells: Vec<Cell>,
}

/// Everything `runs.preview` shows and `runs.create` commits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// The file's format.
    pub format: SourceFormat,
    /// The sheet read (workbooks).
    pub sheet: Option<String>,
    /// All sheets (workbooks).
    pub sheet_names: Vec<String>,
    /// The text encoding (CSV).
    pub encoding: Option<&'static str>,
    /// The delimiter (CSV).
    pub delimiter: Option<char>,
    /// 1-based sheet row of the header.
    pub header_row: u32,
    /// Header texts by column.
    pub headers: Vec<String>,
    /// Column -> variable edges.
    pub mapping: Vec<ColumnMapping>,
    /// Columns no variable takes.
    pub unmapped_columns: Vec<UnmappedColumn>,
    /// Variables no column fills.
    pub unmapped_fields: Vec<String>,
    /// Mapping doubts, not guessed.
    pub ambiguities: Vec<Ambiguity>,
    /// Titles and footers.
    pub ignored_rows: Vec<IgnoredRow>,
    /// Row counts.
    pub counts: Counts,
    /// Every data row.
    pub rows: Vec<IngestedRow>,
    /// The variables, in campaign order (the rows' shared key table).
    #[serde(skip)]
    pub fields: Arc<Fields>,
}

impl Preview {
    /// The first `n` rows, as transformed (the preview's sample).
    pub fn sample(&self, n: usize) -> &[IngestedRow] {
        &self.rows[..n.min(self.rows.len())]
    }

    /// The invalid rows.
    pub fn invalid_rows(&self) -> impl Iterator<Item = &IngestedRow> {
        self.rows.iter().filter(|r| r.status == RowStatus::Invalid)
    }
}

/// How one variable is filled.
struct Plan {
    key: String,
    label: String,
    field_type: FieldType,
    options: Vec<String>,
    required: bool,
    role: Option<PatientField>,
    source: Option<(usize, ValuePart)>,
    /// The order the header gives a whole-name column's cells.
    name_order: Option<NameOrder>,
    /// The order of the column's numeric dates.
    date_order: DateOrder,
    header: String,
}

/// Builds the preview of a table (see the module documentation).
pub fn build(
    table: Table,
    mapping: &Mapping,
    variables: &[VariableDefinition],
    options: &PreviewOptions,
) -> Preview {
    build_with_progress(table, mapping, variables, options, &mut Progress::new(None))
}

pub(crate) fn build_with_progress(
    table: Table,
    mapping: &Mapping,
    variables: &[VariableDefinition],
    options: &PreviewOptions,
    progress: &mut Progress<'_>,
) -> Preview {
    let headers = table.headers();
    let header_row = table.header_row().number;
    let (format, sheet, sheet_names, encoding, delimiter) =
        (table.format, table.sheet.clone(), table.sheet_names.clone(), table.encoding, table.delimiter);
    let plans: Vec<Plan> = variables
        .iter()
        .map(|v| {
            let edge = mapping.for_field(v.key());
            Plan {
                key: v.key().to_owned(),
                label: label_phrase(v.label()),
                field_type: v.field_type(),
                options: v.options().to_vec(),
                required: v.required(),
                role: v.role(),
                source: edge.map(|e| (e.column, e.part)),
                name_order: edge.and_then(|e| e.name_order),
                date_order: match (edge, v.field_type()) {
                    (Some(e), FieldType::Date | FieldType::Datetime) => transform::column_date_order(
                        table.data_rows(),
                        e.column,
                        vocab::header_date_order(&e.header).unwrap_or_default(),
                    ),
                    _ => DateOrder::default(),
                },
                header: edge.map(|e| e.header.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let phone = plans.iter().position(|p| p.role == Some(PatientField::Phone));
    let secondary = plans.iter().position(|p| p.role == Some(PatientField::SecondaryPhone));
    let fields = Arc::new(Fields {
        keys: plans.iter().map(|p| p.key.clone()).collect(),
        roles: plans.iter().map(|p| p.role).collect(),
    });
    let roles = Roles::new(&plans);

    let (rows, layout) = table.into_parts();
    let total = layout.data.len() as u64;
    let mut out: Vec<IngestedRow> = Vec::with_capacity(layout.data.len());
    let mut ignored: Vec<IgnoredRow> = Vec::new();
    // Identity hash -> first row; full strings only for the (astronomically rare) collisions.
    let mut seen: HashMap<u64, usize> = HashMap::with_capacity(layout.data.len());
    let mut collided: HashMap<String, usize> = HashMap::new();
    let mut counts = Counts { data_rows: layout.data.len(), ..Counts::default() };
    for (i, row) in rows.into_iter().enumerate() {
        if i < layout.header {
            ignored.push(IgnoredRow { row: row.number, kind: IgnoredKind::Title, cells: row.cells });
            continue;
        }
        if i == layout.header {
            continue;
        }
        if i >= layout.data.end {
            ignored.push(IgnoredRow { row: row.number, kind: IgnoredKind::Footer, cells: row.cells });
            continue;
        }
        let index = out.len();
        let mut ingested = ingest_row(index, row, &plans, &roles, phone, secondary, &fields, options.today);
        if !ingested.errors.is_empty() {
            ingested.status = RowStatus::Invalid;
            ingested.reason =
                Some(ingested.errors.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>().join("; "));
            counts.invalid_rows += 1;
        } else if let Some(id) = ingested.identity.as_deref() {
            let first = match seen.entry(hash(id)) {
                Entry::Vacant(slot) => {
                    slot.insert(index);
                    None
                }
                Entry::Occupied(slot) => {
                    let first = *slot.get();
                    if out.get(first).and_then(|r| r.identity.as_deref()) == Some(id) {
                        Some(first)
                    } else {
                        match collided.entry(id.to_owned()) {
                            Entry::Vacant(slot) => {
                                slot.insert(index);
                                None
                            }
                            Entry::Occupied(slot) => Some(*slot.get()),
                        }
                    }
                }
            };
            match first {
                Some(first) => {
                    ingested.status = RowStatus::Duplicate;
                    ingested.duplicate_of = Some(first);
                    let first_row = out.get(first).map_or(0, |r| r.sheet_row);
                    ingested.reason = Some(format!(
                        "same patient as row {first_row} (name, birth date and phone match); called once per run"
                    ));
                    counts.duplicate_rows += 1;
                }
                None => counts.callable_rows += 1,
            }
        } else {
            counts.callable_rows += 1;
        }
        out.push(ingested);
        if index.is_multiple_of(1024) {
            progress.report(index as u64, total);
        }
    }
    progress.report(total, total);
    counts.distinct_patients = counts.callable_rows;

    let unmapped_columns = mapping
        .unmapped_columns
        .iter()
        .map(|&column| UnmappedColumn { column, header: headers.get(column).cloned().unwrap_or_default() })
        .collect();
    Preview {
        format,
        sheet,
        sheet_names,
        encoding,
        delimiter,
        header_row,
        headers,
        mapping: mapping.columns.clone(),
        unmapped_columns,
        unmapped_fields: mapping.unmapped_fields.clone(),
        ambiguities: mapping.ambiguities.clone(),
        ignored_rows: ignored,
        counts,
        rows: out,
        fields,
    }
}

fn hash(s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Where each identity field is among the plans.
struct Roles {
    first: Option<usize>,
    last: Option<usize>,
    full: Option<usize>,
    birth: Option<usize>,
    phone: Option<usize>,
}

impl Roles {
    fn new(plans: &[Plan]) -> Self {
        let find = |role| plans.iter().position(|p| p.role == Some(role));
        Roles {
            first: find(PatientField::FirstName),
            last: find(PatientField::LastName),
            full: find(PatientField::FullName),
            birth: find(PatientField::BirthDate),
            phone: find(PatientField::Phone),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn ingest_row(
    index: usize,
    row: Row,
    plans: &[Plan],
    roles: &Roles,
    phone: Option<usize>,
    secondary: Option<usize>,
    fields: &Arc<Fields>,
    today: NaiveDate,
) -> IngestedRow {
    let mut values: Vec<Option<Value>> = Vec::with_capacity(plans.len());
    let mut problems: Vec<(usize, String)> = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        match value(plan, &row, today) {
            Ok(v) => values.push(v),
            Err(problem) => {
                values.push(None);
                problems.push((i, problem));
            }
        }
    }
    let mut notes = Vec::new();
    if let (Some(p), Some(s)) = (phone, secondary) {
        if values[p].is_none() && !problems.iter().any(|(i, _)| *i == p) && values[s].is_some() {
            values[p] = values[s].clone();
            let primary = if plans[p].header.is_empty() { "the phone column" } else { &plans[p].header };
            notes.push(format!("phone taken from {:?} because {primary:?} is empty", plans[s].header));
        }
    }
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        if let Some((_, problem)) = problems.iter().find(|(j, _)| *j == i) {
            let shown = plan.source.map(|(c, _)| shown(&row.cell(c).text)).unwrap_or_default();
            let e =
                RowError { field: plan.key.clone(), reason: format!("{} '{shown}' {problem}", plan.label) };
            if plan.required {
                errors.push(e);
            } else {
                warnings.push(e);
            }
        } else if values[i].is_none() && plan.required {
            errors.push(RowError { field: plan.key.clone(), reason: format!("{} missing", plan.label) });
        }
    }
    let identity = if errors.is_empty() { identity_of(&values, &row.cells, roles) } else { None };
    IngestedRow {
        index,
        sheet_row: row.number,
        cells: row.cells,
        fields: Arc::clone(fields),
        values,
        identity,
        status: RowStatus::Callable,
        duplicate_of: None,
        errors,
        warnings,
        notes,
        reason: None,
    }
}

fn identity_of(values: &[Option<Value>], cells: &[Cell], roles: &Roles) -> Option<String> {
    let get = |i: Option<usize>| i.and_then(|i| Some(resolve(values.get(i)?.as_ref()?, cells)));
    let (mut first, mut last) = (get(roles.first), get(roles.last));
    let split;
    if first.is_none() && last.is_none() {
        if let Some(full) = get(roles.full) {
            split = split_name_slices(full);
            (first, last) = split;
        }
    }
    let (dob, phone) = (get(roles.birth), get(roles.phone));
    match (first, last) {
        (Some(f), Some(l)) => Some(identity::from_normal_forms(f, l, dob, phone)),
        _ => phone.map(|p| identity::from_normal_forms("", "", dob, Some(p))),
    }
}

fn value(plan: &Plan, row: &Row, today: NaiveDate) -> Result<Option<Value>, String> {
    let Some((column, part)) = plan.source else { return Ok(None) };
    let cell = row.cell(column);
    let clean = match plan.field_type {
        FieldType::Text => is_trimmed(&cell.text),
        FieldType::Name => {
            is_trimmed(&cell.text)
                && !cell.text.contains(|c: char| c.is_whitespace() && c != ' ')
                && !cell.text.contains("  ")
        }
        _ => false,
    };
    // `="00123"` (Excel's text-forcing formula) goes through the transform, which unwraps it.
    let plain = !cell.is_blank() && cell.value != CellValue::Error && !cell.text.starts_with("=\"");
    if clean && plain && part == ValuePart::Whole && plan.role != Some(PatientField::TimeZone) {
        return Ok(Some(Value::Cell(column)));
    }
    Ok(owned_value(plan, cell, part, today)?.map(Value::Owned))
}

/// Non-empty and without surrounding whitespace.
fn is_trimmed(s: &str) -> bool {
    !s.is_empty() && !s.starts_with(char::is_whitespace) && !s.ends_with(char::is_whitespace)
}

fn owned_value(
    plan: &Plan,
    cell: &Cell,
    part: ValuePart,
    today: NaiveDate,
) -> Result<Option<String>, String> {
    let birth = plan.role == Some(PatientField::BirthDate);
    match part {
        ValuePart::Whole | ValuePart::Date => {
            let v =
                transform::transform_in(cell, plan.field_type, &plan.options, birth, today, plan.date_order)?;
            if plan.role == Some(PatientField::TimeZone) {
                if let Some(zone) = &v {
                    return IanaZone::parse(zone)
                        .map(|z| Some(z.name().to_owned()))
                        .map_err(|_| "is not a time zone such as America/Chicago".to_owned());
                }
            }
            Ok(v)
        }
        ValuePart::Time if plan.field_type == FieldType::Time => {
            if cell.is_blank() {
                return Ok(None);
            }
            Ok(transform::time_part(cell, today))
        }
        ValuePart::Time => {
            transform::transform_in(cell, plan.field_type, &plan.options, birth, today, plan.date_order)
        }
        ValuePart::GivenName | ValuePart::FamilyName => {
            if cell.is_blank() {
                return Ok(None);
            }
            let name = collapse_whitespace(&cell.text);
            let (first, last) = match plan.name_order {
                Some(NameOrder::LastFirst) if !name.contains(',') => split_last_first(&name),
                _ => split_name_slices(&name),
            };
            let wanted = if part == ValuePart::GivenName { first } else { last };
            Ok(wanted.map(str::to_owned))
        }
    }
}

/// Lower-cases a label's first letter for use mid-sentence, unless it is an acronym (`MRN`).
fn label_phrase(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_uppercase() => label.to_owned(),
        (Some(first), _) => first.to_lowercase().chain(label.chars().skip(1)).collect(),
        (None, _) => String::new(),
    }
}

/// A cell's text for a message: one line, at most 40 characters.
fn shown(text: &str) -> String {
    let one_line = collapse_whitespace(text);
    if one_line.chars().count() <= 40 {
        return one_line;
    }
    let mut s: String = one_line.chars().take(39).collect();
    s.push('…');
    s
}

/// Family-name particles that start a multi-word last name (`Van der Berg`, `de la Cruz`).
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "del", "della", "la", "le", "da", "di", "du", "dos", "das", "st",
    "st.", "bin", "al", "el", "mac",
];
/// Generational suffixes that stay with the family name.
const SUFFIXES: &[&str] = &["jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "v"];

/// Splits a whole name: `Last, First [Middle]` at the comma; otherwise `First [Middle] Last`,
/// where the last name starts at the first particle after the first word (`Chloé Van der
/// Berg`) and keeps a generational suffix (`John Smith Jr.`). One word is a given name only.
/// A middle initial (`SMITH, JOHN A`, `John A. Smith`) is not part of the given name: the agent
/// says the name, and the same person elsewhere is written without it. A middle name stays.
pub fn split_full_name(name: &str) -> (Option<String>, Option<String>) {
    let name = collapse_whitespace(name);
    let (first, last) = split_name_slices(&name);
    (first.map(str::to_owned), last.map(str::to_owned))
}

/// [`split_full_name`] of a name whose whitespace is already collapsed, as slices of it.
fn split_name_slices(name: &str) -> (Option<&str>, Option<&str>) {
    fn some(s: &str) -> Option<&str> {
        let s = s.trim().trim_matches(',').trim();
        (!s.is_empty()).then_some(s)
    }
    if let Some((last, first)) = name.split_once(',') {
        return (some(first).map(without_middle_initial), some(last));
    }
    // Byte offsets of the spaces between words.
    let spaces: Vec<usize> = name.match_indices(' ').map(|(i, _)| i).collect();
    if spaces.is_empty() {
        return (some(name), None);
    }
    let words: Vec<&str> = name.split(' ').collect();
    let lower = |w: &str| w.to_lowercase();
    let mut end = words.len();
    if end > 2 && SUFFIXES.contains(&lower(words[end - 1]).as_str()) {
        end -= 1;
    }
    let start = (1..end - 1).find(|&i| PARTICLES.contains(&lower(words[i]).as_str())).unwrap_or(end - 1);
    // The last name begins after the space before word `start`.
    let cut = spaces[start - 1];
    (some(&name[..cut]).map(without_middle_initial), some(&name[cut + 1..]))
}

/// A whole name without a comma under a header that says `Last First` (`SMITH JOHN A`, `De la
/// Cruz Maria`, `Smith Jr John`): the family name is the first word, with the particles before
/// it and a generational suffix after it; the rest is the given name, without a middle initial.
/// One word is a family name only.
fn split_last_first(name: &str) -> (Option<&str>, Option<&str>) {
    // Byte offsets of the spaces between words (`name` has single spaces).
    let spaces: Vec<usize> = name.match_indices(' ').map(|(i, _)| i).collect();
    let words: Vec<String> = name.split(' ').map(str::to_lowercase).collect();
    let mut end = 0;
    while end + 1 < words.len() && PARTICLES.contains(&words[end].as_str()) {
        end += 1;
    }
    end += 1;
    if end + 1 < words.len() && SUFFIXES.contains(&words[end].as_str()) {
        end += 1;
    }
    let cut = spaces.get(end - 1).copied().unwrap_or(name.len());
    fn some(s: &str) -> Option<&str> {
        let s = s.trim();
        (!s.is_empty()).then_some(s)
    }
    let (last, first) = name.split_at(cut);
    (some(first).map(without_middle_initial), some(last))
}

/// `John A` -> `John`; `Mary Ann` and a lone `A` stay as they are.
fn without_middle_initial(given: &str) -> &str {
    match given.rsplit_once(' ') {
        Some((before, last))
            if last.trim_end_matches('.').chars().count() == 1
                && last.chars().all(|c| c.is_alphabetic() || c == '.') =>
        {
            before.trim_end()
        }
        _ => given,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> (Option<&str>, Option<&str>) {
        let (a, b) = split_full_name(s);
        (a.map(|x| &*Box::leak(x.into_boxed_str())), b.map(|x| &*Box::leak(x.into_boxed_str())))
    }

    #[test]
    fn whole_names_split_in_both_orders() {
        assert_eq!(split("Van der Berg, Dmitri"), (Some("Dmitri"), Some("Van der Berg")));
        assert_eq!(split("Smith-Jones,Fatima Ann"), (Some("Fatima Ann"), Some("Smith-Jones")));
        assert_eq!(split("Dmitri Van der Berg"), (Some("Dmitri"), Some("Van der Berg")));
        assert_eq!(split("Mary Ann  Lee"), (Some("Mary Ann"), Some("Lee")));
        assert_eq!(split("John Smith Jr."), (Some("John"), Some("Smith Jr.")));
        assert_eq!(split("Maria de la Cruz"), (Some("Maria"), Some("de la Cruz")));
        assert_eq!(split("Cher"), (Some("Cher"), None));
        assert_eq!(split("Lee,"), (None, Some("Lee")));
        assert_eq!(split("SMITH, JOHN A"), (Some("JOHN"), Some("SMITH")));
        assert_eq!(split("John A. Smith"), (Some("John"), Some("Smith")));
        assert_eq!(split("Lee, A"), (Some("A"), Some("Lee")));
        assert_eq!(split("J. Robert Oppenheimer"), (Some("J. Robert"), Some("Oppenheimer")));
    }

    #[test]
    fn names_without_a_comma_split_family_first_under_a_last_first_header() {
        assert_eq!(split_last_first("Smith John"), (Some("John"), Some("Smith")));
        assert_eq!(split_last_first("SMITH JOHN A"), (Some("JOHN"), Some("SMITH")));
        assert_eq!(split_last_first("De la Cruz Maria Elena"), (Some("Maria Elena"), Some("De la Cruz")));
        assert_eq!(split_last_first("Smith Jr John"), (Some("John"), Some("Smith Jr")));
        assert_eq!(split_last_first("Muñoz María José"), (Some("María José"), Some("Muñoz")));
        assert_eq!(split_last_first("Cher"), (None, Some("Cher")));
    }

    #[test]
    fn labels_read_naturally_in_reasons() {
        assert_eq!(label_phrase("Phone"), "phone");
        assert_eq!(label_phrase("Date of birth"), "date of birth");
        assert_eq!(label_phrase("MRN"), "MRN");
        assert_eq!(shown("Line one\nLine two"), "Line one Line two");
        assert_eq!(shown(&"x".repeat(50)).chars().count(), 40);
    }
}
