//! Live events (issue 13).
//!
//! `runs.event_seq`: the number of the last event published for the run. The event bus takes
//! the next numbers in the statement that sends the events, so every instance and every
//! subscriber sees one sequence per run, and a client that reconnects can tell what it missed.
//!
//! `engine_instances`: each server instance's engine reports itself here every few seconds (its
//! last dispatch tick and how long it took, due rows, active calls per organization, provider
//! error rate, webhook lag, as a JSON report with no patient data), so the operator's health
//! feed sees every instance from any instance. Rows of instances that stopped reporting are
//! left for operators to read after a crash and pruned after a day.
//!
//! `down` drops both.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_schema::Runs;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum RunEvents {
    /// On `runs`.
    EventSeq,
}

#[derive(DeriveIden, Clone, Copy)]
enum EngineInstances {
    Table,
    /// The instance id the engine writes to `run_rows.leased_by`.
    InstanceId,
    StartedAt,
    ReportedAt,
    /// JSON: the engine's health report.
    Report,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .add_column(big_integer(RunEvents::EventSeq).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EngineInstances::Table)
                    .col(string(EngineInstances::InstanceId).primary_key())
                    .col(timestamp_with_time_zone(EngineInstances::StartedAt))
                    .col(timestamp_with_time_zone(EngineInstances::ReportedAt))
                    .col(text(EngineInstances::Report))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(EngineInstances::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Runs::Table).drop_column(RunEvents::EventSeq).to_owned())
            .await
    }
}
