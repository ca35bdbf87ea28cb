//! An organization's office hours: when, on the clinic's wall clock, the engine may place calls.
//!
//! Decisions:
//! - Times are `HH:MM`, 24-hour, two digits each (`09:00`, not `9:00`). `close` may be `24:00`,
//!   meaning the end of the day, so `00:00`–`24:00` is open all day. Hours cannot run past
//!   midnight (`22:00`–`06:00`): split them over two days.
//! - The interval is half-open: open at `open`, closed from `close` on.
//! - A weekday that is absent or `null` is closed. A holiday closes its whole local date.
//! - Daylight saving: `is_open` reads the local wall clock, so it is right by construction. In
//!   `next_opening`, an opening time that does not exist (skipped on a spring-forward day) opens
//!   at the first instant after the gap; an ambiguous one (repeated on a fall-back day) opens at
//!   its first occurrence, or at the second if the first is already past; the clock falling back
//!   into the window also counts as an opening.

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, Offset, TimeDelta, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::validation::ValidationErrors;

/// The most holidays one organization may list (a year's worth of dates).
pub const MAX_HOLIDAYS: usize = 366;

/// How far ahead `next_opening` looks: long enough for 366 holidays to fall on a single open
/// weekday, so `None` really means "never".
const HORIZON_DAYS: u64 = (MAX_HOLIDAYS as u64 + 2) * 7;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// A wall-clock time of day with minute precision, `00:00` to `24:00` inclusive.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(transparent))]
#[serde(try_from = "String", into = "String")]
pub struct LocalTime(#[cfg_attr(feature = "specta", specta(type = String))] u16);

/// Why a time of day was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LocalTimeError {
    /// Not `HH:MM`.
    #[error("must be a 24-hour time in HH:MM form such as 09:00")]
    Format,
    /// `HH:MM` but past `24:00` or with minutes above 59.
    #[error("must be between 00:00 and 24:00")]
    OutOfRange,
}

impl LocalTime {
    /// `00:00`.
    pub const MIDNIGHT: LocalTime = LocalTime(0);
    /// `24:00`: the end of the day, valid only as a closing time.
    pub const END_OF_DAY: LocalTime = LocalTime(MINUTES_PER_DAY);

    /// Parses `HH:MM` (two digits each), `00:00` to `24:00`.
    pub fn parse(input: &str) -> Result<LocalTime, LocalTimeError> {
        let b = input.as_bytes();
        let digit = |i: usize| b.get(i).filter(|c| c.is_ascii_digit()).map(|c| u16::from(c - b'0'));
        let (Some(h1), Some(h2), Some(b':'), Some(m1), Some(m2), 5) =
            (digit(0), digit(1), b.get(2).copied(), digit(3), digit(4), b.len())
        else {
            return Err(LocalTimeError::Format);
        };
        Self::from_hm(h1 * 10 + h2, m1 * 10 + m2).ok_or(LocalTimeError::OutOfRange)
    }

    /// A time from hours and minutes; `None` past `24:00`.
    pub fn from_hm(hour: u16, minute: u16) -> Option<LocalTime> {
        let minutes = hour.checked_mul(60)?.checked_add(minute)?;
        (minute < 60 && minutes <= MINUTES_PER_DAY).then_some(LocalTime(minutes))
    }

    /// Minutes since local midnight, 0..=1440.
    pub fn minutes_since_midnight(self) -> u16 {
        self.0
    }

    /// Whether this is `24:00`.
    pub fn is_end_of_day(self) -> bool {
        self == Self::END_OF_DAY
    }

    /// As a chrono time; `None` for `24:00`, which chrono cannot represent.
    pub fn to_naive_time(self) -> Option<chrono::NaiveTime> {
        chrono::NaiveTime::from_hms_opt(u32::from(self.0 / 60), u32::from(self.0 % 60), 0)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl fmt::Debug for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalTime({self})")
    }
}

