//! Retention (issue 15): how long an organization keeps uploaded sheets and call transcripts.
//!
//! `organizations.upload_retention_days` (default 30): days an upload is kept after the last run
//! made from it ended, or after it was uploaded when no run was made from it.
//! `organizations.transcript_retention_days` (default 365): days a call's transcript, summary and
//! recording URL are kept after the call ended. Both `NOT NULL` with their defaults, so every
//! existing organization gets them; the server's maintenance step deletes what expired
//! (`rivvi_server::services::retention`).
//!
//! `ix_runs_upload_id`: the step asks, per upload, whether a run made from it is still going,
//! and deleting an upload sets `runs.upload_id` to NULL; without the index both read every run.
//!
//! `down` drops the index and the two columns (the settings chosen are lost).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_schema::{index, Organizations, Runs};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Added {
    UploadRetentionDays,
    TranscriptRetentionDays,
}

const RUNS_UPLOAD_INDEX: &str = "ix_runs_upload_id";

fn additions() -> Vec<ColumnDef> {
    vec![
        integer(Added::UploadRetentionDays).default(30).to_owned(),
        integer(Added::TranscriptRetentionDays).default(365).to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for mut column in additions() {
            manager
                .alter_table(Table::alter().table(Organizations::Table).add_column(&mut column).to_owned())
                .await?;
        }
        manager.create_index(index(Runs::Table, &[Runs::UploadId])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(RUNS_UPLOAD_INDEX).table(Runs::Table).to_owned()).await?;
        for column in additions().into_iter().rev() {
            let name = Alias::new(column.get_column_name());
            manager
                .alter_table(Table::alter().table(Organizations::Table).drop_column(name).to_owned())
                .await?;
        }
        Ok(())
    }
}
