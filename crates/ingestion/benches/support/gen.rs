//! A deterministic generator of realistic clinic exports (the benchmark's input, also checked
//! by the integration tests): 11 columns as an EHR appointment report has them, accented names,
//! phones in four spellings (a quarter as numeric cells in xlsx), date and time cells, about 1%
//! invalid phones and 3% repeat appointments of an earlier patient.
//!
//! Lives under `benches/` (the workspace has one binary, `rivvi`); the integration tests include
//! it with `#[path]`.

use std::collections::HashSet;
use std::fmt::Write as _;

/// The header row.
pub const HEADERS: [&str; 11] = [
    "Patient First Name",
    "Patient Last Name",
    "DOB",
    "Cell Phone",
    "Home Phone",
    "MRN",
    "Appt Date",
    "Appt Time",
    "Provider",
    "Location",
    "Visit Type",
];

const FIRST: [&str; 16] = [
    "Maria",
    "José",
    "Zoë",
    "Chloé",
    "Liam",
    "Noah",
    "Sofía",
    "Björn",
    "Aaliyah",
    "Kenji",
    "Fatima",
    "Wei",
    "Olivia",
    "Dmitri",
    "Anne-Marie",
    "O'Brien",
];
const LAST: [&str; 16] = [
    "Muñoz",
    "Smith",
    "Van der Berg",
    "O'Connor",
    "Kowalski",
    "Nguyen",
    "Dubois",
    "Martínez",
    "Johnson",
    "Okafor",
    "Chen",
    "Patel",
    "Smith-Jones",
    "Garcia",
    "Lee",
    "Khan",
];
const PROVIDERS: [&str; 4] = ["Dr. Patel", "Dr. Alvarez", "Dr. Brooks", "Dr. Chen"];
const LOCATIONS: [&str; 3] = ["North Clinic", "Main Campus", "Westside"];
const VISITS: [&str; 4] = ["Annual", "Follow-up", "Recall", "New Patient"];
const AREAS: [u32; 8] = [312, 773, 415, 617, 212, 646, 718, 305];

/// One generated row, with typed values so each format can write them natively.
pub struct GenRow {
    pub first: &'static str,
    pub last: &'static str,
    /// Excel serial of the birth date.
    pub dob_serial: u32,
    /// (year, month, day) of the birth date.
    pub dob: (i32, u32, u32),
    /// The phone as written, and whether the xlsx writes it as a number.
    pub phone: String,
    pub phone_as_number: Option<f64>,
    pub home: String,
    pub mrn: String,
    pub appt_serial: u32,
    pub appt: (i32, u32, u32),
    /// Minutes after midnight.
    pub appt_minutes: u32,
    pub provider: &'static str,
    pub location: &'static str,
    pub visit: &'static str,
}

