//! Compact xlsb cell records rewritten to the full form calamine reads.
//!
//! An xlsb sheet is a stream of BIFF12 records. Excel writes every cell as a full record (column,
//! style, value), but [MS-XLSB] also has short forms that leave the column out (it is the previous
//! cell's plus one): SheetJS writes them for every cell after the first of a row, and so do other
//! exporters. calamine 0.38 skips the short forms and the rich-string cell record without a word,
//! so a twelve-column export would read back one column wide. Before calamine sees the workbook,
//! each sheet holding such records is rewritten with their full equivalents; a workbook without
//! them is passed through untouched.

use std::io::{Cursor, Read, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::error::IngestError;

const ROW_HEADER: u16 = 0x0000;
const FIRST_FULL_CELL: u16 = 0x0001; // BrtCellBlank
const LAST_FULL_CELL: u16 = 0x000B; // BrtFmlaError
const FIRST_SHORT_CELL: u16 = 0x000C; // BrtShortBlank
const LAST_SHORT_CELL: u16 = 0x0012; // BrtShortIsst
/// Each short record's full form is numbered 11 below it (BrtShortSt 0x11 -> BrtCellSt 0x06).
const SHORT_TO_FULL: u16 = 11;
const RICH_STRING_CELL: u16 = 0x003E; // BrtCellRString
const STRING_CELL: u16 = 0x0006; // BrtCellSt

/// The workbook with every sheet's compact cell records in full form, or `None` when no sheet
/// has any (the common case: a workbook saved by Excel).
pub(crate) fn with_full_cell_records(bytes: &[u8]) -> Result<Option<Vec<u8>>, IngestError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(corrupt)?;
    let mut rewritten: Vec<(usize, Vec<u8>)> = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(corrupt)?;
        let name = entry.name().map_err(corrupt)?.into_owned();
        if !is_sheet(&name) {
            continue;
        }
        // The declared sizes were checked against the limit before this (zip_kind).
        let mut sheet = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry.read_to_end(&mut sheet).map_err(|e| corrupt(e.into()))?;
        if let Some(full) = rewrite_sheet(&sheet).map_err(|detail| IngestError::CorruptWorkbook {
            format: "xlsb",
            detail: format!("{name}: {detail}"),
        })? {
            rewritten.push((i, full));
        }
    }
    if rewritten.is_empty() {
        return Ok(None);
    }
    let mut out = ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len() * 2)));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for i in 0..archive.len() {
        match rewritten.iter().find(|(index, _)| *index == i) {
            Some((_, full)) => {
                let name = archive.by_index_raw(i).map_err(corrupt)?.name().map_err(corrupt)?.into_owned();
                out.start_file(name, stored).map_err(corrupt)?;
                out.write_all(full).map_err(|e| corrupt(e.into()))?;
            }
            None => out.raw_copy_file(archive.by_index_raw(i).map_err(corrupt)?).map_err(corrupt)?,
        }
    }
    Ok(Some(out.finish().map_err(corrupt)?.into_inner()))
}

fn is_sheet(name: &str) -> bool {
    name.starts_with("xl/worksheets/") && name.ends_with(".bin")
}

fn corrupt(e: zip::result::ZipError) -> IngestError {
    IngestError::CorruptWorkbook { format: "xlsb", detail: e.to_string().chars().take(200).collect() }
}

/// One sheet's records with the compact cells in full form, or `None` when it has none.
fn rewrite_sheet(sheet: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out: Option<Vec<u8>> = None;
    let mut last_column: Option<u32> = None;
    let mut pos = 0;
    while pos < sheet.len() {
        let start = pos;
        let (kind, body) = next_record(sheet, &mut pos)?;
        let full = match kind {
            ROW_HEADER => {
                last_column = None;
                None
            }
            FIRST_FULL_CELL..=LAST_FULL_CELL => {
                last_column = body.get(..4).map(read_u32);
                None
            }
            FIRST_SHORT_CELL..=LAST_SHORT_CELL => {
                let column = last_column.map_or(0, |c| c.saturating_add(1));
                last_column = Some(column);
                let mut full_body = Vec::with_capacity(body.len() + 4);
                full_body.extend_from_slice(&column.to_le_bytes());
                full_body.extend_from_slice(body);
                Some((kind - SHORT_TO_FULL, full_body))
            }
            RICH_STRING_CELL => {
                last_column = body.get(..4).map(read_u32);
                Some((STRING_CELL, plain_string_cell(body)?))
            }
            _ => None,
        };
        match (full, &mut out) {
            (Some((kind, body)), out) => {
                let out = out.get_or_insert_with(|| {
                    let mut v = Vec::with_capacity(sheet.len() + sheet.len() / 2);
                    v.extend_from_slice(&sheet[..start]);
                    v
                });
                write_record(out, kind, &body)?;
            }
            (None, Some(out)) => out.extend_from_slice(&sheet[start..pos]),
            (None, None) => {}
        }
    }
    Ok(out)
}

/// A BrtCellRString body (cell, flags, XLWideString, formatting runs) as a BrtCellSt body (cell,
/// XLWideString): the text is kept, its formatting is not data.
fn plain_string_cell(body: &[u8]) -> Result<Vec<u8>, String> {
    let cell = body.get(..8).ok_or("a rich-string cell record is truncated")?;
    let chars = body.get(9..13).map(read_u32).ok_or("a rich-string cell record is truncated")?;
    let end = usize::try_from(chars).ok().and_then(|c| c.checked_mul(2)).and_then(|n| n.checked_add(13));
    let text = end.and_then(|end| body.get(9..end)).ok_or("a rich-string cell's text is truncated")?;
    Ok([cell, text].concat())
}

