//! An organization's own settings (scoped) and the operators' view of all organizations.
//!
//! The settings are domain values: the time zone an [`IanaZone`], the office hours
//! [`OfficeHours`] (stored as their JSON), the caller number a [`PhoneNumber`] (stored in E.164).
//! Each column is decoded once, when the row is read; a stored value that does not parse is
//! [`PersistenceError::Corrupt`], never a default.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::OrgId;
use rivvi_domain::office_hours::OfficeHours;
use rivvi_domain::time_zone::IanaZone;
use rivvi_domain::{Patch, PhoneNumber};
use sea_orm::sea_query::{Expr, Func, LikeExpr, SimpleExpr};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use crate::entities::organizations;
use crate::time::now;
use crate::{OrgScope, PersistenceError, Result};

/// The zone an organization gets until an admin chooses one (the original product's default).
pub const DEFAULT_TIME_ZONE: IanaZone = IanaZone::DEFAULT;
pub const DEFAULT_CONCURRENT_CALL_LIMIT: i32 = 20;
pub const DEFAULT_CALLS_PER_MINUTE: i32 = 10;
/// As the migration's column default and the domain's `UploadRetentionDays::default()`.
pub const DEFAULT_UPLOAD_RETENTION_DAYS: i32 = 30;
/// As the migration's column default and the domain's `TranscriptRetentionDays::default()`.
pub const DEFAULT_TRANSCRIPT_RETENTION_DAYS: i32 = 365;

/// Monday to Friday, 09:00-17:00 local time, no holidays: the office hours a new organization
/// gets (the domain's default).
pub fn default_office_hours() -> OfficeHours {
    OfficeHours::default()
}

/// An organization: a clinic, or the operator organization.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationRecord {
    pub id: OrgId,
    pub clerk_org_id: String,
    pub name: String,
    pub slug: Option<String>,
    /// The zone office hours and call times are read in.
    pub time_zone: IanaZone,
    pub office_hours: OfficeHours,
    /// The caller id of outbound calls, and the number patients call in on; `None` until set.
    pub caller_number: Option<PhoneNumber>,
    pub concurrent_call_limit: u32,
    pub calls_per_minute: u32,
    /// Days an upload is kept after the last run made from it ended.
    pub upload_retention_days: u32,
    /// Days a call's transcript, summary and recording URL are kept after it ended.
    pub transcript_retention_days: u32,
    pub is_operator: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// What an organization admin may change. `None` (or [`Patch::Keep`]) leaves a field alone.
/// Values are validated by the domain before they get here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrgSettingsChange {
    pub name: Option<String>,
    pub time_zone: Option<IanaZone>,
    pub office_hours: Option<OfficeHours>,
    pub caller_number: Patch<PhoneNumber>,
    pub concurrent_call_limit: Option<u32>,
    pub calls_per_minute: Option<u32>,
    pub upload_retention_days: Option<u32>,
    pub transcript_retention_days: Option<u32>,
}

impl OrgSettingsChange {
    /// The names of the fields this change sets, for the audit log.
    pub fn changed_fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        let mut note = |set: bool, name| {
            if set {
                fields.push(name)
            }
        };
        note(self.name.is_some(), "name");
        note(self.time_zone.is_some(), "time_zone");
        note(self.office_hours.is_some(), "office_hours");
        note(!self.caller_number.is_keep(), "caller_number");
        note(self.concurrent_call_limit.is_some(), "concurrent_call_limit");
        note(self.calls_per_minute.is_some(), "calls_per_minute");
        note(self.upload_retention_days.is_some(), "upload_retention_days");
        note(self.transcript_retention_days.is_some(), "transcript_retention_days");
        fields
    }
}

/// An organization created by an operator ahead of its first sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrganization {
    pub clerk_org_id: String,
    pub name: String,
    pub slug: Option<String>,
    /// `None`: [`DEFAULT_TIME_ZONE`].
    pub time_zone: Option<IanaZone>,
    /// `None`: [`default_office_hours`].
    pub office_hours: Option<OfficeHours>,
    pub caller_number: Option<PhoneNumber>,
    /// `None`: [`DEFAULT_CONCURRENT_CALL_LIMIT`].
    pub concurrent_call_limit: Option<u32>,
    /// `None`: [`DEFAULT_CALLS_PER_MINUTE`].
    pub calls_per_minute: Option<u32>,
    pub is_operator: bool,
}

