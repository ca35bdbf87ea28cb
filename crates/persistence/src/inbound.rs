//! Inbound calls: a patient calling an organization's number (Retell's `call_inbound` webhook).
//!
//! [`organization_by_number`] is the entry point and the one read here that is not scoped: the
//! called number is how a verified webhook learns which organization it is about (see
//! [`OrgScope::for_verified_org`]). Everything after it takes the scope it yields.
//!
//! # Who is calling
//! The caller is looked up by the HMAC key of their E.164 number, as a primary or secondary
//! phone or one of the patient's contact points, numbers learnt later ([`find_caller`]). Several patients may share a number (a family): the one with the most
//! recent open outreach is chosen, else the most recently updated. Only the chosen patient is
//! opened; the others are counted, never read.
//!
//! # Open outreach
//! A run row is *unresolved* for its patient when at least one outbound call was placed for it
//! and either
//! - it is still open (`pending` for a retry, `dialing` or `in_call`: the domain's
//!   [`RowStatus::is_open`]), or
//! - it is final as `completed` or `failed` but its last call did not reach the patient (outcome
//!   voicemail, no answer, busy or failed): the patient calling back is answering it.
//!
//! Rows `skipped` (never called) or `cancelled`, rows reached in person, rows of cancelled runs
//! (the clinic withdrew the outreach, often because its details were wrong) and rows whose last
//! call is older than [`OPEN_OUTREACH_WINDOW`] are not. Among unresolved rows the one whose last
//! outbound call is the most recent wins; that call is the one the callback relates to.
//!
//! # The inbound call
//! [`create_inbound_call`] writes a `calls` row `registered`, direction inbound, numbers sealed
//! like an outbound call's. A callback carries the campaign and patient and `related_call_id` (the
//! outbound call), but no run or row: `run_id`/`row_id` mean "an attempt of this row" to the
//! engine, run statistics and the one-call-per-attempt index, and a callback is not an attempt.
//! The row is reached through the related call.

use chrono::{DateTime, TimeDelta, Utc};
use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::{CallId, CampaignId, PatientId, RunId, RunRowId};
use rivvi_domain::lifecycle::{CallOutcome, RowStatus, RunStatus};
use rivvi_domain::PhoneNumber;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::calls::{insert_registered, CallRecord, LocalStamp, NewCall};
use crate::entities::{calls, organizations, patients, run_rows, runs};
use crate::org_owned::{org_filter, InOrg};
use crate::organizations::OrganizationRecord;
use crate::patients::PatientRecord;
use crate::sealing::Keys;
use crate::{OrgScope, PersistenceError, Result};

/// How far back an unreached outbound call still counts as open outreach: a voicemail left a
/// month ago is no longer what the patient is calling about, and its details may be stale.
pub const OPEN_OUTREACH_WINDOW: TimeDelta = TimeDelta::days(30);

/// Patients sharing one number considered at most (a family, not a call centre).
const MAX_PATIENTS_PER_NUMBER: u64 = 50;

/// Who owns a called number.
#[derive(Debug, Clone, PartialEq)]
pub enum NumberOwner {
    /// No (live) organization holds it for inbound calls.
    Nobody,
    /// This organization, and the inbound campaign the number's assignment names, if any.
    One(Box<OrganizationRecord>, Option<CampaignId>),
}

/// The organization `number` is assigned to for inbound calls (soft-deleted organizations
/// excluded). The one unscoped lookup: it is how an inbound call finds its organization.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn organization_by_number(
    conn: &impl ConnectionTrait,
    number: &PhoneNumber,
) -> Result<NumberOwner> {
    let Some(assigned) = crate::phone_numbers::holder(conn, number).await? else {
        return Ok(NumberOwner::Nobody);
    };
    if !assigned.purpose.allows_inbound() {
        return Ok(NumberOwner::Nobody);
    }
    let row = organizations::Entity::find_by_id(assigned.org_id.as_uuid())
        .filter(organizations::Column::DeletedAt.is_null())
        .one(conn)
        .await?;
    match row {
        Some(row) => Ok(NumberOwner::One(Box::new(row.try_into()?), assigned.inbound_campaign_id)),
        None => Ok(NumberOwner::Nobody),
    }
}

/// A patient of the organization with this phone key, without opening anything sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneMatch {
    pub patient_id: PatientId,
    pub updated_at: DateTime<Utc>,
}

/// Patients of the organization with `phone_key` as their primary or secondary phone or one of
/// their contact points, most recently updated first.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn patients_by_phone_key(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    phone_key: &str,
) -> Result<Vec<PhoneMatch>> {
    let rows: Vec<(Uuid, DateTime<Utc>)> = patients::Entity::find()
        .select_only()
        .column(patients::Column::Id)
        .column(patients::Column::UpdatedAt)
        .in_org(scope)
        .filter(crate::patients::has_phone_key(scope, phone_key))
        .order_by_desc(patients::Column::UpdatedAt)
        .order_by_desc(patients::Column::Id)
        .limit(MAX_PATIENTS_PER_NUMBER)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, updated_at)| PhoneMatch { patient_id: PatientId(id), updated_at })
        .collect())
}

/// A patient's open outreach: an unresolved run row and the last outbound call placed for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOutreach {
    /// The last outbound call of the row: what an inbound call relates to.
    pub call_id: CallId,
    pub run_id: RunId,
    pub row_id: RunRowId,
    pub campaign_id: CampaignId,
    pub patient_id: PatientId,
    /// When that call was placed.
    pub called_at: DateTime<Utc>,
}

