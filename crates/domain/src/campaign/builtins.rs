//! Built-in prompt variables: the names a prompt may use without declaring them.
//!
//! [`ENGINE_VARIABLES`] is a contract with the execution engine: it sends every one of them, as
//! strings, with every call (alongside the row's declared variables). [`PROVIDER_VARIABLES`] are
//! filled by Retell itself.

use serde::Serialize;

/// A built-in variable and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct BuiltinVariable {
    /// The placeholder name, as in `{{name}}`.
    pub name: &'static str,
    /// What the engine or the provider puts there.
    pub description: &'static str,
}

const fn var(name: &'static str, description: &'static str) -> BuiltinVariable {
    BuiltinVariable { name, description }
}

/// Sent by the engine with every call.
pub const ENGINE_VARIABLES: &[BuiltinVariable] = &[
    var("organization_name", "the organization's display name"),
    var("organization_phone", "the organization's caller number in E.164 form, empty when not set"),
    var("campaign_name", "the campaign's name"),
    var("run_instructions", "the run's instructions from the user, empty when none"),
    var("patient_first_name", "the patient's first name"),
    var("patient_last_name", "the patient's last name"),
    var("patient_phone", "the number being called, E.164"),
    var("first_name", "the patient's first name (kept for prompts written for the original product)"),
    var("last_name", "the patient's last name (kept for prompts written for the original product)"),
    var("phone", "the number being called, E.164 (kept for prompts written for the original product)"),
    var("attempt", "which attempt this call is, starting at 1"),
    var("retry_count", "how many attempts came before this one, starting at 0"),
];

/// Filled by Retell (its default dynamic variables).
pub const PROVIDER_VARIABLES: &[BuiltinVariable] = &[
    var("current_time", "the current time in America/Los_Angeles"),
    var("current_calendar", "a 14-day calendar in America/Los_Angeles"),
    var("current_agent_state", "the current state of a multi-state agent"),
    var("previous_agent_state", "the previous state of a multi-state agent"),
];

/// Retell also fills `{{current_time_<IANA zone>}}`, such as `current_time_America/Chicago`.
const CURRENT_TIME_IN_ZONE: &str = "current_time_";

/// Whether a placeholder needs no declaration.
pub fn is_builtin(name: &str) -> bool {
    ENGINE_VARIABLES.iter().chain(PROVIDER_VARIABLES).any(|v| v.name == name)
        || name
            .strip_prefix(CURRENT_TIME_IN_ZONE)
            .is_some_and(|zone| crate::time_zone::IanaZone::parse(zone).is_ok())
}

/// Whether a declared variable key would shadow a value the engine sends.
pub fn is_engine_variable(name: &str) -> bool {
    ENGINE_VARIABLES.iter().any(|v| v.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_include_engine_and_provider_names() {
        for name in ["organization_name", "run_instructions", "first_name", "attempt", "current_time"] {
            assert!(is_builtin(name), "{name}");
        }
        assert!(is_builtin("current_time_America/Chicago"));
        assert!(!is_builtin("current_time_Mars/Olympus"));
        assert!(!is_builtin("appt_date"));
        assert!(!is_builtin("dob"));
    }

    #[test]
    fn built_in_names_are_unique_identifiers() {
        let all: Vec<_> = ENGINE_VARIABLES.iter().chain(PROVIDER_VARIABLES).map(|v| v.name).collect();
        for (i, name) in all.iter().enumerate() {
            assert!(crate::validation::is_identifier(name), "{name}");
            assert!(!all[..i].contains(name), "{name} twice");
        }
    }
}
