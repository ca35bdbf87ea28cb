//! Export files written from pages of rows, without ever holding the whole file in memory.
//!
//! - CSV: a byte stream; each page read from the database becomes one chunk (a UTF-8 byte order
//!   mark so spreadsheets read accents right, then the header, then one chunk per page), written
//!   with the `csv` crate and every cell passed through [`neutralise_csv_cell`].
//! - xlsx: `rust_xlsxwriter` in constant-memory mode (rows go to its own temporary file as they
//!   are written) on the blocking pool, fed pages through a small channel, saved into an
//!   anonymous temporary file (gone once closed, whatever happens to the request) that the
//!   transport then streams. Every cell is a string cell, so nothing is read as a number, a date
//!   or a formula.

use std::future::Future;
use std::io::{Seek, SeekFrom};

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use rivvi_domain::export::neutralise_csv_cell;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::{ServiceError, ServiceResult};

/// Rows per page read from the database: one chunk of a CSV response.
pub const PAGE_ROWS: u64 = 500;

/// The most rows an xlsx sheet holds, the header row included.
const XLSX_MAX_ROWS: u64 = 1_048_576;
/// The most columns an xlsx sheet holds.
const XLSX_MAX_COLUMNS: usize = 16_384;
/// The longest text an xlsx cell holds, in characters.
const XLSX_MAX_CELL_CHARS: usize = 32_767;

/// Pages sent ahead to the xlsx writer: enough to keep the database and the writer both busy,
/// few enough that memory stays a couple of pages.
const XLSX_PAGES_AHEAD: usize = 2;

/// CSV chunks read ahead of the client: the database and the socket both stay busy, and memory
/// stays a couple of pages.
const CSV_PAGES_AHEAD: usize = 2;

/// Bytes reserved per CSV line (a run's line is about 220 bytes; a longer one grows the chunk).
const LINE_BYTES_GUESS: usize = 256;

/// UTF-8 byte order mark: without it Excel opens a CSV file as the local code page.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The rows of an export, one page at a time, each row one text per column of the header.
pub trait Pages: Send + 'static {
    /// The next page; `None` once every row has been given.
    fn next_page(&mut self) -> impl Future<Output = ServiceResult<Option<Vec<Vec<String>>>>> + Send;

    /// The next page as a chunk of CSV ([`csv_lines`]). By default the page is encoded here; a
    /// source that reads pages on tasks of their own encodes each on its task, in parallel.
    fn next_csv_chunk(
        &mut self,
    ) -> impl Future<Output = ServiceResult<Option<std::io::Result<Bytes>>>> + Send {
        async { Ok(self.next_page().await?.map(|page| csv_lines(&page))) }
    }
}

/// A CSV file as a stream of chunks, read `CSV_PAGES_AHEAD` pages ahead of the client on a task
/// of its own (the next page's query runs while this one is encoded and sent). A failure part-way
/// is logged and ends the stream with an error, so the client sees a broken download rather than
/// a file that looks complete; a client that goes away stops the reading at the next page.
pub fn csv_stream<P: Pages>(header: Vec<String>, mut pages: P) -> BoxStream<'static, std::io::Result<Bytes>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(CSV_PAGES_AHEAD);
    tokio::spawn(async move {
        let mut chunk = csv_chunk(BOM, std::slice::from_ref(&header));
        loop {
            let last = chunk.is_err();
            if sender.send(chunk).await.is_err() || last {
                return;
            }
            chunk = match pages.next_csv_chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return,
                Err(err) => Err(interrupted(err)),
            };
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver).boxed()
}

/// `rows` as CSV records: one chunk of the stream.
pub fn csv_lines(rows: &[Vec<String>]) -> std::io::Result<Bytes> {
    csv_chunk(&[], rows)
}

