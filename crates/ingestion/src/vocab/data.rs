//! `words.txt` (the vocabulary, by language; its format is described at its top) read into
//! lookup tables, once per process.
//!
//! The shipped file is checked by a unit test, so reading it cannot fail at run time; should it
//! ever, [`vocabulary`] is empty rather than a panic: headers then match only by their exact
//! names and aliases, which is degraded but still honest.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use super::Concept;
use crate::identity::fold_word;
use crate::transform::DateOrder;

const WORDS: &str = include_str!("words.txt");

static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| parse(WORDS).unwrap_or_default());

/// The shipped vocabulary.
pub(super) fn vocabulary() -> &'static Vocabulary {
    &VOCABULARY
}

/// Languages an entry belongs to, one bit per section in file order.
pub(super) type Languages = u32;

/// The most language sections [`Languages`] can tell apart.
const MAX_LANGUAGES: usize = Languages::BITS as usize;

#[derive(Debug, Default)]
struct Entry {
    concepts: Vec<Concept>,
    languages: Languages,
}

/// The parsed vocabulary. Words and phrases are folded ([`fold_word`]); a phrase's words are
/// joined by one space.
#[derive(Debug, Default)]
pub(crate) struct Vocabulary {
    languages: usize,
    concepts: HashMap<String, Entry>,
    /// The most words in a phrase (1 when there are none).
    longest_phrase: usize,
    noise: HashMap<String, Languages>,
    person: HashSet<String>,
    given_beside_surname: HashSet<String>,
    months: HashMap<String, u32>,
    weekdays: Vec<String>,
    date_fillers: HashSet<String>,
    conjunctions: HashSet<String>,
    time_units: Vec<String>,
    date_time_joiners: Vec<String>,
    /// Per language: how its numeric dates are written.
    date_orders: Vec<Option<DateOrder>>,
}

impl Vocabulary {
    /// The concepts of a word or a phrase.
    pub(super) fn concepts(&self, word: &str) -> Option<&[Concept]> {
        self.concepts.get(word).map(|e| e.concepts.as_slice())
    }

    /// The concepts of the longest phrase (two words or more) that `words` starts with, and
    /// how many words it takes.
    pub(super) fn phrase_at(&self, words: &[String]) -> Option<(usize, &[Concept])> {
        (2..=self.longest_phrase.min(words.len())).rev().find_map(|n| {
            let phrase = words[..n].join(" ");
            self.concepts(&phrase).map(|c| (n, c))
        })
    }

    pub(super) fn is_noise(&self, word: &str) -> bool {
        self.noise.contains_key(word)
    }

    pub(super) fn is_person(&self, word: &str) -> bool {
        self.person.contains(word)
    }

    pub(super) fn is_given_beside_surname(&self, word: &str) -> bool {
        self.given_beside_surname.contains(word)
    }

    /// Whether `word` is a concept word or a noise word of language `language`.
    pub(super) fn known_in(&self, word: &str, language: usize) -> bool {
        let bit = 1 << language;
        self.concepts.get(word).is_some_and(|e| e.languages & bit != 0)
            || self.noise.get(word).is_some_and(|l| l & bit != 0)
    }

    /// The languages a word (not a phrase) belongs to, as concept or noise.
    pub(super) fn languages_of(&self, word: &str) -> Option<Languages> {
        let of_concept = self.concepts.get(word).map(|e| e.languages);
        let of_noise = self.noise.get(word).copied();
        of_concept.into_iter().chain(of_noise).reduce(|a, b| a | b)
    }

    /// The date order of every language in `languages`, when they agree.
    pub(super) fn date_order(&self, languages: Languages) -> Option<DateOrder> {
        let mut orders =
            (0..self.languages).filter(|l| languages & (1 << l) != 0).map(|l| self.date_orders[l]);
        let first = orders.next()??;
        orders.all(|o| o == Some(first)).then_some(first)
    }

    /// How many language sections there are.
    pub(super) fn languages(&self) -> usize {
        self.languages
    }

