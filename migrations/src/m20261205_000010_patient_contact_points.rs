//! Patients that keep their identity when their number changes (issue 16, item 5).
//!
//! `patients.mrn_key`: HMAC of the folded medical record number under the organization's lookup
//! key (`rivvi_domain::patient_identity`); unique per organization where present, since an MRN
//! names one patient of a clinic. `patients.name_dob_key`: HMAC of the folded `first|last|birth
//! date`, not unique (two people may share both); it lets a sheet row whose number is new join
//! the one patient with that name and birth date.
//!
//! `patient_phones`: numbers a patient is known by beyond the record's own `phone_key` and
//! `secondary_phone_key` (which stay where they are, unchanged: an existing patient keeps its
//! columns, values and keys exactly as they were). Each has its HMAC `phone_key` (inbound lookup)
//! and the number sealed like every PHI column (AES-256-GCM, AAD
//! `patient_phones/phone_sealed/<row id>`), how it was learnt (`source`: `upload` or `manual`) and
//! when. One row per patient and number.
//!
//! Existing rows need no copy: their numbers are found through the columns they already have.
//! Only the two new keys need the data and index keys, which a migration does not have: existing
//! patients are `match_keys_pending` (the column's default) and the server computes their keys
//! when it starts, before it serves (`rivvi_persistence::legacy_phi`), in resumable batches; the
//! partial index `ix_patients_match_keys_pending` keeps that a probe once none is left. New
//! patients are written with their keys and `match_keys_pending` false.
//!
//! On PostgreSQL the new lookup keys use the `C` collation, like the others (see
//! `m20261126_000001_bulk_import_keys`).
//!
//! `down` drops the table, the indexes and the columns: numbers learnt since are lost; the
//! patients themselves are untouched.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_schema::{fk, index, unique_index, Organizations, Patients};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Added {
    MrnKey,
    NameDobKey,
    MatchKeysPending,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum PatientPhones {
    Table,
    Id,
    OrgId,
    PatientId,
    /// Hex HMAC of the E.164 number under the organization's lookup key.
    PhoneKey,
    PhoneSealed,
    /// `upload` or `manual` (`rivvi_persistence::patients::PhoneSource`).
    Source,
    CreatedAt,
}

const PENDING_INDEX: &str = "ix_patients_match_keys_pending";

fn additions() -> Vec<ColumnDef> {
    vec![
        string_null(Added::MrnKey),
        string_null(Added::NameDobKey),
        // Every existing patient is pending; the application writes `false` for new ones.
        boolean(Added::MatchKeysPending).default(true).to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for mut column in additions() {
            manager
                .alter_table(Table::alter().table(Patients::Table).add_column(&mut column).to_owned())
                .await?;
        }
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                r#"ALTER TABLE patients
                     ALTER COLUMN mrn_key TYPE varchar COLLATE "C",
                     ALTER COLUMN name_dob_key TYPE varchar COLLATE "C""#,
            )
            .await?;
        }
        let org_and = |column: Added| [Alias::new("org_id"), Alias::new(column.to_string())];
        manager.create_index(unique_index(Patients::Table, &org_and(Added::MrnKey))).await?;
        manager.create_index(index(Patients::Table, &org_and(Added::NameDobKey))).await?;
        // sea-query's index builder has no WHERE clause; this SQL is the same on both databases.
        db.execute_unprepared(&format!(
            "CREATE INDEX {PENDING_INDEX} ON patients (id) WHERE match_keys_pending"
        ))
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PatientPhones::Table)
                    .col(pk_uuid(PatientPhones::Id))
                    .col(uuid(PatientPhones::OrgId))
                    .col(uuid(PatientPhones::PatientId))
                    .col(string(PatientPhones::PhoneKey))
                    .col(blob(PatientPhones::PhoneSealed))
                    .col(string(PatientPhones::Source))
                    .col(timestamp_with_time_zone(PatientPhones::CreatedAt))
                    .foreign_key(&mut fk(
                        PatientPhones::Table,
                        PatientPhones::OrgId,
                        Organizations::Table,
                        Organizations::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        PatientPhones::Table,
                        PatientPhones::PatientId,
                        Patients::Table,
                        Patients::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                r#"ALTER TABLE patient_phones ALTER COLUMN phone_key TYPE varchar COLLATE "C""#,
            )
            .await?;
        }
        manager
            .create_index(unique_index(
                PatientPhones::Table,
                &[PatientPhones::OrgId, PatientPhones::PatientId, PatientPhones::PhoneKey],
            ))
            .await?;
        manager
            .create_index(index(PatientPhones::Table, &[PatientPhones::OrgId, PatientPhones::PhoneKey]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PatientPhones::Table).to_owned()).await?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!("DROP INDEX {PENDING_INDEX}")).await?;
        for name in ["ux_patients_org_id_mrn_key", "ix_patients_org_id_name_dob_key"] {
            manager.drop_index(Index::drop().name(name).table(Patients::Table).to_owned()).await?;
        }
        for column in additions().into_iter().rev() {
            let name = Alias::new(column.get_column_name());
            manager.alter_table(Table::alter().table(Patients::Table).drop_column(name).to_owned()).await?;
        }
        Ok(())
    }
}
