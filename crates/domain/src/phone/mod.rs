//! Phone numbers in E.164 form (`+13125550143`), parsed once from whatever a spreadsheet or a form
//! holds.
//!
//! Decisions:
//! - Numbers without a leading `+` are read as US/Canada (NANP) numbers: 10 digits, or 11 starting
//!   with `1`. International numbers need the `+` and their country code.
//! - NANP numbers are really checked (area code and exchange start with 2-9, area code is not an
//!   N11 service code). Other countries get only the E.164 length check (8 to 15 digits).
//! - Extensions (`x123`, `ext. 123`, `#123`) are **rejected**, not stripped: dialling the main line
//!   of a shared number could reach someone other than the patient, so staff must fix the cell.
//! - A float-looking `3125550143.0` (a numeric spreadsheet cell) is accepted; scientific notation
//!   (`3.12555E+09`) is rejected, because Excel has already dropped digits and the result would be a
//!   different, real number.
//! - `Debug` redacts the middle digits: a phone number identifies a patient and must not reach logs.

mod area_codes;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use area_codes::nanp_time_zone;

/// A phone number in E.164 form: `+`, a country code and the subscriber number, digits only.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

/// Why a phone number was refused. Messages never repeat the input (it is PHI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but whitespace.
    #[error("must not be empty")]
    Empty,
    /// An extension such as `x123`.
    #[error("must not include an extension such as x123; put the extension in its own column")]
    Extension,
    /// A number Excel wrote in scientific notation, digits already lost.
    #[error("is in scientific notation, so digits were lost; format the column as text and export again")]
    ScientificNotation,
    /// Letters or symbols other than separators.
    #[error("must contain only digits, an optional leading + and the separators ( ) - . /")]
    InvalidCharacters,
    /// Seven digits: a local number without its area code.
    #[error("must include the 3-digit area code")]
    MissingAreaCode,
    /// Not 10 digits (or 11 starting with 1) and no `+`.
    #[error("must be a 10-digit US or Canadian number, or start with + and a country code")]
    WrongLength,
    /// A NANP area code starting with 0 or 1.
    #[error("must have an area code that does not start with 0 or 1")]
    AreaCodeStart,
    /// A NANP area code of the N11 form (211, 311, 411, ... 911).
    #[error("must not use a service code such as 411 as its area code")]
    ServiceAreaCode,
    /// A NANP exchange (digits 4-6) starting with 0 or 1.
    #[error("must have an exchange (digits 4 to 6) that does not start with 0 or 1")]
    ExchangeStart,
    /// An international number with too few or too many digits.
    #[error("must have 8 to 15 digits including the country code")]
    InternationalLength,
    /// A country code starting with 0.
    #[error("must not have a country code starting with 0")]
    CountryCode,
    /// Not already in strict E.164 form (for API inputs).
    #[error("must be in E.164 form such as +13125550143")]
    NotE164,
}

impl PhoneNumber {
    /// Parses what people and spreadsheets write: `(312) 555-0143`, `312.555.0143`,
    /// `1-312-555-0143`, `+1 312 555 0143`, `3125550143`, `3125550143.0`, `+44 20 7946 0958`,
    /// `+44 (0)20 7946 0958`.
    pub fn parse(input: &str) -> Result<PhoneNumber, PhoneError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(PhoneError::Empty);
        }
        if looks_like_extension(s) {
            return Err(PhoneError::Extension);
        }
        if looks_scientific(s) {
            return Err(PhoneError::ScientificNotation);
        }
        let s = strip_float_suffix(s);
        // The UK-style "(0)" trunk prefix after a country code is never dialled internationally.
        let s = s.replace("(0)", "");

        let (international, rest) = match s.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, s.as_str()),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '\u{a0}' | '-' | '.' | '(' | ')' | '/' => {}
                _ => return Err(PhoneError::InvalidCharacters),
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::InvalidCharacters);
        }
        if international {
            international_number(&digits)
        } else {
            national_number(&digits)
        }
    }

    /// Accepts only strict E.164 (`+13125550143`: no spaces or separators), for API fields such
    /// as an organization's caller number. NANP numbers still get the area code checks.
    pub fn parse_e164_strict(input: &str) -> Result<PhoneNumber, PhoneError> {
        let digits = input.strip_prefix('+').ok_or(PhoneError::NotE164)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotE164);
        }
        international_number(digits)
    }

    /// The number in E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a US/Canada/NANP number (`+1`).
    pub fn is_nanp(&self) -> bool {
        self.0.starts_with("+1")
    }

    /// The 10-digit national number of a NANP number (`3125550143`), `None` for other countries.
    pub fn nanp_national_number(&self) -> Option<&str> {
        self.0.strip_prefix("+1")
    }

    /// The area code of a NANP number (`312`), `None` for other countries.
    pub fn national_area_code(&self) -> Option<u16> {
        self.nanp_national_number()?.get(..3)?.parse().ok()
    }

    /// A representative time zone for a NANP number's area code; see [`nanp_time_zone`] for how
    /// approximate this is.
    pub fn nanp_time_zone(&self) -> Option<chrono_tz::Tz> {
        self.national_area_code().and_then(nanp_time_zone)
    }

    /// The number with all but the country code prefix and last two digits hidden, for messages
    /// and logs: `+1********43`.
    pub fn redacted(&self) -> String {
        let keep_front = if self.is_nanp() { 2 } else { 1 };
        self.0
            .chars()
            .enumerate()
            .map(|(i, c)| if i < keep_front || i + 2 >= self.0.len() { c } else { '*' })
            .collect()
    }
}

