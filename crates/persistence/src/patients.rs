//! Patients of one organization, with every identifying field sealed at rest.
//!
//! A patient is found by HMAC lookup keys, never by clear values: `identity_key` (canonical name,
//! birth date and phone; unique per organization, so the same person written differently is one
//! patient), `mrn_key` (the folded medical record number; unique per organization where present),
//! `name_dob_key` (folded name and birth date; not unique) and the phone keys (inbound caller
//! lookup, search by phone): the record's own `phone_key` / `secondary_phone_key`, and its
//! contact points, further numbers learnt later (`patient_phones`).
//! Values are sealed with the row id in their associated data, so the id is chosen here before
//! sealing.
//!
//! # Who a sheet row is
//! [`plan_many`] decides, without writing, and [`resolve_many`] then writes, for many rows at
//! once (one batched read of every kind of key, never one query per row):
//! 1. a row with an MRN that a patient of the organization has is that patient, whatever the
//!    spelling of the name;
//! 2. else a row with the identity of a patient (name + birth date + phone) is that patient;
//! 3. else a row whose name and birth date match exactly one patient joins them, unless both have
//!    an MRN and the MRNs differ; two or more such patients, and the row is a new patient (never
//!    a merge on doubt);
//! 4. else it is a new patient; rows of one sheet with the same MRN are one new patient, the
//!    first of them ([`PatientMatch::SameNewPatient`]), decided by the plan so that a preview
//!    says what creating the run will do.
//!
//! Step 3 is for sheets ([`PhoneSource::Upload`]) only: someone entering a patient by hand with
//! the name and birth date of another, but another number, is taken at their word that this is
//! someone else (otherwise a second John Smith born the same day could never be entered).
//!
//! A row that joins a patient by MRN or by name and birth date with a number the patient does not
//! have yet adds it to their contact points ([`PatientMatch::NewPhone`]). The record's own
//! fields and identity key are left as they are: the first number stays the record's phone, and
//! the identity key stays unique.
//!
//! Contact points are separate rows rather than a rewrite of the record's phones, so that existing
//! patients keep their columns and keys exactly as they were, and the numbers they already have
//! are found where they always were.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{OrgId, PatientId};
use rivvi_domain::patient_identity;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use crate::bulk;
use crate::entities::{patient_phones, patients};
use crate::keys_in;
use crate::org_owned::{org_filter, InOrg};
use crate::sealing::{Aad, Keys, LookupScheme, OrgIndexKeys};
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

const TABLE: &str = "patients";
const PHONES_TABLE: &str = "patient_phones";
/// Rows per SQLite INSERT (PostgreSQL upserts [`bulk::CHUNK`] rows per statement).
const INSERT_BATCH: usize = 1000;