/// `rows` as CSV records after `prefix`.
fn csv_chunk(prefix: &[u8], rows: &[Vec<String>]) -> std::io::Result<Bytes> {
    // Room for the usual line up front: growing the chunk by doubling copied it again and again.
    let mut chunk = Vec::with_capacity(prefix.len() + rows.len() * LINE_BYTES_GUESS);
    chunk.extend_from_slice(prefix);
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(chunk);
    for row in rows {
        for cell in row {
            writer.write_field(neutralise_csv_cell(cell).as_bytes())?;
        }
        // Ends the record of the fields written one by one.
        writer.write_record(None::<&[u8]>)?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(Bytes::from(bytes))
}

fn interrupted(err: ServiceError) -> std::io::Error {
    tracing::error!(error = ?err, "export interrupted");
    std::io::Error::other("export interrupted")
}

/// A finished xlsx file, positioned at its start, and its data rows.
#[derive(Debug)]
pub struct XlsxFile {
    pub file: std::fs::File,
    pub len: u64,
    pub rows: u64,
}

/// Writes the whole xlsx file of `pages` (about `expected_rows` rows) to an anonymous temporary
/// file. Refuses, before reading any row, a sheet larger than xlsx allows.
pub async fn xlsx_file<P: Pages>(
    header: Vec<String>,
    mut pages: P,
    expected_rows: u64,
) -> ServiceResult<XlsxFile> {
    if expected_rows >= XLSX_MAX_ROWS || header.len() > XLSX_MAX_COLUMNS {
        return Err(ServiceError::invalid(
            "format",
            format!(
                "an xlsx sheet holds at most {} rows and {XLSX_MAX_COLUMNS} columns; export as csv",
                XLSX_MAX_ROWS - 1
            ),
        ));
    }
    let (sender, receiver) = tokio::sync::mpsc::channel(XLSX_PAGES_AHEAD);
    let writing = tokio::task::spawn_blocking(move || write_xlsx(&header, receiver));
    let feeding = async move {
        while let Some(page) = pages.next_page().await? {
            // The writer stopped early (a cell too long): its error is the one to report.
            if sender.send(page).await.is_err() {
                break;
            }
        }
        ServiceResult::Ok(())
    };
    // On a read error the sender is dropped here, which ends the writer; its file is discarded.
    let fed = feeding.await;
    let written =
        writing.await.map_err(|e| ServiceError::Internal(anyhow::anyhow!("the xlsx writer failed: {e}")))?;
    fed?;
    written
}

/// The blocking half of [`xlsx_file`]: rows from `pages` into a constant-memory worksheet.
fn write_xlsx(
    header: &[String],
    mut pages: tokio::sync::mpsc::Receiver<Vec<Vec<String>>>,
) -> ServiceResult<XlsxFile> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory().map_err(xlsx_error)?;
    let bold = Format::new().set_bold();
    for (column, name) in header.iter().enumerate() {
        sheet.write_string_with_format(0, column_number(column)?, name, &bold).map_err(xlsx_error)?;
    }
    let mut rows: u32 = 0;
    while let Some(page) = pages.blocking_recv() {
        for cells in page {
            rows += 1;
            for (column, cell) in cells.iter().enumerate() {
                if cell.is_empty() {
                    continue;
                }
                if cell.chars().count() > XLSX_MAX_CELL_CHARS {
                    return Err(ServiceError::invalid(
                        "format",
                        format!("a cell is longer than the {XLSX_MAX_CELL_CHARS} characters an xlsx cell holds; export as csv"),
                    ));
                }
                // A string cell, never `write()`: the text stays as uploaded ("00123", "=SUM(A1)").
                sheet.write_string(rows, column_number(column)?, cell).map_err(xlsx_error)?;
            }
        }
    }
    let mut file = tempfile::tempfile().map_err(|e| ServiceError::Internal(e.into()))?;
    workbook.save_to_writer(&mut file).map_err(xlsx_error)?;
    let len = file.seek(SeekFrom::End(0)).map_err(|e| ServiceError::Internal(e.into()))?;
    file.rewind().map_err(|e| ServiceError::Internal(e.into()))?;
    Ok(XlsxFile { file, len, rows: u64::from(rows) })
}

fn column_number(column: usize) -> ServiceResult<u16> {
    u16::try_from(column).map_err(|_| xlsx_error(XlsxError::RowColumnLimitError))
}

fn xlsx_error(err: XlsxError) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!("writing the xlsx file failed: {err}"))
}