/// The most recent open outreach (see the module documentation) of any of `patient_ids` whose
/// last call was placed at or after `since`.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, patients = patient_ids.len()), err(level = "debug"))]
pub async fn latest_open_outreach(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    patient_ids: &[PatientId],
    since: DateTime<Utc>,
) -> Result<Option<OpenOutreach>> {
    if patient_ids.is_empty() {
        return Ok(None);
    }
    let open: Vec<&str> = RowStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str()).collect();
    let unreached = Condition::all()
        .add(run_rows::Column::Status.is_in([RowStatus::Completed.as_str(), RowStatus::Failed.as_str()]))
        .add(
            Condition::any()
                .add(run_rows::Column::Outcome.is_null())
                .add(run_rows::Column::Outcome.ne(CallOutcome::Reached.as_str())),
        );
    let cancelled_runs = Query::select()
        .column(runs::Column::Id)
        .from(runs::Entity)
        .and_where(org_filter::<runs::Entity>(scope))
        .and_where(runs::Column::Status.eq(RunStatus::Cancelled.as_str()))
        .to_owned();
    let unresolved_rows = Query::select()
        .column(run_rows::Column::Id)
        .from(run_rows::Entity)
        .cond_where(
            Condition::all()
                .add(org_filter::<run_rows::Entity>(scope))
                .add(Condition::any().add(run_rows::Column::Status.is_in(open)).add(unreached))
                .add(run_rows::Column::RunId.not_in_subquery(cancelled_runs)),
        )
        .to_owned();
    // Newest first, the first call found is the last call of the most recent unresolved row: any
    // later call of that row would itself match and come first.
    let found = calls::Entity::find()
        .in_org(scope)
        .filter(calls::Column::Direction.eq(Direction::Outbound.as_str()))
        .filter(calls::Column::PatientId.is_in(patient_ids.iter().map(|p| p.as_uuid())))
        .filter(calls::Column::CreatedAt.gte(since))
        .filter(calls::Column::RowId.in_subquery(unresolved_rows))
        .order_by_desc(calls::Column::CreatedAt)
        .order_by_desc(calls::Column::Attempt)
        .order_by_desc(calls::Column::Id)
        .one(conn)
        .await?;
    let Some(call) = found else {
        return Ok(None);
    };
    let corrupt = |column| PersistenceError::Corrupt { table: "calls", column };
    Ok(Some(OpenOutreach {
        call_id: CallId(call.id),
        run_id: RunId(call.run_id.ok_or(corrupt("run_id"))?),
        row_id: RunRowId(call.row_id.ok_or(corrupt("row_id"))?),
        campaign_id: CampaignId(call.campaign_id.ok_or(corrupt("campaign_id"))?),
        patient_id: PatientId(call.patient_id.ok_or(corrupt("patient_id"))?),
        called_at: call.created_at,
    }))
}

/// The patient behind a caller's number, as [`find_caller`] chose them.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The chosen patient, opened.
    pub patient: PatientRecord,
    /// Whether other patients of the organization have this number too (they are never read).
    pub shares_phone: bool,
    /// The chosen patient's open outreach, if any.
    pub outreach: Option<OpenOutreach>,
}

/// The patient of the organization calling from `e164` (already E.164), or `None` when no patient
/// has that number. Among several, the one with the most recent open outreach since `since`,
/// else the most recently updated.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn find_caller(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    e164: &str,
    since: DateTime<Utc>,
) -> Result<Option<Caller>> {
    let matches = patients_by_phone_key(conn, scope, &keys.lookup(scope).phone_key(e164)).await?;
    let Some(most_recently_updated) = matches.first() else {
        return Ok(None);
    };
    let ids: Vec<PatientId> = matches.iter().map(|m| m.patient_id).collect();
    let outreach = latest_open_outreach(conn, scope, &ids, since).await?;
    let chosen = outreach.map_or(most_recently_updated.patient_id, |o| o.patient_id);
    let patient = crate::patients::get(conn, scope, keys, chosen).await?;
    Ok(Some(Caller { patient, shares_phone: matches.len() > 1, outreach }))
}

/// An inbound call being answered.
#[derive(Clone, PartialEq)]
pub struct NewInboundCall {
    pub id: CallId,
    /// The campaign of the outreach this call answers, if any.
    pub campaign_id: Option<CampaignId>,
    /// The caller, when known.
    pub patient_id: Option<PatientId>,
    /// The outbound call this one answers (a callback), if any.
    pub related_call_id: Option<CallId>,
    /// The caller's number as received (sealed).
    pub from_number: String,
    /// The organization's number that was called, E.164 (sealed).
    pub to_number: String,
    pub local: Option<LocalStamp>,
    pub created_at: DateTime<Utc>,
}

// PHI (the caller's number): never printed.
impl std::fmt::Debug for NewInboundCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewInboundCall")
            .field("id", &self.id)
            .field("campaign_id", &self.campaign_id)
            .field("patient_id", &self.patient_id)
            .field("related_call_id", &self.related_call_id)
            .finish_non_exhaustive()
    }
}

impl From<NewInboundCall> for NewCall {
    fn from(new: NewInboundCall) -> Self {
        NewCall {
            id: new.id,
            direction: Direction::Inbound,
            run_id: None,
            row_id: None,
            campaign_id: new.campaign_id,
            patient_id: new.patient_id,
            related_call_id: new.related_call_id,
            attempt: 0,
            from_number: new.from_number,
            to_number: new.to_number,
            local: new.local,
            created_at: new.created_at,
        }
    }
}

/// Writes an inbound call in status `registered` (the provider has not connected it yet), with no
/// run or row and attempt 0 (it is not an attempt), its numbers sealed.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, call_id = %new.id), err(level = "debug"))]
pub async fn create_inbound_call(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    new: NewInboundCall,
) -> Result<CallRecord> {
    insert_registered(conn, scope, keys, new.into()).await
}