impl FromStr for LocalTime {
    type Err = LocalTimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for LocalTime {
    type Error = LocalTimeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<LocalTime> for String {
    fn from(t: LocalTime) -> String {
        t.to_string()
    }
}

/// Opening hours for one weekday: `open` < `close`, `open` before `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", try_from = "DayHoursInput")]
pub struct DayHours {
    open: LocalTime,
    close: LocalTime,
}

/// Why a pair of opening and closing times was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DayHoursError {
    /// `open` is `24:00`.
    #[error("must be 23:59 or earlier")]
    OpenAtEndOfDay,
    /// `open` is not before `close`.
    #[error("must be before close")]
    OpenNotBeforeClose,
}

impl DayHours {
    /// Hours from `open` until `close`.
    pub fn new(open: LocalTime, close: LocalTime) -> Result<DayHours, DayHoursError> {
        if open.is_end_of_day() {
            Err(DayHoursError::OpenAtEndOfDay)
        } else if open >= close {
            Err(DayHoursError::OpenNotBeforeClose)
        } else {
            Ok(DayHours { open, close })
        }
    }

    /// Open all day, `00:00`–`24:00`.
    pub const ALL_DAY: DayHours = DayHours { open: LocalTime::MIDNIGHT, close: LocalTime::END_OF_DAY };

    /// The opening time.
    pub fn open(&self) -> LocalTime {
        self.open
    }

    /// The closing time (exclusive).
    pub fn close(&self) -> LocalTime {
        self.close
    }

    fn contains_minute(&self, minute: u16) -> bool {
        self.open.0 <= minute && minute < self.close.0
    }
}

/// The wire form of [`DayHours`], before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DayHoursInput {
    /// Opening time, `HH:MM`.
    pub open: String,
    /// Closing time, `HH:MM`, or `24:00` for the end of the day.
    pub close: String,
}

impl DayHoursInput {
    /// Validates, with errors at `open` and `close`.
    pub fn validate(self) -> Result<DayHours, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let open = errors.check("open", LocalTime::parse(&self.open));
        let close = errors.check("close", LocalTime::parse(&self.close));
        if let (Some(open), Some(close)) = (open, close) {
            match DayHours::new(open, close) {
                Ok(hours) => return errors.finish(hours),
                Err(e) => errors.push("open", e),
            }
        }
        Err(errors)
    }
}

impl TryFrom<DayHoursInput> for DayHours {
    type Error = ValidationErrors;
    fn try_from(input: DayHoursInput) -> Result<Self, Self::Error> {
        input.validate()
    }
}

impl From<DayHours> for DayHoursInput {
    fn from(h: DayHours) -> Self {
        DayHoursInput { open: h.open.to_string(), close: h.close.to_string() }
    }
}

/// Weekly opening hours in the organization's local time, plus holidays (closed all day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", try_from = "OfficeHoursInput")]
pub struct OfficeHours {
    monday: Option<DayHours>,
    tuesday: Option<DayHours>,
    wednesday: Option<DayHours>,
    thursday: Option<DayHours>,
    friday: Option<DayHours>,
    saturday: Option<DayHours>,
    sunday: Option<DayHours>,
    /// Sorted, without duplicates.
    holidays: Vec<NaiveDate>,
}

/// Too many holidays for [`OfficeHours::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must list at most {MAX_HOLIDAYS} dates")]
pub struct TooManyHolidays;

impl OfficeHours {
    /// Hours for each weekday, Monday first, and the holidays (deduplicated).
    pub fn new(
        week: [Option<DayHours>; 7],
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<OfficeHours, TooManyHolidays> {
        let mut holidays: Vec<NaiveDate> = holidays.into_iter().collect();
        holidays.sort_unstable();
        holidays.dedup();
        if holidays.len() > MAX_HOLIDAYS {
            return Err(TooManyHolidays);
        }
        let [monday, tuesday, wednesday, thursday, friday, saturday, sunday] = week;
        Ok(OfficeHours { monday, tuesday, wednesday, thursday, friday, saturday, sunday, holidays })
    }

    /// The hours of a weekday, `None` when closed that day.
    pub fn day(&self, weekday: Weekday) -> Option<DayHours> {
        match weekday {
            Weekday::Mon => self.monday,
            Weekday::Tue => self.tuesday,
            Weekday::Wed => self.wednesday,
            Weekday::Thu => self.thursday,
            Weekday::Fri => self.friday,
            Weekday::Sat => self.saturday,
            Weekday::Sun => self.sunday,
        }
    }

    /// The holidays, sorted.
    pub fn holidays(&self) -> &[NaiveDate] {
        &self.holidays
    }

    /// Whether `date` is a listed holiday.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.binary_search(&date).is_ok()
    }