/// The caller's organization. A soft-deleted organization is not found.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn get(conn: &impl ConnectionTrait, scope: &OrgScope) -> Result<OrganizationRecord> {
    organizations::Entity::find_by_id(scope.org_id().as_uuid())
        .filter(organizations::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("organization", scope))?
        .try_into()
}

/// Applies `change` to the caller's organization and returns it as stored. An empty change
/// writes nothing.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn update_settings(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    change: OrgSettingsChange,
) -> Result<OrganizationRecord> {
    if change.changed_fields().is_empty() {
        return get(conn, scope).await;
    }
    let row = organizations::ActiveModel {
        name: change.name.map_or(NotSet, Set),
        time_zone: change.time_zone.map_or(NotSet, |zone| Set(zone_column(zone))),
        office_hours: match &change.office_hours {
            Some(hours) => Set(hours_column(hours)?),
            None => NotSet,
        },
        caller_number: change
            .caller_number
            .into_change()
            .map_or(NotSet, |number| Set(number.map(String::from))),
        concurrent_call_limit: match change.concurrent_call_limit {
            Some(limit) => Set(to_i32("concurrent_call_limit", limit)?),
            None => NotSet,
        },
        calls_per_minute: match change.calls_per_minute {
            Some(limit) => Set(to_i32("calls_per_minute", limit)?),
            None => NotSet,
        },
        upload_retention_days: match change.upload_retention_days {
            Some(days) => Set(to_i32("upload_retention_days", days)?),
            None => NotSet,
        },
        transcript_retention_days: match change.transcript_retention_days {
            Some(days) => Set(to_i32("transcript_retention_days", days)?),
            None => NotSet,
        },
        updated_at: Set(now()),
        ..Default::default()
    };
    let updated = organizations::Entity::update_many()
        .set(row)
        .filter(organizations::Column::Id.eq(scope.org_id().as_uuid()))
        .filter(organizations::Column::DeletedAt.is_null())
        .exec(conn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(PersistenceError::not_found("organization", scope));
    }
    get(conn, scope).await
}

/// Operators: organizations that have not been deleted, by name, optionally filtered by a
/// case-insensitive substring of the name, slug or Clerk id (`LOWER(..) LIKE`, which SQLite
/// applies to ASCII letters only); with the total count.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn list(
    conn: &impl ConnectionTrait,
    search: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<(Vec<OrganizationRecord>, u64)> {
    let mut query = organizations::Entity::find().filter(organizations::Column::DeletedAt.is_null());
    if let Some(term) = search.map(str::trim).filter(|term| !term.is_empty()) {
        let pattern = format!("%{}%", escape_like(&term.to_lowercase()));
        let matches = |column: organizations::Column| -> SimpleExpr {
            Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        query = query.filter(
            Condition::any()
                .add(matches(organizations::Column::Name))
                .add(matches(organizations::Column::Slug))
                .add(matches(organizations::Column::ClerkOrgId)),
        );
    }
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by_asc(organizations::Column::Name)
        .order_by_asc(organizations::Column::Id)
        .limit(limit.clamp(1, crate::Page::MAX_LIMIT))
        .offset(offset)
        .all(conn)
        .await?;
    let records = rows.into_iter().map(OrganizationRecord::try_from).collect::<Result<Vec<_>>>()?;
    Ok((records, total))
}

/// Operators: any organization by id, including a soft-deleted one (`deleted_at` says so).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %id), err(level = "debug"))]
pub async fn get_by_id(conn: &impl ConnectionTrait, id: OrgId) -> Result<OrganizationRecord> {
    organizations::Entity::find_by_id(id.as_uuid())
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("organization", id))?
        .try_into()
}

