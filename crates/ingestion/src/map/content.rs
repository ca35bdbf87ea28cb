//! Cells as evidence: what a column's values say settles what its header leaves open.
//!
//! Each variable whose type the cells can show wants one kind of value: a phone variable phone
//! numbers, the birth date dates decades in the past, another date variable dates near today
//! (an appointment), a time variable times of day, the first- and last-name variables one-word
//! personal names (or, both together, a column of whole names), the MRN codes that are nearly
//! all distinct. A column's *fit* for a variable is the share of its sampled non-blank cells of
//! that kind ([`crate::profile`]).
//!
//! Two steps use it, both only on columns and variables the headers left free:
//! - [`veto_contradicted`]: a header match whose cells clearly hold another kind (a column
//!   headed like a phone whose cells are dates) is not taken silently: it becomes an
//!   [`AmbiguityKind::CellsDisagree`] and the variable is free again.
//! - [`fill_from_cells`]: one score per (column, variable), `0.7 x fit + 0.3 x header`, where
//!   `header` is the word-overlap score the fuzzy step uses (so `Date` leans to the appointment
//!   date and `Other Number` to the secondary phone). The best pair is taken when its fit is
//!   strong ([`STRONG`]) and no other free column comes within [`MARGIN`] for that variable;
//!   when several variables come within [`MARGIN`] for one column, the field's role decides
//!   (a required variable before an optional one, the phone to call before the other phone),
//!   and a remaining tie is reported, never guessed.
//!
//! A column is considered only when its header does not name something else: every concept in
//! it must be one the variable's names use (`Contact Number` and `Col3` can be a phone; `Home`
//! cannot be the phone to call, `Provider` cannot be a patient's name), and an optional
//! variable also refuses words the vocabulary does not know (`Pharmacy Phone`), placeholders
//! aside (`Col5`); the MRN also needs some header support (`Acct`), since any code column looks
//! alike. It also needs [`MIN_CELLS`] non-blank cells, at least half its sampled rows: one cell
//! is not evidence.

use rivvi_domain::campaign::{FieldType, PatientField, VariableDefinition};

use super::{
    several_columns, several_fields, Ambiguity, AmbiguityKind, MatchMethod, State, ValuePart, LOW, MARGIN,
};
use crate::profile::ColumnProfile;
use crate::vocab::{self, Concept, Token};

/// The least fit at which the cells alone decide.
pub(crate) const STRONG: f64 = 0.8;
/// Below this fit, a header match whose cells are strongly something else is contradicted.
const CONTRADICTED: f64 = 0.2;
/// The fewest non-blank sampled cells that count as evidence: two agreeing cells are as often
/// a coincidence of a short sheet as the nature of the column.
pub(crate) const MIN_CELLS: usize = 3;
/// Personal names repeat less than this only in columns of categories (`Annual`, `Recall`).
const NAME_DISTINCT: f64 = 0.3;
/// MRNs repeat only on repeat appointments.
const ID_DISTINCT: f64 = 0.7;
/// How much the cells weigh against the header in the combined score.
const CELLS_WEIGHT: f64 = 0.7;

/// The kind of value a variable wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Phone,
    BirthDate,
    RecentDate,
    Time,
    NamePart,
    WholeName,
    Identifier,
    /// A clinician's name: a provider variable.
    Clinician,
}

fn want(def: &VariableDefinition, names: &[Vec<Token>]) -> Option<Want> {
    match def.role() {
        Some(PatientField::FirstName | PatientField::LastName) => return Some(Want::NamePart),
        Some(PatientField::FullName) => return Some(Want::WholeName),
        Some(PatientField::BirthDate) => return Some(Want::BirthDate),
        Some(PatientField::Mrn) => return Some(Want::Identifier),
        Some(PatientField::TimeZone) => return None,
        Some(PatientField::Phone | PatientField::SecondaryPhone) | None => {}
    }
    match def.field_type() {
        FieldType::Text | FieldType::Name
            if def.role().is_none()
                && names.iter().flatten().any(|t| *t == Token::Concept(Concept::Provider)) =>
        {
            Some(Want::Clinician)
        }
        FieldType::Phone => Some(Want::Phone),
        FieldType::Date => Some(Want::RecentDate),
        FieldType::Time => Some(Want::Time),
        _ => None,
    }
}

