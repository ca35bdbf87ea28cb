//! A campaign's analysis fields as the provider needs them, and their Retell form
//! (`post_call_analysis_data` items).
//!
//! Retell knows `string`, `enum`, `boolean` and `number`. A date travels as a `string` whose
//! `examples` are ISO dates and whose description asks for one; [`AnalysisFieldSpec::from_retell`]
//! reads that shape back as a date (the simulator uses it to answer with dates).
//!
//! Every call and managed agent version also asks for the built-in [`OPTED_OUT_FIELD`]
//! ([`AnalysisFieldSpec::requested`]): the engine honours a patient's request not to be called
//! again (TCPA) whatever the campaign declares.

use rivvi_domain::analytics::OPTED_OUT_FIELD;
use rivvi_domain::campaign::{AnalysisField, AnalysisFieldType};
use serde_json::{json, Value};

/// The example sent with date fields; any `YYYY-MM-DD` example marks a string field as a date.
const DATE_EXAMPLE: &str = "2026-01-31";
const DATE_INSTRUCTION: &str = "Answer with an ISO date (YYYY-MM-DD).";
/// What the built-in opt-out field asks the provider's analysis.
const OPTED_OUT_DESCRIPTION: &str = "True if the patient asked not to be called again (such as \
\"stop calling me\" or \"take me off your list\"); false otherwise.";

/// What type of value to extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisKind {
    /// Yes or no.
    Boolean,
    /// One of these options.
    Enum(Vec<String>),
    /// A number.
    Number,
    /// Free text.
    Text,
    /// An ISO date.
    Date,
}

/// One value the provider should extract from each conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisFieldSpec {
    /// The key the value is reported under in `custom_analysis_data`.
    pub key: String,
    /// The value's type.
    pub kind: AnalysisKind,
    /// What to extract, in words (Retell requires a description).
    pub description: String,
}

impl From<&AnalysisField> for AnalysisFieldSpec {
    fn from(field: &AnalysisField) -> Self {
        let kind = match field.field_type() {
            AnalysisFieldType::Boolean => AnalysisKind::Boolean,
            AnalysisFieldType::Enum => AnalysisKind::Enum(field.options().to_vec()),
            AnalysisFieldType::Number => AnalysisKind::Number,
            AnalysisFieldType::Text => AnalysisKind::Text,
            AnalysisFieldType::Date => AnalysisKind::Date,
        };
        AnalysisFieldSpec {
            key: field.key().to_owned(),
            kind,
            description: field.description().unwrap_or(field.label()).to_owned(),
        }
    }
}

impl AnalysisFieldSpec {
    /// The built-in boolean [`OPTED_OUT_FIELD`]: whether the patient asked not to be called
    /// again. A call whose analysis says so puts its number on the organization's do-not-call
    /// list.
    pub fn opted_out() -> Self {
        AnalysisFieldSpec {
            key: OPTED_OUT_FIELD.to_owned(),
            kind: AnalysisKind::Boolean,
            description: OPTED_OUT_DESCRIPTION.to_owned(),
        }
    }

    /// The fields a call or agent version asks for: the campaign's `fields`, then the built-in
    /// [`AnalysisFieldSpec::opted_out`] unless the campaign declares a field with that key (its
    /// own description then applies; any yes-like answer still counts).
    pub fn requested(fields: &[AnalysisField]) -> Vec<Self> {
        let mut specs: Vec<Self> = fields.iter().map(AnalysisFieldSpec::from).collect();
        if !specs.iter().any(|f| f.key == OPTED_OUT_FIELD) {
            specs.push(AnalysisFieldSpec::opted_out());
        }
        specs
    }

    /// The Retell `post_call_analysis_data` item.
    pub fn to_retell(&self) -> Value {
        match &self.kind {
            AnalysisKind::Boolean => {
                json!({"type": "boolean", "name": self.key, "description": self.description})
            }
            AnalysisKind::Number => {
                json!({"type": "number", "name": self.key, "description": self.description})
            }
            AnalysisKind::Text => {
                json!({"type": "string", "name": self.key, "description": self.description})
            }
            AnalysisKind::Enum(options) => {
                json!({"type": "enum", "name": self.key, "description": self.description, "choices": options})
            }
            AnalysisKind::Date => json!({
                "type": "string",
                "name": self.key,
                "description": format!("{} {DATE_INSTRUCTION}", self.description),
                "examples": [DATE_EXAMPLE],
            }),
        }
    }

    /// Reads a Retell `post_call_analysis_data` item; `None` for system presets and shapes it
    /// does not know.
    pub fn from_retell(item: &Value) -> Option<Self> {
        let key = item.get("name")?.as_str()?.to_owned();
        let description = item.get("description").and_then(Value::as_str).unwrap_or_default().to_owned();
        let kind = match item.get("type")?.as_str()? {
            "boolean" => AnalysisKind::Boolean,
            "number" => AnalysisKind::Number,
            "enum" => AnalysisKind::Enum(
                item.get("choices")?
                    .as_array()?
                    .iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect(),
            ),
            "string" => {
                let examples = item.get("examples").and_then(Value::as_array);
                let dated = examples
                    .is_some_and(|e| !e.is_empty() && e.iter().all(|x| x.as_str().is_some_and(is_iso_date)));
                if dated {
                    AnalysisKind::Date
                } else {
                    AnalysisKind::Text
                }
            }
            _ => return None,
        };
        Some(AnalysisFieldSpec { key, kind, description })
    }
}

fn is_iso_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_the_retell_round_trip() {
        let kinds = [
            AnalysisKind::Boolean,
            AnalysisKind::Enum(vec!["yes".into(), "later".into()]),
            AnalysisKind::Number,
            AnalysisKind::Text,
            AnalysisKind::Date,
        ];
        for kind in kinds {
            let spec = AnalysisFieldSpec { key: "k".into(), kind: kind.clone(), description: "d".into() };
            let back = AnalysisFieldSpec::from_retell(&spec.to_retell()).unwrap();
            assert_eq!(back.kind, kind);
            assert_eq!(back.key, "k");
        }
    }

    #[test]
    fn every_request_asks_for_the_opt_out_once() {
        let field = |key: &str| {
            serde_json::from_value::<rivvi_domain::campaign::AnalysisFieldInput>(
                json!({"key": key, "label": "L", "fieldType": "boolean"}),
            )
            .unwrap()
            .validate()
            .unwrap()
        };

        let declared_elsewhere = AnalysisFieldSpec::requested(&[field("confirmed")]);
        let declared_here = AnalysisFieldSpec::requested(&[field(OPTED_OUT_FIELD), field("confirmed")]);
        let nothing_declared = AnalysisFieldSpec::requested(&[]);

        let keys = |specs: &[AnalysisFieldSpec]| specs.iter().map(|s| s.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&declared_elsewhere), ["confirmed", OPTED_OUT_FIELD]);
        assert_eq!(keys(&declared_here), [OPTED_OUT_FIELD, "confirmed"]);
        assert_eq!(declared_here[0].description, "L", "the campaign's own field is kept");
        assert_eq!(nothing_declared, [AnalysisFieldSpec::opted_out()]);
        let item = AnalysisFieldSpec::opted_out().to_retell();
        assert_eq!(item["type"], "boolean");
        assert_eq!(AnalysisFieldSpec::from_retell(&item), Some(AnalysisFieldSpec::opted_out()));
    }

    #[test]
    fn system_presets_are_not_custom_fields() {
        let preset = json!({"type": "system-presets", "name": "call_summary"});
        assert_eq!(AnalysisFieldSpec::from_retell(&preset), None);
    }
}