    /// The hours that apply on a local date: none on a holiday or a closed weekday.
    pub fn hours_on(&self, date: NaiveDate) -> Option<DayHours> {
        if self.is_holiday(date) {
            None
        } else {
            self.day(date.weekday())
        }
    }

    /// Whether the clinic is open at `at`, reading the wall clock in `zone`.
    pub fn is_open(&self, zone: Tz, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&zone);
        let minute = local.hour() * 60 + local.minute();
        self.hours_on(local.date_naive())
            .is_some_and(|hours| u16::try_from(minute).is_ok_and(|m| hours.contains_minute(m)))
    }

    /// The first instant at or after `after` when the clinic is open (`after` itself when open
    /// now). `None` when no weekday is open, or holidays close every open day for about seven
    /// years.
    pub fn next_opening(&self, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(zone, after) {
            return Some(after);
        }
        // From the day before: a clock falling back past midnight can reopen yesterday's hours.
        let first = after.with_timezone(&zone).date_naive().pred_opt()?;
        (0..HORIZON_DAYS).filter_map(|n| first.checked_add_days(Days::new(n))).find_map(|date| {
            let hours = self.hours_on(date)?;
            opening_candidates(zone, date, hours)
                .into_iter()
                .flatten()
                .filter(|t| *t >= after && self.is_open(zone, *t))
                .min()
        })
    }
}

/// Instants on local `date` when the clinic may open: each occurrence of the opening time, and a
/// daylight-saving transition that lands on that date (the end of a spring-forward gap that
/// swallowed the opening time, or a fall-back that rewinds the clock into the open hours).
fn opening_candidates(zone: Tz, date: NaiveDate, hours: DayHours) -> [Option<DateTime<Utc>>; 3] {
    let (first, second) =
        match hours.open.to_naive_time().map(|t| zone.from_local_datetime(&date.and_time(t))) {
            Some(LocalResult::Single(t)) => (Some(t), None),
            Some(LocalResult::Ambiguous(a, b)) => (Some(a), Some(b)),
            Some(LocalResult::None) | None => (None, None),
        };
    let transition =
        offset_transition_near(zone, date).filter(|t| t.with_timezone(&zone).date_naive() == date);
    [first.map(|t| t.with_timezone(&Utc)), second.map(|t| t.with_timezone(&Utc)), transition]
}

/// The instant the UTC offset of `zone` changes during the ~52 hours of UTC that can overlap the
/// local `date`, if it does. Assumes at most one change in that window (true of every zone).
fn offset_transition_near(zone: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    let offset_at =
        |t: i64| DateTime::from_timestamp(t, 0).map(|t| zone.offset_from_utc_datetime(&t.naive_utc()).fix());
    // Local offsets lie within -12h..=+14h, so the local day lies inside this UTC window.
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc();
    let mut lo = (midnight - TimeDelta::hours(15)).timestamp();
    let mut hi = (midnight + TimeDelta::hours(24 + 13)).timestamp();
    let before = offset_at(lo)?;
    if offset_at(hi)? == before {
        return None;
    }
    // Invariant: offset(lo) == before, offset(hi) != before.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_at(mid)? == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

impl Default for OfficeHours {
    /// Monday to Friday, 09:00 to 17:00, no holidays.
    fn default() -> Self {
        let weekday = Some(DayHours { open: LocalTime(9 * 60), close: LocalTime(17 * 60) });
        OfficeHours {
            monday: weekday,
            tuesday: weekday,
            wednesday: weekday,
            thursday: weekday,
            friday: weekday,
            saturday: None,
            sunday: None,
            holidays: Vec::new(),
        }
    }
}

/// The wire form of [`OfficeHours`], before validation. An absent or `null` day is closed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OfficeHoursInput {
    /// Monday's hours; closed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub monday: Option<DayHoursInput>,
    /// Tuesday's hours; closed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub tuesday: Option<DayHoursInput>,
    /// Wednesday's hours; closed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub wednesday: Option<DayHoursInput>,
    /// Thursday's hours; closed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub thursday: Option<DayHoursInput>,
    /// Friday's hours; closed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub friday: Option<DayHoursInput>,
    /// Saturday's hours; closed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub saturday: Option<DayHoursInput>,
    /// Sunday's hours; closed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub sunday: Option<DayHoursInput>,
    /// Dates the clinic is closed, `YYYY-MM-DD`, at most 366.
    #[serde(default)]
    pub holidays: Vec<String>,
}

