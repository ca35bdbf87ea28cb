//! The canonical texts a patient is recognised by, before the server turns them into HMAC lookup
//! keys: the same person written differently gives the same text.
//!
//! - Names are folded ([`fold_name`]): accents removed (NFD, then combining marks dropped; `ø`,
//!   `æ`, `ß`, `ł`, `đ`, `þ` and friends mapped by hand since they do not decompose), lower-cased,
//!   and everything but letters and digits removed (spaces, hyphens, apostrophes, dots). So
//!   `José O'Brien-Smith` and `jose obrien smith` are the same name.
//! - [`name_and_birth_date`]: `first|last|YYYY-MM-DD`, folded, only when all three are present: a
//!   name alone is too common to recognise anyone by.
//! - [`medical_record_number`]: the MRN folded like a name (`MRN-00123`, `mrn 00123` are one),
//!   leading zeros kept: they are part of the number in the systems that issue it.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// A name folded for comparison: no accents, lower case, letters and digits only.
pub fn fold_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    fold_name_into(name, &mut out);
    out
}

/// [`fold_name`], appended to `out`.
pub fn fold_name_into(name: &str, out: &mut String) {
    if name.is_ascii() {
        out.extend(name.bytes().filter(u8::is_ascii_alphanumeric).map(|b| b.to_ascii_lowercase() as char));
        return;
    }
    for c in name.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if let Some(s) = undecomposable(c) {
            out.push_str(s);
            continue;
        }
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        }
    }
}

/// `first|last|YYYY-MM-DD` with both names folded, or `None` when either name folds to nothing or
/// the birth date is empty. `birth_date` is already ISO (`YYYY-MM-DD`).
pub fn name_and_birth_date(first_name: &str, last_name: &str, birth_date: &str) -> Option<String> {
    let birth_date = birth_date.trim();
    let mut out = String::with_capacity(first_name.len() + last_name.len() + 12);
    fold_name_into(first_name, &mut out);
    let first_len = out.len();
    out.push('|');
    fold_name_into(last_name, &mut out);
    if first_len == 0 || out.len() == first_len + 1 || birth_date.is_empty() {
        return None;
    }
    out.push('|');
    out.push_str(birth_date);
    Some(out)
}

/// The medical record number folded like a name, or `None` when nothing is left.
pub fn medical_record_number(mrn: &str) -> Option<String> {
    Some(fold_name(mrn)).filter(|m| !m.is_empty())
}

/// A word lower-cased with its accents removed (`TELÉFONO` -> `telefono`), everything else kept:
/// the folding of [`fold_name`] for spreadsheet header and date words, which keep their
/// punctuation.
pub fn fold_word(word: &str) -> String {
    if word.is_ascii() {
        return word.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(word.len());
    for c in word.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match undecomposable(c) {
            Some(s) => out.push_str(s),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Letters with no canonical decomposition, folded to their usual ASCII spelling.
fn undecomposable(c: char) -> Option<&'static str> {
    Some(match c {
        'ø' | 'Ø' => "o",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ß' | 'ẞ' => "ss",
        'ł' | 'Ł' => "l",
        'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'þ' | 'Þ' => "th",
        'ı' => "i",
        'ħ' | 'Ħ' => "h",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_and_birth_date_is_folded_like_the_identity() {
        assert_eq!(
            name_and_birth_date(" José ", "O'Brien-Smith", "1985-03-04").as_deref(),
            Some("jose|obriensmith|1985-03-04")
        );
        assert_eq!(
            name_and_birth_date("jose", "OBRIEN SMITH", "1985-03-04"),
            name_and_birth_date("José", "O'Brien-Smith", "1985-03-04")
        );
    }

    #[test]
    fn a_missing_name_or_birth_date_recognises_nobody() {
        assert_eq!(name_and_birth_date("Ann", "Lee", ""), None);
        assert_eq!(name_and_birth_date("", "Lee", "1985-03-04"), None);
        assert_eq!(name_and_birth_date("Ann", "--", "1985-03-04"), None);
    }

    #[test]
    fn medical_record_numbers_ignore_case_and_punctuation_but_keep_zeros() {
        assert_eq!(medical_record_number("MRN-00123"), medical_record_number(" mrn 00123 "));
        assert_ne!(medical_record_number("MRN-00123"), medical_record_number("MRN-123"));
        assert_eq!(medical_record_number(" - "), None);
    }

    #[test]
    fn accents_and_special_letters_fold_to_ascii() {
        assert_eq!(fold_name("Zoë Muñoz"), "zoemunoz");
        assert_eq!(fold_name("Björn Ødegård"), "bjornodegard");
        assert_eq!(fold_name("Łukasz Strauß"), "lukaszstrauss");
        assert_eq!(fold_name("李 小龍"), "李小龍");
    }
}
