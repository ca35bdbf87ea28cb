//! `patients.*`: an organization's patients, sealed at rest and found by lookup keys
//! (`services::patients`). Phone search is exact, so its input is a whole phone number.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::OrgId;
use rivvi_domain::ids::PatientId;
use rivvi_domain::{Patch, Role};
use rivvi_persistence::patients::{PatientRecord, PhoneSource};
use rspc::{Router, RouterBuilder};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::ApiResult;
use super::paging::Pagination;
use super::Ctx;
use crate::services::patients::{self, PatientChanges};
use rivvi_persistence::patients::PatientFields;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("list", procedure!(list))
        .query("get", procedure!(get))
        .query("searchByPhone", procedure!(search_by_phone))
        .mutation("create", procedure!(create))
        .mutation("update", procedure!(update))
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub id: PatientId,
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`, or null when the source sheet had none.
    pub birth_date: Option<String>,
    /// E.164.
    pub phone: String,
    pub secondary_phone: Option<String>,
    pub mrn: Option<String>,
    /// Further numbers the patient is known by, oldest first: added when a later sheet (or
    /// `patients.create`) showed this patient with a new number. Inbound calls and
    /// `patients.searchByPhone` find the patient by these too.
    pub contact_points: Vec<ContactPoint>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A number a patient is known by beyond their `phone` and `secondaryPhone`.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ContactPoint {
    pub id: uuid::Uuid,
    /// E.164.
    pub phone: String,
    /// How it was learnt.
    pub source: ContactPointSource,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ContactPointSource {
    /// From an uploaded sheet, when a run was created from it.
    Upload,
    /// Entered by hand (`patients.create`).
    Manual,
}

impl From<PatientRecord> for Patient {
    fn from(record: PatientRecord) -> Self {
        let f = record.fields;
        Patient {
            id: record.id,
            first_name: f.first_name,
            last_name: f.last_name,
            birth_date: Some(f.birth_date).filter(|d| !d.is_empty()),
            phone: f.phone,
            secondary_phone: f.secondary_phone,
            mrn: f.mrn,
            contact_points: record
                .contact_points
                .into_iter()
                .map(|c| ContactPoint {
                    id: c.id,
                    phone: c.phone,
                    source: match c.source {
                        PhoneSource::Upload => ContactPointSource::Upload,
                        PhoneSource::Manual => ContactPointSource::Manual,
                    },
                    created_at: c.created_at,
                })
                .collect(),
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

page_output! {
    pub struct PatientPage { patients: Patient }
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatientById {
    pub id: PatientId,
    /// Operators only: act in this organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneSearch {
    /// A whole phone number in any common format (`(312) 555-0143`, `+13125550143`).
    pub phone: String,
    /// Operators only: act in this organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPatient {
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    pub phone: String,
    #[specta(optional)]
    pub secondary_phone: Option<String>,
    #[specta(optional)]
    pub mrn: Option<String>,
}

/// A PATCH: absent fields stay; `secondaryPhone: null` / `mrn: null` clear them.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatientUpdate {
    pub id: PatientId,
    #[specta(optional)]
    pub first_name: Option<String>,
    #[specta(optional)]
    pub last_name: Option<String>,
    #[specta(optional)]
    pub birth_date: Option<String>,
    #[specta(optional)]
    pub phone: Option<String>,
    #[serde(default)]
    #[specta(optional)]
    pub secondary_phone: Patch<String>,
    #[serde(default)]
    #[specta(optional)]
    pub mrn: Patch<String>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CreatedPatient {
    pub patient: Patient,
    /// False when a patient with the same name, birth date and phone already existed.
    pub created: bool,
}

async fn list(ctx: &Ctx, input: Pagination) -> ApiResult<PatientPage> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let page = input.page()?;
    let (records, total) = patients::list(&ctx.state, &caller, page).await?;
    Ok(PatientPage::of(page, records, total, Patient::from))
}

async fn get(ctx: &Ctx, input: PatientById) -> ApiResult<Patient> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    Ok(patients::get(&ctx.state, &caller, input.id).await?.into())
}

async fn search_by_phone(ctx: &Ctx, input: PhoneSearch) -> ApiResult<Vec<Patient>> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let found = patients::search_by_phone(&ctx.state, &caller, &input.phone).await?;
    Ok(found.into_iter().map(Patient::from).collect())
}

async fn create(ctx: &Ctx, input: NewPatient) -> ApiResult<CreatedPatient> {
    let caller = ctx.require(Role::Member)?;
    let details = PatientFields {
        first_name: input.first_name,
        last_name: input.last_name,
        birth_date: input.birth_date,
        phone: input.phone,
        secondary_phone: input.secondary_phone,
        mrn: input.mrn,
    };
    let (record, created) = patients::create(&ctx.state, &caller, details).await?;
    Ok(CreatedPatient { patient: record.into(), created })
}

async fn update(ctx: &Ctx, input: PatientUpdate) -> ApiResult<Patient> {
    let caller = ctx.require(Role::Member)?;
    let changes = PatientChanges {
        first_name: input.first_name,
        last_name: input.last_name,
        birth_date: input.birth_date,
        phone: input.phone,
        secondary_phone: input.secondary_phone,
        mrn: input.mrn,
    };
    Ok(patients::update(&ctx.state, &caller, input.id, changes).await?.into())
}
