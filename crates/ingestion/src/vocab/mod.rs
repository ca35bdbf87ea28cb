//! The words clinic exports use in headers, reduced to concepts so that `PT_FNAME`,
//! `Patient First Name`, `first_name` and `Primer Nombre` compare equal, and `Mobile #` is close
//! to `Phone`.
//!
//! The words live in data, `vocab/words.txt` (by language, read once by [`data`]), not in code:
//! adding a language or a spelling is a line there.
//!
//! A header becomes a set of [`Token`]s: each word (split at punctuation, spaces, camelCase and
//! letter/digit boundaries, with runs of single letters such as `D.O.B.` joined back into `dob`,
//! then lower-cased and stripped of accents, so `TELÉFONO` is `telefono`) is looked up in the
//! table; a phrase of the table (`Historia Clínica`, `Primer Apellido`) is read as one word
//! first. Known words become concepts, unknown words stay words. Words such as `patient`, `the`
//! or `del` are noise and dropped. A word missing from the table is also tried as a
//! concatenation of known words of one language (`APPTDATE` = `appt` + `date`, `FECHANAC` =
//! `fecha` + `nac`).
//!
//! [`similarity`] is weighted precision times recall of two token sets: 1 for the same concepts,
//! and qualifiers (`#`, `name`, `mobile`, `home`) weigh less than the concept they qualify, so
//! `Phone Number` still matches `Phone` well while `Last Visit` matches `Last` only halfway.

mod data;

use crate::identity::fold_word;
use crate::transform::DateOrder;
use data::vocabulary;

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
    /// Someone other than the patient: an emergency contact, guarantor, relative.
    SomeoneElse,
    /// A second (in Spanish usually maternal) surname, kept apart from the last name.
    SecondSurname,
    /// The end of an interval (`End Date & Time`): no variable is an appointment's end, so an
    /// end column does not tie with the start column for the appointment.
    End,
}

/// One element of a header's token set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Token {
    Concept(Concept),
    Word(String),
}

use Concept as C;

impl Concept {
    /// The concept named in `words.txt` (`first`, `someone-else`).
    fn from_name(name: &str) -> Option<Concept> {
        Some(match name {
            "first" => C::First,
            "last" => C::Last,
            "middle" => C::Middle,
            "name" => C::Name,
            "full" => C::Full,
            "birth" => C::Birth,
            "date" => C::Date,
            "time" => C::Time,
            "phone" => C::Phone,
            "mobile" => C::Mobile,
            "home" => C::Home,
            "work" => C::Work,
            "primary" => C::Primary,
            "secondary" => C::Secondary,
            "number" => C::Number,
            "mrn" => C::Mrn,
            "id" => C::Id,
            "appt" => C::Appt,
            "provider" => C::Provider,
            "location" => C::Location,
            "email" => C::Email,
            "address" => C::Address,
            "gender" => C::Gender,
            "insurance" => C::Insurance,
            "kind" => C::Kind,
            "note" => C::Note,
            "zone" => C::Zone,
            "language" => C::Language,
            "someone-else" => C::SomeoneElse,
            "second-surname" => C::SecondSurname,
            "end" => C::End,
            _ => return None,
        })
    }
}

/// Word (folded: lower case, no accents) -> concepts, in any language.
fn lookup(word: &str) -> Option<&'static [Concept]> {
    vocabulary().concepts(word)
}

/// Words that say nothing about which field a column is.
fn is_noise(word: &str) -> bool {
    vocabulary().is_noise(word)
}

/// The month a word of a written date names (`march`, `mar.`, `marzo`, `Dic`), from 1.
pub(crate) fn month(word: &str) -> Option<u32> {
    vocabulary().month(&folded(word.trim_end_matches('.')))
}

/// Whether a word of a written date is a weekday: a name or its 3- or 4-letter prefix (`Tue`,
/// `Tues.`, `miércoles`, `Mié`).
pub(crate) fn is_weekday(word: &str) -> bool {
    let w = folded(word.trim_end_matches('.'));
    let n = w.chars().count();
    vocabulary().weekdays().iter().any(|d| n >= 3 && d.starts_with(&*w) && (n <= 4 || *w == **d))
}

/// Whether a word inside a written date only links its parts (`de` in `3 de marzo de 1985`).
pub(crate) fn is_date_filler(word: &str) -> bool {
    vocabulary().is_date_filler(&folded(word))
}

