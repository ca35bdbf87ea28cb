//! The canonical patient identity string: what the server hashes (HMAC with the index key) into
//! a patient's `identity_key`, so the same person written differently is one patient.
//!
//! `first|last|YYYY-MM-DD|+E164`, where names are folded ([`rivvi_domain::patient_identity`], which
//! the server's other lookup keys use too): accents removed (NFD, then combining marks dropped;
//! `ø`, `æ`, `ß`, `ł`, `đ`, `þ` and friends mapped by hand since they do not decompose),
//! lower-cased, and everything but letters and digits removed (spaces, hyphens, apostrophes,
//! dots). So `José O'Brien-Smith` and `jose obrien smith` are the same person, and
//! `Anne Marie` is `Anne-Marie`. A missing birth date or phone leaves its slot empty.
//!
//! This lives in ingestion rather than in the domain only because ingestion is its first user;
//! it is pure, and the server's `patients.create` should call it too.

use chrono::NaiveDate;
use rivvi_domain::PhoneNumber;

/// The canonical identity of a patient (see the module documentation).
pub fn canonical_identity(
    first_name: &str,
    last_name: &str,
    birth_date: Option<NaiveDate>,
    phone: Option<&PhoneNumber>,
) -> String {
    let dob = birth_date.map(crate::transform::iso_date);
    from_normal_forms(first_name, last_name, dob.as_deref(), phone.map(PhoneNumber::as_str))
}

/// [`canonical_identity`] from values already in their normal forms (`YYYY-MM-DD`, E.164), as
/// the preview holds them.
pub(crate) fn from_normal_forms(
    first_name: &str,
    last_name: &str,
    dob: Option<&str>,
    phone: Option<&str>,
) -> String {
    let mut out = String::with_capacity(first_name.len() + last_name.len() + 28);
    fold_into(first_name, &mut out);
    out.push('|');
    fold_into(last_name, &mut out);
    out.push('|');
    out.push_str(dob.unwrap_or(""));
    out.push('|');
    out.push_str(phone.unwrap_or(""));
    out
}

pub use rivvi_domain::patient_identity::fold_name;

fn fold_into(name: &str, out: &mut String) {
    rivvi_domain::patient_identity::fold_name_into(name, out);
}

/// A word lower-cased with its accents removed (`TELÉFONO` -> `telefono`), everything else kept:
/// the folding of [`fold_name`] for header and date words, which keep their punctuation.
pub(crate) use rivvi_domain::patient_identity::fold_word;

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[test]
    fn the_same_person_written_differently_has_one_identity() {
        let dob = NaiveDate::from_ymd_opt(1985, 3, 4);
        let a = canonical_identity("José", "O'Brien-Smith", dob, Some(&phone("(312) 555-0143")));
        let b = canonical_identity("  JOSE ", "obrien smith", dob, Some(&phone("+1 312.555.0143")));
        assert_eq!(a, b);
        assert_eq!(a, "jose|obriensmith|1985-03-04|+13125550143");
    }

    #[test]
    fn accents_and_special_letters_fold_to_ascii() {
        assert_eq!(fold_name("Zoë Muñoz"), "zoemunoz");
        assert_eq!(fold_name("Björn Ødegård"), "bjornodegard");
        assert_eq!(fold_name("Łukasz Strauß"), "lukaszstrauss");
        assert_eq!(fold_name("Chloé Van der Berg"), "chloevanderberg");
        assert_eq!(fold_name("李 小龍"), "李小龍");
    }

    #[test]
    fn words_fold_case_and_accents_but_keep_punctuation() {
        assert_eq!(fold_word("TELÉFONO"), "telefono");
        assert_eq!(fold_word("Teléfono"), fold_word("telefono"));
        assert_eq!(fold_word("Mié."), "mie.");
        assert_eq!(fold_word("Año"), "ano");
        assert_eq!(fold_word("D.O.B."), "d.o.b.");
    }

    #[test]
    fn different_people_stay_different() {
        let dob = NaiveDate::from_ymd_opt(1985, 3, 4);
        let p = phone("3125550143");
        assert_ne!(
            canonical_identity("Ann", "Lee", dob, Some(&p)),
            canonical_identity("Anna", "Lee", dob, Some(&p))
        );
        assert_ne!(
            canonical_identity("Ann", "Lee", dob, Some(&p)),
            canonical_identity("Ann", "Lee", NaiveDate::from_ymd_opt(1985, 3, 5), Some(&p))
        );
        assert_eq!(canonical_identity("Ann", "Lee", None, None), "ann|lee||");
    }
}
