//! Workbooks through calamine: xlsx/xlsm (streamed cell by cell with their number formats),
//! xlsb, xls and ods (through calamine's ranges).
//!
//! Before calamine inflates anything, the zip's central directory is read and the declared
//! uncompressed sizes are summed against the limit; zip 9 refuses to inflate an entry past its
//! declared size, so the declared sizes bound the real work.

use std::io::Cursor;

use calamine::{Data, DataRef, ExcelDateTime, Range, Reader, SheetType, SheetVisible};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::error::IngestError;
use crate::numfmt::{self, Format};
use crate::read::{Limits, Progress};
use crate::table::{Cell, CellValue, Row, SourceFormat};

/// The workbook format a zip holds.
pub(crate) fn zip_kind(bytes: &[u8], limit: u64, xlsm: bool) -> Result<SourceFormat, IngestError> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| IngestError::CorruptWorkbook { format: "xlsx", detail: truncate(&e.to_string()) })?;
    let mut total: u64 = 0;
    let mut kind: Option<SourceFormat> = None;
    let mut other: Option<&'static str> = None;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_data(i)
            .map_err(|e| IngestError::CorruptWorkbook { format: "xlsx", detail: truncate(&e.to_string()) })?;
        total = total.saturating_add(entry.size());
        match entry.name_raw() {
            b"xl/workbook.xml" => kind = Some(if xlsm { SourceFormat::Xlsm } else { SourceFormat::Xlsx }),
            b"xl/workbook.bin" => kind = Some(SourceFormat::Xlsb),
            b"content.xml" => kind = kind.or(Some(SourceFormat::Ods)),
            b"word/document.xml" => other = Some("a Word document"),
            b"ppt/presentation.xml" => other = Some("a PowerPoint presentation"),
            _ => {}
        }
    }
    let format = match (kind, other) {
        (Some(k), _) => k,
        (None, Some(what)) => return Err(IngestError::NotASpreadsheet { what: what.to_owned() }),
        (None, None) => {
            return Err(IngestError::NotASpreadsheet { what: "a zip archive without a workbook".into() })
        }
    };
    if total > limit {
        return Err(IngestError::TooLargeUncompressed {
            format: format.as_str(),
            uncompressed: total,
            limit,
        });
    }
    Ok(format)
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

fn corrupt(format: SourceFormat) -> impl Fn(String) -> IngestError {
    move |detail| IngestError::CorruptWorkbook { format: format.as_str(), detail: truncate(&detail) }
}