/// A time without the unit word after it (`10:30hrs` -> `10:30`), for text already lower-cased
/// and without spaces.
pub(crate) fn without_time_unit(time: &str) -> &str {
    if !time.ends_with(|c: char| c.is_alphabetic()) {
        return time;
    }
    vocabulary()
        .time_units()
        .iter()
        .filter_map(|unit| time.strip_suffix(unit.as_str()))
        .find(|clock| clock.ends_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(time)
}

/// The time part of a date-and-time text after a joining word (`at 9:30`, `a las 9:30`), or
/// the text as it is.
pub(crate) fn without_date_time_joiner(rest: &str) -> &str {
    for joiner in vocabulary().date_time_joiners() {
        let n = joiner.len();
        let starts = rest.get(..n).is_some_and(|head| head.eq_ignore_ascii_case(joiner));
        if let Some(after) = rest.get(n..).filter(|after| starts && after.starts_with(' ')) {
            return after.trim_start();
        }
    }
    rest
}

/// [`fold_word`] without a copy for a word already folded (date words arrive lower-cased, and
/// a preview reads many of them).
fn folded(word: &str) -> std::borrow::Cow<'_, str> {
    if word.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        std::borrow::Cow::Borrowed(word)
    } else {
        std::borrow::Cow::Owned(fold_word(word))
    }
}

/// The numeric date order of a header's language (`Fecha de Nacimiento`: day first): the
/// languages every known word of the header belongs to, when they agree on it. `None` for a
/// header of no known word, of words shared by languages that disagree (`Tel`), or mixing
/// languages.
pub(crate) fn header_date_order(header: &str) -> Option<DateOrder> {
    let v = vocabulary();
    let languages = words(header).iter().filter_map(|w| v.languages_of(w)).reduce(|a, b| a & b)?;
    v.date_order(languages)
}

/// Whether a header word joins two parts (`and`, `y`: `Nombre y Apellido`).
pub(crate) fn is_conjunction(word: &str) -> bool {
    vocabulary().is_conjunction(word)
}

/// How much a token counts in [`similarity`].
fn weight(token: &Token) -> f64 {
    match token {
        Token::Concept(C::Number) => 0.25,
        Token::Concept(C::Name | C::Mobile | C::Home | C::Work | C::Primary | C::Id | C::Full) => 0.5,
        _ => 1.0,
    }
}