impl OfficeHoursInput {
    /// Validates every day and holiday, with paths such as `monday.close` and `holidays[2]`.
    pub fn validate(self) -> Result<OfficeHours, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let days = [
            ("monday", self.monday),
            ("tuesday", self.tuesday),
            ("wednesday", self.wednesday),
            ("thursday", self.thursday),
            ("friday", self.friday),
            ("saturday", self.saturday),
            ("sunday", self.sunday),
        ];
        let mut week = [None; 7];
        for (slot, (name, input)) in week.iter_mut().zip(days) {
            if let Some(input) = input {
                match input.validate() {
                    Ok(hours) => *slot = Some(hours),
                    Err(e) => errors.nest(name, e),
                }
            }
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            errors.push("holidays", TooManyHolidays);
        }
        let mut holidays = Vec::with_capacity(self.holidays.len());
        for (i, raw) in self.holidays.iter().enumerate() {
            if let Some(date) = errors.check(format!("holidays[{i}]"), parse_iso_date(raw)) {
                holidays.push(date);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        OfficeHours::new(week, holidays).map_err(|e| {
            let mut errors = ValidationErrors::new();
            errors.push("holidays", e);
            errors
        })
    }
}

impl TryFrom<OfficeHoursInput> for OfficeHours {
    type Error = ValidationErrors;
    fn try_from(input: OfficeHoursInput) -> Result<Self, Self::Error> {
        input.validate()
    }
}

impl From<&OfficeHours> for OfficeHoursInput {
    fn from(h: &OfficeHours) -> Self {
        OfficeHoursInput {
            monday: h.monday.map(Into::into),
            tuesday: h.tuesday.map(Into::into),
            wednesday: h.wednesday.map(Into::into),
            thursday: h.thursday.map(Into::into),
            friday: h.friday.map(Into::into),
            saturday: h.saturday.map(Into::into),
            sunday: h.sunday.map(Into::into),
            holidays: h.holidays.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect(),
        }
    }
}

/// A holiday that is not an ISO calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a date in YYYY-MM-DD form such as 2026-12-25")]
pub struct DateFormatError;

/// Parses exactly `YYYY-MM-DD` (chrono alone would also take `2026-3-8`).
pub fn parse_iso_date(input: &str) -> Result<NaiveDate, DateFormatError> {
    let shape_ok = input.len() == 10
        && input
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shape_ok {
        return Err(DateFormatError);
    }
    NaiveDate::parse_from_str(input, "%Y-%m-%d").map_err(|_| DateFormatError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use serde_json::json;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hours(open: &str, close: &str) -> Option<DayHours> {
        Some(DayHours::new(LocalTime::parse(open).unwrap(), LocalTime::parse(close).unwrap()).unwrap())
    }

    /// Open only on Sundays, with the given hours.
    fn sundays(open: &str, close: &str) -> OfficeHours {
        OfficeHours::new([None, None, None, None, None, None, hours(open, close)], []).unwrap()
    }

    #[test]
    fn local_times_parse_strict_two_digit_hh_mm() {
        let cases: &[(&str, Result<u16, LocalTimeError>)] = &[
            ("00:00", Ok(0)),
            ("09:30", Ok(570)),
            ("23:59", Ok(1439)),
            ("24:00", Ok(1440)),
            ("24:01", Err(LocalTimeError::OutOfRange)),
            ("25:00", Err(LocalTimeError::OutOfRange)),
            ("12:60", Err(LocalTimeError::OutOfRange)),
            ("9:00", Err(LocalTimeError::Format)),
            ("09:00:00", Err(LocalTimeError::Format)),
            ("0900", Err(LocalTimeError::Format)),
            ("9am", Err(LocalTimeError::Format)),
            ("", Err(LocalTimeError::Format)),
            (" 09:00", Err(LocalTimeError::Format)),
        ];
        for (input, expected) in cases {
            assert_eq!(
                LocalTime::parse(input).map(LocalTime::minutes_since_midnight),
                *expected,
                "{input:?}"
            );
        }
        assert_eq!(LocalTime::parse("07:05").unwrap().to_string(), "07:05");
    }

    #[test]
    fn day_hours_need_open_before_close() {
        let t = |s| LocalTime::parse(s).unwrap();
        assert!(DayHours::new(t("09:00"), t("17:00")).is_ok());
        assert!(DayHours::new(t("00:00"), t("24:00")).is_ok());
        assert_eq!(DayHours::new(t("17:00"), t("09:00")), Err(DayHoursError::OpenNotBeforeClose));
        assert_eq!(DayHours::new(t("09:00"), t("09:00")), Err(DayHoursError::OpenNotBeforeClose));
        assert_eq!(DayHours::new(t("24:00"), t("24:00")), Err(DayHoursError::OpenAtEndOfDay));
    }

    #[test]
    fn validation_names_every_bad_field() {
        let input: OfficeHoursInput = serde_json::from_value(json!({
            "monday": {"open": "09:00", "close": "17:00"},
            "tuesday": {"open": "18:00", "close": "08:00"},
            "wednesday": {"open": "9", "close": "25:00"},
            "holidays": ["2026-12-25", "12/25/2026", "2026-02-30"]
        }))
        .unwrap();
        let errors = input.validate().unwrap_err();
        let got: Vec<(&str, &str)> =
            errors.errors().iter().map(|e| (e.field.as_str(), e.reason.as_str())).collect();
        assert_eq!(
            got,
            [
                ("tuesday.open", "must be before close"),
                ("wednesday.open", "must be a 24-hour time in HH:MM form such as 09:00"),
                ("wednesday.close", "must be between 00:00 and 24:00"),
                ("holidays[1]", "must be a date in YYYY-MM-DD form such as 2026-12-25"),
                ("holidays[2]", "must be a date in YYYY-MM-DD form such as 2026-12-25"),
            ]
        );
    }

    #[test]
    fn more_than_366_holidays_are_refused() {
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let holidays: Vec<String> =
            (0..367).map(|n| (start + Days::new(n)).format("%Y-%m-%d").to_string()).collect();
        let errors = OfficeHoursInput { holidays, ..Default::default() }.validate().unwrap_err();
        assert_eq!(errors.reason_for("holidays"), Some("must list at most 366 dates"));
    }

    #[test]
    fn unknown_day_names_are_a_deserialization_error_not_a_silent_closure() {
        let result = serde_json::from_value::<OfficeHoursInput>(
            json!({"wednsday": {"open": "09:00", "close": "17:00"}}),
        );
        assert!(result.is_err());
    }

    #[test]
    fn office_hours_serialize_every_day_and_read_back_through_validation() {
        let hours = OfficeHours {
            holidays: vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()],
            ..OfficeHours::default()
        };
        let json = serde_json::to_value(&hours).unwrap();
        assert_eq!(json["monday"], json!({"open": "09:00", "close": "17:00"}));
        assert_eq!(json["sunday"], json!(null));
        assert_eq!(json["holidays"], json!(["2026-12-25"]));
        assert_eq!(serde_json::from_value::<OfficeHours>(json).unwrap(), hours);

        let invalid = json!({"monday": {"open": "17:00", "close": "09:00"}});
        assert!(serde_json::from_value::<OfficeHours>(invalid).is_err());
    }

    #[test]
    fn the_default_is_weekdays_nine_to_five() {
        let h = OfficeHours::default();
        for day in [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri] {
            assert_eq!(h.day(day), hours("09:00", "17:00"), "{day}");
        }
        assert_eq!(h.day(Weekday::Sat), None);
        assert_eq!(h.day(Weekday::Sun), None);
    }

    #[test]
    fn is_open_reads_the_local_wall_clock_across_the_2026_dst_changes() {
        let h = OfficeHours::default();
        let cases = [
            // Friday 6 March 2026, EST (UTC-5).
            ("2026-03-06T13:59:00Z", false), // 08:59 EST
            ("2026-03-06T14:00:00Z", true),  // 09:00 EST
            ("2026-03-06T21:59:00Z", true),  // 16:59 EST
            ("2026-03-06T22:00:00Z", false), // 17:00 EST: close is exclusive
            // Monday 9 March 2026, EDT (UTC-4), the day after spring forward.
            ("2026-03-09T12:59:00Z", false), // 08:59 EDT
            ("2026-03-09T13:00:00Z", true),  // 09:00 EDT
            ("2026-03-09T20:59:00Z", true),  // 16:59 EDT
            ("2026-03-09T21:00:00Z", false), // 17:00 EDT
            // Friday 30 October 2026, EDT; Monday 2 November 2026, EST.
            ("2026-10-30T13:00:00Z", true),  // 09:00 EDT
            ("2026-11-02T13:00:00Z", false), // 08:00 EST
            ("2026-11-02T14:00:00Z", true),  // 09:00 EST
            // Saturday and Sunday are closed.
            ("2026-03-07T15:00:00Z", false),
            ("2026-03-08T15:00:00Z", false),
        ];
        for (at, open) in cases {
            assert_eq!(h.is_open(New_York, utc(at)), open, "{at}");
        }
    }

    #[test]
    fn all_day_hours_with_a_24_00_close_stay_open_until_midnight() {
        let h = OfficeHours::new([Some(DayHours::ALL_DAY), None, None, None, None, None, None], []).unwrap();
        assert!(h.is_open(New_York, utc("2026-03-09T04:00:00Z"))); // Monday 00:00 EDT
        assert!(h.is_open(New_York, utc("2026-03-10T03:59:59Z"))); // Monday 23:59:59 EDT
        assert!(!h.is_open(New_York, utc("2026-03-10T04:00:00Z"))); // Tuesday 00:00 EDT
    }

    #[test]
    fn holidays_close_their_local_date() {
        let h = OfficeHours {
            holidays: vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()],
            ..OfficeHours::default()
        };
        assert!(!h.is_open(New_York, utc("2026-12-25T15:00:00Z"))); // Friday 10:00 EST
                                                                    // Thursday 24 December at 16:30 EST is 21:30Z: still the 24th locally, so open.
        assert!(h.is_open(New_York, utc("2026-12-24T21:30:00Z")));
        assert_eq!(
            h.next_opening(New_York, utc("2026-12-24T22:00:00Z")),
            Some(utc("2026-12-28T14:00:00Z")) // Monday 09:00 EST
        );
    }

