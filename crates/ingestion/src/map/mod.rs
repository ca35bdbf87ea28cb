//! Columns -> campaign variables.
//!
//! In order, each step only among the columns and variables still free:
//! 1. the caller's explicit mapping (a header or column index -> a variable key, or `null` to
//!    ignore the column);
//! 2. exact match of the normalised header ([`normalize_header`]: case, spaces and punctuation
//!    ignored, so `D.O.B.` is `dob` and `Mobile #` is `mobile`; accents folded, so `TELEFONO`
//!    is `Teléfono`) against each variable's key and label (method `exact`) or aliases
//!    (method `alias`); when several columns match one variable, the one matching its earliest
//!    name wins (key, label, then aliases in the order the campaign lists them: `Primary Phone`
//!    before `Cell Phone`), and columns matching the same name (two `Phone` columns) are a tie;
//! 3. a column whose header says how its names are written (`Name (Last, First)`,
//!    `Last Name, First Name`) fills the first-name and last-name variables in that order
//!    ([`NameOrder`]), when its cells do not contradict the header (see `name_layout`);
//! 4. scored token overlap (`crate::vocab`: `PT_FNAME` ~ `First name`, `Patient Cell` ~
//!    `Cell`), accepted at [`ACCEPT`] or above (method `fuzzy`, confidence 0.9 x score);
//! 5. a column that is only a name (`Name`, `Patient Name`) fills both the first-name and the
//!    last-name variables when neither has a column (`Last, First` or `First Last`), and a
//!    full-name variable's column does the same; a bare `Nombre` beside a mapped surname
//!    column (`Apellido`) is the given name;
//! 6. a date variable's column also fills the unmapped time variable of the same pair
//!    (`appointmentDate` / `appointmentTime`: same label apart from date/time), from the time
//!    part of each cell, so `2026-12-02T08:00` or an `appointment_datetime` column is not split
//!    by hand; a time variable's column fills the unmapped date variable the same way when its
//!    cells hold dates with times (`scheduled_time` = `2026-12-01T09:30`).
//!
//! Before step 2, a column whose header (or group label) names someone other than the patient
//! (`Emergency Contact Phone`, `Guarantor Name`, `Responsible Party`, `Next of Kin`) is set
//! aside: only an explicit mapping can use it, whatever its cells look like.
//!
//! With a table ([`map_table`]), the cells are evidence too (`content`, from each column's
//! [`profile`]): after step 3, a header match whose cells clearly hold something else (dates
//! under a phone header) is reported instead of taken; after step 4, variables still free are
//! filled from free columns whose cells fit them strongly and uniquely (a `Contact Number`
//! column of phone numbers is the phone; a bare `Date` column of dates near today is the
//! appointment date), with method `content`.
//!
//! Headers decide, with two more pieces of evidence from the sheet ([`map_table`]): a column whose
//! cells are dates with times of day counts as saying "date and time" when its header says
//! neither, so an `Appointment` column of `Dec 1, 2026 9:30 AM` fills the date and the time; and
//! in a two-row header, a column whose own header matches nothing for sure (a bare `Date`) is
//! read with the group label above it (`Appointment`, spanning the columns up to the next
//! label, as a merged cell does), so `Appointment / Date` is the appointment date.
//!
//! Nothing is guessed: two columns equally good for one variable, one column equally good for
//! two variables (within [`MARGIN`]), and the best match of a still-unmapped variable when it
//! scores between [`LOW`] and [`ACCEPT`] are reported as [`Ambiguity`]s and left unmapped.

use chrono::NaiveDate;
use rivvi_domain::campaign::{normalize_header, FieldType, PatientField, VariableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::IngestError;
use crate::name_layout;
use crate::profile::{self, ColumnProfile};
use crate::table::{Row, Table};
use crate::transform;
use crate::vocab::{self, Token};

mod content;

/// The least token-overlap score at which a column is mapped without asking.
pub const ACCEPT: f64 = 0.6;
/// The least score worth reporting as a possible match.
pub const LOW: f64 = 0.3;
/// Scores closer than this are a tie.
pub const MARGIN: f64 = 0.1;

/// How a column was matched to a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MatchMethod {
    /// The header is the variable's key or label.
    Exact,
    /// The header is one of the variable's aliases.
    Alias,
    /// The header's words overlap the variable's names.
    Fuzzy,
    /// The caller said so.
    Explicit,
    /// The cells decided: the header alone named the variable too weakly or not at all, and the
    /// column's values fit it strongly and better than any other column's (see `content`).
    Content,
}

/// Which part of the cell a variable takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ValuePart {
    /// The whole cell.
    Whole,
    /// The given name of a whole-name cell.
    GivenName,
    /// The family name of a whole-name cell.
    FamilyName,
    /// The date of a date-and-time cell.
    Date,
    /// The time of a date-and-time cell.
    Time,
}

/// The order of the parts of a whole-name cell, when its header says it (`Name (Last, First)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NameOrder {
    /// Family name first: `Smith, John` or `Smith John`.
    LastFirst,
    /// Given name first: `John Smith`.
    FirstLast,
}