fn read_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The record at `pos` (its type and body), advancing `pos` past it. [MS-XLSB] 2.1.4: the type is
/// one or two bytes and the size one to four, seven bits each, low first, high bit = more.
fn next_record<'a>(sheet: &'a [u8], pos: &mut usize) -> Result<(u16, &'a [u8]), String> {
    let truncated = || format!("a record at byte {pos} is truncated", pos = *pos);
    let byte = |pos: &mut usize| -> Option<u8> {
        let b = *sheet.get(*pos)?;
        *pos += 1;
        Some(b)
    };
    let mut at = *pos;
    let first = byte(&mut at).ok_or_else(truncated)?;
    let kind = if first & 0x80 == 0 {
        u16::from(first)
    } else {
        let second = byte(&mut at).ok_or_else(truncated)?;
        u16::from(first & 0x7F) | (u16::from(second & 0x7F) << 7)
    };
    let mut size: usize = 0;
    for i in 0..4 {
        let b = byte(&mut at).ok_or_else(truncated)?;
        size |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            break;
        }
    }
    let body = at.checked_add(size).and_then(|end| sheet.get(at..end)).ok_or_else(truncated)?;
    *pos = at + size;
    Ok((kind, body))
}

fn write_record(out: &mut Vec<u8>, kind: u16, body: &[u8]) -> Result<(), String> {
    if kind < 0x80 {
        out.push(kind as u8);
    } else {
        out.push((kind & 0x7F) as u8 | 0x80);
        out.push((kind >> 7) as u8 & 0x7F);
    }
    let mut size = body.len();
    if size >= 1 << 28 {
        return Err(format!("a {size}-byte cell record is too large"));
    }
    loop {
        let low = (size & 0x7F) as u8;
        size >>= 7;
        if size == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_record(&mut out, kind, body).unwrap();
        out
    }

    fn row(r: u32) -> Vec<u8> {
        record(ROW_HEADER, &[r.to_le_bytes().as_slice(), &[0; 13]].concat())
    }

    fn wide(s: &str) -> Vec<u8> {
        let units: Vec<u16> = s.encode_utf16().collect();
        let mut out = (units.len() as u32).to_le_bytes().to_vec();
        out.extend(units.iter().flat_map(|u| u.to_le_bytes()));
        out
    }

    fn full_string(col: u32, s: &str) -> Vec<u8> {
        record(STRING_CELL, &[col.to_le_bytes().as_slice(), &[0; 4], &wide(s)].concat())
    }

    fn short_string(s: &str) -> Vec<u8> {
        record(0x0011, &[[0u8; 4].as_slice(), &wide(s)].concat())
    }

    fn short_real(v: f64) -> Vec<u8> {
        record(0x0010, &[[0u8; 4].as_slice(), &v.to_le_bytes()].concat())
    }

    fn full_real(col: u32, v: f64) -> Vec<u8> {
        record(0x0005, &[col.to_le_bytes().as_slice(), &[0; 4], &v.to_le_bytes()].concat())
    }

    #[test]
    fn short_cells_take_the_column_after_the_previous_cell_of_their_row() {
        let sheet = [
            row(0),
            full_string(0, "First"),
            short_string("Last"),
            short_real(3.5),
            row(1),
            short_string("Ann"),
            full_string(4, "x"),
            short_real(1.0),
        ]
        .concat();
        let expected = [
            row(0),
            full_string(0, "First"),
            full_string(1, "Last"),
            full_real(2, 3.5),
            row(1),
            full_string(0, "Ann"),
            full_string(4, "x"),
            full_real(5, 1.0),
        ]
        .concat();
        assert_eq!(rewrite_sheet(&sheet).unwrap(), Some(expected));
    }

    #[test]
    fn a_sheet_of_full_records_is_left_alone() {
        let sheet = [row(0), full_string(0, "a"), full_real(1, 2.0), record(0x0092, &[])].concat();
        assert_eq!(rewrite_sheet(&sheet).unwrap(), None);
    }

    #[test]
    fn a_rich_string_cell_keeps_its_text_and_drops_its_formatting_runs() {
        let body =
            [7u32.to_le_bytes().as_slice(), &[0; 4], &[1], &wide("Zoë"), &[1, 0, 0, 0], &[0; 4]].concat();
        let sheet = [row(2), record(RICH_STRING_CELL, &body), short_string("next")].concat();
        let expected = [row(2), full_string(7, "Zoë"), full_string(8, "next")].concat();
        assert_eq!(rewrite_sheet(&sheet).unwrap(), Some(expected));
    }

    #[test]
    fn a_long_record_keeps_a_multi_byte_size_and_two_byte_types_pass_through() {
        let long = "x".repeat(300);
        let sheet = [row(0), record(0x0094, &[0; 16]), full_string(0, "a"), short_string(&long)].concat();
        let expected =
            [row(0), record(0x0094, &[0; 16]), full_string(0, "a"), full_string(1, &long)].concat();
        assert_eq!(rewrite_sheet(&sheet).unwrap(), Some(expected));
    }

    #[test]
    fn a_truncated_record_is_an_error_not_a_panic() {
        let mut sheet = [row(0), full_string(0, "a"), short_string("abc")].concat();
        sheet.truncate(sheet.len() - 3);
        assert!(rewrite_sheet(&sheet).unwrap_err().contains("truncated"));
        assert!(rewrite_sheet(&[0x91]).unwrap_err().contains("truncated"));
        let rich = [row(0), record(RICH_STRING_CELL, &[0; 12])].concat();
        assert!(rewrite_sheet(&rich).unwrap_err().contains("truncated"));
    }
}