/// What a preview of `n` generated rows must count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub data_rows: usize,
    pub invalid_rows: usize,
    pub duplicate_rows: usize,
    pub callable_rows: usize,
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Civil date of an Excel 1900-system serial (> 60).
fn serial_to_ymd(serial: u32) -> (i32, u32, u32) {
    // Days since 1970-01-01, then Howard Hinnant's civil-from-days.
    let z = i64::from(serial) - 25_569 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

/// `n` rows and the counts a preview must give.
pub fn rows(n: usize) -> (Vec<GenRow>, Expected) {
    let mut out = Vec::with_capacity(n);
    let mut seen_valid: HashSet<usize> = HashSet::new();
    let mut expected = Expected { data_rows: n, invalid_rows: 0, duplicate_rows: 0, callable_rows: 0 };
    for i in 0..n {
        // Every 33rd row is another appointment of the patient 17 rows earlier.
        let patient = if i % 33 == 32 && i >= 17 { i - 17 } else { i };
        let h = mix(patient as u64 + 1);
        let first = FIRST[(h % 16) as usize];
        let last = LAST[((h >> 8) % 16) as usize];
        let dob_serial = 11_000 + ((h >> 16) % 30_000) as u32; // 1930..2012
        let area = AREAS[((h >> 40) % 8) as usize];
        let line = 1000 + (patient % 9000) as u32;
        let exchange = 200 + ((patient / 9000) % 700) as u32;
        let invalid = i % 101 == 50;
        let (phone, phone_as_number) = if invalid {
            ("555-0100".to_owned(), None)
        } else {
            match i % 4 {
                0 => (format!("({area}) {exchange}-{line}"), None),
                1 => (format!("{area}-{exchange}-{line}"), None),
                2 => (format!("+1 {area}.{exchange}.{line}"), None),
                _ => {
                    let digits = format!("{area}{exchange}{line}");
                    let number: f64 = digits.parse().unwrap_or(0.0);
                    (digits, Some(number))
                }
            }
        };
        let home = if i % 5 == 0 { format!("{area}-{}-{}", exchange + 1, line) } else { String::new() };
        let appt_serial = 46_357 + (i % 20) as u32; // December 2026
        if invalid {
            expected.invalid_rows += 1;
        } else if !seen_valid.insert(patient) {
            expected.duplicate_rows += 1;
        } else {
            expected.callable_rows += 1;
        }
        out.push(GenRow {
            first,
            last,
            dob_serial,
            dob: serial_to_ymd(dob_serial),
            phone,
            phone_as_number,
            home,
            mrn: format!("MRN{patient:07}"),
            appt_serial,
            appt: serial_to_ymd(appt_serial),
            appt_minutes: 8 * 60 + (i % 36) as u32 * 15,
            provider: PROVIDERS[i % 4],
            location: LOCATIONS[i % 3],
            visit: VISITS[i % 4],
        });
    }
    (out, expected)
}

/// The rows as a UTF-8 CSV file (US dates, 12-hour times, quoted fields where needed).
pub fn csv(n: usize) -> (Vec<u8>, Expected) {
    let (rows, expected) = rows(n);
    let mut s = String::with_capacity(n * 130);
    s.push_str(&HEADERS.join(","));
    s.push_str("\r\n");
    for r in &rows {
        let (h, m) = (r.appt_minutes / 60, r.appt_minutes % 60);
        let (h12, ampm) = (if h % 12 == 0 { 12 } else { h % 12 }, if h < 12 { "AM" } else { "PM" });
        let _ = write!(
            s,
            "{},{},{:02}/{:02}/{},{},{},{},{:02}/{:02}/{},{}:{:02} {},{},{},{}\r\n",
            r.first,
            quote(r.last),
            r.dob.1,
            r.dob.2,
            r.dob.0,
            r.phone,
            r.home,
            r.mrn,
            r.appt.1,
            r.appt.2,
            r.appt.0,
            h12,
            m,
            ampm,
            r.provider,
            r.location,
            r.visit
        );
    }
    (s.into_bytes(), expected)
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The rows as an xlsx workbook: date and time cells with formats, a quarter of the phones as
/// numeric cells.
pub fn xlsx(n: usize) -> (Vec<u8>, Expected) {
    use rust_xlsxwriter::{Format, Workbook};
    let (rows, expected) = rows(n);
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("mm/dd/yyyy");
    let time = Format::new().set_num_format("h:mm AM/PM");
    let ws = wb.add_worksheet();
    let _ = ws.set_name("Appointments");
    for (c, h) in HEADERS.iter().enumerate() {
        let _ = ws.write_string(0, c as u16, *h);
    }
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        let _ = ws.write_string(row, 0, r.first);
        let _ = ws.write_string(row, 1, r.last);
        let _ = ws.write_number_with_format(row, 2, f64::from(r.dob_serial), &date);
        let _ = match r.phone_as_number {
            Some(n) => ws.write_number(row, 3, n),
            None => ws.write_string(row, 3, &r.phone),
        };
        if !r.home.is_empty() {
            let _ = ws.write_string(row, 4, &r.home);
        }
        let _ = ws.write_string(row, 5, &r.mrn);
        let _ = ws.write_number_with_format(row, 6, f64::from(r.appt_serial), &date);
        let _ = ws.write_number_with_format(row, 7, f64::from(r.appt_minutes) / 1440.0, &time);
        let _ = ws.write_string(row, 8, r.provider);
        let _ = ws.write_string(row, 9, r.location);
        let _ = ws.write_string(row, 10, r.visit);
    }
    (wb.save_to_buffer().unwrap_or_default(), expected)
}
