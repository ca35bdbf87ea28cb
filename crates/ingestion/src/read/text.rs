//! Delimited text: decoding, delimiter sniffing and an RFC 4180 parser that keeps every field
//! byte for byte.
//!
//! Decisions:
//! - Encodings: a UTF-8 BOM, a UTF-16 BOM (LE or BE), BOM-less UTF-16 recognised by its NUL
//!   bytes, valid UTF-8, and otherwise Windows-1252 (what Excel on Windows writes for "CSV").
//!   Valid UTF-8 is parsed in place, without a copy.
//! - Text with many control characters is binary, not CSV (`NotASpreadsheet`), so an image named
//!   `.csv` is not read as one column of garbage.
//! - The parser is our own rather than the csv crate's: it counts blank lines, so row numbers
//!   match what a spreadsheet program shows, and it measures a field before copying it, so a
//!   10 MB cell is refused without being copied. Quoting follows Excel: a quoted field may hold
//!   delimiters, newlines and doubled quotes; text after a closing quote is kept; an unclosed
//!   quote runs to the end of the file.
//! - An Excel `sep=;` first line names the delimiter. Otherwise, sniffing: each candidate delimiter (`,` `;` tab `|`) splits the first records (quotes
//!   respected); the one giving the most records with the most common field count (above one)
//!   wins, then the one with more fields, then the order above (tab first for `.tsv` and `.tab`).

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

use crate::error::IngestError;
use crate::read::Limits;
use crate::table::{Cell, Row};

/// How many records sniffing looks at.
const SNIFF_RECORDS: usize = 50;
/// How many bytes sniffing and the binary check look at.
const SAMPLE_BYTES: usize = 64 * 1024;

/// Decoded text and the name of its encoding.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str), IngestError> {
    let (text, label): (Cow<'_, str>, &'static str) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF")
    {
        (UTF_8.decode_without_bom_handling(rest).0, "UTF-8 with BOM")
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        (UTF_16LE.decode_without_bom_handling(rest).0, "UTF-16LE")
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        (UTF_16BE.decode_without_bom_handling(rest).0, "UTF-16BE")
    } else if let Some(encoding) = bomless_utf16(bytes) {
        (encoding.decode_without_bom_handling(bytes).0, encoding.name())
    } else {
        match std::str::from_utf8(bytes) {
            Ok(s) => (Cow::Borrowed(s), "UTF-8"),
            Err(_) => (WINDOWS_1252.decode_without_bom_handling(bytes).0, "windows-1252"),
        }
    };
    check_is_text(&text)?;
    Ok((text, label))
}

