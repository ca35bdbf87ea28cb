//! PHI at rest (issue 15): per-organization lookup keys and sealed call data.
//!
//! `patients.lookup_scheme`, `do_not_call.lookup_scheme`: how the row's HMAC lookup keys were
//! computed: `1` with the one index key every organization shared (every row before this
//! migration), `2` with the organization's own key derived from it. Rows written from now on are
//! `2`.
//!
//! `calls.recording_url_sealed`, `calls.analysis_sealed`, `run_rows.analysis_sealed`,
//! `uploads.file_name_sealed`: AES-256-GCM like the other PHI columns, AAD
//! `<table>/<column>/<row id>`. The plaintext columns they replace (`calls.recording_url`,
//! `calls.analysis`, `run_rows.analysis`, `uploads.file_name`) stay for the values written before
//! this migration: the keys are not available to a migration, so the server moves those values
//! into the sealed columns (and empties the plaintext ones) and re-keys scheme-1 rows when it
//! starts, before it serves (`rivvi_server::maintenance::phi`), in batches that can be
//! interrupted and resumed.
//!
//! Partial indexes on the rows still in the earlier format (`ix_*_legacy_phi`) keep that start-up
//! step a few index probes once nothing is left, however large the tables (SQLite and PostgreSQL
//! both index a `WHERE` subset; the step's queries imply these predicates).
//!
//! `down` drops the new columns: sealed values written since are lost, and scheme-2 lookup keys
//! stay (a server of the earlier version would not find those patients by phone or identity).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_schema::{Calls, DoNotCall, Patients, RunRows, Uploads};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Added {
    /// On `patients` and `do_not_call`.
    LookupScheme,
    /// On `calls`.
    RecordingUrlSealed,
    /// On `calls` and `run_rows`.
    AnalysisSealed,
    /// On `uploads`.
    FileNameSealed,
}

fn additions() -> Vec<(TableRef, ColumnDef)> {
    // Existing rows are scheme 1; the application writes the scheme of every new row itself.
    let scheme = || small_integer(Added::LookupScheme).default(1).to_owned();
    vec![
        (Patients::Table.into_table_ref(), scheme()),
        (DoNotCall::Table.into_table_ref(), scheme()),
        (Calls::Table.into_table_ref(), blob_null(Added::RecordingUrlSealed)),
        (Calls::Table.into_table_ref(), blob_null(Added::AnalysisSealed)),
        (RunRows::Table.into_table_ref(), blob_null(Added::AnalysisSealed)),
        (Uploads::Table.into_table_ref(), blob_null(Added::FileNameSealed)),
    ]
}

/// `(index, table, predicate)`: the rows `rivvi_persistence::legacy_phi` still has to upgrade.
const LEGACY_INDEXES: [(&str, &str, &str); 5] = [
    ("ix_patients_legacy_phi", "patients", "lookup_scheme = 1"),
    ("ix_do_not_call_legacy_phi", "do_not_call", "lookup_scheme = 1"),
    ("ix_calls_legacy_phi", "calls", "recording_url IS NOT NULL OR analysis IS NOT NULL"),
    ("ix_run_rows_legacy_phi", "run_rows", "analysis IS NOT NULL"),
    ("ix_uploads_legacy_phi", "uploads", "file_name <> ''"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for (table, column) in additions() {
            manager.alter_table(Table::alter().table(table).add_column(column).to_owned()).await?;
        }
        // sea-query's index builder has no WHERE clause; this SQL is the same on both databases.
        let db = manager.get_connection();
        for (index, table, predicate) in LEGACY_INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX {index} ON {table} (id) WHERE {predicate}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (index, _, _) in LEGACY_INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {index}")).await?;
        }
        for (table, column) in additions().into_iter().rev() {
            let name = Alias::new(column.get_column_name());
            manager.alter_table(Table::alter().table(table).drop_column(name).to_owned()).await?;
        }
        Ok(())
    }
}
