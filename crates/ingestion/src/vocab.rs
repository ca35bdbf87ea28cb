//! The words clinic exports use in headers, reduced to concepts so that `PT_FNAME`,
//! `Patient First Name` and `first_name` compare equal, and `Mobile #` is close to `Phone`.
//!
//! A header becomes a set of [`Token`]s: each word (split at punctuation, spaces, camelCase and
//! letter/digit boundaries, with runs of single letters such as `D.O.B.` joined back into `dob`)
//! is looked up in a synonym table; known words become concepts, unknown words stay words. Words
//! such as `patient` or `the` are noise and dropped. A word missing from the table is also tried
//! as a concatenation of known words (`APPTDATE` = `appt` + `date`).
//!
//! [`similarity`] is weighted precision times recall of two token sets: 1 for the same concepts,
//! and qualifiers (`#`, `name`, `mobile`, `home`) weigh less than the concept they qualify, so
//! `Phone Number` still matches `Phone` well while `Last Visit` matches `Last` only halfway.

/// A header concept: several spellings with one meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Concept {
    First,
    Last,
    Middle,
    Name,
    Full,
    Birth,
    Date,
    Time,
    Phone,
    Mobile,
    Home,
    Work,
    Primary,
    Secondary,
    Number,
    Mrn,
    Id,
    Appt,
    Provider,
    Location,
    Email,
    Address,
    Gender,
    Insurance,
    Kind,
    Note,
    Zone,
    Language,
    /// Someone other than the patient: an emergency contact, guarantor, guardian, insured...
    SomeoneElse,
}

/// One element of a header's token set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Token {
    Concept(Concept),
    Word(String),
}

use Concept as C;

/// Word -> concepts. Lower-case ASCII; looked up after plural stripping and segmentation.
fn lookup(word: &str) -> Option<&'static [Concept]> {
    Some(match word {
        "first" | "given" | "forename" => &[C::First],
        "fname" | "firstname" | "givenname" | "fn" | "frst" => &[C::First, C::Name],
        "last" | "family" => &[C::Last],
        "lname" | "lastname" | "surname" | "familyname" | "ln" | "lst" => &[C::Last, C::Name],
        "middle" | "mi" | "mname" | "middlename" | "initial" => &[C::Middle],
        "name" | "nm" | "nam" => &[C::Name],
        "full" => &[C::Full],
        "fullname" => &[C::Full, C::Name],
        "dob" | "birthdate" | "bdate" | "bday" | "birthday" | "dateofbirth" | "birthdt" => {
            &[C::Birth, C::Date]
        }
        "birth" | "born" => &[C::Birth],
        "date" | "dt" | "day" => &[C::Date],
        "datetime" | "timestamp" | "when" => &[C::Date, C::Time],
        // `Appointment Start Time`, `begintime`: a start is the time an appointment begins.
        "time" | "tm" | "hour" | "start" | "begin" => &[C::Time],
        "phone" | "ph" | "phn" | "tel" | "telephone" | "phonenumber" | "telno" | "phoneno" => &[C::Phone],
        "number" | "num" | "no" | "nbr" | "nr" | "#" => &[C::Number],
        "mobile" | "cell" | "cellular" | "mob" | "cellphone" | "mobilephone" | "wireless" => {
            &[C::Phone, C::Mobile]
        }
        "home" | "residence" => &[C::Home],
        "homephone" => &[C::Phone, C::Home],
        "work" | "business" => &[C::Work],
        "workphone" => &[C::Phone, C::Work],
        "primary" | "main" | "preferred" | "best" => &[C::Primary],
        "secondary" | "alternate" | "alt" | "other" | "second" | "additional" | "backup" | "2" | "2nd" => {
            &[C::Secondary]
        }
        "mrn" | "chart" | "emr" | "ehr" | "medicalrecord" | "record" | "mr" => &[C::Mrn],
        "id" | "identifier" | "ident" => &[C::Id],
        "appt" | "appointment" | "apt" | "visit" | "encounter" | "sched" | "scheduled" | "schedule"
        | "service" | "svc" => &[C::Appt],
        "dos" => &[C::Appt, C::Date],
        "dr" | "doctor" | "provider" | "physician" | "md" | "clinician" | "prov" | "practitioner"
        | "rendering" | "attending" | "doc" | "resource" | "prvdr" | "rndrng" => &[C::Provider],
        "location" | "loc" | "clinic" | "site" | "facility" | "office" | "department" | "dept" | "place"
        | "branch" | "dprtmnt" => &[C::Location],
        "email" | "mail" => &[C::Email],
        "address" | "addr" | "street" => &[C::Address],
        "sex" | "gender" => &[C::Gender],
        "insurance" | "payer" | "payor" | "carrier" => &[C::Insurance],
        "type" | "kind" | "category" | "reason" => &[C::Kind],
        "note" | "notes" | "comment" | "comments" | "memo" | "remarks" | "remark" => &[C::Note],
        "tz" | "timezone" | "zone" => &[C::Zone],
        "lang" | "language" => &[C::Language],
        "emergency" | "guarantor" | "guardian" | "responsible" | "kin" | "spouse" | "parent" | "mother"
        | "father" | "insured" | "subscriber" | "policyholder" | "holder" | "relative" | "caregiver" => {
            &[C::SomeoneElse]
        }
        _ => return None,
    })
}

