//! Post-call analysis fields: what the provider extracts from each conversation (Retell's
//! `post_call_analysis_data`), and which one is the campaign's main KPI.

use serde::{Deserialize, Serialize};

use super::variable::{check_options, MAX_LABEL_CHARS};
use crate::stored::Stored;
use crate::validation::{is_identifier, multi_line, single_line, ValidationErrors};

/// The most analysis fields one campaign may declare.
pub const MAX_ANALYSIS_FIELDS: usize = 100;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;

string_enum! {
    /// The type of an extracted value.
    pub enum AnalysisFieldType("analysis field type") {
        /// Yes or no.
        Boolean = "boolean",
        /// One of the field's options.
        Enum = "enum",
        /// A number.
        Number = "number",
        /// Free text.
        Text = "text",
        /// A date.
        Date = "date",
    }
}

/// A validated analysis field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", try_from = "AnalysisFieldInput")]
pub struct AnalysisField {
    key: String,
    label: String,
    field_type: AnalysisFieldType,
    options: Vec<String>,
    is_main_kpi: bool,
    description: Option<String>,
}

impl AnalysisField {
    /// The name the provider reports the value under.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The human name.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The value's type.
    pub fn field_type(&self) -> AnalysisFieldType {
        self.field_type
    }

    /// The allowed values of an enum field; empty otherwise.
    pub fn options(&self) -> &[String] {
        &self.options
    }

    /// Whether this field defines the campaign's conversion (at most one per campaign, and it
    /// is a boolean: `true` counts as converted).
    pub fn is_main_kpi(&self) -> bool {
        self.is_main_kpi
    }

    /// What the provider should extract, in words (sent to the provider as the field's
    /// description).
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

/// [`AnalysisField`]'s serialized form, field for field.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredAnalysisField {
    key: String,
    label: String,
    field_type: AnalysisFieldType,
    #[serde(default)]
    options: Vec<String>,
    #[serde(default)]
    is_main_kpi: bool,
    #[serde(default)]
    description: Option<String>,
}

impl<'de> Deserialize<'de> for Stored<AnalysisField> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = StoredAnalysisField::deserialize(deserializer)?;
        Ok(Stored(AnalysisField {
            key: s.key,
            label: s.label,
            field_type: s.field_type,
            options: s.options,
            is_main_kpi: s.is_main_kpi,
            description: s.description,
        }))
    }
}

/// The wire form of [`AnalysisField`], before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisFieldInput {
    /// snake_case or camelCase identifier, unique among the campaign's analysis fields.
    pub key: String,
    /// Human name, 1..=120 characters.
    pub label: String,
    /// The value's type.
    pub field_type: AnalysisFieldType,
    /// Allowed values, required (non-empty) for `enum` and refused otherwise.
    #[serde(default)]
    pub options: Vec<String>,
    /// Whether this is the campaign's main KPI (a boolean field; at most one).
    #[serde(default)]
    pub is_main_kpi: bool,
    /// What to extract, at most 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub description: Option<String>,
}

impl AnalysisFieldInput {
    /// Checks this field alone (uniqueness and the single main KPI are the campaign's job).
    pub fn validate(self) -> Result<AnalysisField, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let key = self.key.trim().to_owned();
        if !is_identifier(&key) {
            errors.push(
                "key",
                "must be a snake_case or camelCase identifier of at most 64 characters, starting with a lower-case letter",
            );
        }
        let label = errors.check("label", single_line(&self.label, MAX_LABEL_CHARS));
        let options = check_options(&mut errors, self.field_type == AnalysisFieldType::Enum, &self.options);
        if self.is_main_kpi && self.field_type != AnalysisFieldType::Boolean {
            errors.push("isMainKpi", "must be false unless fieldType is boolean: conversion is a yes or no");
        }
        let description = match self.description.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) => errors.check("description", multi_line(d, MAX_DESCRIPTION_CHARS)),
        };
        match label {
            Some(label) if errors.is_empty() => Ok(AnalysisField {
                key,
                label,
                field_type: self.field_type,
                options,
                is_main_kpi: self.is_main_kpi,
                description,
            }),
            _ => Err(errors),
        }
    }
}

impl TryFrom<AnalysisFieldInput> for AnalysisField {
    type Error = ValidationErrors;
    fn try_from(input: AnalysisFieldInput) -> Result<Self, Self::Error> {
        input.validate()
    }
}

impl From<&AnalysisField> for AnalysisFieldInput {
    fn from(f: &AnalysisField) -> Self {
        AnalysisFieldInput {
            key: f.key.clone(),
            label: f.label.clone(),
            field_type: f.field_type,
            options: f.options.clone(),
            is_main_kpi: f.is_main_kpi,
            description: f.description.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: serde_json::Value) -> AnalysisFieldInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_boolean_main_kpi_is_valid_and_round_trips() {
        let f = input(json!({
            "key": "appt_confirmed", "label": "Appointment confirmed", "fieldType": "boolean",
            "isMainKpi": true, "description": "Did the patient confirm the appointment?"
        }))
        .validate()
        .unwrap();
        assert!(f.is_main_kpi());
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["isMainKpi"], true);
        assert_eq!(json["fieldType"], "boolean");
        assert_eq!(serde_json::from_value::<AnalysisField>(json).unwrap(), f);
    }

    #[test]
    fn enum_fields_need_options_and_others_refuse_them() {
        let cases = [
            (json!({"key": "k", "label": "K", "fieldType": "enum", "options": ["a", "b"]}), None),
            (json!({"key": "k", "label": "K", "fieldType": "enum"}), Some("options")),
            (json!({"key": "k", "label": "K", "fieldType": "text", "options": ["a"]}), Some("options")),
            (json!({"key": "k", "label": "K", "fieldType": "number", "isMainKpi": true}), Some("isMainKpi")),
            (json!({"key": "2k", "label": "K", "fieldType": "date"}), Some("key")),
        ];
        for (value, bad_field) in cases {
            let result = input(value.clone()).validate();
            match bad_field {
                None => assert!(result.is_ok(), "{value}"),
                Some(field) => assert!(result.unwrap_err().reason_for(field).is_some(), "{value}"),
            }
        }
    }

    #[test]
    fn a_blank_description_is_no_description() {
        let f = input(json!({"key": "notes", "label": "Notes", "fieldType": "text", "description": "  "}))
            .validate()
            .unwrap();
        assert_eq!(f.description(), None);
    }
}
