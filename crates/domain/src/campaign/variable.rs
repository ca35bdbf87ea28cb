//! Campaign variables: the per-row values a prompt uses, and how ingestion finds them in a sheet.
//!
//! A variable names the value (`key`, used as `{{key}}`), says how to read its cells
//! (`fieldType`), which headers it answers to (`key`, `label` and `aliases`, compared ignoring
//! case, spaces and punctuation), and, through `role`, which patient identity field it fills, so
//! ingestion can build the patient (name, date of birth, phone, MRN) from the same mapping.

use serde::{Deserialize, Serialize};

use crate::stored::Stored;
use crate::validation::{is_identifier, single_line, ValidationErrors};

/// The most variables one campaign may declare.
pub const MAX_VARIABLES: usize = 100;
/// The most header aliases one variable may list.
pub const MAX_ALIASES: usize = 50;
/// The most options one enum field may list.
pub const MAX_OPTIONS: usize = 100;
/// The longest label, alias or option, in characters.
pub const MAX_LABEL_CHARS: usize = 120;

string_enum! {
    /// How a variable's cells are read and normalised.
    pub enum FieldType("field type") {
        /// Free text, trimmed.
        Text = "text",
        /// A person's name (title-cased; `Last, First` understood).
        Name = "name",
        /// A calendar date, stored `YYYY-MM-DD` (Excel serials and US text dates understood).
        Date = "date",
        /// A time of day, stored `HH:MM`.
        Time = "time",
        /// A date and time.
        Datetime = "datetime",
        /// A phone number, stored E.164.
        Phone = "phone",
        /// A number.
        Number = "number",
        /// Yes or no (`true/yes/y/1`, `false/no/n/0`).
        Boolean = "boolean",
        /// One of the variable's `options`.
        Enum = "enum",
    }
}

string_enum! {
    /// The patient identity field a variable fills.
    pub enum PatientField("patient field") {
        /// Given name.
        FirstName = "firstName",
        /// Family name.
        LastName = "lastName",
        /// Whole name in one column (`First Last` or `Last, First`).
        FullName = "fullName",
        /// Date of birth.
        BirthDate = "birthDate",
        /// The number to call.
        Phone = "phone",
        /// Another number for the patient.
        SecondaryPhone = "secondaryPhone",
        /// Medical record number in the organization's EHR.
        Mrn = "mrn",
        /// The patient's own IANA time zone, for the calling window.
        TimeZone = "timeZone",
    }
}

impl PatientField {
    /// Whether a variable of type `field_type` can fill this field.
    pub fn accepts(self, field_type: FieldType) -> bool {
        match self {
            PatientField::FirstName | PatientField::LastName | PatientField::FullName => {
                matches!(field_type, FieldType::Name | FieldType::Text)
            }
            PatientField::BirthDate => field_type == FieldType::Date,
            PatientField::Phone | PatientField::SecondaryPhone => field_type == FieldType::Phone,
            // Text, not number: MRNs keep their leading zeros.
            PatientField::Mrn | PatientField::TimeZone => field_type == FieldType::Text,
        }
    }

    fn expected_types(self) -> &'static str {
        match self {
            PatientField::FirstName | PatientField::LastName | PatientField::FullName => "name or text",
            PatientField::BirthDate => "date",
            PatientField::Phone | PatientField::SecondaryPhone => "phone",
            PatientField::Mrn | PatientField::TimeZone => "text",
        }
    }
}

/// A validated variable definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", try_from = "VariableDefinitionInput")]
pub struct VariableDefinition {
    key: String,
    label: String,
    field_type: FieldType,
    required: bool,
    aliases: Vec<String>,
    options: Vec<String>,
    role: Option<PatientField>,
}

impl VariableDefinition {
    /// The identifier used in `{{key}}` and sent to the provider.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The human name, shown in the UI and also matched against headers.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How cells are read.
    pub fn field_type(&self) -> FieldType {
        self.field_type
    }

    /// Whether a row without a value is invalid.
    pub fn required(&self) -> bool {
        self.required
    }

    /// Extra header names this variable answers to.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }

    /// The allowed values of an enum variable; empty for other types.
    pub fn options(&self) -> &[String] {
        &self.options
    }

    /// The patient field this variable fills, if any.
    pub fn role(&self) -> Option<PatientField> {
        self.role
    }

    /// Every header name this variable answers to: key, label and aliases.
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        [self.key.as_str(), self.label.as_str()].into_iter().chain(self.aliases.iter().map(String::as_str))
    }
}

/// [`VariableDefinition`]'s serialized form, field for field.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredVariable {
    key: String,
    label: String,
    field_type: FieldType,
    required: bool,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    options: Vec<String>,
    #[serde(default)]
    role: Option<PatientField>,
}

