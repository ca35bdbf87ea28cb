//! Organization settings and the `organizations.update` PATCH.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::office_hours::{OfficeHours, OfficeHoursInput};
use crate::patch::Patch;
use crate::phone::PhoneNumber;
use crate::time_zone::IanaZone;
use crate::validation::{single_line, TextError, ValidationErrors};

/// The longest organization name, in characters.
pub const MAX_ORG_NAME_CHARS: usize = 120;

/// An organization's display name: trimmed, 1..=120 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
#[serde(try_from = "String", into = "String")]
pub struct OrgName(String);

impl OrgName {
    /// Trims and checks a name.
    pub fn parse(input: &str) -> Result<OrgName, TextError> {
        single_line(input, MAX_ORG_NAME_CHARS).map(OrgName)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OrgName {
    type Error = TextError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OrgName> for String {
    fn from(n: OrgName) -> String {
        n.0
    }
}

/// A number outside its allowed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between {min} and {max}")]
pub struct OutOfRange {
    /// Smallest allowed value.
    pub min: u32,
    /// Largest allowed value.
    pub max: u32,
}

macro_rules! bounded_u32 {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $default:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
        #[serde(try_from = "i64", into = "u32")]
        pub struct $name(u32);

        impl $name {
            /// Smallest allowed value.
            pub const MIN: u32 = $min;
            /// Largest allowed value.
            pub const MAX: u32 = $max;

            /// Checks the range.
            pub fn parse(value: i64) -> Result<$name, OutOfRange> {
                u32::try_from(value)
                    .ok()
                    .filter(|v| (Self::MIN..=Self::MAX).contains(v))
                    .map($name)
                    .ok_or(OutOfRange { min: Self::MIN, max: Self::MAX })
            }

            /// The value.
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name($default)
            }
        }

        impl TryFrom<i64> for $name {
            type Error = OutOfRange;
            fn try_from(v: i64) -> Result<Self, Self::Error> {
                Self::parse(v)
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }
    };
}

bounded_u32!(
    /// How many calls an organization may have in progress at once, 1..=100 (default 20).
    ConcurrentCallLimit,
    1,
    100,
    20
);
bounded_u32!(
    /// How many calls an organization may start per minute, 1..=600 (default 10).
    CallsPerMinute,
    1,
    600,
    10
);
bounded_u32!(
    /// How many days an uploaded sheet is kept after the last run made from it ended (or after
    /// it was uploaded, when no run was made from it), 1..=3650 (default 30). The runs keep every
    /// cell; only the file goes.
    UploadRetentionDays,
    1,
    3650,
    30
);
bounded_u32!(
    /// How many days a call's transcript, summary and recording URL are kept after the call
    /// ended, 1..=3650 (default 365). The structured analysis stays.
    TranscriptRetentionDays,
    1,
    3650,
    365
);

/// An organization's settings, as stored and as returned by `organizations.get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct OrgSettings {
    /// Display name.
    pub name: OrgName,
    /// The zone office hours are read in.
    pub time_zone: IanaZone,
    /// When calls may be placed.
    pub office_hours: OfficeHours,
    /// The caller id outbound calls use; `null` until configured.
    pub caller_number: Option<PhoneNumber>,
    /// Calls in progress at once.
    pub concurrent_call_limit: ConcurrentCallLimit,
    /// Calls started per minute.
    pub calls_per_minute: CallsPerMinute,
    /// Days an upload is kept after its runs ended.
    pub upload_retention_days: UploadRetentionDays,
    /// Days a call's transcript, summary and recording URL are kept after it ended.
    pub transcript_retention_days: TranscriptRetentionDays,
}

impl OrgSettings {
    /// A new organization's settings: New York time, weekdays 09:00–17:00, no caller number,
    /// 20 concurrent calls, 10 calls a minute, uploads kept 30 days and transcripts 365.
    pub fn new(name: OrgName) -> OrgSettings {
        OrgSettings {
            name,
            time_zone: IanaZone::default(),
            office_hours: OfficeHours::default(),
            caller_number: None,
            concurrent_call_limit: ConcurrentCallLimit::default(),
            calls_per_minute: CallsPerMinute::default(),
            upload_retention_days: UploadRetentionDays::default(),
            transcript_retention_days: TranscriptRetentionDays::default(),
        }
    }