    #[test]
    fn next_opening_is_now_when_already_open() {
        let now = utc("2026-03-09T15:00:00Z");
        assert_eq!(OfficeHours::default().next_opening(New_York, now), Some(now));
    }

    #[test]
    fn next_opening_uses_the_new_offset_after_spring_forward() {
        // Friday 6 March 17:30 EST; the clocks change on Sunday; Monday opens at 09:00 EDT.
        let h = OfficeHours::default();
        assert_eq!(h.next_opening(New_York, utc("2026-03-06T22:30:00Z")), Some(utc("2026-03-09T13:00:00Z")));
        // And after fall back: Friday 30 October 17:30 EDT -> Monday 2 November 09:00 EST.
        assert_eq!(h.next_opening(New_York, utc("2026-10-30T21:30:00Z")), Some(utc("2026-11-02T14:00:00Z")));
    }

    #[test]
    fn an_opening_time_skipped_by_spring_forward_opens_when_the_clock_jumps() {
        // Sunday 8 March 2026: 02:00 EST jumps to 03:00 EDT at 07:00Z; 02:30 never happens.
        let h = sundays("02:30", "05:00");
        let saturday_evening = utc("2026-03-07T23:00:00Z");
        assert_eq!(h.next_opening(New_York, saturday_evening), Some(utc("2026-03-08T07:00:00Z")));
        assert!(h.is_open(New_York, utc("2026-03-08T07:00:00Z"))); // 03:00 EDT
        assert!(!h.is_open(New_York, utc("2026-03-08T06:59:59Z"))); // 01:59:59 EST
    }