/// UTF-16 without a BOM: in ASCII-heavy text every other byte is NUL.
fn bomless_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(SAMPLE_BYTES) & !1];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let even_nul = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd_nul = sample.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    if odd_nul * 10 >= pairs * 7 && even_nul * 10 < pairs {
        Some(UTF_16LE)
    } else if even_nul * 10 >= pairs * 7 && odd_nul * 10 < pairs {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// Refuses text that is really binary: NULs, or more than 2% control characters (other than
/// tab, CR and LF) or replacement characters in the sample.
fn check_is_text(text: &str) -> Result<(), IngestError> {
    let mut total = 0usize;
    let mut bad = 0usize;
    for c in text.chars().take(SAMPLE_BYTES) {
        total += 1;
        if c == '\0' {
            return Err(IngestError::NotASpreadsheet { what: "binary data (NUL bytes)".into() });
        }
        if (c.is_control() && !matches!(c, '\t' | '\r' | '\n' | '\u{0c}')) || c == '\u{fffd}' {
            bad += 1;
        }
    }
    if total > 0 && bad * 50 > total {
        return Err(IngestError::NotASpreadsheet { what: "mostly binary control bytes".into() });
    }
    Ok(())
}

/// The delimiter an Excel `sep=;` first line declares (the line itself then reads as a title).
pub(crate) fn declared_delimiter(text: &str) -> Option<u8> {
    let rest = text.strip_prefix("sep=")?;
    let mut bytes = rest.bytes();
    let d = bytes.next()?;
    matches!(bytes.next(), Some(b'\r' | b'\n') | None)
        .then_some(d)
        .filter(|d| d.is_ascii_punctuation() || *d == b'\t')
}

/// Picks the delimiter (see the module documentation).
pub(crate) fn sniff_delimiter(text: &str, prefer_tab: bool) -> u8 {
    let sample = sample_prefix(text);
    let order: [u8; 4] = if prefer_tab { [b'\t', b',', b';', b'|'] } else { [b',', b';', b'\t', b'|'] };
    let mut best: Option<((usize, usize), u8)> = None;
    for delim in order {
        let counts = field_counts(sample, delim);
        let Some(mode) = mode(&counts) else { continue };
        if mode <= 1 {
            continue;
        }
        let agreeing = counts.iter().filter(|&&c| c == mode).count();
        let key = (agreeing, mode);
        if best.is_none_or(|(k, _)| key > k) {
            best = Some((key, delim));
        }
    }
    best.map_or(order[0], |(_, d)| d)
}

fn sample_prefix(text: &str) -> &str {
    if text.len() <= SAMPLE_BYTES {
        return text;
    }
    let mut end = SAMPLE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn mode(counts: &[usize]) -> Option<usize> {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < sorted.len() {
        let j = sorted[i..].iter().take_while(|&&c| c == sorted[i]).count();
        if best.is_none_or(|(n, v)| j > n || (j == n && sorted[i] > v)) {
            best = Some((j, sorted[i]));
        }
        i += j;
    }
    best.map(|(_, v)| v)
}

/// Field counts of the first non-blank records, splitting on `delim`.
fn field_counts(sample: &str, delim: u8) -> Vec<usize> {
    let mut parser = Parser::new(sample, delim, usize::MAX);
    let mut counts = Vec::new();
    let mut record = Vec::new();
    while counts.len() < SNIFF_RECORDS {
        match parser.next_record_into(&mut record) {
            Ok(true) => {
                if record.iter().any(|f| !f.trim().is_empty()) {
                    counts.push(record.len());
                }
            }
            Ok(false) | Err(_) => break,
        }
    }
    counts
}

/// Parses delimited text into its non-blank rows.
pub(crate) fn parse(
    text: &str,
    delim: u8,
    limits: &Limits,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<Row>, IngestError> {
    let max_cell_bytes = limits.max_cell_bytes;
    let mut parser = Parser::new(text, delim, max_cell_bytes);
    let mut rows = Vec::new();
    let mut number: u32 = 0;
    let mut cells_total = 0usize;
    let total = text.len() as u64;
    let mut record: Vec<Cow<'_, str>> = Vec::new();
    loop {
        match parser.next_record_into(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(column) => {
                return Err(IngestError::CellTooLarge {
                    row: number.saturating_add(1),
                    column,
                    limit: max_cell_bytes,
                })
            }
        };
        number = number.saturating_add(1);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rows.len() >= limits.max_table_rows {
            return Err(IngestError::TooManyRows { limit: limits.max_rows });
        }
        cells_total += record.len();
        if cells_total > limits.max_cells {
            return Err(IngestError::TooManyCells { limit: limits.max_cells });
        }
        let mut cells: Vec<Cell> = record.drain(..).map(|f| Cell::text(f.into_owned())).collect();
        while cells.last().is_some_and(|c| c.text.is_empty()) {
            cells.pop();
        }
        rows.push(Row { number, cells });
        if rows.len().is_multiple_of(4096) {
            progress(parser.pos as u64, total);
        }
    }
    progress(total, total);
    Ok(rows)
}

/// A pull parser over text already in memory. Fields borrow from the text unless they hold a
/// doubled quote.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    delim: u8,
    max_field: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, delim: u8, max_field: usize) -> Self {
        Parser { text, bytes: text.as_bytes(), pos: 0, delim, max_field }
    }

    /// The next record, `None` at the end, or `Err(column)` for a field over the limit.
    #[cfg(test)]
    fn next_record(&mut self) -> Result<Option<Vec<Cow<'a, str>>>, usize> {
        let mut fields = Vec::new();
        Ok(self.next_record_into(&mut fields)?.then_some(fields))
    }

    /// Reads the next record into `fields` (cleared first); `false` at the end, `Err(column)`
    /// for a field over the limit.
    fn next_record_into(&mut self, fields: &mut Vec<Cow<'a, str>>) -> Result<bool, usize> {
        fields.clear();
        if self.pos >= self.bytes.len() {
            return Ok(false);
        }
        loop {
            let field = self.field(fields.len())?;
            fields.push(field);
            match self.bytes.get(self.pos) {
                Some(&b) if b == self.delim => {
                    self.pos += 1;
                    if self.pos >= self.bytes.len() {
                        fields.push(Cow::Borrowed(""));
                        return Ok(true);
                    }
                }
                Some(b'\r') => {
                    self.pos += 1;
                    if self.bytes.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    return Ok(true);
                }
                Some(b'\n') => {
                    self.pos += 1;
                    return Ok(true);
                }
                _ => return Ok(true),
            }
        }
    }

    fn is_end(&self, b: u8) -> bool {
        b == self.delim || b == b'\n' || b == b'\r'
    }

    fn field(&mut self, column: usize) -> Result<Cow<'a, str>, usize> {
        let start = self.pos;
        if self.bytes.get(start) != Some(&b'"') {
            let end = self.bytes[start..]
                .iter()
                .position(|&b| self.is_end(b))
                .map_or(self.bytes.len(), |p| start + p);
            if end - start > self.max_field {
                return Err(column);
            }
            self.pos = end;
            return Ok(Cow::Borrowed(&self.text[start..end]));
        }
        // Quoted: runs to the next lone quote; `""` is one quote.
        let mut owned: Option<String> = None;
        let mut seg = start + 1;
        let mut i = seg;
        let mut len = 0usize;
        loop {
            let Some(q) = self.bytes[i..].iter().position(|&b| b == b'"').map(|p| i + p) else {
                // Unclosed: the rest of the file.
                len += self.bytes.len() - seg;
                if len > self.max_field {
                    return Err(column);
                }
                self.pos = self.bytes.len();
                return Ok(join(owned, &self.text[seg..]));
            };
            len += q - seg;
            if len > self.max_field {
                return Err(column);
            }
            if self.bytes.get(q + 1) == Some(&b'"') {
                let buf = owned.get_or_insert_with(String::new);
                buf.push_str(&self.text[seg..=q]);
                len += 1;
                i = q + 2;
                seg = i;
                continue;
            }
            let mut value = join(owned, &self.text[seg..q]);
            // Text after the closing quote belongs to the field (Excel keeps it).
            let after = q + 1;
            let end = self.bytes[after..]
                .iter()
                .position(|&b| self.is_end(b))
                .map_or(self.bytes.len(), |p| after + p);
            if end > after {
                if len + (end - after) > self.max_field {
                    return Err(column);
                }
                value.to_mut().push_str(&self.text[after..end]);
            }
            self.pos = end;
            return Ok(value);
        }
    }
}