/// Operators: creates an organization. A Clerk id that is already known is a `Conflict` on
/// [`crate::constraints::ORGANIZATIONS_CLERK_ORG_ID`].
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn create(conn: &impl ConnectionTrait, new: NewOrganization) -> Result<OrganizationRecord> {
    let at = now();
    let row = organizations::Model {
        id: OrgId::new().as_uuid(),
        clerk_org_id: new.clerk_org_id,
        name: new.name,
        slug: new.slug,
        time_zone: zone_column(new.time_zone.unwrap_or(DEFAULT_TIME_ZONE)),
        office_hours: hours_column(&new.office_hours.unwrap_or_else(default_office_hours))?,
        caller_number: new.caller_number.map(String::from),
        concurrent_call_limit: match new.concurrent_call_limit {
            Some(limit) => to_i32("concurrent_call_limit", limit)?,
            None => DEFAULT_CONCURRENT_CALL_LIMIT,
        },
        calls_per_minute: match new.calls_per_minute {
            Some(limit) => to_i32("calls_per_minute", limit)?,
            None => DEFAULT_CALLS_PER_MINUTE,
        },
        // Set afterwards with `update_settings` when the creator chose them.
        upload_retention_days: DEFAULT_UPLOAD_RETENTION_DAYS,
        transcript_retention_days: DEFAULT_TRANSCRIPT_RETENTION_DAYS,
        is_operator: new.is_operator,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    organizations::Entity::insert(organizations::ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await?;
    row.try_into()
}

/// Escapes `\`, `%` and `_` so user input matches literally inside a `LIKE .. ESCAPE '\'`.
pub(crate) fn escape_like(term: &str) -> String {
    let mut escaped = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn to_i32(field: &'static str, value: u32) -> Result<i32> {
    i32::try_from(value).map_err(|_| PersistenceError::Invalid { field, reason: "too large".to_owned() })
}

fn to_u32(column: &'static str, value: i32) -> Result<u32> {
    u32::try_from(value).map_err(|_| corrupt(column))
}

fn corrupt(column: &'static str) -> PersistenceError {
    PersistenceError::Corrupt { table: "organizations", column }
}

/// The stored form of a zone: its canonical IANA name.
pub(crate) fn zone_column(zone: IanaZone) -> String {
    zone.name().to_owned()
}

/// The stored form of office hours: the domain type's JSON (per weekday `{open, close}` or
/// `null`, plus `holidays` as ISO dates), which is also what the API shows.
pub(crate) fn hours_column(hours: &OfficeHours) -> Result<Value> {
    // Plain structs of strings and dates always serialize; the arm only keeps `?` honest.
    serde_json::to_value(hours)
        .map_err(|e| PersistenceError::Invalid { field: "office_hours", reason: e.to_string() })
}

impl TryFrom<organizations::Model> for OrganizationRecord {
    type Error = PersistenceError;

    fn try_from(row: organizations::Model) -> Result<Self> {
        Ok(OrganizationRecord {
            id: OrgId(row.id),
            clerk_org_id: row.clerk_org_id,
            name: row.name,
            slug: row.slug,
            time_zone: IanaZone::parse(&row.time_zone).map_err(|_| corrupt("time_zone"))?,
            office_hours: serde_json::from_value(row.office_hours).map_err(|_| corrupt("office_hours"))?,
            // Written from a `PhoneNumber`, so always strict E.164.
            caller_number: row
                .caller_number
                .as_deref()
                .map(PhoneNumber::parse_e164_strict)
                .transpose()
                .map_err(|_| corrupt("caller_number"))?,
            concurrent_call_limit: to_u32("concurrent_call_limit", row.concurrent_call_limit)?,
            calls_per_minute: to_u32("calls_per_minute", row.calls_per_minute)?,
            upload_retention_days: to_u32("upload_retention_days", row.upload_retention_days)?,
            transcript_retention_days: to_u32("transcript_retention_days", row.transcript_retention_days)?,
            is_operator: row.is_operator,
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_office_hours_read_back_as_written() {
        let hours = default_office_hours();

        let stored = hours_column(&hours).unwrap();

        assert_eq!(stored["monday"], serde_json::json!({"open": "09:00", "close": "17:00"}));
        assert_eq!(stored["saturday"], Value::Null);
        assert_eq!(serde_json::from_value::<OfficeHours>(stored).unwrap(), hours);
    }

    #[test]
    fn like_wildcards_in_a_search_term_match_literally() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }
}
