//! Field-level validation errors, collected rather than short-circuited, so one 400 response can
//! name every field the caller got wrong.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One invalid field: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    /// A camelCase path into the input, such as `officeHours.monday.close` or `variables[2].key`.
    pub field: String,
    /// A lower-case predicate the field failed, such as `must be before close`.
    pub reason: String,
}

/// Every field error found in one input, in the order the fields were checked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` failed `reason`.
    pub fn push(&mut self, field: impl Into<String>, reason: impl fmt::Display) {
        self.0.push(FieldError { field: field.into(), reason: reason.to_string() });
    }

    /// Keeps the value of `result`, or records its error against `field` and returns `None`.
    pub fn check<T, E: fmt::Display>(&mut self, field: impl Into<String>, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.push(field, e);
                None
            }
        }
    }

    /// Moves the errors of a nested input in, with their paths under `prefix`.
    pub fn nest(&mut self, prefix: &str, nested: ValidationErrors) {
        for e in nested.0 {
            self.0.push(FieldError { field: join_path(prefix, &e.field), reason: e.reason });
        }
    }

    /// `Ok(value)` when nothing was recorded, otherwise these errors.
    pub fn finish<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Whether no error was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many errors were recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The errors, in the order they were found.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// The reason recorded for `field`, if any (the first, when there are several).
    pub fn reason_for(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.reason.as_str())
    }

    /// The errors, by value.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid input: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} {}", e.field, e.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

/// Joins a parent path and a child path: `a` + `b` = `a.b`, `a` + `[0]` = `a[0]`.
pub fn join_path(prefix: &str, child: &str) -> String {
    if prefix.is_empty() {
        child.to_owned()
    } else if child.is_empty() {
        prefix.to_owned()
    } else if child.starts_with('[') {
        format!("{prefix}{child}")
    } else {
        format!("{prefix}.{child}")
    }
}

/// Why a piece of free text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty, or only whitespace.
    #[error("must not be empty")]
    Empty,
    /// Longer than allowed, counted in characters (not bytes).
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A control character in a one-line value (a name, a label).
    #[error("must not contain control characters such as tabs or line breaks")]
    ControlCharacter,
    /// A NUL character, which PostgreSQL text columns cannot store.
    #[error("must not contain NUL characters")]
    Nul,
}

/// A one-line label such as a name: trimmed, 1..=`max` characters, no control characters.
pub fn single_line(value: &str, max: usize) -> Result<String, TextError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    if trimmed.contains('\0') {
        return Err(TextError::Nul);
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter);
    }
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    Ok(trimmed.to_owned())
}

/// A multi-line text such as a prompt: kept as written (whitespace can matter to an LLM), but not
/// blank, at most `max` characters, and free of NUL.
pub fn multi_line(value: &str, max: usize) -> Result<String, TextError> {
    if value.trim().is_empty() {
        return Err(TextError::Empty);
    }
    if value.contains('\0') {
        return Err(TextError::Nul);
    }
    if value.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    Ok(value.to_owned())
}

/// Whether `s` is a variable-style identifier: an ASCII lower-case letter, then letters, digits or
/// underscores, at most 64 characters (`appt_date`, `apptDate`).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_with_dots_and_brackets() {
        assert_eq!(join_path("", "name"), "name");
        assert_eq!(join_path("officeHours", "monday.close"), "officeHours.monday.close");
        assert_eq!(join_path("variables", "[2].key"), "variables[2].key");
        assert_eq!(join_path("variables", ""), "variables");
    }

    #[test]
    fn nested_errors_keep_their_order_under_the_prefix() {
        let mut inner = ValidationErrors::new();
        inner.push("monday.open", "must be before close");
        inner.push("holidays[0]", "must be a date");
        let mut outer = ValidationErrors::new();
        outer.push("name", TextError::Empty);
        outer.nest("officeHours", inner);

        let fields: Vec<_> = outer.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "officeHours.monday.open", "officeHours.holidays[0]"]);
        assert_eq!(outer.reason_for("name"), Some("must not be empty"));
    }

    #[test]
    fn errors_serialize_as_a_plain_array_of_field_and_reason() {
        let mut errors = ValidationErrors::new();
        errors.push("timeZone", "must be an IANA time zone such as America/New_York");
        let json = serde_json::to_value(&errors).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"field": "timeZone", "reason": "must be an IANA time zone such as America/New_York"}])
        );
        assert_eq!(
            errors.to_string(),
            "invalid input: timeZone must be an IANA time zone such as America/New_York"
        );
    }

    #[test]
    fn finish_is_ok_only_without_errors() {
        assert_eq!(ValidationErrors::new().finish(7), Ok(7));
        let mut errors = ValidationErrors::new();
        assert_eq!(errors.check("x", Err::<(), _>("must be positive")), None);
        assert!(errors.finish(7).is_err());
    }

    #[test]
    fn single_line_text_is_trimmed_and_bounded() {
        let cases: &[(&str, usize, Result<&str, TextError>)] = &[
            ("  Lakeside Clinic ", 120, Ok("Lakeside Clinic")),
            ("   ", 120, Err(TextError::Empty)),
            ("abcd", 3, Err(TextError::TooLong { max: 3 })),
            ("éèê", 3, Ok("éèê")),
            ("a\tb", 10, Err(TextError::ControlCharacter)),
            ("a\0b", 10, Err(TextError::Nul)),
        ];
        for (input, max, expected) in cases {
            assert_eq!(single_line(input, *max).as_deref(), expected.as_deref(), "input {input:?}");
        }
    }

    #[test]
    fn multi_line_text_keeps_its_whitespace() {
        assert_eq!(multi_line("  line one\n\tline two\n", 100).as_deref(), Ok("  line one\n\tline two\n"));
        assert_eq!(multi_line(" \n ", 100), Err(TextError::Empty));
        assert_eq!(multi_line("abcdef", 5), Err(TextError::TooLong { max: 5 }));
    }

    #[test]
    fn identifiers_are_snake_or_camel_case() {
        for ok in ["appt_date", "apptDate", "a", "x1", "first_name_2"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "Appt", "_x", "1x", "appt-date", "appt date", "appt.date", "é", &"a".repeat(65)] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
