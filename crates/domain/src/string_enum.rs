//! Enums stored as stable strings: one macro keeps the wire name, the database name, `Display` and
//! `FromStr` in step, so a status can never be spelled two ways.

/// A stored string that names no variant of the enum it was read into (a corrupt row, or a value
/// written by a newer release).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownVariant {
    /// What was being parsed, such as `run status`.
    pub kind: &'static str,
    /// The string that matched nothing.
    pub value: String,
}

/// Declares a fieldless enum whose variants map one-to-one onto strings.
///
/// Generates serde (each variant renamed to its string), optional `specta::Type`, `ALL`,
/// `as_str`, `Display` and `FromStr` (erroring with [`UnknownVariant`]).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $s:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $s)] $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable string used on the wire and in the database.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::string_enum::UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err($crate::string_enum::UnknownVariant { kind: $kind, value: s.to_owned() }),
                }
            }
        }
    };
}