/// One column filling one variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnMapping {
    /// 0-based column index.
    pub column: usize,
    /// The column's header text.
    pub header: String,
    /// The variable key.
    pub field: String,
    /// Which part of the cell.
    pub part: ValuePart,
    /// 0..=1.
    pub confidence: f64,
    /// How the match was found.
    pub method: MatchMethod,
    /// For a given-name or family-name part: the order the header gives the cells (a cell
    /// without a comma is split in that order); absent when each cell is split by itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_order: Option<NameOrder>,
}

/// What kind of doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AmbiguityKind {
    /// Several columns fit one variable equally well.
    SeveralColumns,
    /// One column fits several variables equally well.
    SeveralFields,
    /// The best column for an unmapped variable is a weak match.
    LowConfidence,
    /// The header names the variable but the cells clearly hold something else (dates in a
    /// column headed like a phone).
    CellsDisagree,
    /// A header says how its names are written (`Name (Last, First)`) and the cells say
    /// otherwise (most have no comma).
    NameOrder,
}

/// A possible match that was not taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// 0-based column index.
    pub column: usize,
    /// Its header.
    pub header: String,
    /// The variable key.
    pub field: String,
    /// The score, 0..=1.
    pub confidence: f64,
}

/// A doubt the caller should settle with an explicit mapping.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ambiguity {
    /// What kind.
    pub kind: AmbiguityKind,
    /// The matches in question.
    pub candidates: Vec<Candidate>,
    /// A sentence for people.
    pub message: String,
}

/// The result of [`map_columns`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    /// Column -> variable edges, by column then part.
    pub columns: Vec<ColumnMapping>,
    /// Columns that fill no variable (including explicitly ignored ones).
    pub unmapped_columns: Vec<usize>,
    /// Variables that no column fills.
    pub unmapped_fields: Vec<String>,
    /// Doubts, not guessed.
    pub ambiguities: Vec<Ambiguity>,
}

impl Mapping {
    /// The edge filling variable `key`, if any.
    pub fn for_field(&self, key: &str) -> Option<&ColumnMapping> {
        self.columns.iter().find(|m| m.field == key)
    }
}

/// A column named by its index or its header text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnRef {
    /// 0-based column index.
    Index(usize),
    /// Header text (compared trimmed, then normalised).
    Header(String),
}

/// One line of an explicit mapping: a column and the variable it fills, or `null` to ignore it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExplicitColumn {
    /// The column.
    pub column: ColumnRef,
    /// The variable key, or `None` (JSON `null`) to leave the column unmapped.
    pub field: Option<String>,
}

/// The caller's mapping, overriding detection for the columns and variables it names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExplicitMapping(pub Vec<ExplicitColumn>);

struct Var<'a> {
    def: &'a VariableDefinition,
    exact: Vec<String>,
    aliases: Vec<String>,
    tokens: Vec<Vec<Token>>,
}

struct State<'a> {
    headers: &'a [String],
    /// Per column: its cells are dates with times of day (see [`map_table`]).
    dated_times: &'a [bool],
    /// Per column: the tokens of the group label above its header, if the sheet has one.
    groups: &'a [Vec<Token>],
    /// Per column: what its cells hold; empty when mapping headers alone ([`map_columns`]).
    profiles: &'a [ColumnProfile],
    /// Per column: (sampled cells with a comma, sampled cells), to check a name layout.
    name_commas: &'a [(usize, usize)],
    vars: Vec<Var<'a>>,
    column_taken: Vec<bool>,
    var_taken: Vec<bool>,
    edges: Vec<ColumnMapping>,
    ambiguities: Vec<Ambiguity>,
}

impl State<'_> {
    fn assign(&mut self, column: usize, var: usize, part: ValuePart, confidence: f64, method: MatchMethod) {
        self.column_taken[column] = true;
        self.var_taken[var] = true;
        self.edges.push(ColumnMapping {
            column,
            header: self.headers[column].clone(),
            field: self.vars[var].def.key().to_owned(),
            part,
            confidence: (confidence * 100.0).round() / 100.0,
            method,
            name_order: None,
        });
    }

    fn candidate(&self, column: usize, var: usize, score: f64) -> Candidate {
        Candidate {
            column,
            header: self.headers[column].clone(),
            field: self.vars[var].def.key().to_owned(),
            confidence: (score * 100.0).round() / 100.0,
        }
    }

    fn role_var(&self, role: PatientField) -> Option<usize> {
        self.vars.iter().position(|v| v.def.role() == Some(role))
    }
}

/// Maps columns (by header) to variables; see the module documentation for the order of
/// steps. Fails only on an explicit mapping that names a missing column or variable, or maps
/// one variable twice.
pub fn map_columns(
    headers: &[String],
    variables: &[VariableDefinition],
    explicit: Option<&ExplicitMapping>,
) -> Result<Mapping, IngestError> {
    let none = Evidence {
        dated_times: vec![false; headers.len()],
        groups: vec![Vec::new(); headers.len()],
        profiles: Vec::new(),
        name_commas: vec![(0, 0); headers.len()],
    };
    map_with_evidence(headers, &none, variables, explicit)
}