fn join<'a>(owned: Option<String>, tail: &'a str) -> Cow<'a, str> {
    match owned {
        Some(mut s) => {
            s.push_str(tail);
            Cow::Owned(s)
        }
        None => Cow::Borrowed(tail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str, delim: u8) -> Vec<Vec<String>> {
        let mut p = Parser::new(text, delim, usize::MAX);
        let mut out = Vec::new();
        while let Some(r) = p.next_record().unwrap() {
            out.push(r.into_iter().map(|f| f.into_owned()).collect());
        }
        out
    }

    #[test]
    fn quoted_fields_keep_delimiters_newlines_and_quotes() {
        let text = "a,\"b,c\",\"Line one\r\nLine two\",\"Prefers \"\"Bob\"\"\"\r\nx,y,,\n";
        assert_eq!(
            records(text, b','),
            [vec!["a", "b,c", "Line one\r\nLine two", "Prefers \"Bob\""], vec!["x", "y", "", ""]]
        );
    }

    #[test]
    fn odd_quoting_is_read_as_excel_reads_it() {
        assert_eq!(records("\"ab\"cd,e", b','), [vec!["abcd", "e"]]);
        assert_eq!(records("a\"b,c", b','), [vec!["a\"b", "c"]]);
        assert_eq!(records("\"open,to the end\nstill", b','), [vec!["open,to the end\nstill"]]);
        assert_eq!(records("a,", b','), [vec!["a", ""]]);
        assert_eq!(records("\n\na\n", b','), [vec![""], vec![""], vec!["a"]]);
    }

    fn limits(max_cell_bytes: usize) -> Limits {
        Limits { max_rows: 100, max_table_rows: 100, max_cell_bytes, max_cells: 1000 }
    }

    #[test]
    fn blank_lines_count_as_rows_and_are_skipped() {
        let rows = parse("h1,h2\n\n1,2\n,\n3,4", b',', &limits(100), &mut |_, _| {}).unwrap();
        let numbers: Vec<u32> = rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [1, 3, 5]);
    }

    #[test]
    fn a_field_over_the_limit_is_refused_with_its_position() {
        let text = format!("a,b\n1,\"{}\"\n", "x".repeat(101));
        assert_eq!(
            parse(&text, b',', &limits(100), &mut |_, _| {}),
            Err(IngestError::CellTooLarge { row: 2, column: 1, limit: 100 })
        );
        let text = format!("a,b\n{},1\n", "x".repeat(101));
        assert!(matches!(
            parse(&text, b',', &limits(100), &mut |_, _| {}),
            Err(IngestError::CellTooLarge { row: 2, column: 0, .. })
        ));
    }

    #[test]
    fn delimiters_are_sniffed_with_quotes_respected() {
        assert_eq!(sniff_delimiter("a,b,c\n1,\"x;y\",3\n", false), b',');
        assert_eq!(sniff_delimiter("a;b;c\n1;\"x,y\";3\n4;5,5;6", false), b';');
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2\t3\n", false), b'\t');
        assert_eq!(sniff_delimiter("a|b\n1|2\n", false), b'|');
        assert_eq!(sniff_delimiter("title\na;b;c\n1;2;3\n4;5;6\n", false), b';');
        assert_eq!(sniff_delimiter("one column\nvalue\n", true), b'\t');
        assert_eq!(declared_delimiter("sep=;\r\na;b\n"), Some(b';'));
        assert_eq!(declared_delimiter("sep=|"), Some(b'|'));
        assert_eq!(declared_delimiter("separate,columns\n"), None);
    }

    #[test]
    fn encodings_are_detected_and_decoded() {
        assert_eq!(decode(b"\xEF\xBB\xBFJos\xC3\xA9").unwrap(), (Cow::Borrowed("José"), "UTF-8 with BOM"));
        assert_eq!(decode("José".as_bytes()).unwrap().1, "UTF-8");
        assert_eq!(decode(b"Jos\xE9;Mu\xF1oz").unwrap(), (Cow::Borrowed("José;Muñoz"), "windows-1252"));
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("Zoë,1".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decode(&utf16).unwrap(), (Cow::Borrowed("Zoë,1"), "UTF-16LE"));
        let utf16be: Vec<u8> =
            [0xFE, 0xFF].into_iter().chain("a,b".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(decode(&utf16be).unwrap().0, "a,b");
        let bomless: Vec<u8> = "name,phone\nAnn,1".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(decode(&bomless).unwrap(), (Cow::Borrowed("name,phone\nAnn,1"), "UTF-16LE"));
    }

    #[test]
    fn binary_bytes_are_not_text() {
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        assert!(matches!(decode(&garbage), Err(IngestError::NotASpreadsheet { .. })));
        assert!(matches!(decode(b"a,b\0c"), Err(IngestError::NotASpreadsheet { .. })));
    }
}