    /// Applies a validated update; returns the camelCase names of the fields whose value
    /// changed (for the audit log: none of them is PHI).
    pub fn apply(&mut self, update: ValidOrganizationUpdate) -> Vec<&'static str> {
        let mut changed = Vec::new();
        fn set<T: PartialEq>(
            slot: &mut T,
            value: Option<T>,
            name: &'static str,
            changed: &mut Vec<&'static str>,
        ) {
            if let Some(value) = value {
                if *slot != value {
                    *slot = value;
                    changed.push(name);
                }
            }
        }
        set(&mut self.name, update.name, "name", &mut changed);
        set(&mut self.time_zone, update.time_zone, "timeZone", &mut changed);
        set(&mut self.office_hours, update.office_hours, "officeHours", &mut changed);
        if update.caller_number.apply_to(&mut self.caller_number) {
            changed.push("callerNumber");
        }
        set(
            &mut self.concurrent_call_limit,
            update.concurrent_call_limit,
            "concurrentCallLimit",
            &mut changed,
        );
        set(&mut self.calls_per_minute, update.calls_per_minute, "callsPerMinute", &mut changed);
        set(
            &mut self.upload_retention_days,
            update.upload_retention_days,
            "uploadRetentionDays",
            &mut changed,
        );
        set(
            &mut self.transcript_retention_days,
            update.transcript_retention_days,
            "transcriptRetentionDays",
            &mut changed,
        );
        changed
    }
}

/// `organizations.update` input: a PATCH. An absent field is left unchanged; `callerNumber: null`
/// removes the caller number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrganizationUpdate {
    /// New display name, 1..=120 characters after trimming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub name: Option<String>,
    /// New IANA region zone such as `America/Chicago`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub time_zone: Option<String>,
    /// Replacement office hours (the whole week and holidays, not a merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub office_hours: Option<OfficeHoursInput>,
    /// New caller number in E.164 form, or `null` to remove it.
    // `default` after `skip_serializing_if`: specta reads them in order, and only `default`
    // marks the field optional (`?`) in TypeScript.
    #[serde(skip_serializing_if = "Patch::is_keep", default)]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub caller_number: Patch<String>,
    /// New concurrent call limit, 1..=100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub concurrent_call_limit: Option<i32>,
    /// New calls per minute, 1..=600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub calls_per_minute: Option<i32>,
    /// Days an upload is kept after the last run made from it ended, 1..=3650.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub upload_retention_days: Option<i32>,
    /// Days a call's transcript, summary and recording URL are kept after it ended, 1..=3650.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub transcript_retention_days: Option<i32>,
}

/// A validated [`OrganizationUpdate`]: `None` leaves a field unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidOrganizationUpdate {
    /// New name.
    pub name: Option<OrgName>,
    /// New zone.
    pub time_zone: Option<IanaZone>,
    /// New office hours.
    pub office_hours: Option<OfficeHours>,
    /// [`Patch::Clear`] removes the caller number.
    pub caller_number: Patch<PhoneNumber>,
    /// New concurrent call limit.
    pub concurrent_call_limit: Option<ConcurrentCallLimit>,
    /// New calls per minute.
    pub calls_per_minute: Option<CallsPerMinute>,
    /// New upload retention.
    pub upload_retention_days: Option<UploadRetentionDays>,
    /// New transcript retention.
    pub transcript_retention_days: Option<TranscriptRetentionDays>,
}