    #[test]
    fn hours_entirely_inside_the_spring_forward_gap_never_open_that_day() {
        // 02:00-02:45 does not exist on 8 March 2026; the next Sunday opens at 02:00 EDT (06:00Z).
        let h = sundays("02:00", "02:45");
        assert_eq!(h.next_opening(New_York, utc("2026-03-07T23:00:00Z")), Some(utc("2026-03-15T06:00:00Z")));
    }

    #[test]
    fn an_ambiguous_opening_time_opens_at_its_first_occurrence() {
        // Sunday 1 November 2026: 02:00 EDT falls back to 01:00 EST at 06:00Z; 01:30 happens twice.
        let h = sundays("01:30", "03:00");
        assert_eq!(h.next_opening(New_York, utc("2026-11-01T04:00:00Z")), Some(utc("2026-11-01T05:30:00Z")));
    }

    #[test]
    fn a_missed_first_occurrence_opens_at_the_second() {
        // Open 01:15-01:30. At 01:50 EDT (05:50Z) it is closed; 01:15 EST (06:15Z) comes next.
        let h = sundays("01:15", "01:30");
        let after = utc("2026-11-01T05:50:00Z");
        assert!(!h.is_open(New_York, after));
        assert_eq!(h.next_opening(New_York, after), Some(utc("2026-11-01T06:15:00Z")));
    }

