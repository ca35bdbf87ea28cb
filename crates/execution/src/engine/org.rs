//! An organization's settings as the engine uses them, read once per step (persistence has
//! already decoded them into domain values).

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use rivvi_domain::ids::OrgId;
use rivvi_domain::office_hours::OfficeHours;
use rivvi_domain::PhoneNumber;
use rivvi_persistence::calls::LocalStamp;
use rivvi_persistence::{organizations, OrgScope};
use sea_orm::ConnectionTrait;

use super::EngineError;

/// What the engine needs of an organization.
#[derive(Debug, Clone)]
pub(crate) struct OrgContext {
    pub(crate) scope: OrgScope,
    pub(crate) name: String,
    pub(crate) zone: Tz,
    pub(crate) hours: OfficeHours,
    /// `None`: no caller number configured, so nothing can be dialled.
    pub(crate) caller_number: Option<PhoneNumber>,
    pub(crate) concurrent_call_limit: u32,
    pub(crate) calls_per_minute: u32,
}

impl OrgContext {
    /// Reads the organization's settings (a stored setting that does not parse is a
    /// [`PersistenceError::Corrupt`](rivvi_persistence::PersistenceError::Corrupt)). The engine
    /// acts as the system for the organizations whose runs it executes.
    pub(crate) async fn load(conn: &impl ConnectionTrait, org_id: OrgId) -> Result<OrgContext, EngineError> {
        let scope = OrgScope::for_verified_org(org_id);
        let record = organizations::get(conn, &scope).await?;
        Ok(OrgContext {
            scope,
            name: record.name,
            zone: record.time_zone.tz(),
            hours: record.office_hours,
            caller_number: record.caller_number,
            concurrent_call_limit: record.concurrent_call_limit,
            calls_per_minute: record.calls_per_minute,
        })
    }

    /// Whether the organization's office hours are open at `at`, on its own wall clock.
    pub(crate) fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.hours.is_open(self.zone, at)
    }

    /// When a call made at `at` happened on the organization's wall clock.
    pub(crate) fn local_stamp(&self, at: DateTime<Utc>) -> LocalStamp {
        local_stamp(self.zone, at)
    }
}

/// `at` on the wall clock of `zone`: hour, date and ISO weekday (1 = Monday).
pub(crate) fn local_stamp(zone: Tz, at: DateTime<Utc>) -> LocalStamp {
    let local = at.with_timezone(&zone);
    LocalStamp { hour: local.hour(), date: local.date_naive(), weekday: local.weekday().number_from_monday() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_stamped_on_the_organizations_wall_clock() {
        let at = DateTime::parse_from_rfc3339("2026-11-02T03:30:00Z").unwrap().with_timezone(&Utc);
        let stamp = local_stamp(chrono_tz::America::Chicago, at);
        assert_eq!(stamp.hour, 21);
        assert_eq!(stamp.date.to_string(), "2026-11-01");
        assert_eq!(stamp.weekday, 7, "Sunday");
    }
}
