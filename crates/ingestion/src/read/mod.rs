//! Bytes -> [`Table`]: format detection, decoding, the sheet choice and the size limits.
//!
//! The format comes from the bytes first (zip container -> xlsx/xlsm/xlsb/ods by the workbook
//! part it holds; OLE2 -> xls; known binary signatures -> refused with their name), and only then
//! from the extension (`.xlsm` vs `.xlsx`, `.tsv` preferring tabs). Anything else is text.

mod ole;
mod text;
mod workbook;
mod xlsb_cells;

use crate::error::IngestError;
use crate::header::SCAN_ROWS;
use crate::table::{SourceFormat, Table};

use workbook::Workbook;

/// Default for [`ReadOptions::max_rows`].
pub const DEFAULT_MAX_ROWS: usize = 100_000;
/// Default for [`ReadOptions::max_cell_bytes`]: 64 KB.
pub const DEFAULT_MAX_CELL_BYTES: usize = 64 * 1024;
/// Default for [`ReadOptions::max_uncompressed_bytes`]: 200 MB.
pub const DEFAULT_MAX_UNCOMPRESSED_BYTES: u64 = 200 * 1024 * 1024;
/// The most cells (rows times columns, counting empty cells between filled ones) one sheet may
/// hold: about 400 MB of cells, a guard against a sparse sheet that names column XFD on every
/// row.
pub const MAX_CELLS: usize = 10_000_000;
/// Rows allowed below the data, for footers, beyond `max_rows` data rows and the rows above the
/// header.
const FOOTER_ALLOWANCE: usize = 50;

/// How to read a file, and how much of it to accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The sheet to read; `None` takes the first sheet with a detectable header.
    pub sheet: Option<String>,
    /// The most data rows accepted.
    pub max_rows: usize,
    /// The most bytes one cell may hold (UTF-8).
    pub max_cell_bytes: usize,
    /// The most bytes a zip-based workbook may inflate to, summed over its parts.
    pub max_uncompressed_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            sheet: None,
            max_rows: DEFAULT_MAX_ROWS,
            max_cell_bytes: DEFAULT_MAX_CELL_BYTES,
            max_uncompressed_bytes: DEFAULT_MAX_UNCOMPRESSED_BYTES,
        }
    }
}

/// Limits derived from [`ReadOptions`].
pub(crate) struct Limits {
    pub(crate) max_rows: usize,
    /// Non-blank rows a sheet may have in all: data, plus titles and footers.
    pub(crate) max_table_rows: usize,
    pub(crate) max_cell_bytes: usize,
    pub(crate) max_cells: usize,
}

impl Limits {
    fn new(options: &ReadOptions) -> Self {
        Limits {
            max_rows: options.max_rows,
            max_table_rows: options.max_rows.saturating_add(SCAN_ROWS + FOOTER_ALLOWANCE),
            max_cell_bytes: options.max_cell_bytes,
            max_cells: MAX_CELLS,
        }
    }
}

/// Reports progress on a fixed scale of 0..=1000 to an optional callback, with each phase of
/// the work mapped onto its own stretch of that scale; never goes backwards.
pub(crate) struct Progress<'a> {
    callback: Option<&'a dyn Fn(u64, u64)>,
    from: u64,
    to: u64,
    last: u64,
}

/// The scale `Progress` reports on.
pub const PROGRESS_SCALE: u64 = 1000;

impl<'a> Progress<'a> {
    pub(crate) fn new(callback: Option<&'a dyn Fn(u64, u64)>) -> Self {
        Progress { callback, from: 0, to: PROGRESS_SCALE, last: 0 }
    }

    /// Maps the next reports onto `from..=to` of the scale.
    pub(crate) fn phase(&mut self, from: u64, to: u64) {
        self.from = from.min(PROGRESS_SCALE);
        self.to = to.clamp(self.from, PROGRESS_SCALE);
    }

    pub(crate) fn report(&mut self, done: u64, total: u64) {
        let Some(callback) = self.callback else { return };
        let fraction = if total == 0 { 1.0 } else { (done.min(total) as f64) / (total as f64) };
        let at = self.from + ((self.to - self.from) as f64 * fraction) as u64;
        if at > self.last || (at == PROGRESS_SCALE && self.last != PROGRESS_SCALE) {
            self.last = at;
            callback(at, PROGRESS_SCALE);
        }
    }
}

/// Reads a file into a table: detects its format, reads the chosen sheet (or the first sheet
/// with a detectable header), finds the header and footer, and enforces the limits.
pub fn read_table(bytes: &[u8], file_name: &str, options: &ReadOptions) -> Result<Table, IngestError> {
    read_table_with_progress(bytes, file_name, options, None)
}

