//! Procedure inputs that fail to deserialize still get a 400 naming the field.
//!
//! rspc 0.3 answers a serde failure with a bare "error deserializing procedure arguments". Wrapping
//! each input in [`Input`] defers the failure into the handler, where it becomes an
//! [`ApiError::Validation`] carrying the JSON path of the offending field.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use specta::datatype::{reference::Reference, DataType};
use specta::{Generics, Type, TypeMap};

use super::error::{ApiError, FieldIssue};

/// A procedure input: either the parsed value or the reason it did not parse.
pub struct Input<T>(Result<T, FieldIssue>);

impl<T> Input<T> {
    /// The parsed input, or a 400 naming the field that failed.
    pub fn parse(self) -> Result<T, ApiError> {
        self.0.map_err(|issue| ApiError::Validation(vec![issue]))
    }
}

impl<T: DeserializeOwned> Input<T> {
    /// The input `value` holds, or the reason it does not (kept for [`Input::parse`]).
    pub fn from_value(value: serde_json::Value) -> Self {
        Input(serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
            let path = err.path().to_string();
            let reason = err.into_inner().to_string();
            FieldIssue { field: field_of(&path, &reason), reason }
        }))
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Input<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Input::from_value(serde_json::Value::deserialize(deserializer)?))
    }
}

/// The camelCase path of the failing field. serde reports a missing field at its parent's path
/// (`.` for the top level) with the name only in the message, so the name is taken from there.
fn field_of(path: &str, reason: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let missing = reason.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    match (parent, missing) {
        ("", Some(name)) => name.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        ("", None) => "input".to_owned(),
        (parent, None) => parent.to_owned(),
    }
}

// The wire type is exactly `T`'s: the wrapper exists only on the server.
impl<T: Type> Type for Input<T> {
    fn inline(type_map: &mut TypeMap, generics: Generics) -> DataType {
        T::inline(type_map, generics)
    }

    fn reference(type_map: &mut TypeMap, generics: &[DataType]) -> Reference {
        T::reference(type_map, generics)
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn a_missing_field_is_named_by_its_full_path() {
        assert_eq!(field_of(".", "missing field `phone`"), "phone");
        assert_eq!(field_of("campaign", "missing field `name`"), "campaign.name");
        assert_eq!(field_of("limit", "invalid type: string \"x\", expected u32"), "limit");
        assert_eq!(field_of(".", "invalid type: null, expected struct X"), "input");
    }
}