impl OrganizationUpdate {
    /// Validates every present field and reports all failures at once.
    pub fn validate(self) -> Result<ValidOrganizationUpdate, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = self.name.and_then(|n| errors.check("name", OrgName::parse(&n)));
        let time_zone = self.time_zone.and_then(|z| errors.check("timeZone", IanaZone::parse(&z)));
        let office_hours = self.office_hours.and_then(|h| match h.validate() {
            Ok(h) => Some(h),
            Err(e) => {
                errors.nest("officeHours", e);
                None
            }
        });
        let caller_number = self
            .caller_number
            .try_map(|n| PhoneNumber::parse_e164_strict(n.trim()))
            .map_err(|e| errors.push("callerNumber", e))
            .unwrap_or_default();
        let concurrent_call_limit = self
            .concurrent_call_limit
            .and_then(|v| errors.check("concurrentCallLimit", ConcurrentCallLimit::parse(v.into())));
        let calls_per_minute = self
            .calls_per_minute
            .and_then(|v| errors.check("callsPerMinute", CallsPerMinute::parse(v.into())));
        let upload_retention_days = self
            .upload_retention_days
            .and_then(|v| errors.check("uploadRetentionDays", UploadRetentionDays::parse(v.into())));
        let transcript_retention_days = self
            .transcript_retention_days
            .and_then(|v| errors.check("transcriptRetentionDays", TranscriptRetentionDays::parse(v.into())));
        errors.finish(ValidOrganizationUpdate {
            name,
            time_zone,
            office_hours,
            caller_number,
            concurrent_call_limit,
            calls_per_minute,
            upload_retention_days,
            transcript_retention_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(value: serde_json::Value) -> OrganizationUpdate {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn an_empty_patch_is_valid_and_changes_nothing() {
        let valid = update(json!({})).validate().unwrap();
        assert_eq!(valid, ValidOrganizationUpdate::default());
        let mut settings = OrgSettings::new(OrgName::parse("Lakeside").unwrap());
        assert!(settings.apply(valid).is_empty());
    }

    #[test]
    fn a_full_patch_validates_and_applies() {
        let valid = update(json!({
            "name": "  Lakeside Family Medicine ",
            "timeZone": "America/Chicago",
            "officeHours": {"monday": {"open": "08:00", "close": "18:00"}, "holidays": ["2026-12-25"]},
            "callerNumber": "+13125550143",
            "concurrentCallLimit": 5,
            "callsPerMinute": 30,
            "uploadRetentionDays": 7,
            "transcriptRetentionDays": 90
        }))
        .validate()
        .unwrap();
        let mut settings = OrgSettings::new(OrgName::parse("Lakeside").unwrap());
        let changed = settings.apply(valid);
        assert_eq!(
            changed,
            [
                "name",
                "timeZone",
                "officeHours",
                "callerNumber",
                "concurrentCallLimit",
                "callsPerMinute",
                "uploadRetentionDays",
                "transcriptRetentionDays"
            ]
        );
        assert_eq!(settings.upload_retention_days.get(), 7);
        assert_eq!(settings.transcript_retention_days.get(), 90);
        assert_eq!(settings.name.as_str(), "Lakeside Family Medicine");
        assert_eq!(settings.time_zone.name(), "America/Chicago");
        assert_eq!(settings.caller_number.as_ref().map(PhoneNumber::as_str), Some("+13125550143"));
        assert_eq!(settings.concurrent_call_limit.get(), 5);
        assert_eq!(settings.calls_per_minute.get(), 30);
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let errors = update(json!({
            "name": "   ",
            "timeZone": "EST",
            "officeHours": {"monday": {"open": "17:00", "close": "09:00"}, "friday": {"open": "09:00", "close": "5pm"}},
            "callerNumber": "(312) 555-0143",
            "concurrentCallLimit": 0,
            "callsPerMinute": 601,
            "uploadRetentionDays": 0,
            "transcriptRetentionDays": 3651
        }))
        .validate()
        .unwrap_err();
        let got: Vec<(&str, &str)> =
            errors.errors().iter().map(|e| (e.field.as_str(), e.reason.as_str())).collect();
        assert_eq!(
            got,
            [
                ("name", "must not be empty"),
                (
                    "timeZone",
                    "must be a region such as America/New_York, not an abbreviation or a fixed offset"
                ),
                ("officeHours.monday.open", "must be before close"),
                ("officeHours.friday.close", "must be a 24-hour time in HH:MM form such as 09:00"),
                ("callerNumber", "must be in E.164 form such as +13125550143"),
                ("concurrentCallLimit", "must be between 1 and 100"),
                ("callsPerMinute", "must be between 1 and 600"),
                ("uploadRetentionDays", "must be between 1 and 3650"),
                ("transcriptRetentionDays", "must be between 1 and 3650"),
            ]
        );
    }

    #[test]
    fn bounds_are_inclusive() {
        let cases = [
            (json!({"concurrentCallLimit": 1}), true),
            (json!({"concurrentCallLimit": 100}), true),
            (json!({"concurrentCallLimit": 101}), false),
            (json!({"concurrentCallLimit": -1}), false),
            (json!({"callsPerMinute": 1}), true),
            (json!({"callsPerMinute": 600}), true),
            (json!({"callsPerMinute": 0}), false),
            (json!({"uploadRetentionDays": 1}), true),
            (json!({"uploadRetentionDays": 3650}), true),
            (json!({"uploadRetentionDays": 3651}), false),
            (json!({"transcriptRetentionDays": 0}), false),
            (json!({"transcriptRetentionDays": 3650}), true),
            (json!({"name": "x".repeat(120)}), true),
            (json!({"name": "x".repeat(121)}), false),
        ];
        for (input, ok) in cases {
            assert_eq!(update(input.clone()).validate().is_ok(), ok, "{input}");
        }
    }

    #[test]
    fn a_null_caller_number_removes_it_and_an_absent_one_keeps_it() {
        assert_eq!(update(json!({"callerNumber": null})).caller_number, Patch::Clear);
        assert_eq!(update(json!({})).caller_number, Patch::Keep);

        let mut settings = OrgSettings::new(OrgName::parse("Lakeside").unwrap());
        settings.caller_number = Some(PhoneNumber::parse("3125550143").unwrap());
        let changed = settings.apply(update(json!({"callerNumber": null})).validate().unwrap());
        assert_eq!(changed, ["callerNumber"]);
        assert_eq!(settings.caller_number, None);
    }

    #[test]
    fn unknown_fields_are_refused_so_a_typo_is_not_a_silent_no_op() {
        assert!(serde_json::from_value::<OrganizationUpdate>(json!({"timezone": "America/Chicago"})).is_err());
    }

    #[test]
    fn setting_a_field_to_its_current_value_is_not_a_change() {
        let mut settings = OrgSettings::new(OrgName::parse("Lakeside").unwrap());
        let changed = settings
            .apply(update(json!({"name": "Lakeside", "timeZone": "America/New_York"})).validate().unwrap());
        assert!(changed.is_empty());
    }

    #[test]
    fn settings_serialize_in_camel_case_and_round_trip() {
        let settings = OrgSettings::new(OrgName::parse("Lakeside").unwrap());
        let json = serde_json::to_value(&settings).unwrap();
        assert_eq!(json["name"], "Lakeside");
        assert_eq!(json["timeZone"], "America/New_York");
        assert_eq!(json["callerNumber"], serde_json::Value::Null);
        assert_eq!(json["concurrentCallLimit"], 20);
        assert_eq!(json["callsPerMinute"], 10);
        assert_eq!(json["uploadRetentionDays"], 30);
        assert_eq!(json["transcriptRetentionDays"], 365);
        assert_eq!(serde_json::from_value::<OrgSettings>(json).unwrap(), settings);
    }
}

string_enum! {
    /// What an organization's assigned phone number is for.
    pub enum NumberPurpose("number purpose") {
        /// Caller id of the organization's outbound calls.
        Outbound = "outbound",
        /// Patients call it; the inbound agent answers.
        Inbound = "inbound",
        /// Both.
        Both = "both",
    }
}

impl NumberPurpose {
    /// Whether outbound calls may show it as caller id.
    pub fn allows_outbound(self) -> bool {
        matches!(self, NumberPurpose::Outbound | NumberPurpose::Both)
    }

    /// Whether patients calling it reach the organization.
    pub fn allows_inbound(self) -> bool {
        matches!(self, NumberPurpose::Inbound | NumberPurpose::Both)
    }
}
