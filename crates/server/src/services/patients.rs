//! Patients of one organization, sealed at rest and found by lookup keys. Most come from
//! imported sheets; staff look them up and fix or add one by hand. Phone search is exact (the
//! number is only stored as an HMAC lookup key), so it takes a whole phone number.

use chrono::{NaiveDate, Utc};
use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::PatientId;
use rivvi_domain::validation::{single_line, ValidationErrors};
use rivvi_domain::{Patch, PhoneNumber};
use rivvi_ingestion::identity::canonical_identity;
use rivvi_persistence::error::constraints;
use rivvi_persistence::patients::{
    self, PatientFields, PatientIdentity, PatientMatch, PatientRecord, PhoneSource,
};
use rivvi_persistence::Page;
use sea_orm::TransactionTrait;

use super::error::conflict_as;
use super::{audit_trail, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// Longest accepted name, MRN, in characters.
const MAX_TEXT: usize = 120;

/// A correction: `None` (or [`Patch::Keep`]) keeps a field.
#[derive(Debug, Clone, Default)]
pub struct PatientChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<String>,
    pub phone: Option<String>,
    pub secondary_phone: Patch<String>,
    pub mrn: Patch<String>,
}

pub async fn list(
    state: &AppState,
    caller: &OrgCaller,
    page: Page,
) -> ServiceResult<(Vec<PatientRecord>, u64)> {
    let txn = state.db.begin().await?;
    let (found, total) = patients::list(&txn, &caller.scope, &state.keys, page).await?;
    let ids = found.iter().map(|p| format!("patient:{}", p.id));
    audit_trail::record_read(&txn, caller, AuditAction::PatientsListed, None, found.len(), ids).await?;
    txn.commit().await?;
    Ok((found, total))
}

pub async fn get(state: &AppState, caller: &OrgCaller, id: PatientId) -> ServiceResult<PatientRecord> {
    let txn = state.db.begin().await?;
    let patient = patients::get(&txn, &caller.scope, &state.keys, id).await?;
    let ids = [format!("patient:{id}")];
    audit_trail::record_read(&txn, caller, AuditAction::PatientViewed, Some(id.to_string()), 1, ids).await?;
    txn.commit().await?;
    Ok(patient)
}

/// Patients with `phone` (any common format) as their primary or secondary number or one of their
/// contact points.
pub async fn search_by_phone(
    state: &AppState,
    caller: &OrgCaller,
    phone: &str,
) -> ServiceResult<Vec<PatientRecord>> {
    let phone = PhoneNumber::parse(phone.trim()).map_err(|e| ServiceError::invalid("phone", e))?;
    let txn = state.db.begin().await?;
    let found = patients::find_by_phone(&txn, &caller.scope, &state.keys, phone.as_str()).await?;
    let ids = found.iter().map(|p| format!("patient:{}", p.id));
    audit_trail::record_read(&txn, caller, AuditAction::PatientsSearched, None, found.len(), ids).await?;
    txn.commit().await?;
    Ok(found)
}

