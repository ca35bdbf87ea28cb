//! read_table + map_columns + preview on arbitrary bytes: never panics, and a preview's counts
//! always add up. The first byte picks the file name, so the CSV, TSV and workbook paths (and
//! the extension fallbacks) all get inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rivvi_ingestion::preview::RowStatus;
use rivvi_ingestion::{defaults, ingest, IngestOptions, ReadOptions};

const NAMES: [&str; 7] = ["a.csv", "a.tsv", "a.xlsx", "a.xlsm", "a.xlsb", "a.xls", "a.ods"];

static QUIET_CAUGHT_PANICS: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // libFuzzer's panic hook aborts at the panic, before `catch_unwind` in the library (which
    // turns calamine's panics on malformed workbooks into an error) can run. A panic the library
    // does not catch still reaches libfuzzer-sys's own `catch_unwind` and aborts the run.
    QUIET_CAUGHT_PANICS.call_once(|| {
        std::panic::set_hook(Box::new(|info| eprintln!("panic (caught or not): {info}")));
    });
    let (name, bytes) = match data.split_first() {
        Some((b, rest)) => (NAMES[*b as usize % NAMES.len()], rest),
        None => ("a.csv", data),
    };
    let vars = defaults::appointment_reminder();
    let options = IngestOptions {
        read: ReadOptions { max_rows: 5_000, max_uncompressed_bytes: 64 << 20, ..ReadOptions::default() },
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(),
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
    let _ = serde_json::to_vec(&p).map(|json| assert!(!json.is_empty()));
});
