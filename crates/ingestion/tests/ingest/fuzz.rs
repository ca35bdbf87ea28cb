//! A libFuzzer-free mutation fuzzer, so the never-panic property is checked by `cargo test` too
//! (the cargo-fuzz target in `fuzz/` is the stronger, coverage-guided version).
//!
//! Seeds: the fixtures, small generated files, and every input in `tests/fuzz_regressions/`
//! (inputs that once broke something; each must still preview or fail cleanly). Mutations are
//! deterministic (a fixed-seed xorshift): byte flips, "interesting" bytes (quotes, delimiters,
//! newlines, NUL, 0xFF), inserts, deletes, duplicated ranges, truncation, splices of two seeds,
//! and for workbooks, edits *inside* a zip part (XML or xlsb records) re-zipped, so
//! calamine's parsers see damaged XML rather than only a failed checksum.
//!
//! `cargo test -p rivvi-ingestion --test ingest fuzz` runs a short smoke run;
//! `FUZZ_SECONDS=600 cargo test -p rivvi-ingestion --release --test ingest -- --ignored fuzz`
//! runs for ten minutes. A failing input is written to `target/fuzz-failures/`.

use std::io::{Cursor, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use rivvi_ingestion::preview::RowStatus;
use rivvi_ingestion::{defaults, ingest, IngestOptions, ReadOptions};

use crate::support::{fixture, text_rows, today, xlsx, V};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const NAMES: [&str; 7] = ["a.csv", "a.tsv", "a.xlsx", "a.xlsm", "a.xlsb", "a.xls", "a.ods"];
const INTERESTING: &[u8] = b"\"\",;\t|\n\r\0\xFF\xFE\xEF\xBB\xBF<>&#/:-.0123456789 ";

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = [
        "clinic_a_appointments.xlsx",
        "clinic_b_reminders.csv",
        "clinic_c_messy.xlsx",
        "clinic_d_cp1252.csv",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), fixture(n)))
    .collect();
    out.push(("practice_export.xlsb".into(), fixture("practice_export.xlsb")));
    out.push((
        "multi.xlsx".into(),
        xlsx(&[
            ("Notes", text_rows(&[&["a long note about the export"]])),
            (
                "Data",
                vec![
                    text_rows(&[&["Name", "DOB", "Mobile #", "Appt"]]).remove(0),
                    vec![
                        V::S("Lee, Ann"),
                        V::F(31110.0, "[$-F800]dddd"),
                        V::N(3125550143.0),
                        V::F(46370.5, "m/d/yy h:mm"),
                    ],
                    vec![V::S("Bob Ray"), V::S("3/4/85"), V::F(3125550144.0, "(###) ###-####"), V::B(true)],
                ],
            ),
        ]),
    ));
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "First\tLast\tDOB\tPhone\r\nZoë\tLee\t1/2/80\t3125550143\r\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    out.push(("u16.tsv".into(), utf16));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn mutate_bytes(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    data.insert(i.min(data.len()), INTERESTING[rng.below(INTERESTING.len())]);
                }
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                data.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let chunk = data[i..i + n].to_vec();
                let at = rng.below(data.len() + 1);
                data.splice(at..at, chunk);
            }
            5 if len > 0 => data.truncate(rng.below(len)),
            6 if !other.is_empty() => {
                let i = rng.below(len + 1);
                let j = rng.below(other.len());
                let n = 1 + rng.below((other.len() - j).min(512));
                data.splice(i..i, other[j..j + n].iter().copied());
            }
            _ => {
                // A long run of one byte: huge fields, many delimiters, deep nesting.
                let i = rng.below(len + 1);
                let b = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(i..i, std::iter::repeat_n(b, 1 + rng.below(4096)));
            }
        }
    }
}

/// Edits one part of a zip (workbook) and zips it again, stored.
fn mutate_zip_part(rng: &mut Rng, data: &[u8], other: &[u8]) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(data)).ok()?;
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).ok()?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).ok()?;
        parts.push((f.name().ok()?.into_owned(), buf));
    }
    let parts_with_cells: Vec<usize> =
        (0..parts.len()).filter(|&i| parts[i].0.ends_with(".xml") || parts[i].0.ends_with(".bin")).collect();
    let pick = *parts_with_cells.get(rng.below(parts_with_cells.len()))?;
    mutate_bytes(rng, &mut parts[pick].1, other);
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in &parts {
        out.start_file(name.as_str(), options).ok()?;
        out.write_all(bytes).ok()?;
    }
    Some(out.finish().ok()?.into_inner())
}

/// Previews one input; panics (failing the test) if the library panics or counts disagree.
fn check(name: &str, bytes: &[u8]) {
    let vars = defaults::appointment_reminder();
    let options = IngestOptions {
        read: ReadOptions { max_rows: 5_000, max_uncompressed_bytes: 64 << 20, ..ReadOptions::default() },
        today: today(),
        mapping: None,
    };
    let Ok(p) = ingest(bytes, name, &vars, &options, None) else { return };
    let c = p.counts;
    assert_eq!(c.invalid_rows + c.duplicate_rows + c.callable_rows, c.data_rows);
    assert_eq!(p.rows.len(), c.data_rows);
    for (i, r) in p.rows.iter().enumerate() {
        assert_eq!(r.index, i);
        assert_eq!(r.status == RowStatus::Invalid, !r.errors.is_empty());
        if let Some(first) = r.duplicate_of {
            assert!(first < i && p.rows[first].status == RowStatus::Callable);
        }
    }
    serde_json::to_vec(&p).unwrap();
}

fn run(budget: Duration, max_iterations: u64, seed: u64) -> u64 {
    let seeds = seeds();
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut n = 0;
    while n < max_iterations && start.elapsed() < budget {
        let (seed_name, base) = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())].1;
        let mut data = base.clone();
        let is_zip = data.starts_with(b"PK");
        if is_zip && rng.below(10) < 7 {
            if let Some(d) = mutate_zip_part(&mut rng, &data, other) {
                data = d;
            }
        } else {
            mutate_bytes(&mut rng, &mut data, other);
        }
        let name = if rng.below(4) == 0 { NAMES[rng.below(NAMES.len())] } else { seed_name.as_str() };
        let result = catch_unwind(AssertUnwindSafe(|| check(name, &data)));
        if let Err(panic) = result {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{n}-{name}"));
            let _ = std::fs::write(&path, &data);
            std::panic::resume_unwind(Box::new(format!(
                "input {n} (from {seed_name}, as {name}) failed; saved to {}: {:?}",
                path.display(),
                panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied())
            )));
        }
        n += 1;
    }
    n
}

#[test]
fn mutated_inputs_never_panic_smoke() {
    let n = run(Duration::from_secs(60), 300, 0x2545_F491_4F6C_DD1D);
    assert!(n > 0);
}

#[test]
fn every_regression_input_previews_or_fails_cleanly() {
    for (name, bytes) in seeds() {
        for as_name in [name.as_str(), "x.csv", "x.xlsx"] {
            check(as_name, &bytes);
        }
    }
}

#[test]
#[ignore = "long-running: FUZZ_SECONDS (default 600) of mutation fuzzing"]
fn mutated_inputs_never_panic_long() {
    let secs = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    let n = run(Duration::from_secs(secs), u64::MAX, seed);
    println!("{n} inputs in {secs} s");
}