/// What [`map_table`] learns from the sheet beyond the header texts.
struct Evidence {
    dated_times: Vec<bool>,
    groups: Vec<Vec<Token>>,
    profiles: Vec<ColumnProfile>,
    name_commas: Vec<(usize, usize)>,
}

/// [`map_columns`] for a table, also using what the sheet shows beyond the header texts: a
/// column of dates with times of day is a date-and-time column, a two-row header's group
/// labels settle bare column names, and each column's [`profile`] of cells settles what the
/// headers leave open (see the module documentation).
pub fn map_table(
    table: &Table,
    variables: &[VariableDefinition],
    explicit: Option<&ExplicitMapping>,
    today: NaiveDate,
) -> Result<Mapping, IngestError> {
    let headers = table.headers();
    let dated_times: Vec<bool> =
        (0..headers.len()).map(|c| transform::holds_dates_with_times(table.data_rows(), c, today)).collect();
    let groups = group_labels(table.row_above_header(), headers.len());
    let name_commas = (0..headers.len())
        .map(|c| match name_layout::name_layout(&headers[c]) {
            Some(_) => name_layout::comma_count(table.data_rows(), c),
            None => (0, 0),
        })
        .collect();
    let mut profiles = profile::profile_table(table, today);
    profiles.resize(headers.len(), ColumnProfile::default());
    let evidence = Evidence { dated_times, groups, name_commas, profiles };
    map_with_evidence(&headers, &evidence, variables, explicit)
}

/// The most characters a group label has; a longer text above the header is a title.
const GROUP_LABEL_CHARS: usize = 40;

/// Per column, the tokens of the group label above it: the row above the header counts as
/// group labels only when it has at least two cells, all short words without digits (a title,
/// a date or a count does not qualify); each label covers its column and those to its right up
/// to the next label.
fn group_labels(above: Option<&Row>, width: usize) -> Vec<Vec<Token>> {
    let none = vec![Vec::new(); width];
    let Some(above) = above else { return none };
    let labels: Vec<(usize, &str)> =
        (0..width).map(|c| (c, above.cell(c).text.trim())).filter(|(_, t)| !t.is_empty()).collect();
    let is_label =
        |t: &str| t.chars().count() <= GROUP_LABEL_CHARS && !t.contains(|c: char| c.is_ascii_digit());
    if labels.len() < 2 || !labels.iter().all(|(_, t)| is_label(t)) {
        return none;
    }
    let mut out = none;
    let mut current: Vec<Token> = Vec::new();
    for (c, slot) in out.iter_mut().enumerate() {
        if let Some((_, label)) = labels.iter().find(|(l, _)| *l == c) {
            current = vocab::tokens(label);
        }
        slot.clone_from(&current);
    }
    out
}

fn map_with_evidence(
    headers: &[String],
    evidence: &Evidence,
    variables: &[VariableDefinition],
    explicit: Option<&ExplicitMapping>,
) -> Result<Mapping, IngestError> {
    let vars: Vec<Var<'_>> = variables
        .iter()
        .map(|def| Var {
            def,
            exact: [def.key(), def.label()].iter().map(|n| vocab::normalize(n)).collect(),
            aliases: def.aliases().iter().map(|a| vocab::normalize(a)).collect(),
            tokens: def.header_names().map(vocab::tokens).collect(),
        })
        .collect();
    let mut s = State {
        headers,
        dated_times: &evidence.dated_times,
        groups: &evidence.groups,
        profiles: &evidence.profiles,
        name_commas: &evidence.name_commas,
        column_taken: vec![false; headers.len()],
        var_taken: vec![false; vars.len()],
        vars,
        edges: Vec::new(),
        ambiguities: Vec::new(),
    };
    if let Some(explicit) = explicit {
        apply_explicit(&mut s, explicit)?;
    }
    set_aside_someone_else(&mut s);
    exact_matches(&mut s);
    name_layouts(&mut s);
    let low = fuzzy_matches(&mut s);
    content::veto_contradicted(&mut s);
    combined_names(&mut s);
    content::fill_from_cells(&mut s);
    date_time_pairs(&mut s);
    report_low_confidence(&mut s, low);

    s.edges.sort_by_key(|e| (e.column, e.part));
    let unmapped_columns = (0..headers.len()).filter(|&c| !s.edges.iter().any(|e| e.column == c)).collect();
    let unmapped_fields = s
        .vars
        .iter()
        .filter(|v| !s.edges.iter().any(|e| e.field == v.def.key()))
        .map(|v| v.def.key().to_owned())
        .collect();
    Ok(Mapping { columns: s.edges, unmapped_columns, unmapped_fields, ambiguities: s.ambiguities })
}

