//! Patients of one organization, with every identifying field sealed at rest.
//!
//! A patient is found by HMAC lookup keys, never by clear values: `identity_key` (canonical name,
//! birth date and phone; unique per organization, so the same person written differently is one
//! patient) and `phone_key` / `secondary_phone_key` (inbound caller lookup, search by phone).
//! Values are sealed with the row id in their associated data, so the id is chosen here before
//! sealing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{OrgId, PatientId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use crate::bulk;
use crate::entities::patients;
use crate::org_owned::InOrg;
use crate::sealing::{Aad, Keys, LookupScheme, OrgIndexKeys};
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

const TABLE: &str = "patients";
/// Rows per SQLite INSERT (PostgreSQL upserts [`bulk::CHUNK`] rows per statement).
const INSERT_BATCH: usize = 1000;
/// Keys per `IN (...)` lookup.
const LOOKUP_BATCH: usize = 1000;

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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Finds or creates each patient, returning their ids in input order. Concurrent imports of the
/// same new patient are safe: the insert skips existing identity keys and the ids are re-read.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, patients = patients.len()), err(level = "debug"))]
pub async fn find_or_create_many(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    patients: &[PatientIdentity],
) -> Result<Vec<PatientId>> {
    let lookup = keys.lookup(scope);
    let identity_keys: Vec<String> = patients.iter().map(|p| lookup.identity_key(&p.canonical)).collect();
    let at = now();
    // One row per identity per statement: PostgreSQL refuses to upsert a row twice at once.
    let mut queued = HashSet::with_capacity(patients.len());
    let pending: Vec<(&PatientFields, &String)> = patients
        .iter()
        .zip(&identity_keys)
        .filter(|(_, identity_key)| queued.insert(identity_key.as_str()))
        .map(|(patient, identity_key)| (&patient.fields, identity_key))
        .collect();
    let seal = |batch: &[(&PatientFields, &String)]| {
        batch
            .iter()
            .map(|(fields, identity_key)| {
                sealed_row(
                    scope,
                    keys,
                    &lookup,
                    PatientId::new().as_uuid(),
                    fields,
                    (*identity_key).clone(),
                    at,
                )
            })
            .collect::<Result<Vec<_>>>()
    };
    let mut known: HashMap<String, PatientId> = HashMap::with_capacity(pending.len());
    if conn.get_database_backend() == DbBackend::Postgres {
        // Insert, or touch the existing row of the same identity, and read every id back in the
        // same statement. A separate lookup by key would be planned against the statistics of
        // the table as it was before this transaction filled it: a sequential scan per batch,
        // minutes for a 100k-row import. The touch rewrites the key with its own value.
        let mut chunks = pending.chunks(bulk::CHUNK);
        let prepare = |batch: &[(&PatientFields, &String)]| -> Result<Statement> {
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
        // insert the new identities, then read all ids by key.
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
        known = ids_by_identity(conn, scope, &identity_keys).await?;
    }
    identity_keys
        .iter()
        .map(|key| known.get(key).copied().ok_or_else(|| PersistenceError::not_found("patient", "identity")))
        .collect()
}

/// Creates one patient, or returns the existing one with the same identity (`created` false).
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn find_or_create(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    patient: &PatientIdentity,
) -> Result<(PatientRecord, bool)> {
    let identity_key = keys.lookup(scope).identity_key(&patient.canonical);
    let existed =
        ids_by_identity(conn, scope, std::slice::from_ref(&identity_key)).await?.contains_key(&identity_key);
    let ids = find_or_create_many(conn, scope, keys, std::slice::from_ref(patient)).await?;
    let id = ids.first().copied().ok_or_else(|| PersistenceError::not_found("patient", "identity"))?;
    Ok((get(conn, scope, keys, id).await?, !existed))
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
    open_row(keys, row)
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
    let records = rows.into_iter().map(|row| open_row(keys, row)).collect::<Result<Vec<_>>>()?;
    Ok((records, total))
}

/// Patients whose primary or secondary phone is exactly `e164`.
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
        .filter(
            Condition::any()
                .add(patients::Column::PhoneKey.eq(phone_key.clone()))
                .add(patients::Column::SecondaryPhoneKey.eq(phone_key)),
        )
        .order_by_desc(patients::Column::UpdatedAt)
        .limit(50)
        .all(conn)
        .await?;
    rows.into_iter().map(|row| open_row(keys, row)).collect()
}

/// Applies a change, re-sealing the fields and recomputing the lookup keys. `canonical` is the
/// identity text of the changed patient; a change that makes them another existing patient is a
/// conflict.
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
        sealed_row(scope, keys, &lookup, id.as_uuid(), fields, lookup.identity_key(canonical), now())?;
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
    for batch in unique.chunks(LOOKUP_BATCH) {
        let rows: Vec<(Uuid, String)> = patients::Entity::find()
            .select_only()
            .column(patients::Column::Id)
            .column(patients::Column::IdentityKey)
            .in_org(scope)
            .filter(patients::Column::IdentityKey.is_in(batch.iter().map(|k| k.as_str())))
            .into_tuple()
            .all(conn)
            .await?;
        found.extend(rows.into_iter().map(|(id, key)| (key, PatientId(id))));
    }
    Ok(found)
}

fn sealed_row(
    scope: &OrgScope,
    keys: &Keys,
    lookup: &OrgIndexKeys,
    id: Uuid,
    fields: &PatientFields,
    identity_key: String,
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
        identity_key,
        phone_key: lookup.phone_key(&fields.phone),
        secondary_phone_key: fields.secondary_phone.as_deref().map(|p| lookup.phone_key(p)),
        lookup_scheme: LookupScheme::PerOrganization.code(),
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
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
