//! Analytics and exports (issue 14).
//!
//! `runs.headers_sealed`: the sheet's header row as read at ingestion, sealed like the rows'
//! cells (AES-256-GCM, AAD `runs/headers_sealed/<run id>`; a header can name a person when a
//! sheet has none). Exports write every original column under its own name, in the file's order.
//! Runs created before this migration have none; their exports name columns by position.
//!
//! `ix_calls_org_id_local_date`, `ix_calls_campaign_id_local_date`: analytics read an
//! organization's or a campaign's calls by day in the organization's zone.
//!
//! `down` drops the indexes and the column (the stored header rows are lost).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_schema::{index, Runs};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum RunHeaders {
    /// On `runs`.
    HeadersSealed,
}

#[derive(DeriveIden, Clone, Copy)]
enum Calls {
    Table,
    OrgId,
    CampaignId,
    LocalDate,
}

fn indexes() -> [IndexCreateStatement; 2] {
    [
        index(Calls::Table, &[Calls::OrgId, Calls::LocalDate]),
        index(Calls::Table, &[Calls::CampaignId, Calls::LocalDate]),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Runs::Table).add_column(blob_null(RunHeaders::HeadersSealed)).to_owned(),
            )
            .await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_calls_org_id_local_date", "ix_calls_campaign_id_local_date"] {
            manager.drop_index(Index::drop().name(name).table(Calls::Table).to_owned()).await?;
        }
        manager
            .alter_table(Table::alter().table(Runs::Table).drop_column(RunHeaders::HeadersSealed).to_owned())
            .await
    }
}
