//! What the provider runs for each campaign and each run (issue 11).
//!
//! - `managed_agents`: the Retell LLM and agent Rivvi created for a campaign. A row is written
//!   before the first provider object exists and filled in as each one is created, so a failed
//!   provisioning leaves a record of what it made (and the next attempt resumes from it, since
//!   `campaign_id` is set only once the campaign exists). Campaigns whose operator attached an
//!   existing agent have no row.
//! - `prompt_versions` gains the run snapshot: the agent and the published agent version that
//!   carry exactly this composed prompt (`agent_id`, `agent_version`, null until published), and
//!   the variables and analysis fields frozen with it (null on versions written before this
//!   migration, whose runs keep reading the campaign's).
//!
//! `down` drops the table and the columns.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_schema::{fk, index, unique_index, Campaigns, Organizations};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ManagedAgents {
    Table,
    Id,
    OrgId,
    /// Set once the campaign exists; unique: one managed agent per campaign.
    CampaignId,
    /// `llm_…`, once created.
    LlmId,
    /// `agent_…`, once created.
    AgentId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PromptVersions {
    Table,
    AgentId,
    AgentVersion,
    Variables,
    AnalysisFields,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ManagedAgents::Table)
                    .col(pk_uuid(ManagedAgents::Id))
                    .col(uuid(ManagedAgents::OrgId))
                    .col(uuid_null(ManagedAgents::CampaignId))
                    .col(string_null(ManagedAgents::LlmId))
                    .col(string_null(ManagedAgents::AgentId))
                    .col(timestamp_with_time_zone(ManagedAgents::CreatedAt))
                    .col(timestamp_with_time_zone(ManagedAgents::UpdatedAt))
                    .foreign_key(&mut fk(
                        ManagedAgents::Table,
                        ManagedAgents::OrgId,
                        Organizations::Table,
                        Organizations::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        ManagedAgents::Table,
                        ManagedAgents::CampaignId,
                        Campaigns::Table,
                        Campaigns::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique_index(ManagedAgents::Table, &[ManagedAgents::CampaignId])).await?;
        manager.create_index(index(ManagedAgents::Table, &[ManagedAgents::OrgId])).await?;
        // SQLite adds one column per statement.
        for column in [
            string_null(PromptVersions::AgentId),
            integer_null(PromptVersions::AgentVersion),
            json_binary_null(PromptVersions::Variables),
            json_binary_null(PromptVersions::AnalysisFields),
        ] {
            let mut column = column;
            manager
                .alter_table(Table::alter().table(PromptVersions::Table).add_column(&mut column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            PromptVersions::AnalysisFields,
            PromptVersions::Variables,
            PromptVersions::AgentVersion,
            PromptVersions::AgentId,
        ] {
            manager
                .alter_table(Table::alter().table(PromptVersions::Table).drop_column(column).to_owned())
                .await?;
        }
        manager.drop_table(Table::drop().table(ManagedAgents::Table).to_owned()).await
    }
}