fn apply_explicit(s: &mut State<'_>, explicit: &ExplicitMapping) -> Result<(), IngestError> {
    let mut pairs: Vec<(usize, Option<usize>)> = Vec::new();
    for entry in &explicit.0 {
        let column = match &entry.column {
            ColumnRef::Index(i) if *i < s.headers.len() => *i,
            ColumnRef::Index(i) => {
                return Err(IngestError::InvalidMapping(format!(
                    "column {i} does not exist; the sheet has {} columns",
                    s.headers.len()
                )))
            }
            ColumnRef::Header(h) => find_header(s.headers, h)?,
        };
        let var = match &entry.field {
            None => None,
            Some(key) => match s.vars.iter().position(|v| v.def.key() == key) {
                Some(v) => Some(v),
                None => return Err(IngestError::InvalidMapping(format!("no variable has the key {key:?}"))),
            },
        };
        if let Some(v) = var {
            if pairs.iter().any(|(c, pv)| *pv == Some(v) && *c != column) {
                return Err(IngestError::InvalidMapping(format!(
                    "variable {:?} is mapped to more than one column",
                    s.vars[v].def.key()
                )));
            }
        }
        pairs.push((column, var));
    }
    for column in 0..s.headers.len() {
        let vars: Vec<usize> = pairs.iter().filter(|(c, _)| *c == column).filter_map(|(_, v)| *v).collect();
        let ignored = pairs.iter().any(|(c, v)| *c == column && v.is_none());
        match vars.as_slice() {
            [] if ignored => s.column_taken[column] = true,
            [] => {}
            [v] => s.assign(column, *v, ValuePart::Whole, 1.0, MatchMethod::Explicit),
            several => {
                let parts = explicit_parts(s, several).ok_or_else(|| {
                    IngestError::InvalidMapping(format!(
                        "column {column} ({:?}) is mapped to several variables; only a first and a last name, \
                         or a date and a time, can share a column",
                        s.headers[column]
                    ))
                })?;
                for (v, part) in parts {
                    s.assign(column, v, part, 1.0, MatchMethod::Explicit);
                }
            }
        }
    }
    Ok(())
}

/// The parts of a column explicitly mapped to several variables: a first + last name pair, or
/// a date + time pair.
fn explicit_parts(s: &State<'_>, vars: &[usize]) -> Option<Vec<(usize, ValuePart)>> {
    let [a, b] = vars else { return None };
    let role = |v: usize| s.vars[v].def.role();
    let ty = |v: usize| s.vars[v].def.field_type();
    match (role(*a), role(*b)) {
        (Some(PatientField::FirstName), Some(PatientField::LastName)) => {
            return Some(vec![(*a, ValuePart::GivenName), (*b, ValuePart::FamilyName)])
        }
        (Some(PatientField::LastName), Some(PatientField::FirstName)) => {
            return Some(vec![(*b, ValuePart::GivenName), (*a, ValuePart::FamilyName)])
        }
        _ => {}
    }
    match (ty(*a), ty(*b)) {
        (FieldType::Date, FieldType::Time) => Some(vec![(*a, ValuePart::Date), (*b, ValuePart::Time)]),
        (FieldType::Time, FieldType::Date) => Some(vec![(*b, ValuePart::Date), (*a, ValuePart::Time)]),
        _ => None,
    }
}

/// Takes columns headed for someone other than the patient (`Emergency Contact Phone`, or any
/// column under an `Emergency Contact` group label) out of every automatic step: their words
/// and cells look like the patient's, and calling a guarantor as the patient is the worst
/// mistake a mapping can make. Only an explicit mapping, applied before, can give them to a
/// patient field; a variable that is itself named for someone else (a campaign's `Emergency
/// contact phone`) takes its column here, by the same name and word-overlap rules.
fn set_aside_someone_else(s: &mut State<'_>) {
    let theirs: Vec<usize> = (0..s.vars.len())
        .filter(|&v| !s.var_taken[v] && s.vars[v].tokens.iter().any(|t| vocab::names_someone_else(t)))
        .collect();
    for c in 0..s.headers.len() {
        if s.column_taken[c] {
            continue;
        }
        let mut tokens = vocab::tokens(&s.headers[c]);
        if !vocab::names_someone_else(&tokens) {
            if !vocab::names_someone_else(&s.groups[c]) {
                continue;
            }
            tokens.extend(s.groups[c].iter().cloned());
            tokens.sort();
            tokens.dedup();
        }
        s.column_taken[c] = true;
        let n = vocab::normalize(&s.headers[c]);
        let mut scored: Vec<(usize, f64, MatchMethod)> = theirs
            .iter()
            .filter(|&&v| !s.var_taken[v])
            .map(|&v| {
                let var = &s.vars[v];
                if var.exact.contains(&n) {
                    (v, 1.0, MatchMethod::Exact)
                } else if var.aliases.contains(&n) {
                    (v, 0.95, MatchMethod::Alias)
                } else {
                    let score = var.tokens.iter().map(|t| vocab::similarity(&tokens, t)).fold(0.0, f64::max);
                    (v, 0.9 * score, MatchMethod::Fuzzy)
                }
            })
            .filter(|&(_, score, _)| score >= 0.9 * ACCEPT)
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        if let [(v, score, method), rest @ ..] = scored.as_slice() {
            if rest.first().is_none_or(|next| score - next.1 >= MARGIN) {
                s.assign(c, *v, ValuePart::Whole, *score, *method);
            }
        }
    }
}

