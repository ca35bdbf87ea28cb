//! AI-suggested prompt variations (issue 11): a plain-language request, the proposal the LLM
//! returned, its diff against the prompt it varied and the checks' warnings, kept as a draft with
//! its author until an operator applies it to the campaign (or a member pins it for one run).
//! Nothing here is patient data: the LLM never sees any.
//!
//! `down` drops the table.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_schema::{fk, index, Campaigns, Organizations, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum PromptVariations {
    Table,
    Id,
    OrgId,
    CampaignId,
    AuthorUserId,
    /// The user's request, in their words.
    Request,
    /// The base prompt the proposal varies.
    BasePrompt,
    ProposedPrompt,
    Summary,
    /// Unified diff of the proposal against the base prompt.
    Diff,
    /// The checks' findings (JSON list); any finding blocks applying.
    Warnings,
    /// Set when an operator made it the campaign's prompt.
    AppliedVersionId,
    AppliedBy,
    AppliedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PromptVariations::Table)
                    .col(pk_uuid(PromptVariations::Id))
                    .col(uuid(PromptVariations::OrgId))
                    .col(uuid(PromptVariations::CampaignId))
                    .col(uuid_null(PromptVariations::AuthorUserId))
                    .col(text(PromptVariations::Request))
                    .col(text(PromptVariations::BasePrompt))
                    .col(text(PromptVariations::ProposedPrompt))
                    .col(text(PromptVariations::Summary))
                    .col(text(PromptVariations::Diff))
                    .col(json_binary(PromptVariations::Warnings))
                    .col(uuid_null(PromptVariations::AppliedVersionId))
                    .col(uuid_null(PromptVariations::AppliedBy))
                    .col(timestamp_with_time_zone_null(PromptVariations::AppliedAt))
                    .col(timestamp_with_time_zone(PromptVariations::CreatedAt))
                    .foreign_key(&mut fk(
                        PromptVariations::Table,
                        PromptVariations::OrgId,
                        Organizations::Table,
                        Organizations::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        PromptVariations::Table,
                        PromptVariations::CampaignId,
                        Campaigns::Table,
                        Campaigns::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        PromptVariations::Table,
                        PromptVariations::AuthorUserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                PromptVariations::Table,
                &[PromptVariations::OrgId, PromptVariations::CampaignId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PromptVariations::Table).to_owned()).await
    }
}