    pub(super) fn month(&self, word: &str) -> Option<u32> {
        self.months.get(word).copied()
    }

    pub(super) fn weekdays(&self) -> &[String] {
        &self.weekdays
    }

    pub(super) fn is_date_filler(&self, word: &str) -> bool {
        self.date_fillers.contains(word)
    }

    pub(super) fn time_units(&self) -> &[String] {
        &self.time_units
    }

    pub(super) fn date_time_joiners(&self) -> &[String] {
        &self.date_time_joiners
    }

    pub(super) fn is_conjunction(&self, word: &str) -> bool {
        self.conjunctions.contains(word)
    }
}

/// A line of the vocabulary that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// 1-based line number; 0 for a problem of the whole file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads a vocabulary file (see `words.txt` for the format).
pub(crate) fn parse(text: &str) -> Result<Vocabulary, ParseError> {
    let mut v = Vocabulary { longest_phrase: 1, ..Vocabulary::default() };
    let mut language: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let err = |message: String| ParseError { line: i + 1, message };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                return Err(err(format!("a section is a language name such as [en], not [{name}]")));
            }
            if v.languages == MAX_LANGUAGES {
                return Err(err(format!("at most {MAX_LANGUAGES} language sections")));
            }
            language = Some(v.languages);
            v.languages += 1;
            v.date_orders.push(None);
            continue;
        }
        let Some(language) = language else {
            return Err(err("an entry before the first [language] section".to_owned()));
        };
        let Some((key, list)) = line.split_once(':') else {
            return Err(err(format!("expected `key: words`, found {line:?}")));
        };
        if key.trim() == "date-order" {
            v.date_orders[language] = Some(match list.trim() {
                "month-first" => DateOrder::MonthFirst,
                "day-first" => DateOrder::DayFirst,
                other => return Err(err(format!("date-order is month-first or day-first, not {other:?}"))),
            });
            continue;
        }
        let words: Vec<String> =
            list.split_whitespace().map(read_word).collect::<Result<_, _>>().map_err(err)?;
        if words.is_empty() {
            return Err(err(format!("no words after {key:?}")));
        }
        add_entry(&mut v, key.trim(), words, language).map_err(err)?;
    }
    check(&v).map_err(|message| ParseError { line: 0, message })?;
    Ok(v)
}

/// A word of the file, folded; `_` joins the words of a phrase.
fn read_word(word: &str) -> Result<String, String> {
    let folded = fold_word(word);
    let parts: Vec<&str> = folded.split('_').collect();
    let valid = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '#');
    if !parts.iter().all(|p| valid(p)) {
        return Err(format!("{word:?} is not a word: letters, digits or `#`, phrases joined by `_`"));
    }
    Ok(parts.join(" "))
}

fn add_entry(v: &mut Vocabulary, key: &str, words: Vec<String>, language: usize) -> Result<(), String> {
    let bit: Languages = 1 << language;
    match key {
        "noise" | "person" => {
            for w in words {
                if v.concepts.contains_key(&w) {
                    return Err(format!("{w:?} is noise and also has a meaning"));
                }
                if key == "person" {
                    v.person.insert(w.clone());
                }
                *v.noise.entry(w).or_default() |= bit;
            }
        }
        "given-beside-surname" => v.given_beside_surname.extend(words),
        "weekday" => v.weekdays.extend(words),
        "date-filler" => v.date_fillers.extend(words),
        "conjunction" => v.conjunctions.extend(words),
        "time-unit" => v.time_units.extend(words),
        "date-time-joiner" => v.date_time_joiners.extend(words),
        _ if key.starts_with("month-") => {
            let month = key["month-".len()..]
                .parse::<u32>()
                .ok()
                .filter(|m| (1..=12).contains(m))
                .ok_or_else(|| format!("{key:?} is not month-1 to month-12"))?;
            for w in words {
                match v.months.insert(w.clone(), month) {
                    Some(other) if other != month => {
                        return Err(format!("{w:?} is month {other} and month {month}"));
                    }
                    _ => {}
                }
            }
        }
        _ => {
            let mut concepts: Vec<Concept> = key
                .split('+')
                .map(|name| {
                    Concept::from_name(name.trim()).ok_or_else(|| format!("{name:?} is not a concept"))
                })
                .collect::<Result<_, _>>()?;
            concepts.sort();
            concepts.dedup();
            for w in words {
                if v.noise.contains_key(&w) {
                    return Err(format!("{w:?} has a meaning and is also noise"));
                }
                v.longest_phrase = v.longest_phrase.max(w.split(' ').count());
                let entry = v.concepts.entry(w.clone()).or_default();
                if entry.languages == 0 {
                    entry.concepts.clone_from(&concepts);
                } else if entry.concepts != concepts {
                    return Err(format!("{w:?} already means {:?}", entry.concepts));
                } else if entry.languages & bit != 0 {
                    return Err(format!("{w:?} is listed twice"));
                }
                entry.languages |= bit;
            }
        }
    }
    Ok(())
}

