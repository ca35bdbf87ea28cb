//! Checking a proposed prompt variation (an AI suggestion, or any rewrite of a base prompt)
//! against the campaign before anyone may accept it.
//!
//! A variation is a rewrite, so it must keep what the calling system fills in: every
//! placeholder of the original that the campaign can fill must survive, and no placeholder that
//! nothing fills may appear (Retell would read an unfilled `{{name}}` out literally). Built-ins
//! ([`builtins::is_builtin`]) count as declared, as they do for the campaign's own base prompt.
//! The text itself follows the base prompt's rules ([`MAX_BASE_PROMPT_CHARS`], not empty).

use serde::{Deserialize, Serialize};

use super::placeholders;
use crate::campaign::{builtins, MAX_BASE_PROMPT_CHARS};
use crate::validation::{multi_line, TextError};

string_enum! {
    /// What is wrong with a proposed variation, as a stable machine code.
    pub enum VariationWarningCode("variation warning code") {
        /// A placeholder the original uses and the campaign fills is missing from the proposal.
        PlaceholderDropped = "placeholder_dropped",
        /// The proposal uses a placeholder that is neither a declared variable nor a built-in.
        PlaceholderUndeclared = "placeholder_undeclared",
        /// The proposal is empty or only whitespace.
        Empty = "empty",
        /// The proposal is longer than a base prompt may be.
        TooLong = "too_long",
        /// The proposal holds a character a prompt cannot store (NUL).
        InvalidCharacter = "invalid_character",
    }
}

/// One problem with a proposed variation: a machine code, the placeholder concerned (for the
/// placeholder codes) and a sentence for the person reviewing the proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct VariationWarning {
    /// What kind of problem.
    pub code: VariationWarningCode,
    /// The placeholder name (without braces), for `placeholder_dropped` and
    /// `placeholder_undeclared`.
    pub placeholder: Option<String>,
    /// A sentence naming the problem, such as "the proposal drops {{first_name}}, …".
    pub message: String,
}

impl VariationWarning {
    fn text(code: VariationWarningCode, error: TextError) -> Self {
        VariationWarning { code, placeholder: None, message: format!("the proposed prompt {error}") }
    }

    fn dropped(name: &str) -> Self {
        VariationWarning {
            code: VariationWarningCode::PlaceholderDropped,
            placeholder: Some(name.to_owned()),
            message: format!(
                "the proposal drops {{{{{name}}}}}, which the original prompt uses: keep it so the call still gets that value"
            ),
        }
    }

    fn undeclared(name: &str) -> Self {
        VariationWarning {
            code: VariationWarningCode::PlaceholderUndeclared,
            placeholder: Some(name.to_owned()),
            message: format!(
                "the proposal uses {{{{{name}}}}}, which is neither a declared variable nor a built-in: nothing would fill it"
            ),
        }
    }
}

/// Every problem with `proposed` as a replacement for `original`, given the campaign's declared
/// variable keys; empty when the proposal may be accepted.
///
/// Order: the text problem (if any), then dropped placeholders in the original's order, then
/// undeclared ones in the proposal's order. An empty proposal reports only that it is empty.
pub fn check_variation(declared: &[String], original: &str, proposed: &str) -> Vec<VariationWarning> {
    let mut warnings = Vec::new();
    match multi_line(proposed, MAX_BASE_PROMPT_CHARS) {
        Ok(_) => {}
        Err(error @ TextError::Empty) => {
            return vec![VariationWarning::text(VariationWarningCode::Empty, error)];
        }
        Err(error @ TextError::TooLong { .. }) => {
            warnings.push(VariationWarning::text(VariationWarningCode::TooLong, error));
        }
        Err(error @ (TextError::Nul | TextError::ControlCharacter)) => {
            warnings.push(VariationWarning::text(VariationWarningCode::InvalidCharacter, error));
        }
    }

    let kept = placeholders(proposed);
    for name in placeholders(original) {
        if fillable(declared, &name) && !kept.contains(&name) {
            warnings.push(VariationWarning::dropped(&name));
        }
    }
    for name in &kept {
        if !fillable(declared, name) {
            warnings.push(VariationWarning::undeclared(name));
        }
    }
    warnings
}