fn find_header(headers: &[String], wanted: &str) -> Result<usize, IngestError> {
    let trimmed = wanted.trim();
    let exact: Vec<usize> = (0..headers.len()).filter(|&c| headers[c] == trimmed).collect();
    let matches = if exact.is_empty() {
        let n = normalize_header(trimmed);
        (0..headers.len()).filter(|&c| !n.is_empty() && normalize_header(&headers[c]) == n).collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [c] => Ok(*c),
        [] => Err(IngestError::InvalidMapping(format!("no column is headed {wanted:?}"))),
        _ => Err(IngestError::InvalidMapping(format!(
            "{} columns are headed {wanted:?}; name the column by its index instead",
            matches.len()
        ))),
    }
}

fn exact_matches(s: &mut State<'_>) {
    // (column, variable, rank): rank 0 and 1 are the key and the label, then the aliases in
    // the order the campaign lists them.
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    for (c, header) in s.headers.iter().enumerate() {
        if s.column_taken[c] {
            continue;
        }
        let n = vocab::normalize(header);
        if n.is_empty() {
            continue;
        }
        for (v, var) in s.vars.iter().enumerate() {
            if s.var_taken[v] {
                continue;
            }
            let rank = var.exact.iter().chain(&var.aliases).position(|name| *name == n);
            if let Some(rank) = rank {
                found.push((c, v, rank));
            }
        }
    }
    // Each variable takes the column matching its earliest name; columns tied on that name
    // (two `Phone` columns) are ambiguous.
    let mut picks: Vec<(usize, usize, usize)> = Vec::new();
    for v in 0..s.vars.len() {
        let Some(best) = found.iter().filter(|f| f.1 == v).map(|f| f.2).min() else { continue };
        let tied: Vec<usize> = found.iter().filter(|f| f.1 == v && f.2 == best).map(|f| f.0).collect();
        if let [c] = tied.as_slice() {
            picks.push((*c, v, best));
        } else {
            let candidates = tied.iter().map(|&col| s.candidate(col, v, 1.0)).collect();
            s.ambiguities.push(several_columns(candidates));
            s.var_taken[v] = true;
            for c in tied {
                s.column_taken[c] = true;
            }
        }
    }
    for &(c, v, rank) in &picks {
        let rivals: Vec<usize> = picks.iter().filter(|p| p.0 == c).map(|p| p.1).collect();
        if rivals.len() > 1 {
            if rivals[0] == v {
                let candidates = rivals.iter().map(|&var| s.candidate(c, var, 1.0)).collect();
                s.ambiguities.push(several_fields(candidates));
                s.column_taken[c] = true;
                for var in rivals {
                    s.var_taken[var] = true;
                }
            }
            continue;
        }
        let (confidence, method) =
            if rank < 2 { (1.0, MatchMethod::Exact) } else { (0.95, MatchMethod::Alias) };
        s.assign(c, v, ValuePart::Whole, confidence, method);
    }
    // A column named exactly for a variable that another column fills (`Work Phone` when `Home
    // Phone` took the secondary phone) is not offered to other variables by word overlap: it
    // would otherwise become the primary phone ahead of the home number.
    for &(c, v, _) in &found {
        if !s.column_taken[c] && s.var_taken[v] {
            s.column_taken[c] = true;
        }
    }
}

fn several_columns(candidates: Vec<Candidate>) -> Ambiguity {
    let field = candidates.first().map(|c| c.field.clone()).unwrap_or_default();
    let headers: Vec<String> =
        candidates.iter().map(|c| format!("{:?} (column {})", c.header, c.column)).collect();
    Ambiguity {
        kind: AmbiguityKind::SeveralColumns,
        message: format!(
            "columns {} all look like {field}; none was mapped: choose one with an explicit mapping",
            headers.join(", ")
        ),
        candidates,
    }
}

fn several_fields(candidates: Vec<Candidate>) -> Ambiguity {
    let (header, column) = candidates.first().map(|c| (c.header.clone(), c.column)).unwrap_or_default();
    let fields: Vec<&str> = candidates.iter().map(|c| c.field.as_str()).collect();
    Ambiguity {
        kind: AmbiguityKind::SeveralFields,
        message: format!(
            "column {header:?} (column {column}) could be any of {}; it was not mapped: choose with an explicit mapping",
            fields.join(", ")
        ),
        candidates,
    }
}

