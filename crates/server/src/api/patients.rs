//! `patients.*`: an organization's patients, sealed at rest and found by lookup keys.
//!
//! Patients come mostly from imported sheets; these procedures let staff look them up and fix or
//! add one by hand. Phone search is exact (the number is only stored as an HMAC lookup key), so
//! the input must be a whole phone number.

use chrono::{DateTime, NaiveDate, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::PatientId;
use rivvi_domain::validation::{single_line, ValidationErrors};
use rivvi_domain::{PhoneNumber, Role};
use rivvi_ingestion::identity::canonical_identity;
use rivvi_persistence::patients::{self, PatientFields, PatientIdentity, PatientRecord};
use rspc::{Router, RouterBuilder};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::{ApiError, ApiResult};
use super::organizations::{has_more, saturating_u32, Pagination};
use super::{audit_trail, Ctx, Input};

/// Longest accepted name, MRN, in characters.
const MAX_TEXT: usize = 120;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("list", |t| {
            t(|ctx: Ctx, input: Input<Pagination>| async move { Ok(list(&ctx, input.parse()?).await?) })
        })
        .query("get", |t| {
            t(|ctx: Ctx, input: Input<PatientById>| async move { Ok(get(&ctx, input.parse()?).await?) })
        })
        .query("searchByPhone", |t| {
            t(|ctx: Ctx, input: Input<PhoneSearch>| async move {
                Ok(search_by_phone(&ctx, input.parse()?).await?)
            })
        })
        .mutation("create", |t| {
            t(|ctx: Ctx, input: Input<NewPatient>| async move { Ok(create(&ctx, input.parse()?).await?) })
        })
        .mutation("update", |t| {
            t(|ctx: Ctx, input: Input<PatientUpdate>| async move { Ok(update(&ctx, input.parse()?).await?) })
        })
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PatientPage {
    pub patients: Vec<Patient>,
    pub total: u32,
    pub has_more: bool,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatientById {
    pub id: PatientId,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneSearch {
    /// A whole phone number in any common format (`(312) 555-0143`, `+13125550143`).
    pub phone: String,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPatient {
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    pub phone: String,
    #[serde(default)]
    #[specta(optional)]
    pub secondary_phone: Option<String>,
    #[serde(default)]
    #[specta(optional)]
    pub mrn: Option<String>,
}

/// A PATCH: absent fields stay; `secondaryPhone: null` / `mrn: null` clear them.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatientUpdate {
    pub id: PatientId,
    #[serde(default)]
    #[specta(optional)]
    pub first_name: Option<String>,
    #[serde(default)]
    #[specta(optional)]
    pub last_name: Option<String>,
    #[serde(default)]
    #[specta(optional)]
    pub birth_date: Option<String>,
    #[serde(default)]
    #[specta(optional)]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "rivvi_domain::validation::present")]
    #[specta(optional)]
    pub secondary_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "rivvi_domain::validation::present")]
    #[specta(optional)]
    pub mrn: Option<Option<String>>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CreatedPatient {
    pub patient: Patient,
    /// False when a patient with the same name, birth date and phone already existed.
    pub created: bool,
}

async fn list(ctx: &Ctx, input: Pagination) -> ApiResult<PatientPage> {
    let caller = ctx.require(Role::Member)?;
    let page = input.page()?;
    let (records, total) = patients::list(&ctx.state.db, &caller.scope, &ctx.state.keys, page).await?;
    let has_more = has_more(page, records.len(), total);
    Ok(PatientPage {
        patients: records.into_iter().map(Patient::from).collect(),
        total: saturating_u32(total),
        has_more,
    })
}

async fn get(ctx: &Ctx, input: PatientById) -> ApiResult<Patient> {
    let caller = ctx.require(Role::Member)?;
    Ok(patients::get(&ctx.state.db, &caller.scope, &ctx.state.keys, input.id).await?.into())
}

async fn search_by_phone(ctx: &Ctx, input: PhoneSearch) -> ApiResult<Vec<Patient>> {
    let caller = ctx.require(Role::Member)?;
    let phone =
        PhoneNumber::parse(input.phone.trim()).map_err(|e| ApiError::invalid("phone", e.to_string()))?;
    let found =
        patients::find_by_phone(&ctx.state.db, &caller.scope, &ctx.state.keys, phone.as_str()).await?;
    Ok(found.into_iter().map(Patient::from).collect())
}

async fn create(ctx: &Ctx, input: NewPatient) -> ApiResult<CreatedPatient> {
    let caller = ctx.require(Role::Member)?;
    let mut errors = ValidationErrors::new();
    let first_name = errors.check("firstName", single_line(&input.first_name, MAX_TEXT));
    let last_name = errors.check("lastName", single_line(&input.last_name, MAX_TEXT));
    let birth_date = errors.check("birthDate", parse_birth_date(&input.birth_date));
    let phone = errors.check("phone", PhoneNumber::parse(input.phone.trim()));
    let secondary_phone = optional_phone(&mut errors, "secondaryPhone", input.secondary_phone.as_deref());
    let mrn = optional_text(&mut errors, "mrn", input.mrn.as_deref());
    let (Some(first_name), Some(last_name), Some(birth_date), Some(phone), true) =
        (first_name, last_name, birth_date, phone, errors.is_empty())
    else {
        return Err(errors.into());
    };
    let identity = PatientIdentity {
        canonical: canonical_identity(&first_name, &last_name, Some(birth_date), Some(&phone)),
        fields: PatientFields {
            first_name,
            last_name,
            birth_date: birth_date.format("%Y-%m-%d").to_string(),
            phone: phone.as_str().to_owned(),
            secondary_phone: secondary_phone.map(|p| p.as_str().to_owned()),
            mrn,
        },
    };
    let txn = ctx.state.db.begin().await?;
    let (record, created) = patients::find_or_create(&txn, &caller.scope, &ctx.state.keys, &identity).await?;
    if created {
        let org = Some(caller.scope.org_id());
        audit_trail::record(&txn, ctx, &caller, org, AuditAction::PatientCreated, record.id, vec![]).await?;
    }
    txn.commit().await?;
    Ok(CreatedPatient { patient: record.into(), created })
}

async fn update(ctx: &Ctx, input: PatientUpdate) -> ApiResult<Patient> {
    let caller = ctx.require(Role::Member)?;
    let mut errors = ValidationErrors::new();
    let first_name =
        input.first_name.as_deref().and_then(|v| errors.check("firstName", single_line(v, MAX_TEXT)));
    let last_name =
        input.last_name.as_deref().and_then(|v| errors.check("lastName", single_line(v, MAX_TEXT)));
    let birth_date = input.birth_date.as_deref().and_then(|v| errors.check("birthDate", parse_birth_date(v)));
    let phone = input.phone.as_deref().and_then(|v| errors.check("phone", PhoneNumber::parse(v.trim())));
    let secondary_phone = input.secondary_phone.map(|value| {
        optional_phone(&mut errors, "secondaryPhone", value.as_deref()).map(|p| p.as_str().to_owned())
    });
    let mrn = input.mrn.map(|value| optional_text(&mut errors, "mrn", value.as_deref()));
    if !errors.is_empty() {
        return Err(errors.into());
    }

    let txn = ctx.state.db.begin().await?;
    let current = patients::get(&txn, &caller.scope, &ctx.state.keys, input.id).await?;
    let mut fields = current.fields.clone();
    let mut changed = Vec::new();
    let mut set = |slot: &mut String, value: Option<String>, name: &str| {
        if let Some(value) = value.filter(|v| v != slot) {
            *slot = value;
            changed.push(name.to_owned());
        }
    };
    set(&mut fields.first_name, first_name, "firstName");
    set(&mut fields.last_name, last_name, "lastName");
    set(&mut fields.birth_date, birth_date.map(|d| d.format("%Y-%m-%d").to_string()), "birthDate");
    set(&mut fields.phone, phone.map(|p| p.as_str().to_owned()), "phone");
    if let Some(value) = secondary_phone.filter(|v| *v != fields.secondary_phone) {
        fields.secondary_phone = value;
        changed.push("secondaryPhone".to_owned());
    }
    if let Some(value) = mrn.filter(|v| *v != fields.mrn) {
        fields.mrn = value;
        changed.push("mrn".to_owned());
    }
    if changed.is_empty() {
        txn.rollback().await?;
        return Ok(current.into());
    }
    let birth = NaiveDate::parse_from_str(&fields.birth_date, "%Y-%m-%d").ok();
    let phone = PhoneNumber::parse_e164_strict(&fields.phone).ok();
    let canonical = canonical_identity(&fields.first_name, &fields.last_name, birth, phone.as_ref());
    let record = patients::update(&txn, &caller.scope, &ctx.state.keys, input.id, &fields, &canonical)
        .await
        .map_err(|err| match err {
            rivvi_persistence::PersistenceError::Conflict { .. } => {
                ApiError::Conflict("another patient already has this name, birth date and phone".into())
            }
            other => other.into(),
        })?;
    let org = Some(caller.scope.org_id());
    audit_trail::record(&txn, ctx, &caller, org, AuditAction::PatientUpdated, record.id, changed).await?;
    txn.commit().await?;
    Ok(record.into())
}

/// An ISO birth date that is not in the future nor before 1900.
fn parse_birth_date(input: &str) -> Result<NaiveDate, String> {
    let date = NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d")
        .map_err(|_| "must be a date YYYY-MM-DD".to_owned())?;
    let today = Utc::now().date_naive();
    if date > today {
        return Err("must not be in the future".into());
    }
    if date < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN) {
        return Err("must be after 1900".into());
    }
    Ok(date)
}

fn optional_phone(errors: &mut ValidationErrors, field: &str, value: Option<&str>) -> Option<PhoneNumber> {
    value.map(str::trim).filter(|v| !v.is_empty()).and_then(|v| errors.check(field, PhoneNumber::parse(v)))
}

fn optional_text(errors: &mut ValidationErrors, field: &str, value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).and_then(|v| errors.check(field, single_line(v, MAX_TEXT)))
}