/// Words that say nothing about which field a column is.
fn is_noise(word: &str) -> bool {
    matches!(
        word,
        "patient"
            | "patients"
            | "pt"
            | "pat"
            | "client"
            | "member"
            | "person"
            | "customer"
            | "the"
            | "of"
            | "a"
            | "an"
            | "for"
            | "on"
            | "in"
            | "at"
            | "to"
            | "s"
            | "and"
            | "or"
            | "by"
    )
}

/// How much a token counts in [`similarity`].
fn weight(token: &Token) -> f64 {
    match token {
        Token::Concept(C::Number) => 0.25,
        Token::Concept(C::Name | C::Mobile | C::Home | C::Work | C::Primary | C::Id | C::Full) => 0.5,
        _ => 1.0,
    }
}

/// Splits a header into lower-case words: at anything not a letter or digit, at camelCase and
/// letter/digit boundaries; `#` is a word; runs of single letters (`D.O.B.`) are joined.
pub(crate) fn words(header: &str) -> Vec<String> {
    let chars: Vec<char> = header.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '#' {
            flush(&mut cur, &mut out);
            out.push("#".to_owned());
            continue;
        }
        if !c.is_alphanumeric() {
            flush(&mut cur, &mut out);
            continue;
        }
        if let Some(&prev) = i.checked_sub(1).and_then(|p| chars.get(p)) {
            if !cur.is_empty() {
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
                let boundary = (prev.is_lowercase() && c.is_uppercase())
                    || (prev.is_alphabetic() != c.is_alphabetic())
                    || (prev.is_uppercase() && c.is_uppercase() && next_lower);
                if boundary {
                    flush(&mut cur, &mut out);
                }
            }
        }
        cur.extend(c.to_lowercase());
    }
    flush(&mut cur, &mut out);
    join_single_letters(out)
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    if !cur.is_empty() {
        out.push(std::mem::take(cur));
    }
}

fn join_single_letters(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut run = String::new();
    let mut run_len = 0;
    let single = |w: &str| w.chars().count() == 1 && w.chars().all(char::is_alphabetic);
    for w in words {
        if single(&w) {
            run.push_str(&w);
            run_len += 1;
            continue;
        }
        if run_len > 0 {
            out.push(std::mem::take(&mut run));
            run_len = 0;
        }
        out.push(w);
    }
    if run_len > 0 {
        out.push(run);
    }
    out
}

/// The token set of a header (sorted, without duplicates).
pub(crate) fn tokens(header: &str) -> Vec<Token> {
    let words = words(header);
    let mut out: Vec<Token> = Vec::new();
    let mut only_noise = !words.is_empty();
    for word in &words {
        if is_noise(word) {
            continue;
        }
        only_noise = false;
        push_word(word, &mut out);
    }
    // A column headed just `Patient` or `Client` holds the person's whole name.
    if only_noise && words.iter().any(|w| matches!(w.as_str(), "patient" | "client" | "member" | "person")) {
        out.push(Token::Concept(C::Name));
        out.push(Token::Concept(C::Full));
    }
    out.sort();
    out.dedup();
    out
}