/// A patient's identifying fields, normalised (names trimmed, ISO birth date, E.164 phones).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PatientFields {
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`, or empty when the sheet has no birth date.
    pub birth_date: String,
    pub phone: String,
    pub secondary_phone: Option<String>,
    pub mrn: Option<String>,
}

// PHI: never printed, even in debug output.
impl std::fmt::Debug for PatientFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientFields(***)")
    }
}

/// A patient to find or create, with the canonical identity text ingestion computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientIdentity {
    pub fields: PatientFields,
    /// Canonical `name + birth date + phone`; equal for the same person written differently.
    pub canonical: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatientRecord {
    pub id: PatientId,
    pub org_id: OrgId,
    pub fields: PatientFields,
    /// Numbers learnt after the record was made, oldest first (beyond `phone` and
    /// `secondary_phone`).
    pub contact_points: Vec<ContactPoint>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a contact point was learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneSource {
    /// A sheet showed the patient with this number.
    Upload,
    /// Someone at the clinic entered the patient with this number.
    Manual,
}

impl PhoneSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneSource::Upload => "upload",
            PhoneSource::Manual => "manual",
        }
    }

    fn parse(stored: &str) -> Result<Self> {
        match stored {
            "upload" => Ok(PhoneSource::Upload),
            "manual" => Ok(PhoneSource::Manual),
            _ => Err(PersistenceError::Corrupt { table: PHONES_TABLE, column: "source" }),
        }
    }
}

/// A further number of a patient.
#[derive(Clone, PartialEq)]
pub struct ContactPoint {
    pub id: Uuid,
    /// E.164.
    pub phone: String,
    pub source: PhoneSource,
    pub created_at: DateTime<Utc>,
}

// PHI (the number): never printed.
impl std::fmt::Debug for ContactPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactPoint")
            .field("id", &self.id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Who a patient to import is among the organization's patients (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientMatch {
    /// Nobody yet: a new patient.
    New,
    /// The new patient of an earlier input of the same plan (this index): rows of one sheet with
    /// the same MRN are one patient (the MRN is unique per organization), whatever their names.
    SameNewPatient(usize),
    /// This patient, with a number they already have.
    Existing(PatientId),
    /// This patient (same MRN, or the only one with this name and birth date), with a number new to
    /// them: it becomes one of their contact points.
    NewPhone(PatientId),
}

/// A contact point [`resolve_many`] added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedPhone {
    /// The `patient_phones` row.
    pub id: Uuid,
    pub patient_id: PatientId,
}

/// What [`resolve_many`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Each input's patient, in input order.
    pub patient_ids: Vec<PatientId>,
    /// Each input's match as decided before anything was written.
    pub matches: Vec<PatientMatch>,
    pub added_phones: Vec<AddedPhone>,
}

/// Finds or creates each patient, returning their ids in input order (see [`resolve_many`];
/// numbers new to a patient are added as contact points learnt from an upload).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, patients = patients.len()), err(level = "debug"))]
pub async fn find_or_create_many(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    patients: &[PatientIdentity],
) -> Result<Vec<PatientId>> {
    Ok(resolve_many(conn, scope, keys, patients, PhoneSource::Upload).await?.patient_ids)
}

/// Who each patient is, arriving from `source` (see the module documentation), without writing
/// anything.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, patients = patients.len()), err(level = "debug"))]
pub async fn plan_many(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    patients: &[PatientIdentity],
    source: PhoneSource,
) -> Result<Vec<PatientMatch>> {
    let lookup = keys.lookup(scope);
    let keyed: Vec<Keyed> = patients.iter().map(|p| Keyed::of(&lookup, p)).collect();
    plan_keyed(conn, scope, &keyed, source).await
}

/// Finds or creates each patient as [`plan_many`] decides for `source`, and adds the numbers new
/// to a patient to their contact points (learnt from `source`). Concurrent imports of the same
/// new patient are safe: the insert skips existing identity keys and the ids are re-read.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, patients = patients.len()), err(level = "debug"))]
pub async fn resolve_many(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    patients: &[PatientIdentity],
    source: PhoneSource,
) -> Result<Resolved> {
    let started = std::time::Instant::now();
    let lookup = keys.lookup(scope);
    let keyed: Vec<Keyed> = patients.iter().map(|p| Keyed::of(&lookup, p)).collect();
    let keys_done = started.elapsed();
    let matches = plan_keyed(conn, scope, &keyed, source).await?;
    let planned = started.elapsed();

    let creating: Vec<usize> = (0..keyed.len()).filter(|&i| matches[i] == PatientMatch::New).collect();
    let created = insert_new(conn, scope, keys, patients, &keyed, &creating).await?;
    let inserted = started.elapsed();
    let created_id = |i: usize| {
        created
            .get(&keyed[i].identity)
            .copied()
            .ok_or_else(|| PersistenceError::not_found("patient", "identity"))
    };

    let mut patient_ids = Vec::with_capacity(keyed.len());
    let mut new_phones: Vec<(PatientId, usize)> = Vec::new();
    for (i, m) in matches.iter().enumerate() {
        let id = match *m {
            PatientMatch::Existing(id) => id,
            PatientMatch::NewPhone(id) => {
                new_phones.push((id, i));
                id
            }
            PatientMatch::SameNewPatient(first) => {
                let id = created_id(first)?;
                let theirs = &keyed[first];
                if keyed[i].phone != theirs.phone && Some(&keyed[i].phone) != theirs.secondary_phone.as_ref()
                {
                    new_phones.push((id, i));
                }
                id
            }
            PatientMatch::New => created_id(i)?,
        };
        patient_ids.push(id);
    }
    let added_phones = add_phones(conn, scope, keys, patients, &keyed, new_phones, source).await?;
    // Phase times, for benchmarks (`RUST_LOG=rivvi_persistence::patients=debug`).
    tracing::debug!(
        keys_ms = keys_done.as_millis() as u64,
        plan_ms = (planned - keys_done).as_millis() as u64,
        insert_ms = (inserted - planned).as_millis() as u64,
        phones_ms = (started.elapsed() - inserted).as_millis() as u64,
        "patients resolved"
    );
    Ok(Resolved { patient_ids, matches, added_phones })
}

/// Creates one patient entered by hand, or returns the existing one it is (`created` false): the
/// one with the same MRN (a number new to them is added to their contact points) or the same
/// identity.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn find_or_create(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    patient: &PatientIdentity,
) -> Result<(PatientRecord, bool)> {
    let resolved =
        resolve_many(conn, scope, keys, std::slice::from_ref(patient), PhoneSource::Manual).await?;
    let id = resolved
        .patient_ids
        .first()
        .copied()
        .ok_or_else(|| PersistenceError::not_found("patient", "identity"))?;
    let created = resolved.matches.first() == Some(&PatientMatch::New);
    Ok((get(conn, scope, keys, id).await?, created))
}

#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, patient_id = %id), err(level = "debug"))]
pub async fn get(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: PatientId,
) -> Result<PatientRecord> {
    let row = patients::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("patient", id))?;
    let mut records = vec![open_row(keys, row)?];
    with_contact_points(conn, scope, keys, &mut records).await?;
    Ok(records.remove(0))
}

/// The patient's own fields, without opening their contact points: what dialling a run row needs
/// (the engine does this once per call).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, patient_id = %id), err(level = "debug"))]
pub async fn fields(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: PatientId,
) -> Result<PatientFields> {
    let row = patients::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("patient", id))?;
    Ok(open_row(keys, row)?.fields)
}

/// Patients of the organization, newest first (names are sealed, so the database cannot sort
/// by them).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    page: Page,
) -> Result<(Vec<PatientRecord>, u64)> {
    let query = patients::Entity::find().in_org(scope);
    let (rows, total) = page
        .fetch(conn, query, |q| {
            q.order_by_desc(patients::Column::CreatedAt).order_by_desc(patients::Column::Id)
        })
        .await?;
    let mut records = rows.into_iter().map(|row| open_row(keys, row)).collect::<Result<Vec<_>>>()?;
    with_contact_points(conn, scope, keys, &mut records).await?;
    Ok((records, total))
}

/// Patients with `e164` as their phone, secondary phone or one of their contact points.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn find_by_phone(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    e164: &str,
) -> Result<Vec<PatientRecord>> {
    let phone_key = keys.lookup(scope).phone_key(e164);
    let rows = patients::Entity::find()
        .in_org(scope)
        .filter(has_phone_key(scope, &phone_key))
        .order_by_desc(patients::Column::UpdatedAt)
        .limit(50)
        .all(conn)
        .await?;
    let mut records = rows.into_iter().map(|row| open_row(keys, row)).collect::<Result<Vec<_>>>()?;
    with_contact_points(conn, scope, keys, &mut records).await?;
    Ok(records)
}

/// The organization's patients with `phone_key` as their phone, secondary phone or one of their
/// contact points (a condition on `patients`).
pub(crate) fn has_phone_key(scope: &OrgScope, phone_key: &str) -> Condition {
    let contact_points = Query::select()
        .column(patient_phones::Column::PatientId)
        .from(patient_phones::Entity)
        .and_where(org_filter::<patient_phones::Entity>(scope))
        .and_where(patient_phones::Column::PhoneKey.eq(phone_key))
        .to_owned();
    Condition::any()
        .add(patients::Column::PhoneKey.eq(phone_key))
        .add(patients::Column::SecondaryPhoneKey.eq(phone_key))
        .add(patients::Column::Id.in_subquery(contact_points))
}

/// Applies a change, re-sealing the fields and recomputing the lookup keys. `canonical` is the
/// identity text of the changed patient; a change that makes them another existing patient (same
/// identity, or an MRN another patient has) is a conflict. Contact points stay.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, patient_id = %id), err(level = "debug"))]
pub async fn update(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: PatientId,
    fields: &PatientFields,
    canonical: &str,
) -> Result<PatientRecord> {
    let current = patients::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("patient", id))?;
    let lookup = keys.lookup(scope);
    let sealed =
        sealed_row(scope, keys, id.as_uuid(), fields, &Keyed::of_fields(&lookup, fields, canonical), now())?;
    let change = patients::ActiveModel {
        id: NotSet,
        org_id: NotSet,
        created_at: NotSet,
        first_name_sealed: Set(sealed.first_name_sealed),
        last_name_sealed: Set(sealed.last_name_sealed),
        dob_sealed: Set(sealed.dob_sealed),
        phone_sealed: Set(sealed.phone_sealed),
        secondary_phone_sealed: Set(sealed.secondary_phone_sealed),
        mrn_sealed: Set(sealed.mrn_sealed),
        identity_key: Set(sealed.identity_key),
        phone_key: Set(sealed.phone_key),
        secondary_phone_key: Set(sealed.secondary_phone_key),
        key_id: Set(sealed.key_id),
        lookup_scheme: Set(sealed.lookup_scheme),
        mrn_key: Set(sealed.mrn_key),
        name_dob_key: Set(sealed.name_dob_key),
        match_keys_pending: Set(false),
        updated_at: Set(sealed.updated_at),
    };
    patients::Entity::update_many()
        .set(change)
        .filter(patients::Column::Id.eq(current.id))
        .in_org(scope)
        .exec(conn)
        .await?;
    get(conn, scope, keys, id).await
}

/// One PostgreSQL statement upserting `models`, new patients of one organization sealed at `at`
/// (see [`bulk`]), answering `(id, identity_key)` for each, inserted or already there.
fn unnest_upsert(
    scope: &OrgScope,
    keys: &Keys,
    at: DateTime<Utc>,
    models: Vec<patients::Model>,
) -> Statement {
    let len = models.len();
    let mut ids = Vec::with_capacity(len);
    let mut first_names = Vec::with_capacity(len);
    let mut last_names = Vec::with_capacity(len);
    let mut birth_dates = Vec::with_capacity(len);
    let mut phones = Vec::with_capacity(len);
    let mut secondary_phones = Vec::with_capacity(len);
    let mut mrns = Vec::with_capacity(len);
    let mut identity_keys = Vec::with_capacity(len);
    let mut phone_keys = Vec::with_capacity(len);
    let mut secondary_phone_keys = Vec::with_capacity(len);
    let mut mrn_keys = Vec::with_capacity(len);
    let mut name_dob_keys = Vec::with_capacity(len);
    for model in models {
        ids.push(model.id);
        first_names.push(model.first_name_sealed);
        last_names.push(model.last_name_sealed);
        birth_dates.push(model.dob_sealed);
        phones.push(model.phone_sealed);
        secondary_phones.push(model.secondary_phone_sealed);
        mrns.push(model.mrn_sealed);
        identity_keys.push(model.identity_key);
        phone_keys.push(model.phone_key);
        secondary_phone_keys.push(model.secondary_phone_key);
        mrn_keys.push(model.mrn_key);
        name_dob_keys.push(model.name_dob_key);
    }
    let mut insert = bulk::UnnestInsert::new(TABLE);
    insert
        .column("id", "uuid", ids)
        .same("org_id", "uuid", scope.org_id().as_uuid())
        .column("first_name_sealed", "bytea", first_names)
        .column("last_name_sealed", "bytea", last_names)
        .column("dob_sealed", "bytea", birth_dates)
        .column("phone_sealed", "bytea", phones)
        .nullable("secondary_phone_sealed", "bytea", secondary_phones, Vec::new())
        .nullable("mrn_sealed", "bytea", mrns, Vec::new())
        .column("identity_key", "text", identity_keys)
        .column("phone_key", "text", phone_keys)
        .nullable("secondary_phone_key", "text", secondary_phone_keys, String::new())
        .nullable("mrn_key", "text", mrn_keys, String::new())
        .nullable("name_dob_key", "text", name_dob_keys, String::new())
        .same("match_keys_pending", "bool", false)
        // `sealed_row` gives every model the active key's id.
        .same("key_id", "text", keys.sealer.active_key_id())
        .same("lookup_scheme", "smallint", LookupScheme::PerOrganization.code())
        .same("created_at", "timestamptz", at)
        .same("updated_at", "timestamptz", at);
    insert.statement(
        "ON CONFLICT (org_id, identity_key) DO UPDATE SET identity_key = EXCLUDED.identity_key \
         RETURNING id, identity_key",
    )
}

async fn ids_by_identity(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    identity_keys: &[String],
) -> Result<HashMap<String, PatientId>> {
    let mut found = HashMap::with_capacity(identity_keys.len());
    let mut unique: Vec<&String> = identity_keys.iter().collect();
    unique.sort_unstable();
    unique.dedup();
    let backend = conn.get_database_backend();
    for batch in unique.chunks(keys_in::batch(backend)) {
        let rows: Vec<(Uuid, String)> = patients::Entity::find()
            .select_only()
            .column(patients::Column::Id)
            .column(patients::Column::IdentityKey)
            .in_org(scope)
            .filter(keys_in::key_in(backend, patients::Column::IdentityKey, batch.iter().map(|k| k.as_str())))
            .into_tuple()
            .all(conn)
            .await?;
        found.extend(rows.into_iter().map(|(id, key)| (key, PatientId(id))));
    }
    Ok(found)
}

/// A new row of `fields` with their lookup keys `keyed` (computed once, for matching and writing).
fn sealed_row(
    scope: &OrgScope,
    keys: &Keys,
    id: Uuid,
    fields: &PatientFields,
    keyed: &Keyed,
    at: DateTime<Utc>,
) -> Result<patients::Model> {
    let seal =
        |column: &str, value: &str| keys.sealer.seal_str(&Aad { table: TABLE, column, row_id: id }, value);
    Ok(patients::Model {
        id,
        org_id: scope.org_id().as_uuid(),
        first_name_sealed: seal("first_name_sealed", &fields.first_name)?,
        last_name_sealed: seal("last_name_sealed", &fields.last_name)?,
        dob_sealed: seal("dob_sealed", &fields.birth_date)?,
        phone_sealed: seal("phone_sealed", &fields.phone)?,
        secondary_phone_sealed: fields
            .secondary_phone
            .as_deref()
            .map(|p| seal("secondary_phone_sealed", p))
            .transpose()?,
        mrn_sealed: fields.mrn.as_deref().map(|m| seal("mrn_sealed", m)).transpose()?,
        identity_key: keyed.identity.clone(),
        phone_key: keyed.phone.clone(),
        secondary_phone_key: keyed.secondary_phone.clone(),
        lookup_scheme: LookupScheme::PerOrganization.code(),
        mrn_key: keyed.mrn.clone(),
        name_dob_key: keyed.name_dob.clone(),
        match_keys_pending: false,
        key_id: keys.sealer.active_key_id().to_owned(),
        created_at: at,
        updated_at: at,
    })
}

fn open_row(keys: &Keys, row: patients::Model) -> Result<PatientRecord> {
    let open = |column: &str, sealed: &[u8]| {
        keys.sealer.open_string(&Aad { table: TABLE, column, row_id: row.id }, sealed)
    };
    Ok(PatientRecord {
        id: PatientId(row.id),
        org_id: OrgId(row.org_id),
        fields: PatientFields {
            first_name: open("first_name_sealed", &row.first_name_sealed)?,
            last_name: open("last_name_sealed", &row.last_name_sealed)?,
            birth_date: open("dob_sealed", &row.dob_sealed)?,
            phone: open("phone_sealed", &row.phone_sealed)?,
            secondary_phone: row
                .secondary_phone_sealed
                .as_deref()
                .map(|s| open("secondary_phone_sealed", s))
                .transpose()?,
            mrn: row.mrn_sealed.as_deref().map(|s| open("mrn_sealed", s)).transpose()?,
        },
        contact_points: Vec::new(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn mrn_key(lookup: &OrgIndexKeys, fields: &PatientFields) -> Option<String> {
    fields.mrn.as_deref().and_then(patient_identity::medical_record_number).map(|m| lookup.mrn_key(&m))
}

fn name_dob_key(lookup: &OrgIndexKeys, fields: &PatientFields) -> Option<String> {
    patient_identity::name_and_birth_date(&fields.first_name, &fields.last_name, &fields.birth_date)
        .map(|text| lookup.name_dob_key(&text))
}

/// `(mrn_key, name_dob_key)` of a stored patient, opened with `keys` (the start-up step that
/// computes them for patients written before they existed, `legacy_phi`).
pub(crate) fn match_keys_of(keys: &Keys, row: patients::Model) -> Result<(Option<String>, Option<String>)> {
    let lookup = keys.index.for_org(row.org_id);
    let record = open_row(keys, row)?;
    Ok((mrn_key(&lookup, &record.fields), name_dob_key(&lookup, &record.fields)))
}

/// One input's lookup keys.
struct Keyed {
    identity: String,
    phone: String,
    secondary_phone: Option<String>,
    mrn: Option<String>,
    name_dob: Option<String>,
}

impl Keyed {
    fn of(lookup: &OrgIndexKeys, patient: &PatientIdentity) -> Keyed {
        Keyed::of_fields(lookup, &patient.fields, &patient.canonical)
    }

    fn of_fields(lookup: &OrgIndexKeys, fields: &PatientFields, canonical: &str) -> Keyed {
        Keyed {
            identity: lookup.identity_key(canonical),
            phone: lookup.phone_key(&fields.phone),
            secondary_phone: fields.secondary_phone.as_deref().map(|p| lookup.phone_key(p)),
            mrn: mrn_key(lookup, fields),
            name_dob: name_dob_key(lookup, fields),
        }
    }
}

/// An existing patient's keys, as far as matching needs them.
struct Known {
    id: Uuid,
    identity: String,
    phone: String,
    secondary_phone: Option<String>,
    mrn: Option<String>,
    name_dob: Option<String>,
}

impl Known {
    fn has_number(&self, phone_key: &str, contact_points: &HashSet<(Uuid, String)>) -> bool {
        self.phone == phone_key
            || self.secondary_phone.as_deref() == Some(phone_key)
            || contact_points.contains(&(self.id, phone_key.to_owned()))
    }
}

async fn plan_keyed(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keyed: &[Keyed],
    source: PhoneSource,
) -> Result<Vec<PatientMatch>> {
    // Every patient any row could be, read in one pass (name and birth date only for uploads),
    // then the precedence applied here: MRN, then identity, then the only name and birth date.
    let known = known_by_any(conn, scope, keyed, source == PhoneSource::Upload).await?;
    let by_mrn: HashMap<&str, &Known> = known.iter().filter_map(|p| Some((p.mrn.as_deref()?, p))).collect();
    let mrn_match = |k: &Keyed| k.mrn.as_deref().and_then(|m| by_mrn.get(m).copied());
    let by_identity: HashMap<&str, PatientId> =
        known.iter().map(|p| (p.identity.as_str(), PatientId(p.id))).collect();
    let mut by_name_dob: HashMap<&str, Vec<&Known>> = HashMap::new();
    if source == PhoneSource::Upload {
        for p in &known {
            if let Some(key) = p.name_dob.as_deref() {
                by_name_dob.entry(key).or_default().push(p);
            }
        }
    }

    let mut joined: Vec<Option<&Known>> = Vec::with_capacity(keyed.len());
    let mut matches: Vec<PatientMatch> = Vec::with_capacity(keyed.len());
    for k in keyed {
        if let Some(known) = mrn_match(k) {
            joined.push(Some(known));
            matches.push(PatientMatch::NewPhone(PatientId(known.id)));
        } else if let Some(id) = by_identity.get(k.identity.as_str()) {
            joined.push(None);
            matches.push(PatientMatch::Existing(*id));
        } else {
            let only = match k.name_dob.as_deref().and_then(|key| by_name_dob.get(key)).map(Vec::as_slice) {
                Some([one]) => Some(*one),
                _ => None,
            };
            // Two different MRNs are two people, however alike their names.
            let only = only.filter(|one| !matches!((&k.mrn, &one.mrn), (Some(a), Some(b)) if a != b));
            joined.push(only);
            matches.push(only.map_or(PatientMatch::New, |one| PatientMatch::NewPhone(PatientId(one.id))));
        }
    }
    // A joined patient who has the number already is simply that patient.
    let joined_ids: Vec<Uuid> = joined.iter().flatten().map(|known| known.id).collect();
    let contact_points = contact_point_keys(conn, scope, &joined_ids).await?;
    for ((k, known), m) in keyed.iter().zip(&joined).zip(matches.iter_mut()) {
        if let Some(known) = known {
            if known.has_number(&k.phone, &contact_points) {
                *m = PatientMatch::Existing(PatientId(known.id));
            }
        }
    }
    // New rows with the same MRN are one patient: the first of them is created, the others join
    // it. (Rows with the same identity key are one patient already: the insert is by that key.)
    let mut first_with_mrn: HashMap<&str, usize> = HashMap::new();
    for (i, k) in keyed.iter().enumerate() {
        if let (PatientMatch::New, Some(mrn)) = (matches[i], k.mrn.as_deref()) {
            match first_with_mrn.get(mrn) {
                Some(&first) if keyed[first].identity != k.identity => {
                    matches[i] = PatientMatch::SameNewPatient(first);
                }
                Some(_) => {}
                None => {
                    first_with_mrn.insert(mrn, i);
                }
            }
        }
    }
    Ok(matches)
}

/// `(id, identity_key, phone_key, secondary_phone_key, mrn_key, name_dob_key)`.
type KnownRow = (Uuid, String, String, Option<String>, Option<String>, Option<String>);

/// The organization's patients with the MRN, the identity or (when `by_name_dob`) the name and
/// birth date of any of `keyed`: one query per batch of rows for all three keys (each an indexed
/// `IN`), rather than one pass over the sheet per key. Each patient once.
async fn known_by_any(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keyed: &[Keyed],
    by_name_dob: bool,
) -> Result<Vec<Known>> {
    let backend = conn.get_database_backend();
    let mut found: HashMap<Uuid, Known> = HashMap::new();
    for batch in keyed.chunks(keys_in::batch(backend)) {
        let mut any = Condition::any()
            .add(keys_in::key_in(
                backend,
                patients::Column::IdentityKey,
                batch.iter().map(|k| k.identity.as_str()),
            ))
            .add(keys_in::key_in(
                backend,
                patients::Column::MrnKey,
                batch.iter().filter_map(|k| k.mrn.as_deref()),
            ));
        if by_name_dob {
            any = any.add(keys_in::key_in(
                backend,
                patients::Column::NameDobKey,
                batch.iter().filter_map(|k| k.name_dob.as_deref()),
            ));
        }
        let rows: Vec<KnownRow> = patients::Entity::find()
            .select_only()
            .column(patients::Column::Id)
            .column(patients::Column::IdentityKey)
            .column(patients::Column::PhoneKey)
            .column(patients::Column::SecondaryPhoneKey)
            .column(patients::Column::MrnKey)
            .column(patients::Column::NameDobKey)
            .in_org(scope)
            .filter(any)
            .into_tuple()
            .all(conn)
            .await?;
        for (id, identity, phone, secondary_phone, mrn, name_dob) in rows {
            found.entry(id).or_insert(Known { id, identity, phone, secondary_phone, mrn, name_dob });
        }
    }
    Ok(found.into_values().collect())
}

/// `(patient id, phone key)` of every contact point of `patient_ids`.
async fn contact_point_keys(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    patient_ids: &[Uuid],
) -> Result<HashSet<(Uuid, String)>> {
    let mut ids = patient_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let backend = conn.get_database_backend();
    let mut found = HashSet::new();
    for batch in ids.chunks(keys_in::batch(backend)) {
        let rows: Vec<(Uuid, String)> = patient_phones::Entity::find()
            .select_only()
            .column(patient_phones::Column::PatientId)
            .column(patient_phones::Column::PhoneKey)
            .in_org(scope)
            .filter(keys_in::id_in(backend, patient_phones::Column::PatientId, batch))
            .into_tuple()
            .all(conn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Inserts the patients of `creating` (indexes into `patients`), one per identity, and answers
/// every identity key of them with its patient's id (inserted now or by a concurrent import).
async fn insert_new(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    patients: &[PatientIdentity],
    keyed: &[Keyed],
    creating: &[usize],
) -> Result<HashMap<String, PatientId>> {
    let at = now();
    // One row per identity per statement: PostgreSQL refuses to upsert a row twice at once.
    let mut queued = HashSet::with_capacity(creating.len());
    let pending: Vec<(&PatientFields, &Keyed)> = creating
        .iter()
        .map(|&i| (&patients[i].fields, &keyed[i]))
        .filter(|(_, k)| queued.insert(k.identity.as_str()))
        .collect();
    let seal = |batch: &[(&PatientFields, &Keyed)]| {
        batch
            .iter()
            .map(|(fields, k)| sealed_row(scope, keys, PatientId::new().as_uuid(), fields, k, at))
            .collect::<Result<Vec<_>>>()
    };
    let mut known: HashMap<String, PatientId> = HashMap::with_capacity(pending.len());
    if conn.get_database_backend() == DbBackend::Postgres {
        // Insert, or touch the existing row of the same identity, and read every id back in the
        // same statement. A separate lookup by key would be planned against the statistics of
        // the table as it was before this transaction filled it: a sequential scan per batch,
        // minutes for a 100k-row import. The touch rewrites the key with its own value.
        let mut chunks = pending.chunks(bulk::CHUNK);
        let prepare = |batch: &[(&PatientFields, &Keyed)]| -> Result<Statement> {
            Ok(unnest_upsert(scope, keys, at, seal(batch)?))
        };
        let mut next = chunks.next().map(prepare).transpose()?;
        while let Some(statement) = next {
            let (rows, prepared) =
                bulk::while_executing(conn.query_all(statement), || chunks.next().map(prepare).transpose())
                    .await;
            for row in rows? {
                known.insert(row.try_get("", "identity_key")?, PatientId(row.try_get("", "id")?));
            }
            next = prepared?;
        }
    } else {
        // SQLite (no RETURNING through sea-orm here; its planner uses the unique index anyway):
        // insert the new identities, then read their ids by key.
        for batch in pending.chunks(INSERT_BATCH) {
            patients::Entity::insert_many(seal(batch)?.into_iter().map(patients::ActiveModel::from))
                .on_conflict(
                    OnConflict::columns([patients::Column::OrgId, patients::Column::IdentityKey])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(conn)
                .await?;
        }
        let identities: Vec<String> = pending.iter().map(|(_, k)| k.identity.clone()).collect();
        known = ids_by_identity(conn, scope, &identities).await?;
    }
    Ok(known)
}

/// Adds the number of each `(patient, input index)` to the patient's contact points (once per
/// patient and number; one already there is skipped), and answers the rows added.
async fn add_phones(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    patients: &[PatientIdentity],
    keyed: &[Keyed],
    new_phones: Vec<(PatientId, usize)>,
    source: PhoneSource,
) -> Result<Vec<AddedPhone>> {
    let at = now();
    let mut seen = HashSet::with_capacity(new_phones.len());
    let mut models = Vec::with_capacity(new_phones.len());
    for (patient_id, i) in new_phones {
        if !seen.insert((patient_id, keyed[i].phone.as_str())) {
            continue;
        }
        let id = Uuid::now_v7();
        let aad = Aad { table: PHONES_TABLE, column: "phone_sealed", row_id: id };
        models.push(patient_phones::Model {
            id,
            org_id: scope.org_id().as_uuid(),
            patient_id: patient_id.as_uuid(),
            phone_key: keyed[i].phone.clone(),
            phone_sealed: keys.sealer.seal_str(&aad, &patients[i].fields.phone)?,
            source: source.as_str().to_owned(),
            created_at: at,
        });
    }
    let mut added = Vec::with_capacity(models.len());
    for batch in models.chunks(INSERT_BATCH) {
        let wanted: HashMap<Uuid, PatientId> =
            batch.iter().map(|m| (m.id, PatientId(m.patient_id))).collect();
        // A concurrent import may have added the same number: it stays theirs, not ours to audit.
        patient_phones::Entity::insert_many(batch.iter().cloned().map(patient_phones::ActiveModel::from))
            .on_conflict(
                OnConflict::columns([
                    patient_phones::Column::OrgId,
                    patient_phones::Column::PatientId,
                    patient_phones::Column::PhoneKey,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
        let inserted: Vec<Uuid> = patient_phones::Entity::find()
            .select_only()
            .column(patient_phones::Column::Id)
            .in_org(scope)
            .filter(patient_phones::Column::Id.is_in(wanted.keys().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        added.extend(
            inserted.into_iter().filter_map(|id| Some(AddedPhone { id, patient_id: *wanted.get(&id)? })),
        );
    }
    added.sort_by_key(|a| a.id);
    Ok(added)
}

/// Fills in the contact points of `records` (one query per batch of patients).
async fn with_contact_points(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    records: &mut [PatientRecord],
) -> Result<()> {
    let ids: Vec<Uuid> = records.iter().map(|r| r.id.as_uuid()).collect();
    let mut by_patient: HashMap<Uuid, Vec<ContactPoint>> = HashMap::new();
    let backend = conn.get_database_backend();
    for batch in ids.chunks(keys_in::batch(backend)) {
        let rows = patient_phones::Entity::find()
            .in_org(scope)
            .filter(keys_in::id_in(backend, patient_phones::Column::PatientId, batch))
            .order_by_asc(patient_phones::Column::CreatedAt)
            .order_by_asc(patient_phones::Column::Id)
            .all(conn)
            .await?;
        for row in rows {
            let aad = Aad { table: PHONES_TABLE, column: "phone_sealed", row_id: row.id };
            by_patient.entry(row.patient_id).or_default().push(ContactPoint {
                id: row.id,
                phone: keys.sealer.open_string(&aad, &row.phone_sealed)?,
                source: PhoneSource::parse(&row.source)?,
                created_at: row.created_at,
            });
        }
    }
    for record in records {
        record.contact_points = by_patient.remove(&record.id.as_uuid()).unwrap_or_default();
    }
    Ok(())
}