/// Checks that need the whole file.
fn check(v: &Vocabulary) -> Result<(), String> {
    for w in &v.given_beside_surname {
        if v.concepts(w) != Some(&[Concept::Name]) {
            return Err(format!("given-beside-surname word {w:?} must mean only `name`"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_vocabulary_parses_completely() {
        let v = parse(WORDS).unwrap_or_else(|e| panic!("words.txt {e}"));
        assert_eq!(v.languages(), 2);
        assert_eq!(v.concepts("telefono"), Some(&[Concept::Phone][..]));
        assert_eq!(v.concepts("primer apellido"), Some(&[Concept::Last, Concept::Name][..]));
        assert_eq!(v.month("diciembre"), Some(12));
        assert_eq!((1..=12).filter(|m| v.months.values().any(|x| x == m)).count(), 12);
        assert!(v.weekdays().contains(&"miercoles".to_owned()));
        assert!(v.is_person("paciente") && v.is_noise("paciente"));
        assert_eq!(v.date_orders, [Some(DateOrder::MonthFirst), Some(DateOrder::DayFirst)]);
    }

    #[test]
    fn a_bad_line_is_refused_with_its_number() {
        let bad = |text: &str| parse(text).unwrap_err();
        assert_eq!(bad("phone: tel").message, "an entry before the first [language] section");
        assert_eq!(bad("[en]\n# c\nphone tel").line, 3);
        assert_eq!(bad("[en]\nfon: tel"), ParseError { line: 2, message: "\"fon\" is not a concept".into() });
        assert_eq!(bad("[en]\nphone:").message, "no words after \"phone\"");
        assert_eq!(bad("[en]\nphone: tel\n[es]\ndate: tel").line, 4);
        assert_eq!(bad("[en]\nphone: tel\nphone: tel").message, "\"tel\" is listed twice");
        assert_eq!(bad("[en]\nnoise: the\ndate: the").line, 3);
        assert_eq!(bad("[en]\nmonth-13: undecember").line, 2);
        assert_eq!(bad("[en]\nmonth-1: jan\nmonth-2: jan").line, 3);
        assert_eq!(bad("[en]\nphone: te-l").line, 2);
        assert_eq!(bad("[EN]").line, 1);
        assert_eq!(bad("[en]\ndate-order: year-first").line, 2);
        assert_eq!(bad("[en]\nphone: tel\ngiven-beside-surname: tel").line, 0);
    }

    #[test]
    fn the_same_word_in_two_languages_shares_one_meaning() {
        let v = parse("[en]\nphone: tel\n[es]\nphone: tel telefono").unwrap();
        assert!(v.known_in("tel", 0) && v.known_in("tel", 1));
        assert!(!v.known_in("telefono", 0) && v.known_in("telefono", 1));
        assert_eq!(v.concepts("teléfono"), None, "entries are folded; lookups fold first");
        assert_eq!(v.concepts("telefono"), Some(&[Concept::Phone][..]));
    }
}
