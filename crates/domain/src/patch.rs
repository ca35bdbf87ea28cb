//! [`Patch`]: one field of a partial update, for fields that can be cleared.

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
    /// From a PATCH input's nullable field: absent keeps, `null` clears, a value sets.
    pub fn from_nullable(field: Option<Option<T>>) -> Self {
        match field {
            None => Patch::Keep,
            Some(None) => Patch::Clear,
            Some(Some(value)) => Patch::Set(value),
        }
    }

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

    /// The patch with its value converted.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(value) => Patch::Set(f(value)),
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

#[cfg(test)]
mod tests {
    use super::Patch;

    #[test]
    fn a_nullable_input_field_becomes_keep_clear_or_set() {
        assert_eq!(Patch::<u8>::from_nullable(None), Patch::Keep);
        assert_eq!(Patch::<u8>::from_nullable(Some(None)), Patch::Clear);
        assert_eq!(Patch::from_nullable(Some(Some(3))), Patch::Set(3));
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