/// A workbook's sheets and a way to read each.
pub(crate) enum Workbook<'a> {
    Xlsx(calamine::Xlsx<Cursor<&'a [u8]>>, SourceFormat),
    Xlsb(calamine::Xlsb<Cursor<&'a [u8]>>),
    Xls(calamine::Xls<Cursor<&'a [u8]>>),
    Ods(calamine::Ods<Cursor<&'a [u8]>>),
}

impl<'a> Workbook<'a> {
    pub(crate) fn open(bytes: &'a [u8], format: SourceFormat) -> Result<Workbook<'a>, IngestError> {
        let cursor = Cursor::new(bytes);
        let err = corrupt(format);
        let fmt = format.as_str();
        Ok(match format {
            SourceFormat::Xlsx | SourceFormat::Xlsm => Workbook::Xlsx(
                calamine::Xlsx::new(cursor).map_err(|e| match e {
                    calamine::XlsxError::Password => IngestError::Encrypted { format: fmt },
                    e => err(e.to_string()),
                })?,
                format,
            ),
            SourceFormat::Xlsb => Workbook::Xlsb(calamine::Xlsb::new(cursor).map_err(|e| match e {
                calamine::XlsbError::Password => IngestError::Encrypted { format: fmt },
                e => err(e.to_string()),
            })?),
            SourceFormat::Xls => Workbook::Xls(calamine::Xls::new(cursor).map_err(|e| match e {
                calamine::XlsError::Password => IngestError::Encrypted { format: fmt },
                e => err(e.to_string()),
            })?),
            SourceFormat::Ods => Workbook::Ods(calamine::Ods::new(cursor).map_err(|e| match e {
                calamine::OdsError::Password => IngestError::Encrypted { format: fmt },
                e => err(e.to_string()),
            })?),
            SourceFormat::Csv => return Err(err("not a workbook".into())),
        })
    }

    pub(crate) fn format(&self) -> SourceFormat {
        match self {
            Workbook::Xlsx(_, f) => *f,
            Workbook::Xlsb(_) => SourceFormat::Xlsb,
            Workbook::Xls(_) => SourceFormat::Xls,
            Workbook::Ods(_) => SourceFormat::Ods,
        }
    }

    fn sheets(&self) -> &[calamine::Sheet] {
        match self {
            Workbook::Xlsx(w, _) => w.sheets_metadata(),
            Workbook::Xlsb(w) => w.sheets_metadata(),
            Workbook::Xls(w) => w.sheets_metadata(),
            Workbook::Ods(w) => w.sheets_metadata(),
        }
    }

    /// Every sheet name, in workbook order.
    pub(crate) fn sheet_names(&self) -> Vec<String> {
        self.sheets().iter().map(|s| s.name.clone()).collect()
    }

    /// Worksheets to try, in order: visible ones first, then hidden ones; chart and macro
    /// sheets never.
    pub(crate) fn candidate_sheets(&self) -> Vec<String> {
        let worksheets = || {
            self.sheets().iter().filter(|s| matches!(s.typ, SheetType::WorkSheet | SheetType::DialogSheet))
        };
        worksheets()
            .filter(|s| s.visible == SheetVisible::Visible)
            .chain(worksheets().filter(|s| s.visible != SheetVisible::Visible))
            .map(|s| s.name.clone())
            .collect()
    }

    /// The non-blank rows of one sheet.
    pub(crate) fn read_sheet(
        &mut self,
        name: &str,
        limits: &Limits,
        progress: &mut Progress<'_>,
    ) -> Result<Vec<Row>, IngestError> {
        let format = self.format();
        let err = corrupt(format);
        match self {
            Workbook::Xlsx(w, _) => read_xlsx_sheet(w, name, limits, progress, &err),
            Workbook::Xlsb(w) => {
                range_rows(&w.worksheet_range(name).map_err(|e| err(e.to_string()))?, limits)
            }
            Workbook::Xls(w) => range_rows(&w.worksheet_range(name).map_err(|e| err(e.to_string()))?, limits),
            Workbook::Ods(w) => range_rows(&w.worksheet_range(name).map_err(|e| err(e.to_string()))?, limits),
        }
    }
}

/// Builds rows from cells arriving in row-major order (or not: then they are sorted at the end).
struct RowBuilder<'l> {
    rows: Vec<Row>,
    current: Option<Row>,
    cells: usize,
    sorted: bool,
    /// The previous row's width: rows are usually alike, and a right-sized vector saves the
    /// reallocations of growing one cell at a time.
    width: usize,
    limits: &'l Limits,
}

impl<'l> RowBuilder<'l> {
    fn new(limits: &'l Limits) -> Self {
        RowBuilder { rows: Vec::new(), current: None, cells: 0, sorted: true, width: 0, limits }
    }

    /// Excel has 16,384 columns; anything past that is not a real cell.
    const MAX_COLUMNS: usize = 16_384;

    fn push(&mut self, row: u32, col: u32, cell: Cell) -> Result<(), IngestError> {
        let number = row.saturating_add(1);
        let col = col as usize;
        if col >= Self::MAX_COLUMNS || cell.is_blank() && cell.text.is_empty() {
            return Ok(());
        }
        if self.current.as_ref().is_none_or(|r| r.number != number) {
            self.finish_row()?;
            if self.rows.last().is_some_and(|r| r.number >= number) {
                self.sorted = false;
            }
            self.current = Some(Row { number, cells: Vec::with_capacity(self.width.min(256)) });
        }
        let Some(current) = self.current.as_mut() else { return Ok(()) };
        if col >= current.cells.len() {
            self.cells += col + 1 - current.cells.len();
            if self.cells > self.limits.max_cells {
                return Err(IngestError::TooManyCells { limit: self.limits.max_cells });
            }
            current.cells.resize(col, Cell::EMPTY);
            current.cells.push(cell);
        } else {
            current.cells[col] = cell;
        }
        Ok(())
    }

    fn finish_row(&mut self) -> Result<(), IngestError> {
        if let Some(row) = self.current.take() {
            self.width = row.cells.len();
            if row.cells.iter().any(|c| !c.is_blank()) {
                if self.rows.len() >= self.limits.max_table_rows {
                    return Err(IngestError::TooManyRows { limit: self.limits.max_rows });
                }
                self.rows.push(row);
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<Row>, IngestError> {
        self.finish_row()?;
        if !self.sorted {
            // Rare: merge rows that arrived in pieces, in row order.
            self.rows.sort_by_key(|r| r.number);
            let mut merged: Vec<Row> = Vec::with_capacity(self.rows.len());
            for row in self.rows {
                match merged.last_mut() {
                    Some(last) if last.number == row.number => {
                        for (i, cell) in row.cells.into_iter().enumerate() {
                            if cell.is_blank() {
                                continue;
                            }
                            if i >= last.cells.len() {
                                last.cells.resize(i + 1, Cell::EMPTY);
                            }
                            last.cells[i] = cell;
                        }
                    }
                    _ => merged.push(row),
                }
            }
            return Ok(merged);
        }
        Ok(self.rows)
    }
}

fn read_xlsx_sheet(
    workbook: &mut calamine::Xlsx<Cursor<&[u8]>>,
    name: &str,
    limits: &Limits,
    progress: &mut Progress<'_>,
    err: &dyn Fn(String) -> IngestError,
) -> Result<Vec<Row>, IngestError> {
    let mut reader = workbook.worksheet_cells_reader(name).map_err(|e| err(e.to_string()))?;
    // Compile each style's number format once; styles past 64k (bloated files) show as General.
    let formats: Vec<Format> = reader
        .styles()
        .iter()
        .take(65_536)
        .map(|style| match &style.number_format {
            Some(nf) => numfmt::compile(&nf.format_code, nf.format_id),
            None => Format::General,
        })
        .collect();
    let expected_rows = u64::from(reader.dimensions().end.0.saturating_add(1)).max(1);
    let general = Format::General;
    let mut rows = RowBuilder::new(limits);
    let mut seen: u64 = 0;
    while let Some((cell, style)) = reader.next_cell_with_style_id().map_err(|e| err(e.to_string()))? {
        let (r, c) = cell.get_position();
        let format = formats.get(style).unwrap_or(&general);
        let converted = convert_ref(cell.get_value(), format, limits.max_cell_bytes).map_err(|_| {
            IngestError::CellTooLarge {
                row: r.saturating_add(1),
                column: c as usize,
                limit: limits.max_cell_bytes,
            }
        })?;
        rows.push(r, c, converted)?;
        seen += 1;
        if seen.is_multiple_of(16_384) {
            progress.report(u64::from(r), expected_rows);
        }
    }
    progress.report(expected_rows, expected_rows);
    rows.finish()
}

fn range_rows(range: &Range<Data>, limits: &Limits) -> Result<Vec<Row>, IngestError> {
    let Some((row0, col0)) = range.start() else { return Ok(Vec::new()) };
    let mut rows = RowBuilder::new(limits);
    let general = Format::General;
    for (i, cells) in range.rows().enumerate() {
        let r = row0.saturating_add(i as u32);
        for (j, value) in cells.iter().enumerate() {
            let c = col0.saturating_add(j as u32);
            let cell =
                convert(value, &general, limits.max_cell_bytes).map_err(|_| IngestError::CellTooLarge {
                    row: r.saturating_add(1),
                    column: c as usize,
                    limit: limits.max_cell_bytes,
                })?;
            rows.push(r, c, cell)?;
        }
    }
    rows.finish()
}

/// A cell over the size limit.
struct TooLarge;

fn text_cell(s: &str, max: usize) -> Result<Cell, TooLarge> {
    if s.len() > max {
        return Err(TooLarge);
    }
    Ok(Cell::text(s))
}

fn convert_ref(value: &DataRef<'_>, format: &Format, max: usize) -> Result<Cell, TooLarge> {
    Ok(match value {
        DataRef::Empty => Cell::EMPTY,
        DataRef::String(s) => text_cell(s, max)?,
        DataRef::SharedString(s) => text_cell(s, max)?,
        DataRef::Int(i) => number_cell(*i as f64, format),
        DataRef::Float(f) => number_cell(*f, format),
        DataRef::Bool(b) => bool_cell(*b),
        DataRef::DateTime(dt) => datetime_cell(dt, format),
        DataRef::DateTimeIso(s) => iso_cell(s, max)?,
        DataRef::DurationIso(s) => text_cell(s, max)?,
        DataRef::Error(e) => Cell { text: e.to_string(), value: CellValue::Error },
    })
}

fn convert(value: &Data, format: &Format, max: usize) -> Result<Cell, TooLarge> {
    Ok(match value {
        Data::Empty => Cell::EMPTY,
        Data::String(s) => text_cell(s, max)?,
        Data::Int(i) => number_cell(*i as f64, format),
        Data::Float(f) => number_cell(*f, format),
        Data::Bool(b) => bool_cell(*b),
        Data::DateTime(dt) => datetime_cell(dt, format),
        Data::DateTimeIso(s) => iso_cell(s, max)?,
        Data::DurationIso(s) => text_cell(s, max)?,
        Data::Error(e) => Cell { text: e.to_string(), value: CellValue::Error },
    })
}

fn number_cell(n: f64, format: &Format) -> Cell {
    let text = match format {
        // A date format on a plain number (calamine already turns date-formatted numbers into
        // dates; this is the odd one out): show the number.
        Format::DateTime(_) => numfmt::general(n),
        f => numfmt::render_number(n, f),
    };
    Cell { text, value: CellValue::Number(n) }
}

fn bool_cell(b: bool) -> Cell {
    Cell { text: if b { "TRUE" } else { "FALSE" }.to_owned(), value: CellValue::Bool(b) }
}

fn datetime_cell(dt: &ExcelDateTime, format: &Format) -> Cell {
    let serial = dt.as_f64();
    let (y, m, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    let time = NaiveTime::from_hms_milli_opt(u32::from(h), u32::from(mi), u32::from(s), u32::from(ms));
    let time_only = (0.0..1.0).contains(&serial);
    let date = if time_only {
        NaiveDate::from_ymd_opt(1900, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
    };
    let (Some(date), Some(time)) = (date, time) else {
        // Excel's 1900-02-29 or an out-of-range serial: keep the number.
        return Cell { text: numfmt::general(serial), value: CellValue::Number(serial) };
    };
    if dt.is_duration() {
        let ndt = date.and_time(time);
        let text = match format {
            Format::DateTime(tokens) => numfmt::render_datetime(tokens, ndt, serial),
            _ => numfmt::general(serial),
        };
        return Cell { text, value: CellValue::Number(serial) };
    }
    let has_time = time != NaiveTime::MIN;
    let ndt = NaiveDateTime::new(date, time);
    let value = if time_only {
        CellValue::Time(time)
    } else if has_time {
        CellValue::DateTime(ndt)
    } else {
        CellValue::Date(date)
    };
    let text = match format {
        Format::DateTime(tokens) => numfmt::render_datetime(tokens, ndt, serial),
        _ => numfmt::default_datetime_text(ndt, !time_only, time_only || has_time),
    };
    Cell { text, value }
}

/// ODS dates arrive as ISO text (`1961-02-04`, `1961-02-04T07:00:00`, `PT07H00M00S`).
fn iso_cell(s: &str, max: usize) -> Result<Cell, TooLarge> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Cell {
            text: numfmt::default_datetime_text(d.and_time(NaiveTime::MIN), true, false),
            value: CellValue::Date(d),
        });
    }
    for pattern in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, pattern) {
            let text = numfmt::default_datetime_text(dt, true, dt.time() != NaiveTime::MIN);
            let value = if dt.time() == NaiveTime::MIN {
                CellValue::Date(dt.date())
            } else {
                CellValue::DateTime(dt)
            };
            return Ok(Cell { text, value });
        }
    }
    text_cell(s, max)
}