/// Scored token overlap; returns the weak matches (below [`ACCEPT`]) for reporting later.
fn fuzzy_matches(s: &mut State<'_>) -> Vec<(usize, usize, f64)> {
    let columns: Vec<usize> =
        (0..s.headers.len()).filter(|&c| !s.column_taken[c] && !s.headers[c].trim().is_empty()).collect();
    let free_vars: Vec<usize> = (0..s.vars.len()).filter(|&v| !s.var_taken[v]).collect();
    let mut low = Vec::new();
    // var -> proposals (column, score)
    let mut proposals: Vec<Vec<(usize, f64)>> = vec![Vec::new(); s.vars.len()];
    for &c in &columns {
        let mut tokens = vocab::tokens(&s.headers[c]);
        if tokens.is_empty() {
            continue;
        }
        if s.dated_times[c] && !vocab::says_date_or_time(&tokens) {
            vocab::add_date_and_time(&mut tokens);
        }
        let mut scored = score_column(s, &free_vars, &tokens);
        // Undecided on its own header: read it with its group label (`Appointment` over `Date`).
        if !s.groups[c].is_empty() && !is_decided(&scored) {
            let mut grouped = tokens.clone();
            grouped.extend(s.groups[c].iter().cloned());
            grouped.sort();
            grouped.dedup();
            let regrouped = score_column(s, &free_vars, &grouped);
            if is_decided(&regrouped) {
                tokens = grouped;
                scored = regrouped;
            }
        }
        let Some(&(v1, s1)) = scored.first() else { continue };
        let rivals: Vec<(usize, f64)> = scored.iter().copied().filter(|&(_, sc)| s1 - sc < MARGIN).collect();
        // `Start Date & Time` over dates with times says nothing but "when", which among the
        // variables only an appointment's date and time are: weak on words, settled by the cells.
        if s1 < ACCEPT {
            let when = s.dated_times[c] && vocab::says_only_when(&tokens);
            let pair = (0..s.vars.len()).find_map(|p| date_time_pair(s, v1, p));
            match pair {
                Some((date, time)) if when && !s.var_taken[date] && !s.var_taken[time] => {
                    proposals[date].push((c, s1));
                }
                _ => low.push((c, v1, s1)),
            }
            continue;
        }
        if rivals.len() > 1 {
            // A date-and-time header tied between a date variable and its time variable is both.
            if let [(a, _), (b, _)] = rivals.as_slice() {
                if vocab::says_date_and_time(&tokens) {
                    // The time variable follows its date variable (see `date_time_pairs`).
                    if let Some((date, _)) = date_time_pair(s, *a, *b) {
                        proposals[date].push((c, s1));
                        continue;
                    }
                }
            }
            let candidates = rivals.iter().map(|&(v, sc)| s.candidate(c, v, sc)).collect();
            s.ambiguities.push(several_fields(candidates));
            s.column_taken[c] = true;
            continue;
        }
        proposals[v1].push((c, s1));
    }
    for (v, mut props) in proposals.into_iter().enumerate() {
        if props.is_empty() {
            continue;
        }
        props.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (c1, s1) = props[0];
        let rivals: Vec<(usize, f64)> = props.iter().copied().filter(|&(_, sc)| s1 - sc < MARGIN).collect();
        if rivals.len() > 1 {
            let candidates = rivals.iter().map(|&(c, sc)| s.candidate(c, v, sc)).collect();
            s.ambiguities.push(several_columns(candidates));
            s.var_taken[v] = true;
            for (c, _) in rivals {
                s.column_taken[c] = true;
            }
            continue;
        }
        s.assign(c1, v, ValuePart::Whole, 0.9 * s1, MatchMethod::Fuzzy);
    }
    low
}