/// Whether the calling system fills `name`: a declared variable or a built-in.
fn fillable(declared: &[String], name: &str) -> bool {
    declared.iter().any(|d| d == name) || builtins::is_builtin(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Vec<String> {
        vec!["appt_date".to_owned(), "clinic_address".to_owned()]
    }

    const ORIGINAL: &str =
        "Hi {{first_name}}, this is {{organization_name}} about your visit on {{appt_date}}.";

    fn codes(warnings: &[VariationWarning]) -> Vec<(VariationWarningCode, Option<&str>)> {
        warnings.iter().map(|w| (w.code, w.placeholder.as_deref())).collect()
    }

    #[test]
    fn a_rewrite_that_keeps_every_placeholder_has_no_warnings() {
        let proposed =
            "Hello {{ first_name }}! {{organization_name}} here, calling warmly about {{appt_date}}.";
        assert!(check_variation(&declared(), ORIGINAL, proposed).is_empty());
    }

    #[test]
    fn a_rewrite_may_use_another_declared_variable_or_a_built_in() {
        let proposed = format!("{ORIGINAL} We are at {{{{clinic_address}}}}; it is {{{{current_time}}}}.");
        assert!(check_variation(&declared(), ORIGINAL, &proposed).is_empty());
    }

    #[test]
    fn a_dropped_placeholder_is_named() {
        let proposed = "Hi {{first_name}}, this is {{organization_name}} about your visit.";
        let warnings = check_variation(&declared(), ORIGINAL, proposed);
        assert_eq!(codes(&warnings), [(VariationWarningCode::PlaceholderDropped, Some("appt_date"))]);
        assert!(warnings[0].message.contains("{{appt_date}}"), "{}", warnings[0].message);
    }

    #[test]
    fn dropping_a_built_in_the_original_uses_is_a_warning_too() {
        let proposed = "Hi {{first_name}}, about your visit on {{appt_date}}.";
        let warnings = check_variation(&declared(), ORIGINAL, proposed);
        assert_eq!(codes(&warnings), [(VariationWarningCode::PlaceholderDropped, Some("organization_name"))]);
    }

    #[test]
    fn an_invented_placeholder_is_named() {
        let proposed = format!("{ORIGINAL} Confirm {{{{insurance_id}}}} and {{{{ copay }}}}.");
        let warnings = check_variation(&declared(), ORIGINAL, &proposed);
        assert_eq!(
            codes(&warnings),
            [
                (VariationWarningCode::PlaceholderUndeclared, Some("insurance_id")),
                (VariationWarningCode::PlaceholderUndeclared, Some("copay")),
            ]
        );
        assert!(warnings[0].message.contains("{{insurance_id}}"), "{}", warnings[0].message);
    }

    #[test]
    fn an_undeclared_placeholder_the_original_already_had_is_still_reported() {
        let original = "Hi {{first_name}}, bring {{referral}}.";
        let warnings = check_variation(&declared(), original, "Hello {{first_name}}, bring {{referral}}.");
        assert_eq!(codes(&warnings), [(VariationWarningCode::PlaceholderUndeclared, Some("referral"))]);
    }

    #[test]
    fn dropping_a_placeholder_nothing_fills_is_not_a_warning() {
        let original = "Hi {{first_name}}, bring {{referral}}.";
        assert!(check_variation(&declared(), original, "Hello {{first_name}}.").is_empty());
    }

    #[test]
    fn an_empty_proposal_reports_only_that_it_is_empty() {
        for proposed in ["", "  \n\t "] {
            let warnings = check_variation(&declared(), ORIGINAL, proposed);
            assert_eq!(codes(&warnings), [(VariationWarningCode::Empty, None)], "{proposed:?}");
            assert_eq!(warnings[0].message, "the proposed prompt must not be empty");
        }
    }

    #[test]
    fn the_base_prompt_length_limit_applies() {
        let at_limit = format!("{{{{first_name}}}}{}", "x".repeat(MAX_BASE_PROMPT_CHARS - 14));
        assert_eq!(at_limit.chars().count(), MAX_BASE_PROMPT_CHARS);
        assert!(check_variation(&declared(), "{{first_name}}", &at_limit).is_empty());

        let warnings = check_variation(&declared(), "{{first_name}}", &format!("{at_limit}x"));
        assert_eq!(codes(&warnings), [(VariationWarningCode::TooLong, None)]);
        assert!(warnings[0].message.contains(&MAX_BASE_PROMPT_CHARS.to_string()));
    }

    #[test]
    fn a_nul_character_is_refused_alongside_placeholder_problems() {
        let warnings = check_variation(&declared(), "Hi {{first_name}}.", "Hi\0 there {{nope}}.");
        assert_eq!(
            codes(&warnings),
            [
                (VariationWarningCode::InvalidCharacter, None),
                (VariationWarningCode::PlaceholderDropped, Some("first_name")),
                (VariationWarningCode::PlaceholderUndeclared, Some("nope")),
            ]
        );
    }

    #[test]
    fn warnings_serialize_with_camel_case_fields_and_snake_case_codes() {
        let warning = VariationWarning::dropped("appt_date");
        let json = serde_json::to_value(&warning).unwrap();
        assert_eq!(json["code"], "placeholder_dropped");
        assert_eq!(json["placeholder"], "appt_date");
        assert_eq!(serde_json::from_value::<VariationWarning>(json).unwrap(), warning);
    }
}
