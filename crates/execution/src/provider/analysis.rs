//! A campaign's analysis fields as the provider needs them, and their Retell form
//! (`post_call_analysis_data` items).
//!
//! Retell knows `string`, `enum`, `boolean` and `number`. A date travels as a `string` whose
//! `examples` are ISO dates and whose description asks for one; [`AnalysisFieldSpec::from_retell`]
//! reads that shape back as a date (the simulator uses it to answer with dates).

use rivvi_domain::campaign::{AnalysisField, AnalysisFieldType};
use serde_json::{json, Value};

/// The example sent with date fields; any `YYYY-MM-DD` example marks a string field as a date.
const DATE_EXAMPLE: &str = "2026-01-31";
const DATE_INSTRUCTION: &str = "Answer with an ISO date (YYYY-MM-DD).";

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
    fn system_presets_are_not_custom_fields() {
        let preset = json!({"type": "system-presets", "name": "call_summary"});
        assert_eq!(AnalysisFieldSpec::from_retell(&preset), None);
    }
}