fn push_word(word: &str, out: &mut Vec<Token>) {
    if let Some(concepts) = lookup(word) {
        out.extend(concepts.iter().map(|&c| Token::Concept(c)));
        return;
    }
    if let Some(concepts) = word.strip_suffix('s').and_then(lookup) {
        out.extend(concepts.iter().map(|&c| Token::Concept(c)));
        return;
    }
    if let Some(parts) = segment(word) {
        for part in parts {
            if !is_noise(part) {
                if let Some(concepts) = lookup(part) {
                    out.extend(concepts.iter().map(|&c| Token::Concept(c)));
                }
            }
        }
        return;
    }
    out.push(Token::Word(word.to_owned()));
}

/// Splits a run-together word (`apptdate`, `patfname`) into known words, or `None`.
/// Dynamic programming over prefixes, preferring fewer parts.
fn segment(word: &str) -> Option<Vec<&str>> {
    const MIN_LEN: usize = 5;
    const MAX_LEN: usize = 40;
    if word.len() < MIN_LEN || word.len() > MAX_LEN || !word.is_ascii() {
        return None;
    }
    let n = word.len();
    // best[i] = (parts, previous cut) for word[..i]
    let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
    best[0] = Some((0, 0));
    for end in 1..=n {
        for start in 0..end {
            let Some((parts, _)) = best[start] else { continue };
            let piece = &word[start..end];
            // Single letters and digits are too easy to match by accident.
            let known = piece.len() >= 2 && (lookup(piece).is_some() || is_noise(piece));
            if known && best[end].is_none_or(|(p, _)| parts + 1 < p) {
                best[end] = Some((parts + 1, start));
            }
        }
    }
    best[n]?;
    let mut cuts = Vec::new();
    let mut end = n;
    while end > 0 {
        let (_, start) = best[end]?;
        cuts.push(&word[start..end]);
        end = start;
    }
    cuts.reverse();
    (cuts.len() >= 2).then_some(cuts)
}

/// Weighted precision times recall of two token sets, in 0..=1.
pub(crate) fn similarity(a: &[Token], b: &[Token]) -> f64 {
    let wa: f64 = a.iter().map(weight).sum();
    let wb: f64 = b.iter().map(weight).sum();
    if wa == 0.0 || wb == 0.0 {
        return 0.0;
    }
    let common: f64 = a.iter().filter(|t| b.contains(t)).map(weight).sum();
    (common * common) / (wa * wb)
}

/// Whether a header uses at least one word clinic exports use for patient or appointment data.
pub(crate) fn is_known_header(header: &str) -> bool {
    tokens(header).iter().any(|t| matches!(t, Token::Concept(c) if *c != C::Number))
}

/// Whether a token set is only a person's name (`Name`, `Patient Name`, `Full Name`, `Patient`).
pub(crate) fn is_whole_name(tokens: &[Token]) -> bool {
    !tokens.is_empty()
        && tokens.contains(&Token::Concept(C::Name))
        && tokens.iter().all(|t| matches!(t, Token::Concept(C::Name | C::Full)))
}

/// Whether a header names someone other than the patient (`Emergency Contact Phone`,
/// `Guarantor Name`, `Responsible Party`): such a column never fills a patient field on its own.
/// A provider is a field of its own, so `Responsible Provider` is not someone else.
pub(crate) fn names_someone_else(tokens: &[Token]) -> bool {
    tokens.contains(&Token::Concept(C::SomeoneElse)) && !tokens.contains(&Token::Concept(C::Provider))
}

/// Whether a token set says both date and time (`Appointment Date/Time`, `appointment_datetime`).
pub(crate) fn says_date_and_time(tokens: &[Token]) -> bool {
    tokens.contains(&Token::Concept(C::Date)) && tokens.contains(&Token::Concept(C::Time))
}

/// Whether a token set says date or time at all.
pub(crate) fn says_date_or_time(tokens: &[Token]) -> bool {
    tokens.iter().any(|t| matches!(t, Token::Concept(C::Date | C::Time)))
}