impl<'de> Deserialize<'de> for Stored<VariableDefinition> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = StoredVariable::deserialize(deserializer)?;
        Ok(Stored(VariableDefinition {
            key: s.key,
            label: s.label,
            field_type: s.field_type,
            required: s.required,
            aliases: s.aliases,
            options: s.options,
            role: s.role,
        }))
    }
}

/// A header name reduced for comparison: lower-case letters and digits only
/// (`"Patient DOB #"` and `"patient_dob"` are both `patientdob`).
pub fn normalize_header(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The wire form of [`VariableDefinition`], before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VariableDefinitionInput {
    /// snake_case or camelCase identifier, unique in the campaign, not a built-in name.
    pub key: String,
    /// Human name, 1..=120 characters.
    pub label: String,
    /// How cells are read.
    pub field_type: FieldType,
    /// Whether a row without a value is invalid (default false).
    #[serde(default)]
    pub required: bool,
    /// Extra header names, each 1..=120 characters, at most 50.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Allowed values, required (non-empty) for `enum` and refused for other types.
    #[serde(default)]
    pub options: Vec<String>,
    /// The patient field this variable fills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub role: Option<PatientField>,
}

impl VariableDefinitionInput {
    /// Checks this variable alone (uniqueness across variables is the campaign's job), with
    /// paths such as `key` and `aliases[1]`.
    pub fn validate(self) -> Result<VariableDefinition, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let key = self.key.trim().to_owned();
        if !is_identifier(&key) {
            errors.push(
                "key",
                "must be a snake_case or camelCase identifier of at most 64 characters, starting with a lower-case letter",
            );
        }
        let label = errors.check("label", single_line(&self.label, MAX_LABEL_CHARS));
        if self.aliases.len() > MAX_ALIASES {
            errors.push("aliases", format_args!("must list at most {MAX_ALIASES} aliases"));
        }
        let mut aliases = Vec::with_capacity(self.aliases.len());
        for (i, alias) in self.aliases.iter().enumerate() {
            if let Some(alias) = errors.check(format!("aliases[{i}]"), single_line(alias, MAX_LABEL_CHARS)) {
                if !aliases.contains(&alias) {
                    aliases.push(alias);
                }
            }
        }
        let options = check_options(&mut errors, self.field_type == FieldType::Enum, &self.options);
        if let Some(role) = self.role {
            if !role.accepts(self.field_type) {
                errors.push(
                    "fieldType",
                    format_args!("must be {} for a variable with role {role}", role.expected_types()),
                );
            }
        }
        match label {
            Some(label) if errors.is_empty() => Ok(VariableDefinition {
                key,
                label,
                field_type: self.field_type,
                required: self.required,
                aliases,
                options,
                role: self.role,
            }),
            _ => Err(errors),
        }
    }

    /// The usual patient columns of an appointment sheet, with the headers seen in clinic
    /// exports: first name, last name, date of birth and phone (required).
    pub fn patient_defaults() -> Vec<VariableDefinitionInput> {
        let v = |key: &str, label: &str, field_type, role, aliases: &[&str]| VariableDefinitionInput {
            key: key.to_owned(),
            label: label.to_owned(),
            field_type,
            required: true,
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            options: Vec::new(),
            role: Some(role),
        };
        vec![
            v(
                "firstName",
                "First name",
                FieldType::Name,
                PatientField::FirstName,
                &["Patient First Name", "First", "FName", "Given Name"],
            ),
            v(
                "lastName",
                "Last name",
                FieldType::Name,
                PatientField::LastName,
                &["Patient Last Name", "Last", "LName", "Surname", "Family Name"],
            ),
            v(
                "dob",
                "Date of birth",
                FieldType::Date,
                PatientField::BirthDate,
                &["Patient DOB", "DOB", "Birth Date", "Birthdate"],
            ),
            v(
                "primaryPhone",
                "Phone",
                FieldType::Phone,
                PatientField::Phone,
                &["Primary Phone", "Phone Number", "Cell Phone", "Mobile", "Cell"],
            ),
        ]
    }
}

/// Checks the options of an enum (non-empty, each 1..=120 characters, unique) and refuses
/// options on other types. Returns the trimmed options.
pub(crate) fn check_options(errors: &mut ValidationErrors, is_enum: bool, options: &[String]) -> Vec<String> {
    if !is_enum {
        if !options.is_empty() {
            errors.push("options", "must be empty unless fieldType is enum");
        }
        return Vec::new();
    }
    if options.is_empty() {
        errors.push("options", "must list at least one option for an enum field");
    } else if options.len() > MAX_OPTIONS {
        errors.push("options", format_args!("must list at most {MAX_OPTIONS} options"));
    }
    let mut out: Vec<String> = Vec::with_capacity(options.len());
    for (i, option) in options.iter().enumerate() {
        if let Some(option) = errors.check(format!("options[{i}]"), single_line(option, MAX_LABEL_CHARS)) {
            if out.iter().any(|o| o.eq_ignore_ascii_case(&option)) {
                errors.push(format!("options[{i}]"), "repeats an earlier option");
            } else {
                out.push(option);
            }
        }
    }
    out
}

