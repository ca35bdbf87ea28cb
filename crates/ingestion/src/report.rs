//! The operator's view of a preview: counts, mapping and every invalid row, as the
//! `rivvi ingest preview --json` command prints it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rivvi_domain::campaign::VariableDefinition;
use serde::Serialize;

use crate::map::{MatchMethod, NameOrder, ValuePart};
use crate::preview::{IgnoredKind, Preview, RowStatus};
use crate::read::ReadOptions;
use crate::table::SourceFormat;
use crate::{defaults, ingest, IngestError, IngestOptions};

/// How many transformed rows the report shows.
pub const SAMPLE_ROWS: usize = 5;

/// A preview summarised for operators.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The file name given.
    pub file: String,
    /// The file's format.
    pub format: SourceFormat,
    /// The sheet read (workbooks).
    pub sheet: Option<String>,
    /// The text encoding (CSV).
    pub encoding: Option<&'static str>,
    /// The delimiter (CSV).
    pub delimiter: Option<char>,
    /// 1-based sheet row of the header.
    pub header_row: u32,
    /// Rows between the header and the footer.
    pub data_rows: usize,
    /// Rows with an error.
    pub invalid_rows: usize,
    /// Valid rows of a patient seen earlier.
    pub duplicate_rows: usize,
    /// Rows that will be called.
    pub callable_rows: usize,
    /// Distinct patients among valid rows.
    pub distinct_patients: usize,
    /// Column -> variable.
    pub mapping: Vec<ReportMapping>,
    /// Headers of the columns no variable takes.
    pub unmapped_columns: Vec<String>,
    /// Variables no column fills.
    pub unmapped_fields: Vec<String>,
    /// Mapping doubts.
    pub ambiguities: Vec<String>,
    /// Every error of every invalid row.
    pub errors: Vec<ReportProblem>,
    /// Unreadable optional values.
    pub warnings: Vec<ReportProblem>,
    /// Duplicate rows and the row they repeat.
    pub duplicates: Vec<ReportDuplicate>,
    /// Title and footer rows.
    pub ignored_rows: Vec<ReportIgnored>,
    /// The first rows' variables.
    pub sample: Vec<BTreeMap<String, String>>,
}

/// One mapped column.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportMapping {
    /// Header text.
    pub column: String,
    /// 0-based column index.
    pub index: usize,
    /// Variable key.
    pub field: String,
    /// Which part of the cell.
    pub part: ValuePart,
    /// 0..=1.
    pub confidence: f64,
    /// How it was matched.
    pub method: MatchMethod,
    /// The name order the header gives a whole-name column, when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_order: Option<NameOrder>,
}

/// One problem with one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportProblem {
    /// 1-based sheet row.
    pub row: u32,
    /// Variable key.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// A duplicate row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDuplicate {
    /// 1-based sheet row of the duplicate.
    pub row: u32,
    /// 1-based sheet row of the patient's first row.
    pub duplicate_of_row: u32,
}

/// A row that is not data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportIgnored {
    /// 1-based sheet row.
    pub row: u32,
    /// Title or footer.
    pub kind: IgnoredKind,
}

/// Reads `bytes` and previews them against `campaign_variables` (the built-in
/// [`defaults::appointment_reminder`] set when `None`), reporting progress as `(done, 1000)`.
pub fn preview_report(
    bytes: &[u8],
    file_name: &str,
    campaign_variables: Option<&[VariableDefinition]>,
    sheet: Option<&str>,
    today: NaiveDate,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<Report, IngestError> {
    let defaults;
    let variables = match campaign_variables {
        Some(v) => v,
        None => {
            defaults = defaults::appointment_reminder();
            &defaults
        }
    };
    let options = IngestOptions {
        read: ReadOptions { sheet: sheet.map(str::to_owned), ..ReadOptions::default() },
        today,
        mapping: None,
    };
    let preview = ingest(bytes, file_name, variables, &options, progress)?;
    Ok(Report::new(file_name, &preview))
}

impl Report {
    /// Summarises a preview.
    pub fn new(file_name: &str, p: &Preview) -> Report {
        let problems = |pick: fn(&crate::preview::IngestedRow) -> &Vec<crate::preview::RowError>| {
            p.rows
                .iter()
                .flat_map(|r| {
                    pick(r).iter().map(|e| ReportProblem {
                        row: r.sheet_row,
                        field: e.field.clone(),
                        reason: e.reason.clone(),
                    })
                })
                .collect::<Vec<_>>()
        };
        Report {
            file: file_name.to_owned(),
            format: p.format,
            sheet: p.sheet.clone(),
            encoding: p.encoding,
            delimiter: p.delimiter,
            header_row: p.header_row,
            data_rows: p.counts.data_rows,
            invalid_rows: p.counts.invalid_rows,
            duplicate_rows: p.counts.duplicate_rows,
            callable_rows: p.counts.callable_rows,
            distinct_patients: p.counts.distinct_patients,
            mapping: p
                .mapping
                .iter()
                .map(|m| ReportMapping {
                    column: m.header.clone(),
                    index: m.column,
                    field: m.field.clone(),
                    part: m.part,
                    confidence: m.confidence,
                    method: m.method,
                    name_order: m.name_order,
                })
                .collect(),
            unmapped_columns: p
                .unmapped_columns
                .iter()
                .map(|c| {
                    if c.header.is_empty() {
                        format!("(column {})", c.column + 1)
                    } else {
                        c.header.clone()
                    }
                })
                .collect(),
            unmapped_fields: p.unmapped_fields.clone(),
            ambiguities: p.ambiguities.iter().map(|a| a.message.clone()).collect(),
            errors: problems(|r| &r.errors),
            warnings: problems(|r| &r.warnings),
            duplicates: p
                .rows
                .iter()
                .filter(|r| r.status == RowStatus::Duplicate)
                .filter_map(|r| {
                    let first = p.rows.get(r.duplicate_of?)?;
                    Some(ReportDuplicate { row: r.sheet_row, duplicate_of_row: first.sheet_row })
                })
                .collect(),
            ignored_rows: p.ignored_rows.iter().map(|i| ReportIgnored { row: i.row, kind: i.kind }).collect(),
            sample: p
                .sample(SAMPLE_ROWS)
                .iter()
                .map(|r| r.variables().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
                .collect(),
        }
    }
}
