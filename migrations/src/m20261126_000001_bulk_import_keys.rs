//! Cheaper bulk imports on PostgreSQL, with a stronger rule for run rows.
//!
//! `runs.create` writes up to 100k patients and rows in one transaction, and most of
//! PostgreSQL's time goes to per-row foreign-key checks and to index comparisons (see
//! docs/benchmarks.md):
//!
//! - `run_rows(run_id, org_id)` now references `runs(id, org_id)` (a new unique key on `runs`)
//!   instead of `run_id -> runs` and `org_id -> organizations` separately: one check per row
//!   instead of two, and it proves what the two did not, that a row belongs to its run's
//!   organization (the run's own `org_id` still references `organizations`). Deleting a run
//!   still removes its rows.
//! - The HMAC lookup keys of patients (`identity_key`, `phone_key`, `secondary_phone_key`) use
//!   the `C` collation: they are hex digests whose order means nothing, so their indexes compare
//!   bytes instead of running the database's locale collation for every comparison. Equality,
//!   the only use they have, is unchanged.
//!
//! SQLite is left as it is: it compares text bytewise already, and it cannot change a table's
//! constraints without rebuilding the table; its separate `run_id` and `org_id` foreign keys
//! stay. `down` restores the previous constraints and collation on PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE runs ADD CONSTRAINT ux_runs_id_org_id UNIQUE (id, org_id)",
    "ALTER TABLE run_rows ADD CONSTRAINT fk_run_rows_run_id_org_id FOREIGN KEY (run_id, org_id) \
     REFERENCES runs (id, org_id) ON DELETE CASCADE ON UPDATE NO ACTION",
    "ALTER TABLE run_rows DROP CONSTRAINT fk_run_rows_run_id",
    "ALTER TABLE run_rows DROP CONSTRAINT fk_run_rows_org_id",
    r#"ALTER TABLE patients
         ALTER COLUMN identity_key TYPE varchar COLLATE "C",
         ALTER COLUMN phone_key TYPE varchar COLLATE "C",
         ALTER COLUMN secondary_phone_key TYPE varchar COLLATE "C""#,
];

const DOWN: &[&str] = &[
    r#"ALTER TABLE patients
         ALTER COLUMN identity_key TYPE varchar COLLATE "default",
         ALTER COLUMN phone_key TYPE varchar COLLATE "default",
         ALTER COLUMN secondary_phone_key TYPE varchar COLLATE "default""#,
    "ALTER TABLE run_rows ADD CONSTRAINT fk_run_rows_run_id FOREIGN KEY (run_id) \
     REFERENCES runs (id) ON DELETE CASCADE ON UPDATE NO ACTION",
    "ALTER TABLE run_rows ADD CONSTRAINT fk_run_rows_org_id FOREIGN KEY (org_id) \
     REFERENCES organizations (id) ON DELETE RESTRICT ON UPDATE NO ACTION",
    "ALTER TABLE run_rows DROP CONSTRAINT fk_run_rows_run_id_org_id",
    "ALTER TABLE runs DROP CONSTRAINT ux_runs_id_org_id",
];

async fn run_on_postgres(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_postgres(manager, DOWN).await
    }
}