fn looks_like_extension(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.contains("ext") || lower.contains('x') || lower.contains('#')
}

/// `3.12555E+09`, `3.1E9`: a digit, an optional fraction, then an exponent.
fn looks_scientific(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !exponent.is_empty()
        && exponent.bytes().all(|b| b.is_ascii_digit())
}

/// `3125550143.0` (a numeric cell read as a float) loses its `.0`; `312.555.0143` is untouched.
fn strip_float_suffix(s: &str) -> &str {
    match s.split_once('.') {
        Some((int, zeros))
            if !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && !zeros.is_empty()
                && zeros.bytes().all(|b| b == b'0') =>
        {
            int
        }
        _ => s,
    }
}

fn national_number(digits: &str) -> Result<PhoneNumber, PhoneError> {
    match digits.len() {
        7 => Err(PhoneError::MissingAreaCode),
        10 => nanp(digits),
        11 if digits.starts_with('1') => nanp(&digits[1..]),
        _ => Err(PhoneError::WrongLength),
    }
}

fn international_number(digits: &str) -> Result<PhoneNumber, PhoneError> {
    if let Some(national) = digits.strip_prefix('1') {
        return if national.len() == 10 { nanp(national) } else { Err(PhoneError::WrongLength) };
    }
    if digits.starts_with('0') {
        return Err(PhoneError::CountryCode);
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(PhoneError::InternationalLength);
    }
    Ok(PhoneNumber(format!("+{digits}")))
}

