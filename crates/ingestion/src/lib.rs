//! Patient spreadsheets in: bytes -> table -> header -> column mapping -> typed, validated,
//! de-duplicated rows, with a reason for every row that will not be called.
//!
//! Pure: no I/O beyond the bytes given, no database, no async. The server seals the result
//! (every original cell, the variables, the patient fields) and HMACs each
//! [`Patient::identity`](preview::Patient::identity) into an identity key.
//!
//! ```text
//! read::read_table(bytes, name, &ReadOptions) -> Table        (format, sheet, header, footer)
//! map::map_table(&table, &vars, explicit, today) -> Mapping       (or map_columns on headers)
//! preview::build(table, &mapping, &vars, &PreviewOptions) -> Preview
//! ```
//! or all three at once with [`ingest`]; [`report::preview_report`] is the CLI's summary.
//!
//! # Layout
//! - [`read`]: format detection, CSV decoding and parsing, calamine workbooks, limits.
//! - [`table`]: [`Table`], rows and original cells (text as shown + typed value).
//! - `header`: header-row and footer detection (heuristics documented there).
//! - `vocab`: header words -> concepts, for detection and mapping; the words are data
//!   (`vocab/words.txt`, by language).
//! - [`map`]: columns -> variables, with confidence, method and ambiguities.
//! - `name_layout`: headers that say how a whole-name column is written (`Name (Last, First)`).
//! - `transform`: per field type parsing and normal forms.
//! - `numfmt`: Excel number formats, to show workbook cells as Excel does.
//! - [`identity`]: the canonical identity string of a patient.
//! - [`profile`]: what a column's cells look like (phones, dates, names...), from a sample.
//! - [`preview`]: rows, statuses, de-duplication and counts.
//! - [`defaults`]: the built-in appointment-reminder variables.
//! - [`report`]: the operator's JSON summary.
//! - [`error`]: the errors that stop a file from being read.

pub mod defaults;
pub mod error;
mod header;
pub mod identity;
pub mod map;
mod name_layout;
mod numfmt;
pub mod preview;
pub mod profile;
pub mod read;
pub mod report;
pub mod table;
mod transform;
mod vocab;

use chrono::NaiveDate;
use rivvi_domain::campaign::VariableDefinition;

pub use error::IngestError;
pub use identity::canonical_identity;
pub use map::{map_columns, map_table, ExplicitMapping, Mapping};
pub use preview::{Preview, PreviewOptions};
pub use read::{read_table, ReadOptions};
pub use table::{Cell, CellValue, Row, SourceFormat, Table};
pub use transform::excel_serial_to_datetime;

/// Everything [`ingest`] needs besides the bytes and the variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOptions {
    /// Sheet choice and limits.
    pub read: ReadOptions,
    /// The day birth dates may not be after.
    pub today: NaiveDate,
    /// The caller's column overrides.
    pub mapping: Option<ExplicitMapping>,
}

/// Reads, maps and previews a file in one call, reporting progress as `(done, 1000)`: reading
/// takes the first 60%, building rows the rest.
pub fn ingest(
    bytes: &[u8],
    file_name: &str,
    variables: &[VariableDefinition],
    options: &IngestOptions,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<Preview, IngestError> {
    let mut progress = read::Progress::new(progress);
    let table = read::read(bytes, file_name, &options.read, &mut progress)?;
    let mapping = map::map_table(&table, variables, options.mapping.as_ref(), options.today)?;
    progress.phase(600, read::PROGRESS_SCALE);
    Ok(preview::build_with_progress(
        table,
        &mapping,
        variables,
        &PreviewOptions { today: options.today },
        &mut progress,
    ))
}
