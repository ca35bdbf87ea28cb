//! Why a file could not be read at all. Row-level problems are not errors: they are reported on
//! the rows ([`crate::preview::RowError`]).
//!
//! Messages name the problem and the limit, never a cell's content: they may be logged, and cell
//! content is patient data.

use std::fmt;

/// A file that cannot become rows, or a caller mistake (unknown sheet, bad explicit mapping).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    // user errors: the file
    /// Zero bytes, or nothing but whitespace.
    #[error("the file is empty")]
    Empty,
    /// A header row and nothing under it.
    #[error("the file has a header row (row {header_row}) but no data rows")]
    HeaderOnly {
        /// 1-based sheet row of the header.
        header_row: u32,
    },
    /// Bytes that are neither a workbook nor text (an image, a PDF, random binary).
    #[error("not a spreadsheet or CSV: {what}")]
    NotASpreadsheet {
        /// What the bytes look like instead, such as `a PDF document` or `mostly binary control bytes`.
        what: String,
    },
    /// A workbook container that could not be opened or parsed.
    #[error("the {format} file is corrupt or truncated: {detail}")]
    CorruptWorkbook {
        /// `xlsx`, `xls`, `xlsb` or `ods`.
        format: &'static str,
        /// What the parser reported.
        detail: String,
    },
    /// A password-protected workbook.
    #[error("the {format} file is password protected; remove the password and upload it again")]
    Encrypted {
        /// The workbook format.
        format: &'static str,
    },
    /// A zip whose entries together inflate beyond the limit (a zip bomb or an absurd sheet).
    #[error(
        "the {format} file expands to {} uncompressed, more than the {} allowed",
        Bytes(*uncompressed),
        Bytes(*limit)
    )]
    TooLargeUncompressed {
        /// The workbook format.
        format: &'static str,
        /// Sum of the declared uncompressed sizes of its entries.
        uncompressed: u64,
        /// The configured limit.
        limit: u64,
    },
    /// One cell larger than the limit.
    #[error(
        "the cell at row {row}, column {} holds more than {} (limit)",
        ColumnName(*column),
        Bytes(*limit as u64)
    )]
    CellTooLarge {
        /// 1-based sheet row.
        row: u32,
        /// 0-based column index.
        column: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// More rows than the limit.
    #[error("the file has more than {limit} data rows; split it into smaller files")]
    TooManyRows {
        /// The configured limit.
        limit: usize,
    },
    /// A sheet so wide and long that holding it would exhaust memory.
    #[error("the sheet has more than {limit} cells (rows times columns); remove unused columns")]
    TooManyCells {
        /// The cell budget.
        limit: usize,
    },
    /// No sheet (or no CSV row) looks like a header.
    #[error("{}", no_header(sheets))]
    NoHeader {
        /// Every sheet considered (one empty name for CSV).
        sheets: Vec<String>,
    },

    // user errors: the request
    /// The caller named a sheet the workbook does not have.
    #[error("the workbook has no sheet named {name:?}; its sheets are: {}", list(sheets))]
    UnknownSheet {
        /// The name asked for.
        name: String,
        /// The workbook's sheet names.
        sheets: Vec<String>,
    },
    /// An explicit mapping that names a column or field that does not exist.
    #[error("invalid mapping: {0}")]
    InvalidMapping(String),
}

fn no_header(sheets: &[String]) -> String {
    if sheets.is_empty() {
        "the file has no detectable header row: no row of column names above the data".to_owned()
    } else {
        format!("no sheet has a detectable header row (sheets: {})", list(sheets))
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
}

/// A byte count for people: `64 KB`, `200 MB`.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KB: u64 = 1024;
        const MB: u64 = 1024 * 1024;
        let n = self.0;
        if n >= MB && n.is_multiple_of(MB) {
            write!(f, "{} MB", n / MB)
        } else if n >= MB {
            write!(f, "{:.1} MB", n as f64 / MB as f64)
        } else if n >= KB && n.is_multiple_of(KB) {
            write!(f, "{} KB", n / KB)
        } else if n >= KB {
            write!(f, "{:.1} KB", n as f64 / KB as f64)
        } else {
            write!(f, "{n} bytes")
        }
    }
}

/// A spreadsheet column letter: 0 -> `A`, 27 -> `AB`.
pub(crate) struct ColumnName(pub usize);

impl fmt::Display for ColumnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut n = self.0 + 1;
        let mut letters = Vec::new();
        while n > 0 {
            let rem = (n - 1) % 26;
            letters.push(b'A' + rem as u8);
            n = (n - 1) / 26;
        }
        letters.reverse();
        f.write_str(&String::from_utf8_lossy(&letters))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_follow_spreadsheet_letters() {
        let names: Vec<String> =
            [0, 1, 25, 26, 27, 51, 52, 701, 702].map(|i| ColumnName(i).to_string()).into();
        assert_eq!(names, ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }

    #[test]
    fn messages_name_the_limit_in_readable_units() {
        let e =
            IngestError::TooLargeUncompressed { format: "xlsx", uncompressed: 300 << 20, limit: 200 << 20 };
        assert_eq!(
            e.to_string(),
            "the xlsx file expands to 300 MB uncompressed, more than the 200 MB allowed"
        );
        let e = IngestError::CellTooLarge { row: 7, column: 2, limit: 64 * 1024 };
        assert_eq!(e.to_string(), "the cell at row 7, column C holds more than 64 KB (limit)");
        let e = IngestError::UnknownSheet { name: "Foo".into(), sheets: vec!["A".into(), "B".into()] };
        assert_eq!(e.to_string(), "the workbook has no sheet named \"Foo\"; its sheets are: \"A\", \"B\"");
    }
}