/// Checks a 10-digit NANP national number: NXX-NXX-XXXX with N in 2..=9.
fn nanp(national: &str) -> Result<PhoneNumber, PhoneError> {
    let b = national.as_bytes();
    if b.len() != 10 {
        return Err(PhoneError::WrongLength);
    }
    if b[0] < b'2' {
        return Err(PhoneError::AreaCodeStart);
    }
    if b[1] == b'1' && b[2] == b'1' {
        return Err(PhoneError::ServiceAreaCode);
    }
    if b[3] < b'2' {
        return Err(PhoneError::ExchangeStart);
    }
    Ok(PhoneNumber(format!("+1{national}")))
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.redacted())
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Strict: stored and wire values are already E.164.
impl FromStr for PhoneNumber {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_e164_strict(s)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_e164_strict(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_us_formats_parse_to_the_same_e164_number() {
        let inputs = [
            "(312) 555-0143",
            "312.555.0143",
            "312-555-0143",
            "1-312-555-0143",
            "1 (312) 555-0143",
            "+1 312 555 0143",
            "+1 (312) 555-0143",
            "+13125550143",
            "3125550143",
            "13125550143",
            "3125550143.0",
            "3125550143.00",
            "  312 555 0143  ",
            "312/555-0143",
            "312\u{a0}555\u{a0}0143",
        ];
        for input in inputs {
            assert_eq!(
                PhoneNumber::parse(input).map(|p| p.0),
                Ok("+13125550143".to_owned()),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn international_numbers_need_a_plus_and_keep_their_country_code() {
        let cases = [
            ("+44 20 7946 0958", "+442079460958"),
            ("+44 (0)20 7946 0958", "+442079460958"),
            ("+33 1 23 45 67 89", "+33123456789"),
            ("+61 2 9876 5432", "+61298765432"),
        ];
        for (input, expected) in cases {
            assert_eq!(PhoneNumber::parse(input).map(|p| p.0), Ok(expected.to_owned()), "input {input:?}");
        }
    }

    #[test]
    fn invalid_numbers_are_refused_with_a_specific_reason() {
        let cases = [
            ("", PhoneError::Empty),
            ("   ", PhoneError::Empty),
            ("555-0100", PhoneError::MissingAreaCode),
            ("123-456-7890", PhoneError::AreaCodeStart),
            ("023-456-7890", PhoneError::AreaCodeStart),
            ("411-555-0143", PhoneError::ServiceAreaCode),
            ("911-555-0143", PhoneError::ServiceAreaCode),
            ("312-055-0143", PhoneError::ExchangeStart),
            ("312-155-0143", PhoneError::ExchangeStart),
            ("+1 123 555 0143", PhoneError::AreaCodeStart),
            ("+1 312 555 014", PhoneError::WrongLength),
            ("312-555-01434", PhoneError::WrongLength),
            ("23-555-0143", PhoneError::WrongLength),
            ("2-312-555-0143", PhoneError::WrongLength),
            ("(312) 555-0143 x123", PhoneError::Extension),
            ("312-555-0143 ext. 12", PhoneError::Extension),
            ("312-555-0143 #4", PhoneError::Extension),
            ("3.12555E+09", PhoneError::ScientificNotation),
            ("3.125550143e9", PhoneError::ScientificNotation),
            ("1-800-FLOWERS", PhoneError::InvalidCharacters),
            ("312_555_0143", PhoneError::InvalidCharacters),
            ("++13125550143", PhoneError::InvalidCharacters),
            ("312+555+0143", PhoneError::InvalidCharacters),
            ("+", PhoneError::InvalidCharacters),
            ("+44 1234", PhoneError::InternationalLength),
            ("+44 1234 5678 9012 345", PhoneError::InternationalLength),
            ("+044 20 7946 0958", PhoneError::CountryCode),
        ];
        for (input, expected) in cases {
            assert_eq!(PhoneNumber::parse(input), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn strict_e164_refuses_anything_with_separators() {
        assert_eq!(PhoneNumber::parse_e164_strict("+13125550143").map(|p| p.0), Ok("+13125550143".into()));
        assert_eq!(PhoneNumber::parse_e164_strict("+442079460958").map(|p| p.0), Ok("+442079460958".into()));
        for bad in ["3125550143", "+1 312 555 0143", "+1-312-555-0143", "", "+", "+1312555014a"] {
            assert_eq!(PhoneNumber::parse_e164_strict(bad), Err(PhoneError::NotE164), "{bad:?}");
        }
        assert_eq!(PhoneNumber::parse_e164_strict("+11235550143"), Err(PhoneError::AreaCodeStart));
        assert_eq!(PhoneNumber::parse_e164_strict("+1312555014"), Err(PhoneError::WrongLength));
    }

    #[test]
    fn nanp_numbers_expose_their_area_code_and_national_number() {
        let p = PhoneNumber::parse("(312) 555-0143").unwrap();
        assert!(p.is_nanp());
        assert_eq!(p.national_area_code(), Some(312));
        assert_eq!(p.nanp_national_number(), Some("3125550143"));
        assert_eq!(p.nanp_time_zone(), Some(chrono_tz::America::Chicago));

        let uk = PhoneNumber::parse("+44 20 7946 0958").unwrap();
        assert!(!uk.is_nanp());
        assert_eq!(uk.national_area_code(), None);
        assert_eq!(uk.nanp_time_zone(), None);
    }

    #[test]
    fn serde_uses_the_e164_string_and_rejects_loose_formats() {
        let p = PhoneNumber::parse("312.555.0143").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"+13125550143\"");
        assert_eq!(serde_json::from_str::<PhoneNumber>("\"+13125550143\"").unwrap(), p);
        assert!(serde_json::from_str::<PhoneNumber>("\"312.555.0143\"").is_err());
    }

    #[test]
    fn debug_output_hides_the_digits_that_identify_a_patient() {
        let p = PhoneNumber::parse("3125550143").unwrap();
        assert_eq!(format!("{p:?}"), "PhoneNumber(+1********43)");
        assert_eq!(PhoneNumber::parse("+442079460958").unwrap().redacted(), "+**********58");
    }

    #[test]
    fn error_messages_never_repeat_the_number() {
        let err = PhoneNumber::parse("(312) 555-0143 x99").unwrap_err();
        assert!(!err.to_string().contains("312"));
    }
}