/// The free variables a column's tokens could fill (score at least [`LOW`]), best first.
fn score_column(s: &State<'_>, free_vars: &[usize], tokens: &[Token]) -> Vec<(usize, f64)> {
    let mut scored: Vec<(usize, f64)> = free_vars
        .iter()
        .map(|&v| (v, s.vars[v].tokens.iter().map(|t| vocab::similarity(tokens, t)).fold(0.0, f64::max)))
        .filter(|&(_, score)| score >= LOW)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

/// Whether the best score is accepted and no other comes within [`MARGIN`] of it.
fn is_decided(scored: &[(usize, f64)]) -> bool {
    match scored {
        [(_, best), rest @ ..] => {
            *best >= ACCEPT && rest.first().is_none_or(|(_, next)| best - next >= MARGIN)
        }
        [] => false,
    }
}

/// Whether `a` and `b` are a date variable and a time variable named alike; `(date, time)`.
fn date_time_pair(s: &State<'_>, a: usize, b: usize) -> Option<(usize, usize)> {
    let (date, time) = match (s.vars[a].def.field_type(), s.vars[b].def.field_type()) {
        (FieldType::Date, FieldType::Time) => (a, b),
        (FieldType::Time, FieldType::Date) => (b, a),
        _ => return None,
    };
    let stem = |v: usize| vocab::without_date_time(&vocab::tokens(s.vars[v].def.label()));
    let (sd, st) = (stem(date), stem(time));
    (!sd.is_empty() && sd == st).then_some((date, time))
}

/// A column whose header says how its names are written (`Name (Last, First)`, see
/// [`name_layout`]) fills the first-name and last-name variables in that order, unless its
/// cells contradict the header: then it is an ambiguity and fills neither.
fn name_layouts(s: &mut State<'_>) {
    let (Some(first), Some(last)) = (s.role_var(PatientField::FirstName), s.role_var(PatientField::LastName))
    else {
        return;
    };
    if s.var_taken[first] || s.var_taken[last] {
        return;
    }
    let columns: Vec<(usize, name_layout::NameLayout)> = (0..s.headers.len())
        .filter(|&c| !s.column_taken[c])
        .filter_map(|c| name_layout::name_layout(&s.headers[c]).map(|l| (c, l)))
        .collect();
    match columns.as_slice() {
        [] => {}
        [(c, layout)] if name_layout::confirmed_by_cells(*layout, s.name_commas[*c]) => {
            for (var, part) in [(first, ValuePart::GivenName), (last, ValuePart::FamilyName)] {
                s.assign(*c, var, part, 0.9, MatchMethod::Fuzzy);
                if let Some(edge) = s.edges.last_mut() {
                    edge.name_order = Some(layout.order);
                }
            }
        }
        [(c, layout)] => {
            let (commas, seen) = s.name_commas[*c];
            let (said, found) = match layout.order {
                NameOrder::LastFirst => ("\"Last, First\" with a comma", "have none"),
                NameOrder::FirstLast => ("\"First Last\"", "are \"Last, First\""),
            };
            let candidates = vec![s.candidate(*c, first, 0.5), s.candidate(*c, last, 0.5)];
            let message = format!(
                "column {:?} (column {c}) says names are written {said}, but {} of {seen} sampled names {found}; \
                 it was not mapped: map it to {} and {} explicitly to split each name by itself",
                s.headers[*c],
                if layout.order == NameOrder::LastFirst { seen - commas } else { commas },
                s.vars[first].def.key(),
                s.vars[last].def.key(),
            );
            s.ambiguities.push(Ambiguity { kind: AmbiguityKind::NameOrder, candidates, message });
            s.column_taken[*c] = true;
            s.var_taken[first] = true;
            s.var_taken[last] = true;
        }
        several => {
            let candidates = several.iter().map(|&(c, _)| s.candidate(c, first, 0.9)).collect();
            s.ambiguities.push(several_columns(candidates));
            for &(c, _) in several {
                s.column_taken[c] = true;
            }
        }
    }
}

fn combined_names(s: &mut State<'_>) {
    let (Some(first), Some(last)) = (s.role_var(PatientField::FirstName), s.role_var(PatientField::LastName))
    else {
        return;
    };
    if s.var_taken[first] || s.var_taken[last] {
        given_name_beside_surname(s, first, last);
        return;
    }
    // A full-name variable's column splits into first and last.
    if let Some(full) = s.role_var(PatientField::FullName) {
        if let Some(edge) = s.edges.iter().find(|e| e.field == s.vars[full].def.key()).cloned() {
            s.assign(edge.column, first, ValuePart::GivenName, edge.confidence, edge.method);
            s.assign(edge.column, last, ValuePart::FamilyName, edge.confidence, edge.method);
            return;
        }
    }
    let whole: Vec<usize> = (0..s.headers.len())
        .filter(|&c| !s.column_taken[c] && vocab::is_whole_name(&vocab::tokens(&s.headers[c])))
        .collect();
    match whole.as_slice() {
        [] => {}
        [c] => {
            s.assign(*c, first, ValuePart::GivenName, 0.85, MatchMethod::Fuzzy);
            s.assign(*c, last, ValuePart::FamilyName, 0.85, MatchMethod::Fuzzy);
        }
        several => {
            let candidates = several.iter().map(|&c| s.candidate(c, first, 0.85)).collect();
            s.ambiguities.push(several_columns(candidates));
        }
    }
}

/// `Nombre` beside a mapped `Apellido` column is the given name (see
/// [`vocab::is_given_name_beside_surname`]); two such columns are left to the low-confidence
/// report.
fn given_name_beside_surname(s: &mut State<'_>, first: usize, last: usize) {
    let surname = s.edges.iter().any(|e| e.field == s.vars[last].def.key() && e.part == ValuePart::Whole);
    if s.var_taken[first] || !surname {
        return;
    }
    let given: Vec<usize> = (0..s.headers.len())
        .filter(|&c| !s.column_taken[c] && vocab::is_given_name_beside_surname(&s.headers[c]))
        .collect();
    if let [c] = given.as_slice() {
        s.assign(*c, first, ValuePart::Whole, 0.85, MatchMethod::Fuzzy);
    }
}

fn date_time_pairs(s: &mut State<'_>) {
    // (edge, its variable, the partner's type, this edge's part, the partner's part)
    let edges: Vec<(usize, usize, FieldType, ValuePart, ValuePart)> = s
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.part == ValuePart::Whole)
        .filter_map(|(i, e)| {
            let v = s.vars.iter().position(|v| v.def.key() == e.field)?;
            match s.vars[v].def.field_type() {
                FieldType::Date => Some((i, v, FieldType::Time, ValuePart::Date, ValuePart::Time)),
                // A time column holds dates only when its cells say so.
                FieldType::Time if s.dated_times[e.column] => {
                    Some((i, v, FieldType::Date, ValuePart::Time, ValuePart::Date))
                }
                _ => None,
            }
        })
        .collect();
    for (edge, var, partner_type, part, partner_part) in edges {
        let Some(partner) = (0..s.vars.len())
            .filter(|&p| !s.var_taken[p] && s.vars[p].def.field_type() == partner_type)
            .find(|&p| date_time_pair(s, var, p).is_some())
        else {
            continue;
        };
        let (column, confidence, method) = {
            let e = &mut s.edges[edge];
            e.part = part;
            (e.column, e.confidence, e.method)
        };
        s.assign(column, partner, partner_part, confidence, method);
    }
}