/// Adds the date and time concepts to a token set, keeping it sorted.
pub(crate) fn add_date_and_time(tokens: &mut Vec<Token>) {
    tokens.extend([Token::Concept(C::Date), Token::Concept(C::Time)]);
    tokens.sort();
    tokens.dedup();
}

/// The tokens other than date and time, to pair an `appointmentDate` with an `appointmentTime`.
pub(crate) fn without_date_time(tokens: &[Token]) -> Vec<Token> {
    tokens.iter().filter(|t| !matches!(t, Token::Concept(C::Date | C::Time))).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(concepts: &[Concept]) -> Vec<Token> {
        let mut v: Vec<Token> = concepts.iter().map(|&c| Token::Concept(c)).collect();
        v.sort();
        v
    }

    #[test]
    fn headers_split_into_words_at_every_kind_of_boundary() {
        assert_eq!(words("PT_FNAME"), ["pt", "fname"]);
        assert_eq!(words("Mobile #"), ["mobile", "#"]);
        assert_eq!(words("D.O.B."), ["dob"]);
        assert_eq!(words("PatientFirst"), ["patient", "first"]);
        assert_eq!(words("Phone2"), ["phone", "2"]);
        assert_eq!(words("appointment_datetime"), ["appointment", "datetime"]);
        assert_eq!(words("DOBDate"), ["dob", "date"]);
        assert_eq!(words(""), Vec::<String>::new());
    }

    #[test]
    fn spellings_of_one_field_reduce_to_the_same_tokens() {
        let first = c(&[C::First, C::Name]);
        for h in ["PT_FNAME", "Patient First Name", "first_name", "FirstName", "PATFNAME", "Given Name"] {
            assert_eq!(tokens(h), first, "{h}");
        }
        let dob = c(&[C::Birth, C::Date]);
        for h in ["D.O.B.", "DOB", "Date of Birth", "Birthdate", "Patient DOB", "birth_date"] {
            assert_eq!(tokens(h), dob, "{h}");
        }
        assert_eq!(tokens("Mobile #"), c(&[C::Phone, C::Mobile, C::Number]));
        assert_eq!(tokens("APPTDATE"), c(&[C::Appt, C::Date]));
        assert_eq!(tokens("Patient"), c(&[C::Name, C::Full]));
    }

    #[test]
    fn similarity_rewards_the_same_concepts_and_discounts_qualifiers() {
        let phone = tokens("Phone");
        assert!((similarity(&tokens("Phone Number"), &phone) - 0.8).abs() < 1e-9);
        assert_eq!(similarity(&tokens("Telephone"), &phone), 1.0);
        assert!(similarity(&tokens("Last Visit"), &tokens("Last")) < 0.6);
        assert!(similarity(&tokens("Emergency Contact Phone"), &phone) < 0.5);
        assert_eq!(similarity(&[], &phone), 0.0);
    }

    #[test]
    fn whole_name_and_date_time_headers_are_recognised() {
        assert!(is_whole_name(&tokens("Name")));
        assert!(is_whole_name(&tokens("Patient Name")));
        assert!(is_whole_name(&tokens("Full Name")));
        assert!(!is_whole_name(&tokens("Provider Name")));
        assert!(says_date_and_time(&tokens("appointment_datetime")));
        assert!(says_date_and_time(&tokens("Appt Date/Time")));
        assert!(!says_date_and_time(&tokens("Appt Date")));
    }

    #[test]
    fn headers_naming_someone_else_are_recognised_but_providers_are_not() {
        for h in [
            "Emergency Contact Phone",
            "Guarantor Name",
            "Responsible Party Phone",
            "Next of Kin",
            "Parent/Guardian Cell",
            "Insured's DOB",
            "Policy Holder Name",
            "EMERGENCYPHONE",
        ] {
            assert!(names_someone_else(&tokens(h)), "{h}");
        }
        for h in ["Patient Phone", "Contact Number", "Responsible Provider", "Name"] {
            assert!(!names_someone_else(&tokens(h)), "{h}");
        }
    }
}