/// [`read_table`], reporting progress as `(done, 1000)`.
pub fn read_table_with_progress(
    bytes: &[u8],
    file_name: &str,
    options: &ReadOptions,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<Table, IngestError> {
    let mut progress = Progress::new(progress);
    read(bytes, file_name, options, &mut progress)
}

pub(crate) fn read(
    bytes: &[u8],
    file_name: &str,
    options: &ReadOptions,
    progress: &mut Progress<'_>,
) -> Result<Table, IngestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty);
    }
    let extension = extension(file_name);
    let limits = Limits::new(options);
    let table = match container(bytes) {
        Container::Zip => {
            let format = workbook::zip_kind(bytes, options.max_uncompressed_bytes, extension == "xlsm")?;
            let full_cells = match format {
                SourceFormat::Xlsb => guarded(format, || xlsb_cells::with_full_cell_records(bytes))?,
                _ => None,
            };
            let bytes = full_cells.as_deref().unwrap_or(bytes);
            guarded(format, || read_workbook(bytes, format, options, &limits, progress))?
        }
        Container::Ole => {
            guarded(SourceFormat::Xls, || ole::check(bytes))?;
            guarded(SourceFormat::Xls, || match Workbook::open(bytes, SourceFormat::Xls) {
                Ok(_) => read_workbook(bytes, SourceFormat::Xls, options, &limits, progress),
                // An encrypted xlsx is an OLE container too.
                Err(e) => match Workbook::open(bytes, SourceFormat::Xlsx) {
                    Err(encrypted @ IngestError::Encrypted { .. }) => Err(encrypted),
                    _ => Err(e),
                },
            })?
        }
        Container::Known(what) => return Err(IngestError::NotASpreadsheet { what: what.to_owned() }),
        Container::Text => read_text(bytes, &extension, &limits, progress).map_err(|e| match e {
            IngestError::NotASpreadsheet { what } if is_workbook_extension(&extension) => {
                IngestError::NotASpreadsheet {
                    what: format!("named .{extension} but not a workbook ({what})"),
                }
            }
            e => e,
        })?,
    };
    if table.data_rows().len() > options.max_rows {
        return Err(IngestError::TooManyRows { limit: options.max_rows });
    }
    Ok(table)
}

/// Runs calamine with its panics turned into an error. calamine 0.38 overflows `u32`
/// arithmetic on some malformed cell references (`get_row_and_optional_column`), which panics
/// in builds with overflow checks (found by `fuzz/`); a malformed workbook must be an error
/// for its uploader, never a crashed request.
fn guarded<T>(format: SourceFormat, f: impl FnOnce() -> Result<T, IngestError>) -> Result<T, IngestError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(IngestError::CorruptWorkbook {
            format: format.as_str(),
            detail: "malformed content the workbook parser could not handle".to_owned(),
        })
    })
}

fn extension(file_name: &str) -> String {
    file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

fn is_workbook_extension(e: &str) -> bool {
    matches!(e, "xlsx" | "xlsm" | "xlsb" | "xls" | "ods")
}

enum Container {
    Zip,
    Ole,
    Known(&'static str),
    Text,
}

fn container(bytes: &[u8]) -> Container {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xBC\xAF", "a 7-Zip archive"),
        (b"BZh", "a bzip2 archive"),
    ];
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Container::Zip;
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Container::Ole;
    }
    if let Some((_, what)) = SIGNATURES.iter().find(|(sig, _)| bytes.starts_with(sig)) {
        return Container::Known(what);
    }
    let head: String = String::from_utf8_lossy(&bytes[..bytes.len().min(512)])
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(200)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Container::Known("an HTML page; open it in Excel and save it as .xlsx or .csv");
    }
    if head.starts_with("<?xml") {
        if String::from_utf8_lossy(&bytes[..bytes.len().min(4096)])
            .contains("urn:schemas-microsoft-com:office:spreadsheet")
        {
            return Container::Known("an Excel 2003 XML spreadsheet; save it as .xlsx or .csv");
        }
        return Container::Known("an XML document");
    }
    Container::Text
}

fn read_text(
    bytes: &[u8],
    extension: &str,
    limits: &Limits,
    progress: &mut Progress<'_>,
) -> Result<Table, IngestError> {
    let (decoded, encoding) = text::decode(bytes)?;
    if decoded.trim().is_empty() {
        return Err(IngestError::Empty);
    }
    let delimiter = match text::declared_delimiter(&decoded) {
        Some(d) => d,
        None => text::sniff_delimiter(&decoded, matches!(extension, "tsv" | "tab")),
    };
    progress.phase(0, 600);
    let rows = text::parse(&decoded, delimiter, limits, &mut |done, total| progress.report(done, total))?;
    let mut table = Table::from_rows(SourceFormat::Csv, rows)?;
    table.encoding = Some(encoding);
    table.delimiter = Some(delimiter as char);
    Ok(table)
}

fn read_workbook(
    bytes: &[u8],
    format: SourceFormat,
    options: &ReadOptions,
    limits: &Limits,
    progress: &mut Progress<'_>,
) -> Result<Table, IngestError> {
    let mut workbook = Workbook::open(bytes, format)?;
    let names = workbook.sheet_names();
    let candidates = match &options.sheet {
        Some(wanted) => {
            match names.iter().find(|n| *n == wanted || n.trim().eq_ignore_ascii_case(wanted.trim())) {
                Some(name) => vec![name.clone()],
                None => return Err(IngestError::UnknownSheet { name: wanted.clone(), sheets: names }),
            }
        }
        None => workbook.candidate_sheets(),
    };
    let mut header_only: Option<IngestError> = None;
    let mut any_rows = false;
    progress.phase(0, 600);
    for name in &candidates {
        let rows = workbook.read_sheet(name, limits, progress)?;
        any_rows |= !rows.is_empty();
        match Table::from_rows(workbook.format(), rows) {
            Ok(mut table) => {
                table.sheet = Some(name.clone());
                table.sheet_names = names;
                return Ok(table);
            }
            Err(e @ IngestError::HeaderOnly { .. }) => {
                header_only.get_or_insert(e);
            }
            Err(IngestError::Empty | IngestError::NoHeader { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Err(match header_only {
        Some(e) => e,
        None if !any_rows => IngestError::Empty,
        None => IngestError::NoHeader { sheets: candidates },
    })
}