/// Splits a header into lower-case words without accents: at anything not a letter or digit, at
/// camelCase and letter/digit boundaries; `#` is a word; runs of single letters (`D.O.B.`) are
/// joined.
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
        let word = std::mem::take(cur);
        out.push(if word.is_ascii() { word } else { fold_word(&word) });
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
    let v = vocabulary();
    let words = words(header);
    let mut out: Vec<Token> = Vec::new();
    let mut only_noise = !words.is_empty();
    let mut i = 0;
    while i < words.len() {
        if let Some((n, concepts)) = v.phrase_at(&words[i..]) {
            out.extend(concepts.iter().map(|&c| Token::Concept(c)));
            only_noise = false;
            i += n;
            continue;
        }
        let word = &words[i];
        i += 1;
        if is_noise(word) {
            continue;
        }
        only_noise = false;
        push_word(word, &mut out);
    }
    // A column headed just `Patient` or `Paciente` holds the person's whole name.
    if only_noise && words.iter().any(|w| v.is_person(w)) {
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
    if let Some(parts) = (0..vocabulary().languages()).find_map(|language| segment(word, language)) {
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

/// Splits a run-together word (`apptdate`, `patfname`) into known words of one language, or
/// `None`; mixing languages would let short words of one cut up the unknown words of another.
/// Dynamic programming over prefixes, preferring fewer parts.
fn segment(word: &str, language: usize) -> Option<Vec<&str>> {
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
            let known = piece.len() >= 2 && vocabulary().known_in(piece, language);
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

/// A header or variable name for exact comparison: [`normalize_header`] (case, spaces and
/// punctuation ignored), with accents folded too.
///
/// [`normalize_header`]: rivvi_domain::campaign::normalize_header
pub(crate) fn normalize(name: &str) -> String {
    let n = rivvi_domain::campaign::normalize_header(name);
    if n.is_ascii() {
        n
    } else {
        fold_word(&n)
    }
}

/// Whether a header is just a word that is the given name when another column holds the
/// surname (`Nombre`, `Nombres`, `Nombre(s)` beside `Apellido`). A header saying whose name it
/// is (`Nombre del Paciente`) is the whole name, and so is English `Name`: beside `Last Name` it
/// is as often the whole name as the first.
pub(crate) fn is_given_name_beside_surname(header: &str) -> bool {
    let v = vocabulary();
    let words = words(header);
    let mut meaningful = words.iter().filter(|w| !is_noise(w));
    let only = meaningful.next().filter(|_| meaningful.next().is_none());
    only.is_some_and(|w| v.is_given_beside_surname(w)) && !words.iter().any(|w| v.is_person(w))
}

/// Whether a token set says both date and time (`Appointment Date/Time`, `appointment_datetime`).
pub(crate) fn says_date_and_time(tokens: &[Token]) -> bool {
    tokens.contains(&Token::Concept(C::Date)) && tokens.contains(&Token::Concept(C::Time))
}

/// Whether a token set says a date and a time and nothing else but "appointment" (`Start Date &
/// Time`, `sched.Start Date` once its cells add the time).
pub(crate) fn says_only_when(tokens: &[Token]) -> bool {
    says_date_and_time(tokens)
        && tokens.iter().all(|t| matches!(t, Token::Concept(C::Date | C::Time | C::Appt)))
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
        assert!(says_date_and_time(&tokens("Fecha/Hora de la Cita")));
        assert!(is_whole_name(&tokens("Nombre del Paciente")));
        assert!(is_whole_name(&tokens("Paciente")));
        assert!(is_whole_name(&tokens("Nombre Completo")));
    }

    #[test]
    fn accents_and_case_are_folded_before_lookup() {
        for h in ["Teléfono", "TELÉFONO", "telefono", "Tel.", "TELEFONO_PACIENTE"] {
            assert_eq!(tokens(h), c(&[C::Phone]), "{h}");
        }
        assert_eq!(words("FechaDeNacimiento"), ["fecha", "de", "nacimiento"]);
        assert_eq!(words("Años"), ["anos"]);
    }

    #[test]
    fn spanish_headers_reduce_to_the_english_concepts() {
        let cases: &[(&str, &[Concept])] = &[
            ("Fecha de Nacimiento", &[C::Birth, C::Date]),
            ("F. Nacimiento", &[C::Birth, C::Date]),
            ("Fec. Nac.", &[C::Birth, C::Date]),
            ("FECHANAC", &[C::Birth, C::Date]),
            ("Apellido(s)", &[C::Last, C::Name]),
            ("Primer Apellido", &[C::Last, C::Name]),
            ("Apellido Paterno", &[C::Last, C::Name]),
            ("Segundo Apellido", &[C::SecondSurname]),
            ("Apellido Materno", &[C::SecondSurname]),
            ("Primer Nombre", &[C::First, C::Name]),
            ("Segundo Nombre", &[C::Middle]),
            ("Celular", &[C::Phone, C::Mobile]),
            ("Tel. Celular", &[C::Phone, C::Mobile]),
            ("Móvil", &[C::Phone, C::Mobile]),
            ("Teléfono de Casa", &[C::Phone, C::Home]),
            ("Teléfono Trabajo", &[C::Phone, C::Work]),
            ("Fecha de la Cita", &[C::Appt, C::Date]),
            ("Hora de la Cita", &[C::Appt, C::Time]),
            ("Médico", &[C::Provider]),
            ("Doctor(a)", &[C::Provider]),
            ("Consultorio", &[C::Location]),
            ("Clínica", &[C::Location]),
            ("Historia Clínica", &[C::Mrn]),
            ("No. de Expediente", &[C::Mrn, C::Number]),
            ("Número de Historia", &[C::Mrn, C::Number]),
            ("Nº Historia", &[C::Mrn, C::Number]),
            ("N° de Historia Clínica", &[C::Mrn, C::Number]),
            ("Teléfono Fijo", &[C::Phone, C::Home]),
            ("Correo Electrónico", &[C::Email]),
            ("Tipo de Cita", &[C::Appt, C::Kind]),
            ("Observaciones", &[C::Note]),
            ("Teléfono de Emergencia", &[C::Phone, C::SomeoneElse]),
            ("Nombre del Cónyuge", &[C::Name, C::SomeoneElse]),
            ("Policy Holder Phone", &[C::Phone, C::SomeoneElse]),
            ("Teléfono del Apoderado", &[C::Phone, C::SomeoneElse]),
        ];
        for (header, concepts) in cases {
            assert_eq!(tokens(header), c(concepts), "{header}");
        }
    }

    #[test]
    fn a_header_in_spanish_reads_dates_day_first() {
        assert_eq!(header_date_order("Fecha de Nacimiento"), Some(DateOrder::DayFirst));
        assert_eq!(header_date_order("F. Nac."), Some(DateOrder::DayFirst));
        assert_eq!(header_date_order("FECHA/HORA DE LA CITA"), Some(DateOrder::DayFirst));
        assert_eq!(header_date_order("Date of Birth"), Some(DateOrder::MonthFirst));
        assert_eq!(header_date_order("DOB"), Some(DateOrder::MonthFirst));
        assert_eq!(header_date_order("Fecha DOB"), None, "mixed languages");
        assert_eq!(header_date_order("No."), None, "shared by languages that disagree");
        assert_eq!(header_date_order("Geburtsdatum"), None);
    }

    #[test]
    fn a_bare_nombre_is_the_given_name_only_beside_a_surname() {
        for h in ["Nombre", "NOMBRES", "Nombre(s)"] {
            assert!(is_given_name_beside_surname(h), "{h}");
        }
        for h in ["Nombre del Paciente", "Nombre Completo", "Name", "Paciente", "Primer Nombre"] {
            assert!(!is_given_name_beside_surname(h), "{h}");
        }
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
