//! The grid read from a file: every cell as the user sees it, with its typed value, and where the
//! header, the data and the footer are.

use std::ops::Range;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;

use crate::header::{self, Detection};
use crate::IngestError;

/// The container or text format a table was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// Delimited text (comma, semicolon, tab or pipe).
    Csv,
    /// Office Open XML workbook.
    Xlsx,
    /// Office Open XML workbook with macros.
    Xlsm,
    /// Excel binary workbook.
    Xlsb,
    /// Excel 97-2003 workbook.
    Xls,
    /// OpenDocument spreadsheet.
    Ods,
}

impl SourceFormat {
    /// The usual file extension, also used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Csv => "csv",
            SourceFormat::Xlsx => "xlsx",
            SourceFormat::Xlsm => "xlsm",
            SourceFormat::Xlsb => "xlsb",
            SourceFormat::Xls => "xls",
            SourceFormat::Ods => "ods",
        }
    }
}

/// What a cell holds, typed. The text the user sees is in [`Cell::text`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "camelCase")]
pub enum CellValue {
    /// Nothing.
    Empty,
    /// Text; the text itself is [`Cell::text`]. Every CSV cell is text.
    Text,
    /// A number (workbook integer and float cells).
    Number(f64),
    /// TRUE or FALSE.
    Bool(bool),
    /// A date and a time of day.
    DateTime(NaiveDateTime),
    /// A date cell without a time of day.
    Date(NaiveDate),
    /// A time-of-day cell without a date.
    Time(NaiveTime),
    /// A formula error such as `#N/A`; the code is in [`Cell::text`].
    Error,
}

/// One original cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// The text as the user sees it in the file: CSV text byte for byte (after decoding), or a
    /// workbook value rendered through its number format (`02/04/1961`, `7:00 AM`, `3125550143`).
    pub text: String,
    /// The typed value.
    pub value: CellValue,
}

impl Cell {
    /// An empty cell.
    pub const EMPTY: Cell = Cell { text: String::new(), value: CellValue::Empty };

    /// A text cell (empty text gives an empty cell).
    pub fn text(text: impl Into<String>) -> Cell {
        let text = text.into();
        let value = if text.is_empty() { CellValue::Empty } else { CellValue::Text };
        Cell { text, value }
    }

    /// Whether the cell holds nothing but whitespace.
    pub fn is_blank(&self) -> bool {
        match self.value {
            CellValue::Empty => true,
            CellValue::Text => self.text.trim().is_empty(),
            _ => false,
        }
    }
}

/// One row of the sheet that has at least one non-blank cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// 1-based row number as a spreadsheet program shows it (for CSV: the record number,
    /// counting blank lines, so a quoted newline does not shift it).
    pub number: u32,
    /// Cells from column A on; trailing empty cells may be absent.
    pub cells: Vec<Cell>,
}

impl Row {
    /// The cell at `column`, or an empty one past the end of the row.
    pub fn cell(&self, column: usize) -> &Cell {
        static EMPTY: Cell = Cell::EMPTY;
        self.cells.get(column).unwrap_or(&EMPTY)
    }

    /// How many cells are not blank.
    pub fn non_blank(&self) -> usize {
        self.cells.iter().filter(|c| !c.is_blank()).count()
    }
}

/// Where the header, the data and the footer are among [`Table::rows`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Layout {
    /// Index in `rows` of the header row; the rows before it are titles.
    pub header: usize,
    /// Indexes in `rows` of the data rows: everything after the header up to the footer.
    pub data: Range<usize>,
}

/// A sheet (or a CSV file) read into memory, with its header found.
///
/// Built only by [`crate::read::read_table`] or [`Table::from_rows`], which run header and footer
/// detection, so the layout always fits the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// What the bytes were.
    pub format: SourceFormat,
    /// The sheet read, for workbooks.
    pub sheet: Option<String>,
    /// Every sheet in the workbook, in workbook order; empty for CSV.
    pub sheet_names: Vec<String>,
    /// For CSV: the text encoding detected (`UTF-8`, `UTF-8 with BOM`, `UTF-16LE`, `windows-1252`).
    pub encoding: Option<&'static str>,
    /// For CSV: the delimiter detected.
    pub delimiter: Option<char>,
    rows: Vec<Row>,
    layout: Layout,
}

impl Table {
    /// Finds the header, data and footer of `rows` (every non-blank row of one sheet, in order).
    /// Fails when no row looks like a header, or when nothing follows the header.
    pub fn from_rows(format: SourceFormat, rows: Vec<Row>) -> Result<Table, IngestError> {
        let layout = match header::detect(&rows) {
            Detection::Found(layout) => layout,
            Detection::NoRows => return Err(IngestError::Empty),
            Detection::NoHeader => return Err(IngestError::NoHeader { sheets: Vec::new() }),
            Detection::HeaderOnly { header_row } => return Err(IngestError::HeaderOnly { header_row }),
        };
        Ok(Table {
            format,
            sheet: None,
            sheet_names: Vec::new(),
            encoding: None,
            delimiter: None,
            rows,
            layout,
        })
    }

    /// Every non-blank row: titles, header, data and footer.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Where the header, data and footer are.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The header row.
    pub fn header_row(&self) -> &Row {
        // `layout` was computed from `rows` and both are private, so the index is in range.
        &self.rows[self.layout.header]
    }

    /// The row right above the header (no blank row between), if there is one: a title, or the
    /// group labels of a two-row header (`Patient` over `First | Last`, `Appointment` over
    /// `Date | Time`).
    pub fn row_above_header(&self) -> Option<&Row> {
        let header = self.header_row();
        let above = self.rows.get(self.layout.header.checked_sub(1)?)?;
        (above.number.checked_add(1) == Some(header.number)).then_some(above)
    }

    /// The header texts, trimmed, one per column up to the widest header or data row.
    pub fn headers(&self) -> Vec<String> {
        let width = self.width();
        let header = self.header_row();
        (0..width).map(|c| header.cell(c).text.trim().to_owned()).collect()
    }

    /// The number of columns: the widest of the header and data rows.
    pub fn width(&self) -> usize {
        self.data_rows().iter().map(|r| r.cells.len()).fold(self.header_row().cells.len(), usize::max)
    }

    /// The data rows.
    pub fn data_rows(&self) -> &[Row] {
        &self.rows[self.layout.data.clone()]
    }

    /// Rows above the header (titles, notes).
    pub fn title_rows(&self) -> &[Row] {
        &self.rows[..self.layout.header]
    }

    /// Rows below the data (totals, counts, notes).
    pub fn footer_rows(&self) -> &[Row] {
        &self.rows[self.layout.data.end..]
    }

    /// The rows, taken apart (for building a preview without copying cells).
    pub fn into_parts(self) -> (Vec<Row>, Layout) {
        (self.rows, self.layout)
    }
}
