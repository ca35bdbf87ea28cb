//! IANA time zones such as `America/New_York`.
//!
//! Decision: only *region* names are accepted, that is `Area/Location` names (including legacy
//! links such as `US/Eastern`, which follow their region's rules), plus `UTC`. Refused:
//! abbreviations and POSIX-style names (`EST`, `PST`, `EST5EDT`, `GMT`), single-word aliases
//! (`Japan`, `Cuba`) and the `Etc/GMT+5` fixed offsets (whose sign is inverted). An abbreviation
//! does not say whether daylight saving applies, and an organization's office hours must follow
//! the clock on the clinic's wall. Matching is case-insensitive; the canonical spelling is stored.

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A validated IANA region time zone.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
#[serde(try_from = "String", into = "String")]
pub struct IanaZone(#[cfg_attr(feature = "specta", specta(type = String))] Tz);

/// Why a time zone name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeZoneError {
    /// Not a name in the time zone database.
    #[error("must be an IANA time zone such as America/New_York")]
    Unknown,
    /// A known name that is not a region (an abbreviation or a fixed offset).
    #[error("must be a region such as America/New_York, not an abbreviation or a fixed offset")]
    NotARegion,
}

impl IanaZone {
    /// The zone organizations get until they choose one (the original product's default).
    pub const DEFAULT: IanaZone = IanaZone(chrono_tz::America::New_York);

    /// Parses a region name, case-insensitively (`america/new_york` gives `America/New_York`).
    pub fn parse(input: &str) -> Result<IanaZone, TimeZoneError> {
        let name = input.trim();
        let tz = Tz::from_str(name)
            .ok()
            .or_else(|| {
                chrono_tz::TZ_VARIANTS.iter().copied().find(|tz| tz.name().eq_ignore_ascii_case(name))
            })
            .ok_or(TimeZoneError::Unknown)?;
        Self::from_tz(tz)
    }

    /// Wraps a zone known at compile time, refusing non-region zones like [`IanaZone::parse`].
    pub fn from_tz(tz: Tz) -> Result<IanaZone, TimeZoneError> {
        let name = tz.name();
        let is_region =
            name == "UTC" || (name.contains('/') && (!name.starts_with("Etc/") || name == "Etc/UTC"));
        if is_region {
            Ok(IanaZone(tz))
        } else {
            Err(TimeZoneError::NotARegion)
        }
    }

    /// The chrono-tz zone, for conversions.
    pub fn tz(self) -> Tz {
        self.0
    }

    /// The canonical IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl Default for IanaZone {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for IanaZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for IanaZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IanaZone({})", self.name())
    }
}

impl FromStr for IanaZone {
    type Err = TimeZoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for IanaZone {
    type Error = TimeZoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<IanaZone> for String {
    fn from(z: IanaZone) -> String {
        z.name().to_owned()
    }
}

impl From<IanaZone> for Tz {
    fn from(z: IanaZone) -> Tz {
        z.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_parse_to_their_canonical_spelling() {
        let cases = [
            ("America/New_York", "America/New_York"),
            ("  America/Chicago ", "America/Chicago"),
            ("america/los_angeles", "America/Los_Angeles"),
            ("AMERICA/INDIANA/INDIANAPOLIS", "America/Indiana/Indianapolis"),
            ("Europe/London", "Europe/London"),
            ("Pacific/Honolulu", "Pacific/Honolulu"),
            ("US/Eastern", "US/Eastern"),
            ("UTC", "UTC"),
            ("Etc/UTC", "Etc/UTC"),
        ];
        for (input, expected) in cases {
            assert_eq!(IanaZone::parse(input).map(IanaZone::name), Ok(expected), "input {input:?}");
        }
    }

    #[test]
    fn abbreviations_and_fixed_offsets_are_refused() {
        let cases = [
            ("EST", TimeZoneError::NotARegion),
            ("EST5EDT", TimeZoneError::NotARegion),
            ("CST6CDT", TimeZoneError::NotARegion),
            ("GMT", TimeZoneError::NotARegion),
            ("Japan", TimeZoneError::NotARegion),
            ("Etc/GMT+5", TimeZoneError::NotARegion),
            ("PST", TimeZoneError::Unknown),
            ("Eastern", TimeZoneError::Unknown),
            ("America/Springfield", TimeZoneError::Unknown),
            ("", TimeZoneError::Unknown),
            ("-05:00", TimeZoneError::Unknown),
        ];
        for (input, expected) in cases {
            assert_eq!(IanaZone::parse(input), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn the_error_message_gives_an_example() {
        assert_eq!(TimeZoneError::Unknown.to_string(), "must be an IANA time zone such as America/New_York");
    }

    #[test]
    fn serde_round_trips_the_name_and_validates_on_the_way_in() {
        let zone = IanaZone::parse("America/Denver").unwrap();
        assert_eq!(serde_json::to_string(&zone).unwrap(), "\"America/Denver\"");
        assert_eq!(serde_json::from_str::<IanaZone>("\"america/denver\"").unwrap(), zone);
        assert!(serde_json::from_str::<IanaZone>("\"EST\"").is_err());
    }

    #[test]
    fn the_default_is_new_york() {
        assert_eq!(IanaZone::default().name(), "America/New_York");
    }
}
