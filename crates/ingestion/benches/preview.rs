//! Preview throughput on generated 100k-row files, against calamine / the csv crate merely
//! reading the same file, plus peak memory (each measured in a fresh child process).
//!
//! `cargo bench -p rivvi-ingestion --bench preview` runs everything; results go in
//! `docs/benchmarks.md`. `ROWS=20000` makes smaller files. Each group also times the column
//! profile mapping reads from the cells ([`rivvi_ingestion::profile`]) on the table read once.

#[path = "support/gen.rs"]
#[allow(dead_code)]
mod gen;

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use calamine::Reader;
use chrono::NaiveDate;
use criterion::{BenchmarkId, Criterion, Throughput};
use rivvi_ingestion::{defaults, ingest, IngestOptions, ReadOptions};

const CHILD_ENV: &str = "RIVVI_BENCH_MEMORY";

fn rows() -> usize {
    std::env::var("ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
}

/// Generated files are cached next to the build output: rust_xlsxwriter takes seconds.
fn file(kind: &str, n: usize) -> (PathBuf, Vec<u8>) {
    let dir = std::env::temp_dir().join("rivvi-bench");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("clinic-{n}.{kind}"));
    if let Ok(bytes) = std::fs::read(&path) {
        return (path, bytes);
    }
    let (bytes, _) = if kind == "xlsx" { gen::xlsx(n) } else { gen::csv(n) };
    let _ = std::fs::write(&path, &bytes);
    (path, bytes)
}

fn preview(bytes: &[u8], name: &str) -> usize {
    let vars = defaults::appointment_reminder();
    let options = IngestOptions { read: ReadOptions::default(), today: today(), mapping: None };
    match ingest(bytes, name, &vars, &options, None) {
        Ok(p) => p.counts.callable_rows,
        Err(e) => panic!("preview failed: {e}"),
    }
}

fn calamine_read(bytes: &[u8]) -> usize {
    let mut wb = match calamine::Xlsx::new(Cursor::new(bytes)) {
        Ok(wb) => wb,
        Err(e) => panic!("{e}"),
    };
    match wb.worksheet_range_at(0) {
        Some(Ok(range)) => range.height(),
        _ => panic!("no sheet"),
    }
}

fn csv_read(bytes: &[u8]) -> usize {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader.read_byte_record(&mut record).unwrap_or(false) {
        n += record.len();
    }
    n
}

/// Peak resident memory of this process, in MB.
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// In a child: load the file, run one task, print `peak_mb seconds`.
fn child(task: &str, path: &str) {
    let bytes = std::fs::read(path).unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or(path).to_owned();
    let start = Instant::now();
    let n = match task {
        "calamine" => calamine_read(&bytes),
        "csv" => csv_read(&bytes),
        "read" => rivvi_ingestion::read_table(&bytes, &name, &ReadOptions::default())
            .map_or(0, |t| t.data_rows().len()),
        _ => preview(&bytes, &name),
    };
    let secs = start.elapsed().as_secs_f64();
    println!("{:.1} {secs:.3} {n}", peak_mb());
}

fn measure_in_child(task: &str, path: &std::path::Path) -> Option<(f64, f64)> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).env(CHILD_ENV, format!("{task}:{}", path.display())).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn memory_report(n: usize) {
    println!("\n== one run each, fresh process (peak RSS includes the file bytes) ==");
    for (kind, bare) in [("xlsx", "calamine"), ("csv", "csv")] {
        let (path, bytes) = file(kind, n);
        println!("{kind}: {n} rows, {:.1} MB on disk", bytes.len() as f64 / 1e6);
        for task in [bare, "read", "preview"] {
            match measure_in_child(task, &path) {
                Some((mb, secs)) => {
                    println!("  {task:<9} {secs:>7.3} s  {:>9.0} rows/s  peak {mb:>6.1} MB", n as f64 / secs)
                }
                None => println!("  {task:<9} failed"),
            }
        }
    }
    println!();
}

fn benches(c: &mut Criterion, n: usize) {
    for (kind, bare) in [("xlsx", "calamine read"), ("csv", "csv crate read")] {
        let (_, bytes) = file(kind, n);
        let name = format!("clinic.{kind}");
        let mut group = c.benchmark_group(format!("{kind} {n} rows"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::from_parameter(bare), |b| {
            b.iter(|| if kind == "xlsx" { calamine_read(&bytes) } else { csv_read(&bytes) })
        });
        group.bench_function(BenchmarkId::from_parameter("preview"), |b| b.iter(|| preview(&bytes, &name)));
        // The cells' profile alone (issue 16: under 10% of the preview), on the table read once.
        match rivvi_ingestion::read_table(&bytes, &name, &ReadOptions::default()) {
            Ok(table) => group.bench_function(BenchmarkId::from_parameter("profile"), |b| {
                b.iter(|| rivvi_ingestion::profile::profile_table(&table, today()).len())
            }),
            Err(e) => panic!("read failed: {e}"),
        };
        group.finish();
    }
}

fn main() {
    if let Ok(job) = std::env::var(CHILD_ENV) {
        if let Some((task, path)) = job.split_once(':') {
            child(task, path);
        }
        return;
    }
    let n = rows();
    memory_report(n);
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, n);
    c.final_summary();
}
