//! Readable do-not-call entries, one call per attempt, one upload per file, and the indexes the
//! call list and recovery read by.
//!
//! - `do_not_call.number_sealed` (nullable `blob`): the E.164 number, sealed like every other PHI
//!   column (AES-256-GCM, AAD `do_not_call/number_sealed/<entry id>`), so admins can read the list
//!   back. Entries written before this migration hold only the phone key and stay `NULL` until
//!   the number is added again.
//! - `ux_calls_row_id_attempt`: one call per attempt of a row as a database rule, not only an
//!   engine promise. Inbound calls have no row (`NULL`), and NULLs never collide in a unique
//!   index on either database. It leads with `row_id`, so it replaces `ix_calls_row_id`.
//! - `ix_calls_org_id_status` (the call list filtered by status) and `ix_calls_status_updated_at`
//!   (recovery's "calls without events for too long"), which replaces `ix_calls_status`.
//! - `ux_uploads_org_id_sha256` replaces the plain `ix_uploads_org_id_sha256`: two identical
//!   uploads racing each other can no longer both be recorded. Duplicates recorded before are
//!   merged first: runs move to the organization's earliest upload of those bytes (which becomes
//!   `ingested` if any copy was) and the later records are deleted. Their stored objects are left
//!   in object storage (the schema cannot reach it); they are unreferenced copies of kept bytes.
//!
//! `down` restores the previous indexes and drops the column (its sealed numbers are lost; the
//! phone keys, which the dialler checks, stay). Merged uploads stay merged.

use sea_orm_migration::{prelude::*, schema::*};

// Index names follow the first migration's convention (`ix_`/`ux_<table>_<columns>`).
use crate::m20261124_000001_create_schema::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum DoNotCall {
    Table,
    NumberSealed,
}

#[derive(DeriveIden, Clone, Copy)]
enum Calls {
    Table,
    OrgId,
    RowId,
    Attempt,
    Status,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Uploads {
    Table,
    OrgId,
    Sha256,
}

/// Uploads that repeat an earlier upload of the same bytes in the same organization (earliest by
/// `created_at`, then id). `{t}` is the alias of the upload tested.
const LATER_DUPLICATE: &str = "EXISTS (SELECT 1 FROM uploads e \
     WHERE e.org_id = {t}.org_id AND e.sha256 = {t}.sha256 \
     AND (e.created_at < {t}.created_at OR (e.created_at = {t}.created_at AND e.id < {t}.id)))";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DoNotCall::Table)
                    .add_column(blob_null(DoNotCall::NumberSealed))
                    .to_owned(),
            )
            .await?;

        drop_index(manager, "ix_calls_row_id", Calls::Table).await?;
        drop_index(manager, "ix_calls_status", Calls::Table).await?;
        manager.create_index(unique_index(Calls::Table, &[Calls::RowId, Calls::Attempt])).await?;
        manager.create_index(index(Calls::Table, &[Calls::OrgId, Calls::Status])).await?;
        manager.create_index(index(Calls::Table, &[Calls::Status, Calls::UpdatedAt])).await?;

        merge_duplicate_uploads(manager).await?;
        drop_index(manager, "ix_uploads_org_id_sha256", Uploads::Table).await?;
        manager.create_index(unique_index(Uploads::Table, &[Uploads::OrgId, Uploads::Sha256])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_index(manager, "ux_uploads_org_id_sha256", Uploads::Table).await?;
        manager.create_index(index(Uploads::Table, &[Uploads::OrgId, Uploads::Sha256])).await?;

        drop_index(manager, "ix_calls_status_updated_at", Calls::Table).await?;
        drop_index(manager, "ix_calls_org_id_status", Calls::Table).await?;
        drop_index(manager, "ux_calls_row_id_attempt", Calls::Table).await?;
        manager.create_index(index(Calls::Table, &[Calls::Status])).await?;
        manager.create_index(index(Calls::Table, &[Calls::RowId])).await?;

        manager
            .alter_table(
                Table::alter().table(DoNotCall::Table).drop_column(DoNotCall::NumberSealed).to_owned(),
            )
            .await
    }
}

/// Points runs at the earliest of each set of identical uploads and deletes the rest, so the
/// unique index can be created. Plain SQL that both databases run unchanged.
async fn merge_duplicate_uploads(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let later = |alias: &str| LATER_DUPLICATE.replace("{t}", alias);
    // The kept upload is `ingested` if any of its copies was.
    db.execute_unprepared(&format!(
        "UPDATE uploads SET status = 'ingested' \
         WHERE status <> 'ingested' AND NOT {kept_is_later} \
         AND EXISTS (SELECT 1 FROM uploads d WHERE d.org_id = uploads.org_id \
                     AND d.sha256 = uploads.sha256 AND d.status = 'ingested')",
        kept_is_later = later("uploads"),
    ))
    .await?;
    db.execute_unprepared(&format!(
        "UPDATE runs SET upload_id = ( \
             SELECT k.id FROM uploads k, uploads d \
             WHERE d.id = runs.upload_id AND k.org_id = d.org_id AND k.sha256 = d.sha256 \
             AND NOT {k_is_later}) \
         WHERE upload_id IN (SELECT u.id FROM uploads u WHERE {u_is_later})",
        k_is_later = later("k"),
        u_is_later = later("u"),
    ))
    .await?;
    db.execute_unprepared(&format!("DELETE FROM uploads WHERE {}", later("uploads"))).await?;
    Ok(())
}

async fn drop_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl Iden + 'static,
) -> Result<(), DbErr> {
    manager.drop_index(Index::drop().name(name).table(table).to_owned()).await
}