/// The share of a column's cells of the kind `want` names.
fn fit(p: &ColumnProfile, want: Want) -> f64 {
    match want {
        Want::Phone => p.phone,
        Want::BirthDate => p.birth_date,
        Want::RecentDate => p.recent_date,
        Want::Time => p.time,
        // A column of mostly whole names is a whole-name column, not a first or last name.
        Want::NamePart if p.distinct >= NAME_DISTINCT && p.whole_name < 0.5 => p.name,
        Want::WholeName if p.distinct >= NAME_DISTINCT => p.whole_name.min(p.name),
        Want::Identifier if p.distinct >= ID_DISTINCT => p.identifier,
        Want::Clinician => p.clinician,
        Want::NamePart | Want::WholeName | Want::Identifier => 0.0,
    }
}

/// Whether the column's cells are enough to go by.
fn is_evidence(p: &ColumnProfile) -> bool {
    p.filled >= MIN_CELLS && p.filled * 2 >= p.sampled
}

/// Whether every concept of the header is one the variable's names use. A count word (`Number`,
/// `#`) says nothing, and a line qualifier (`Home`, `Other`, `2`) only tells phones apart:
/// `Col2` may hold birth dates. Words the vocabulary does not know are allowed for a required
/// variable (`Contact Number` is the phone when nothing else is), but for an optional one only
/// when they are placeholders (`Col5`, `Field 3`, `Unnamed: 4`): a `Pharmacy Phone` or
/// `Employer Phone` beside the patient's phone is not their other number.
fn header_allows(header: &[Token], names: &[Vec<Token>], phone: bool, required: bool) -> bool {
    header.iter().all(|t| match t {
        Token::Concept(Concept::Number) => true,
        Token::Word(word) => required || is_placeholder(word),
        Token::Concept(
            Concept::Primary | Concept::Secondary | Concept::Home | Concept::Work | Concept::Mobile,
        ) if !phone => true,
        concept => names.iter().any(|set| set.contains(concept)),
    })
}

/// Whether a header says nothing that a column of clinicians' names would contradict: only
/// words the vocabulary does not know (`Agenda`, `Calendar`, `Column`), the appointment and the
/// provider. Titles and credentials in the cells (`Dr.`, `MD`) are strong evidence of their own;
/// a `Provider Phone` or `Appointment Date` header still rules the column out.
fn names_no_other_thing(header: &[Token]) -> bool {
    header.iter().all(|t| {
        matches!(
            t,
            Token::Word(_)
                | Token::Concept(Concept::Appt | Concept::Provider | Concept::Name | Concept::Full)
        )
    })
}

/// Words spreadsheet programs and exports put where a header is missing, and bare numbers.
fn is_placeholder(word: &str) -> bool {
    word.chars().count() == 1
        || word.bytes().all(|b| b.is_ascii_digit())
        || matches!(
            word,
            "col" | "column" | "field" | "unnamed" | "untitled" | "blank" | "data" | "value" | "var"
        )
}

fn header_score(header: &[Token], names: &[Vec<Token>]) -> f64 {
    names.iter().map(|set| vocab::similarity(header, set)).fold(0.0, f64::max)
}

/// Which variable wins a column it ties for: a required one before an optional one, the phone
/// to call before the other phone.
fn priority(def: &VariableDefinition) -> u8 {
    u8::from(def.required()) * 2 + u8::from(def.role() == Some(PatientField::Phone))
}

/// The header's tokens as the fuzzy step reads them (a column of dates with times says so).
fn header_tokens(s: &State<'_>, c: usize) -> Vec<Token> {
    let mut tokens = vocab::tokens(&s.headers[c]);
    if s.dated_times[c] && !vocab::says_date_or_time(&tokens) {
        vocab::add_date_and_time(&mut tokens);
    }
    tokens
}

