//! Headers that say how a whole-name column is written: `Name (Last, First)`, `Patient Name
//! (Last, First MI)`, `Last Name, First Name`, `LAST, FIRST`, `Patient (First Last)`, `Name
//! (Last First)`, `Nombre (Apellido, Nombre)`, `Apellido y Nombre`.
//!
//! Such a header has a specification of two name parts, one the given name and one the family
//! name (a middle name or initial may follow either), either in parentheses after a header that
//! is a whole name (`Name`, `Patient`, `Nombre del Paciente`; `Provider (Last, First)` is not the
//! patient) or as the whole header. Inside a specification a bare `Nombre` is the given name when
//! the other part is the surname. The specification gives the order ([`NameOrder`]), and whether
//! the parts are separated by a comma.
//!
//! The cells must not contradict it ([`confirmed_by_cells`]): under a comma specification
//! (`Last, First`) most sampled names have a comma; under `First Last` most do not (a comma there
//! means the cells are `Last, First`). A specification without a comma (`Last First`) cannot be
//! checked by commas and is trusted: `Smith John` is family `Smith`, given `John`. When header and
//! cells disagree, the column is reported as an ambiguity and left unmapped, since either reading
//! could produce wrong names.

use crate::map::NameOrder;
use crate::table::Row;
use crate::vocab::{self, Concept, Token};

/// What a header says about the layout of its whole-name cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameLayout {
    pub order: NameOrder,
    /// Whether the specification separates the parts with a comma (`Last, First`).
    pub comma: bool,
}

/// The layout a header describes, if it describes one (see the module documentation).
pub(crate) fn name_layout(header: &str) -> Option<NameLayout> {
    let (spec, parenthesised) = match header.split_once('(') {
        Some((before, rest)) => {
            let (inside, after) = rest.split_once(')')?;
            let outer = vocab::tokens(before);
            let whole_name = outer.is_empty() || vocab::is_whole_name(&outer);
            if !whole_name || !vocab::tokens(after).is_empty() {
                return None;
            }
            (inside, true)
        }
        None => (header, false),
    };
    let order = order_of_parts(spec)?;
    // Without parentheses the parts need a separator: `First Last` alone is too easily a
    // pair of words that happen to be adjacent.
    let separated =
        spec.contains([',', '/', '&']) || vocab::words(spec).iter().any(|w| vocab::is_conjunction(w));
    (parenthesised || separated).then_some(NameLayout { order, comma: spec.contains(',') })
}

/// The order of the given-name and family-name words of a specification, when it has exactly
/// one of each and nothing but name words.
fn order_of_parts(spec: &str) -> Option<NameOrder> {
    #[derive(Clone, Copy, PartialEq)]
    enum Part {
        Given,
        Family,
        /// `Nombre`, `Name`: the given name when nothing else is.
        BareName,
    }
    let mut parts: Vec<Part> = Vec::new();
    for word in vocab::words(spec) {
        let tokens = vocab::tokens(&word);
        let has = |c: Concept| tokens.contains(&Token::Concept(c));
        let only_name_words = tokens.iter().all(|t| {
            matches!(t, Token::Concept(Concept::First | Concept::Last | Concept::Name | Concept::Middle))
        });
        if !only_name_words {
            return None;
        }
        match (has(Concept::First), has(Concept::Last)) {
            (true, true) => return None,
            (true, false) => parts.push(Part::Given),
            (false, true) => parts.push(Part::Family),
            (false, false) if tokens == [Token::Concept(Concept::Name)] => parts.push(Part::BareName),
            // A middle name or initial, or noise.
            (false, false) => {}
        }
    }
    if !parts.contains(&Part::Given) {
        if let [bare] = parts.iter().filter(|p| **p == Part::BareName).collect::<Vec<_>>().as_slice() {
            let at = parts.iter().position(|p| p == *bare)?;
            parts[at] = Part::Given;
        }
    }
    parts.retain(|p| *p != Part::BareName);
    match parts.as_slice() {
        [Part::Given, Part::Family] => Some(NameOrder::FirstLast),
        [Part::Family, Part::Given] => Some(NameOrder::LastFirst),
        _ => None,
    }
}

/// How many of a column's first non-blank cells [`comma_count`] looks at.
const SAMPLE: usize = 50;

/// `(cells with a comma, cells looked at)` among a column's first non-blank cells.
pub(crate) fn comma_count(rows: &[Row], column: usize) -> (usize, usize) {
    rows.iter()
        .map(|r| r.cell(column))
        .filter(|c| !c.is_blank())
        .take(SAMPLE)
        .fold((0, 0), |(commas, seen), c| (commas + usize::from(c.text.contains(',')), seen + 1))
}

/// Whether the cells agree with the layout (see the module documentation); no cells, no
/// disagreement.
pub(crate) fn confirmed_by_cells(layout: NameLayout, (commas, seen): (usize, usize)) -> bool {
    let most_have_commas = commas * 2 > seen;
    seen == 0
        || match layout.order {
            NameOrder::LastFirst => !layout.comma || most_have_commas,
            NameOrder::FirstLast => !most_have_commas,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(order: NameOrder, comma: bool) -> Option<NameLayout> {
        Some(NameLayout { order, comma })
    }

    #[test]
    fn headers_that_describe_a_name_layout_are_read() {
        use NameOrder::*;
        let cases = [
            ("Name (Last, First)", layout(LastFirst, true)),
            ("Patient Name (Last, First)", layout(LastFirst, true)),
            ("Patient Name (Last, First MI)", layout(LastFirst, true)),
            ("Last Name, First Name", layout(LastFirst, true)),
            ("LAST, FIRST", layout(LastFirst, true)),
            ("Last/First", layout(LastFirst, false)),
            ("Patient (First Last)", layout(FirstLast, false)),
            ("Name (First Last)", layout(FirstLast, false)),
            ("Name (Last First)", layout(LastFirst, false)),
            ("(Last, First)", layout(LastFirst, true)),
            ("Nombre (Apellido, Nombre)", layout(LastFirst, true)),
            ("Apellidos, Nombres", layout(LastFirst, true)),
            ("Apellido y Nombre", layout(LastFirst, false)),
            ("Nombre y Apellido", layout(FirstLast, false)),
            ("First and Last Name", layout(FirstLast, false)),
        ];
        for (header, expected) in cases {
            assert_eq!(name_layout(header), expected, "{header}");
        }
    }

    #[test]
    fn other_headers_describe_no_layout() {
        for header in [
            "Name",
            "First Name",
            "Last Name",
            "Patient Name",
            "Provider (Last, First)",
            "Guarantor Name (Last, First)",
            "Emergency Contact (First Last)",
            "Name (Last, First) Phone",
            "Name (Last, Last)",
            "First Last",
            "Appt Date/Time",
            "Nombre (Apellido)",
            "Name (Last, First",
        ] {
            assert_eq!(name_layout(header), None, "{header}");
        }
    }

    #[test]
    fn cells_confirm_or_contradict_the_header() {
        let last_first = NameLayout { order: NameOrder::LastFirst, comma: true };
        let last_space_first = NameLayout { order: NameOrder::LastFirst, comma: false };
        let first_last = NameLayout { order: NameOrder::FirstLast, comma: false };
        assert!(confirmed_by_cells(last_first, (9, 10)));
        assert!(!confirmed_by_cells(last_first, (5, 10)));
        assert!(confirmed_by_cells(last_first, (0, 0)));
        assert!(confirmed_by_cells(last_space_first, (0, 10)));
        assert!(confirmed_by_cells(first_last, (1, 10)));
        assert!(!confirmed_by_cells(first_last, (8, 10)));
    }
}