    #[test]
    fn falling_back_into_the_open_hours_reopens_at_the_transition() {
        // Open 00:30-01:30. At 01:40 EDT (05:40Z) it is closed; at 06:00Z the clock reads 01:00 EST.
        let h = sundays("00:30", "01:30");
        let after = utc("2026-11-01T05:40:00Z");
        assert!(!h.is_open(New_York, after));
        assert_eq!(h.next_opening(New_York, after), Some(utc("2026-11-01T06:00:00Z")));
    }

    #[test]
    fn is_open_during_the_repeated_hour_follows_the_wall_clock_both_times() {
        let h = sundays("01:00", "02:00");
        assert!(h.is_open(New_York, utc("2026-11-01T05:30:00Z"))); // 01:30 EDT
        assert!(h.is_open(New_York, utc("2026-11-01T06:30:00Z"))); // 01:30 EST
        assert!(!h.is_open(New_York, utc("2026-11-01T07:00:00Z"))); // 02:00 EST
    }

    #[test]
    fn next_opening_is_none_when_no_day_is_open() {
        let closed = OfficeHours::new([None; 7], []).unwrap();
        assert_eq!(closed.next_opening(New_York, utc("2026-03-09T15:00:00Z")), None);
    }

    #[test]
    fn next_opening_works_in_a_zone_without_dst() {
        let h = OfficeHours::default();
        // Friday 17:00 in Phoenix (UTC-7, no DST) -> Monday 09:00 = 16:00Z.
        assert_eq!(
            h.next_opening(chrono_tz::America::Phoenix, utc("2026-03-07T00:00:00Z")),
            Some(utc("2026-03-09T16:00:00Z"))
        );
    }

    #[test]
    fn offset_transitions_are_found_to_the_second() {
        let march = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let november = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(offset_transition_near(New_York, march), Some(utc("2026-03-08T07:00:00Z")));
        assert_eq!(offset_transition_near(New_York, november), Some(utc("2026-11-01T06:00:00Z")));
        assert_eq!(offset_transition_near(New_York, NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()), None);
    }

    #[test]
    fn iso_dates_must_have_the_exact_shape() {
        assert_eq!(parse_iso_date("2026-03-08"), Ok(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap()));
        for bad in ["2026-3-8", "03/08/2026", "2026-02-29", "20260308", "2026-03-08T00:00", "+2026-03-0"] {
            assert_eq!(parse_iso_date(bad), Err(DateFormatError), "{bad:?}");
        }
    }
}