fn report_low_confidence(s: &mut State<'_>, low: Vec<(usize, usize, f64)>) {
    for (c, v, score) in low {
        let mapped = s.edges.iter().any(|e| e.field == s.vars[v].def.key() || e.column == c);
        // A column the cells put in doubt is already reported.
        if mapped || s.var_taken[v] || s.column_taken[c] {
            continue;
        }
        let candidate = s.candidate(c, v, score);
        s.ambiguities.push(Ambiguity {
            kind: AmbiguityKind::LowConfidence,
            message: format!(
                "column {:?} (column {c}) might be {} (confidence {:.2}); it was not mapped: confirm with an explicit mapping",
                candidate.header, candidate.field, candidate.confidence
            ),
            candidates: vec![candidate],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    fn fields(m: &Mapping) -> Vec<(usize, &str, ValuePart, MatchMethod)> {
        m.columns.iter().map(|e| (e.column, e.field.as_str(), e.part, e.method)).collect()
    }

    #[test]
    fn export_headers_map_by_alias_and_token_overlap() {
        let vars = defaults::appointment_reminder();
        let m = map_columns(
            &headers(&["PT_FNAME", "Pt Surname", "D.O.B.", "Mobile #", "Patient Cell Number"]),
            &vars,
            None,
        )
        .unwrap();
        let got = fields(&m);
        assert!(got.contains(&(0, "firstName", ValuePart::Whole, MatchMethod::Fuzzy)), "{got:?}");
        assert!(got.contains(&(1, "lastName", ValuePart::Whole, MatchMethod::Fuzzy)), "{got:?}");
        assert!(got.contains(&(2, "dob", ValuePart::Whole, MatchMethod::Exact)), "{got:?}");
        assert!(got.contains(&(3, "primaryPhone", ValuePart::Whole, MatchMethod::Alias)), "{got:?}");
        assert_eq!(m.unmapped_columns, [4]);
    }

    #[test]
    fn two_columns_for_one_field_are_reported_not_guessed() {
        let vars = defaults::appointment_reminder();
        let m = map_columns(&headers(&["First", "Last", "Phone", "Phone"]), &vars, None).unwrap();
        assert!(m.for_field("primaryPhone").is_none());
        assert_eq!(m.ambiguities.len(), 1);
        assert_eq!(m.ambiguities[0].kind, AmbiguityKind::SeveralColumns);
        assert_eq!(m.ambiguities[0].candidates.iter().map(|c| c.column).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn the_earliest_alias_wins_among_several_exact_matches() {
        let vars = defaults::appointment_reminder();
        let h = headers(&[
            "Patient Number",
            "Patient First Name",
            "Patient Last Name",
            "Patient DOB",
            "Primary Phone",
            "Cell Phone",
            "Home Phone",
            "Work Phone",
            "APPT LOCATION",
            "APPT DATE",
            "APPT TIME",
            "APPT TYPE",
            "Provider LFI",
            "Has 2nd Appt Confirmed",
            "DATE OF REPORT RUN",
        ]);
        let m = map_columns(&h, &vars, None).unwrap();
        let by_field = |f: &str| m.for_field(f).map(|e| e.header.as_str());
        assert_eq!(by_field("primaryPhone"), Some("Primary Phone"));
        assert_eq!(by_field("secondaryPhone"), Some("Home Phone"));
        assert_eq!(by_field("mrn"), Some("Patient Number"));
        assert_eq!(by_field("provider"), Some("Provider LFI"));
        assert_eq!(by_field("location"), Some("APPT LOCATION"));
        assert_eq!(by_field("appointmentTime"), Some("APPT TIME"));
        assert!(m.ambiguities.iter().all(|a| a.kind == AmbiguityKind::LowConfidence), "{:?}", m.ambiguities);
    }

    #[test]
    fn a_column_named_for_a_filled_variable_is_not_given_to_another() {
        let vars = defaults::appointment_reminder();
        let m = map_columns(
            &headers(&["First Name", "Last Name", "DOB", "Home Phone", "Work Phone"]),
            &vars,
            None,
        )
        .unwrap();
        assert_eq!(m.for_field("secondaryPhone").map(|e| e.column), Some(3));
        assert_eq!(m.for_field("primaryPhone"), None);
        assert_eq!(m.unmapped_columns, [4]);
    }

    #[test]
    fn a_bare_date_column_is_ambiguous_between_birth_and_appointment() {
        let vars = defaults::appointment_reminder();
        let m = map_columns(&headers(&["First Name", "Last Name", "Phone", "Date"]), &vars, None).unwrap();
        assert!(m.for_field("dob").is_none());
        assert!(m.for_field("appointmentDate").is_none());
        assert!(
            m.ambiguities.iter().any(|a| a.candidates.iter().any(|c| c.column == 3)),
            "{:?}",
            m.ambiguities
        );
    }
}
