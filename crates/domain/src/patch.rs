//! [`Patch`]: one field of a partial update, for fields that can be cleared.
//!
//! On the wire a patch field is an optional, nullable field: absent keeps (with
//! `#[serde(skip_serializing_if = "Patch::is_keep", default)]`, in that order for specta), `null`
//! clears, a value sets; its TypeScript type is the same `field?: T | null` as an `Option<T>`'s.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What an update does to a field that may be empty: leave it, clear it, or set it. Plain
/// `Option<T>` says "leave or set" for fields that are never empty; this replaces the
/// `Option<Option<T>>` whose two `None`s read alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// The field is not part of the update.
    #[default]
    Keep,
    /// The field becomes empty.
    Clear,
    /// The field takes this value.
    Set(T),
}

impl<T> Patch<T> {
    /// Sets or clears to `value`: the update of a field that is always written.
    pub fn to(value: Option<T>) -> Self {
        value.map_or(Patch::Clear, Patch::Set)
    }

    /// Whether the update leaves the field alone.
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    /// The field's new value, `None` for [`Patch::Keep`]: `Some(None)` clears it.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Patch::Keep => None,
            Patch::Clear => Some(None),
            Patch::Set(value) => Some(Some(value)),
        }
    }

    /// The patch with its value checked: `f` failing fails the whole patch.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Patch<U>, E> {
        Ok(match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(value) => Patch::Set(f(value)?),
        })
    }
}

impl<T: PartialEq> Patch<T> {
    /// Applies the patch to `slot`; answers whether the value changed.
    pub fn apply_to(self, slot: &mut Option<T>) -> bool {
        let new = match self {
            Patch::Keep => return false,
            Patch::Clear => None,
            Patch::Set(value) => Some(value),
        };
        let changed = *slot != new;
        *slot = new;
        changed
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    /// A present field: `null` clears, a value sets (absence is `#[serde(default)]`'s `Keep`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(Patch::to)
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Set(value) => serializer.serialize_some(value),
            Patch::Keep | Patch::Clear => serializer.serialize_none(),
        }
    }
}

// The wire type is `Option<T>`'s: a nullable value, made optional by `#[specta(optional)]`.
#[cfg(feature = "specta")]
impl<T: specta::Type> specta::Type for Patch<T> {
    fn inline(type_map: &mut specta::TypeMap, generics: specta::Generics) -> specta::datatype::DataType {
        <Option<T> as specta::Type>::inline(type_map, generics)
    }

    fn reference(
        type_map: &mut specta::TypeMap,
        generics: &[specta::datatype::DataType],
    ) -> specta::datatype::reference::Reference {
        <Option<T> as specta::Type>::reference(type_map, generics)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::Patch;

    #[derive(Debug, PartialEq, Deserialize, Serialize)]
    struct Update {
        #[serde(skip_serializing_if = "Patch::is_keep", default)]
        note: Patch<String>,
    }

    #[test]
    fn on_the_wire_absent_keeps_null_clears_and_a_value_sets() {
        let read = |json: &str| serde_json::from_str::<Update>(json).unwrap().note;
        assert_eq!(read("{}"), Patch::Keep);
        assert_eq!(read(r#"{"note": null}"#), Patch::Clear);
        assert_eq!(read(r#"{"note": "hi"}"#), Patch::Set("hi".to_owned()));
        let write = |note| serde_json::to_string(&Update { note }).unwrap();
        assert_eq!(write(Patch::Keep), "{}");
        assert_eq!(write(Patch::Clear), r#"{"note":null}"#);
        assert_eq!(write(Patch::Set("hi".into())), r#"{"note":"hi"}"#);
    }

    #[test]
    fn a_patch_becomes_the_column_change_it_asks_for() {
        assert_eq!(Patch::to(Some(3)), Patch::Set(3));
        assert_eq!(Patch::<u8>::to(None), Patch::Clear);
        assert_eq!(Patch::Set(3).into_change(), Some(Some(3)));
        assert_eq!(Patch::<u8>::Clear.into_change(), Some(None));
        assert_eq!(Patch::<u8>::Keep.into_change(), None);
    }

    #[test]
    fn applying_a_patch_reports_whether_the_value_changed() {
        let mut slot = Some(1);
        assert!(!Patch::Keep.apply_to(&mut slot));
        assert!(!Patch::Set(1).apply_to(&mut slot));
        assert!(Patch::Set(2).apply_to(&mut slot));
        assert_eq!(slot, Some(2));
        assert!(Patch::Clear.apply_to(&mut slot));
        assert_eq!(slot, None);
        assert!(!Patch::<i32>::Clear.apply_to(&mut slot));
    }
}