impl TryFrom<VariableDefinitionInput> for VariableDefinition {
    type Error = ValidationErrors;
    fn try_from(input: VariableDefinitionInput) -> Result<Self, Self::Error> {
        input.validate()
    }
}

impl From<&VariableDefinition> for VariableDefinitionInput {
    fn from(v: &VariableDefinition) -> Self {
        VariableDefinitionInput {
            key: v.key.clone(),
            label: v.label.clone(),
            field_type: v.field_type,
            required: v.required,
            aliases: v.aliases.clone(),
            options: v.options.clone(),
            role: v.role,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: serde_json::Value) -> VariableDefinitionInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_minimal_variable_needs_only_key_label_and_type() {
        let v = input(json!({"key": "appt_date", "label": "Appointment date", "fieldType": "date"}))
            .validate()
            .unwrap();
        assert_eq!(v.key(), "appt_date");
        assert!(!v.required());
        assert_eq!(v.role(), None);
        assert_eq!(v.header_names().collect::<Vec<_>>(), ["appt_date", "Appointment date"]);
    }

    #[test]
    fn a_full_variable_serializes_in_camel_case_and_reads_back() {
        let v = input(json!({
            "key": "visitType", "label": "Visit type", "fieldType": "enum", "required": true,
            "aliases": [" APPT TYPE ", "Type"], "options": ["new", "follow-up"]
        }))
        .validate()
        .unwrap();
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            json,
            json!({
                "key": "visitType", "label": "Visit type", "fieldType": "enum", "required": true,
                "aliases": ["APPT TYPE", "Type"], "options": ["new", "follow-up"], "role": null
            })
        );
        assert_eq!(serde_json::from_value::<VariableDefinition>(json).unwrap(), v);
    }

    #[test]
    fn every_problem_with_one_variable_is_reported() {
        let errors = input(json!({
            "key": "Appt Date", "label": " ", "fieldType": "text",
            "aliases": ["ok", ""], "options": ["x"], "role": "birthDate"
        }))
        .validate()
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["key", "label", "aliases[1]", "options", "fieldType"]);
        assert_eq!(errors.reason_for("fieldType"), Some("must be date for a variable with role birthDate"));
    }

    #[test]
    fn enum_variables_need_distinct_options() {
        let errors = input(json!({"key": "k", "label": "K", "fieldType": "enum", "options": []}))
            .validate()
            .unwrap_err();
        assert_eq!(errors.reason_for("options"), Some("must list at least one option for an enum field"));
        let errors = input(json!({"key": "k", "label": "K", "fieldType": "enum", "options": ["Yes", "yes"]}))
            .validate()
            .unwrap_err();
        assert_eq!(errors.reason_for("options[1]"), Some("repeats an earlier option"));
    }

    #[test]
    fn roles_accept_only_matching_field_types() {
        let cases = [
            (PatientField::FirstName, FieldType::Name, true),
            (PatientField::FirstName, FieldType::Text, true),
            (PatientField::FullName, FieldType::Date, false),
            (PatientField::BirthDate, FieldType::Date, true),
            (PatientField::BirthDate, FieldType::Datetime, false),
            (PatientField::Phone, FieldType::Phone, true),
            (PatientField::Phone, FieldType::Number, false),
            (PatientField::SecondaryPhone, FieldType::Phone, true),
            (PatientField::Mrn, FieldType::Text, true),
            (PatientField::Mrn, FieldType::Number, false),
            (PatientField::TimeZone, FieldType::Text, true),
        ];
        for (role, field_type, ok) in cases {
            assert_eq!(role.accepts(field_type), ok, "{role} {field_type}");
        }
    }

    #[test]
    fn headers_normalise_ignoring_case_spaces_and_punctuation() {
        assert_eq!(normalize_header("Patient DOB #"), "patientdob");
        assert_eq!(normalize_header("patient_dob"), "patientdob");
        assert_eq!(normalize_header("APPT. DATE"), "apptdate");
    }

    #[test]
    fn the_patient_defaults_are_valid_and_cover_identity() {
        let roles: Vec<_> = VariableDefinitionInput::patient_defaults()
            .into_iter()
            .map(|v| v.validate().unwrap().role().unwrap())
            .collect();
        assert_eq!(
            roles,
            [PatientField::FirstName, PatientField::LastName, PatientField::BirthDate, PatientField::Phone]
        );
    }
}