/// Adds a patient from its fields as typed (checked and normalised here), or answers the one it
/// is (`false`): the patient with the same MRN (a number new to them is added to their contact
/// points), or with the same name, birth date and phone. The same name and birth date alone is
/// not enough here: the person typing decides (see `rivvi_persistence::patients`).
pub async fn create(
    state: &AppState,
    caller: &OrgCaller,
    details: PatientFields,
) -> ServiceResult<(PatientRecord, bool)> {
    let mut errors = ValidationErrors::new();
    let first_name = errors.check("firstName", single_line(&details.first_name, MAX_TEXT));
    let last_name = errors.check("lastName", single_line(&details.last_name, MAX_TEXT));
    let birth_date = errors.check("birthDate", parse_birth_date(&details.birth_date));
    let phone = errors.check("phone", PhoneNumber::parse(details.phone.trim()));
    let secondary_phone = optional_phone(&mut errors, "secondaryPhone", details.secondary_phone.as_deref());
    let mrn = optional_text(&mut errors, "mrn", details.mrn.as_deref());
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
    let txn = state.db.begin().await?;
    let resolved = patients::resolve_many(
        &txn,
        &caller.scope,
        &state.keys,
        std::slice::from_ref(&identity),
        PhoneSource::Manual,
    )
    .await?;
    let (Some(&id), Some(&found)) = (resolved.patient_ids.first(), resolved.matches.first()) else {
        return Err(ServiceError::Internal(anyhow::anyhow!("no patient resolved for one input")));
    };
    let created = found == PatientMatch::New;
    if created {
        audit_trail::record(&txn, caller, caller.scope.org_id(), AuditAction::PatientCreated, id, vec![])
            .await?;
    }
    for added in &resolved.added_phones {
        audit_trail::phone_added(&txn, caller, added, PhoneSource::Manual, None).await?;
    }
    let record = patients::get(&txn, &caller.scope, &state.keys, id).await?;
    txn.commit().await?;
    Ok((record, created))
}

/// Corrects a patient; the identity key follows the new name, birth date and phone.
pub async fn update(
    state: &AppState,
    caller: &OrgCaller,
    id: PatientId,
    changes: PatientChanges,
) -> ServiceResult<PatientRecord> {
    let mut errors = ValidationErrors::new();
    let first_name =
        changes.first_name.as_deref().and_then(|v| errors.check("firstName", single_line(v, MAX_TEXT)));
    let last_name =
        changes.last_name.as_deref().and_then(|v| errors.check("lastName", single_line(v, MAX_TEXT)));
    let birth_date =
        changes.birth_date.as_deref().and_then(|v| errors.check("birthDate", parse_birth_date(v)));
    let phone = changes.phone.as_deref().and_then(|v| errors.check("phone", PhoneNumber::parse(v.trim())));
    // A blank value clears the field, as `null` does.
    let secondary_phone = match changes.secondary_phone {
        Patch::Set(value) => Patch::to(
            optional_phone(&mut errors, "secondaryPhone", Some(&value)).map(|p| p.as_str().to_owned()),
        ),
        keep_or_clear => keep_or_clear,
    };
    let mrn = match changes.mrn {
        Patch::Set(value) => Patch::to(optional_text(&mut errors, "mrn", Some(&value))),
        keep_or_clear => keep_or_clear,
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }

    let txn = state.db.begin().await?;
    let current = patients::get(&txn, &caller.scope, &state.keys, id).await?;
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
    if secondary_phone.apply_to(&mut fields.secondary_phone) {
        changed.push("secondaryPhone".to_owned());
    }
    if mrn.apply_to(&mut fields.mrn) {
        changed.push("mrn".to_owned());
    }
    if changed.is_empty() {
        txn.rollback().await?;
        return Ok(current);
    }
    let birth = NaiveDate::parse_from_str(&fields.birth_date, "%Y-%m-%d").ok();
    let phone = PhoneNumber::parse_e164_strict(&fields.phone).ok();
    let canonical = canonical_identity(&fields.first_name, &fields.last_name, birth, phone.as_ref());
    let record =
        patients::update(&txn, &caller.scope, &state.keys, id, &fields, &canonical).await.map_err(|err| {
            if err.is_conflict_on(constraints::PATIENTS_ORG_ID_MRN_KEY) {
                ServiceError::Conflict("another patient already has this MRN".into())
            } else {
                conflict_as("another patient already has this name, birth date and phone")(err)
            }
        })?;
    audit_trail::record(&txn, caller, caller.scope.org_id(), AuditAction::PatientUpdated, record.id, changed)
        .await?;
    txn.commit().await?;
    Ok(record)
}

/// An ISO birth date that is not in the future nor before 1900.
fn parse_birth_date(input: &str) -> Result<NaiveDate, String> {
    let date = NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d")
        .map_err(|_| "must be a date YYYY-MM-DD".to_owned())?;
    if date > Utc::now().date_naive() {
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