/// Demotes header matches that the cells contradict (see the module documentation). Explicit
/// edges are the caller's word and stay.
pub(super) fn veto_contradicted(s: &mut State<'_>) {
    if s.profiles.is_empty() {
        return;
    }
    let mut vetoed: Vec<(usize, usize, &'static str)> = Vec::new();
    for (i, e) in s.edges.iter().enumerate() {
        if e.method == MatchMethod::Explicit || e.part != ValuePart::Whole {
            continue;
        }
        let Some(v) = s.vars.iter().position(|v| v.def.key() == e.field) else { continue };
        let Some(p) = s.profiles.get(e.column).filter(|p| is_evidence(p)) else { continue };
        let names_a_record = vocab::tokens(&s.headers[e.column])
            .iter()
            .any(|t| matches!(t, Token::Concept(Concept::Mrn | Concept::Id)));
        if let Some(what) = contradiction(p, s.vars[v].def, e.method, names_a_record) {
            vetoed.push((i, v, what));
        }
    }
    let mut doubts = Vec::with_capacity(vetoed.len());
    // Removed from the end so the earlier indexes stay valid; reported in column order.
    for &(i, v, what) in vetoed.iter().rev() {
        let edge = s.edges.remove(i);
        s.var_taken[v] = false;
        // The column is free again for what its cells are (`Number` full of phones is the phone).
        s.column_taken[edge.column] = false;
        let candidate = s.candidate(edge.column, v, edge.confidence);
        doubts.push(Ambiguity {
            kind: AmbiguityKind::CellsDisagree,
            message: format!(
                "column {:?} (column {}) is headed like {} but its cells are {what}; it was not mapped: \
                 confirm with an explicit mapping",
                edge.header, edge.column, edge.field
            ),
            candidates: vec![candidate],
        });
    }
    doubts.sort_by_key(|d| d.candidates.first().map(|c| c.column));
    s.ambiguities.extend(doubts);
}

/// What the cells clearly are instead of what the variable wants, if they contradict it.
///
/// A record number may be ten bare digits that also read as a phone number, so under a header
/// that names a record (`MRN`, `Patient ID`) only a column of phone numbers mostly written as such
/// contradicts it; under a bare `Number`, any column of phone numbers does. A text variable (a provider, a location) is said
/// aloud, so a column of bare numbers (`1`, `2`: a resource id) contradicts a header that is
/// not the variable's own name.
fn contradiction(
    p: &ColumnProfile,
    def: &VariableDefinition,
    method: MatchMethod,
    names_a_record: bool,
) -> Option<&'static str> {
    if def.role() == Some(PatientField::Mrn) {
        // Phone numbers, most of them written as such, or any phone numbers under a header that
        // names no record (`Number`, `#`): bare ten-digit values under `MRN` may be records.
        if p.phone >= STRONG && (!names_a_record || p.written_phone * 2.0 >= p.phone) {
            return Some("phone numbers");
        }
        return (p.date >= STRONG).then_some("dates");
    }
    if def.role().is_none() && def.field_type() == FieldType::Text {
        return (method != MatchMethod::Exact && p.bare_number >= STRONG).then_some("bare numbers");
    }
    // Only whole names (`Smith, John`) are clearly names: a lone capitalised word may be a
    // status or a city (`Morning`, `Confirmed`, `Springfield`).
    let names = if p.distinct >= NAME_DISTINCT { p.whole_name } else { 0.0 };
    let is_name =
        matches!(def.role(), Some(PatientField::FirstName | PatientField::LastName | PatientField::FullName))
            || def.field_type() == FieldType::Name;
    let (own, others): (f64, [(&'static str, f64); 3]) = if is_name {
        (p.name, [("phone numbers", p.phone), ("dates", p.date), ("times", p.time)])
    } else {
        match def.field_type() {
            FieldType::Phone => (p.phone, [("dates", p.date), ("times", p.time), ("names", names)]),
            FieldType::Date => (p.date, [("phone numbers", p.phone), ("times", p.time), ("names", names)]),
            FieldType::Time => (p.time + p.date, [("phone numbers", p.phone), ("names", names), ("", 0.0)]),
            _ => return None,
        }
    };
    if own >= CONTRADICTED {
        return None;
    }
    others.iter().find(|(_, share)| *share >= STRONG).map(|(what, _)| *what)
}

/// A (column, variable) pair the cells support.
#[derive(Debug, Clone, Copy)]
struct Pair {
    column: usize,
    var: usize,
    fit: f64,
    score: f64,
}

/// Fills free variables from the cells of free columns (see the module documentation).
pub(super) fn fill_from_cells(s: &mut State<'_>) {
    if s.profiles.is_empty() {
        return;
    }
    whole_names(s);
    loop {
        let pairs = pairs(s);
        let best = pairs
            .iter()
            .filter(|p| p.fit >= STRONG)
            .max_by(|a, b| a.score.total_cmp(&b.score).then(b.column.cmp(&a.column)).then(b.var.cmp(&a.var)));
        let Some(&best) = best else { return };
        let column = best.column;
        // The variables this column fits about as well: the role decides, or it is a tie.
        let near: Vec<Pair> = pairs
            .iter()
            .copied()
            .filter(|p| p.column == column && p.fit >= STRONG && p.score > best.score - MARGIN)
            .collect();
        let top = near.iter().map(|p| priority(s.vars[p.var].def)).max().unwrap_or(0);
        let contenders: Vec<Pair> =
            near.iter().copied().filter(|p| priority(s.vars[p.var].def) == top).collect();
        let chosen = match contenders.as_slice() {
            [one] => *one,
            [] => best,
            several => {
                let candidates = several.iter().map(|p| s.candidate(column, p.var, p.score)).collect();
                s.ambiguities.push(several_fields(candidates));
                s.column_taken[column] = true;
                continue;
            }
        };
        // The columns this variable could take about as well.
        let rivals: Vec<Pair> = pairs
            .iter()
            .copied()
            .filter(|p| p.var == chosen.var && p.column != column && p.score > chosen.score - MARGIN)
            .collect();
        if !rivals.is_empty() {
            let candidates = std::iter::once(chosen)
                .chain(rivals.iter().copied())
                .map(|p| s.candidate(p.column, p.var, p.score))
                .collect();
            s.ambiguities.push(several_columns(candidates));
            s.var_taken[chosen.var] = true;
            for p in std::iter::once(chosen).chain(rivals) {
                s.column_taken[p.column] = true;
            }
            continue;
        }
        s.assign(column, chosen.var, ValuePart::Whole, chosen.score, MatchMethod::Content);
    }
}

/// Every free (column, variable) pair whose fit is at least near [`STRONG`] (near ones only
/// count as rivals).
fn pairs(s: &State<'_>) -> Vec<Pair> {
    let mut out = Vec::new();
    for c in 0..s.headers.len() {
        if s.column_taken[c] {
            continue;
        }
        let Some(p) = s.profiles.get(c).filter(|p| is_evidence(p)) else { continue };
        let header = header_tokens(s, c);
        for (v, var) in s.vars.iter().enumerate() {
            if s.var_taken[v] {
                continue;
            }
            let Some(want) = want(var.def, &var.tokens) else { continue };
            // First and last name together come from one whole-name column (`whole_names`).
            if want == Want::WholeName && s.vars[v].def.role() != Some(PatientField::FullName) {
                continue;
            }
            let fit = fit(p, want);
            let phone = var.def.field_type() == FieldType::Phone;
            let allowed = if want == Want::Clinician {
                names_no_other_thing(&header)
            } else {
                header_allows(&header, &var.tokens, phone, var.def.required())
            };
            if fit < STRONG - MARGIN || !allowed {
                continue;
            }
            let h = header_score(&header, &var.tokens);
            if want == Want::Identifier && h < LOW {
                continue;
            }
            out.push(Pair { column: c, var: v, fit, score: CELLS_WEIGHT * fit + (1.0 - CELLS_WEIGHT) * h });
        }
    }
    out
}

/// A column of whole names (`Smith, John`, `Ann Lee`) fills the first- and last-name variables
/// when neither has a column and the campaign has no full-name variable to take it.
fn whole_names(s: &mut State<'_>) {
    let (Some(first), Some(last)) = (s.role_var(PatientField::FirstName), s.role_var(PatientField::LastName))
    else {
        return;
    };
    if s.var_taken[first] || s.var_taken[last] || s.role_var(PatientField::FullName).is_some() {
        return;
    }
    let names: Vec<Vec<Token>> = s.vars[first].tokens.iter().chain(&s.vars[last].tokens).cloned().collect();
    let required = s.vars[first].def.required() || s.vars[last].def.required();
    let mut found: Vec<Pair> = Vec::new();
    for c in (0..s.headers.len()).filter(|&c| !s.column_taken[c]) {
        let Some(p) = s.profiles.get(c).filter(|p| is_evidence(p)) else { continue };
        let header = header_tokens(s, c);
        let fit = fit(p, Want::WholeName);
        if fit >= STRONG - MARGIN && header_allows(&header, &names, false, required) {
            let score = CELLS_WEIGHT * fit + (1.0 - CELLS_WEIGHT) * header_score(&header, &names);
            found.push(Pair { column: c, var: first, fit, score });
        }
    }
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let Some(&best) = found.first().filter(|p| p.fit >= STRONG) else { return };
    let tied: Vec<Pair> = found.iter().copied().filter(|p| p.score > best.score - MARGIN).collect();
    if tied.len() > 1 {
        let candidates = tied.iter().map(|p| s.candidate(p.column, first, p.score)).collect();
        s.ambiguities.push(several_columns(candidates));
        s.var_taken[first] = true;
        s.var_taken[last] = true;
        for p in tied {
            s.column_taken[p.column] = true;
        }
        return;
    }
    s.assign(best.column, first, ValuePart::GivenName, best.score, MatchMethod::Content);
    s.assign(best.column, last, ValuePart::FamilyName, best.score, MatchMethod::Content);
}
