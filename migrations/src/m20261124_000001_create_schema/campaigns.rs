//! Campaigns (configured by operators), their append-only prompt history, and the requests
//! organizations send operators for new campaigns.

use sea_orm_migration::{prelude::*, schema::*};

use super::identity::{Organizations, Users};
use super::outreach::Runs;
use super::{create_indexes, drop_table, fk, index, unique_index, CycleKeys};

pub(super) const CURRENT_PROMPT_VERSION_FK: &str = "fk_campaigns_current_prompt_version_id";
pub(super) const PROMPT_VERSION_RUN_FK: &str = "fk_prompt_versions_run_id";

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Campaigns {
    Table,
    Id,
    OrgId,
    Name,
    /// `outbound` | `inbound` (domain call direction).
    Direction,
    /// `active` | `paused` | `archived` (domain campaign status).
    Status,
    /// The voice provider's agent id.
    AgentId,
    BasePrompt,
    VoicemailMessage,
    /// Field definitions: key, label, type, required, header aliases.
    Variables,
    /// Post-call analysis fields: key, type, options, the main KPI flag.
    AnalysisFields,
    RetryPolicy,
    /// The prompt version new runs pin; see the reference cycle note in `mod.rs`.
    CurrentPromptVersionId,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(super) enum PromptVersions {
    Table,
    Id,
    CampaignId,
    /// Set when the version was composed for one run (its instructions).
    RunId,
    /// 1, 2, 3... per campaign.
    Number,
    BasePrompt,
    /// The user's free text, inserted in a marked section of the composed prompt.
    RunInstructions,
    ComposedPrompt,
    VoicemailMessage,
    /// Unified diff against the previous version of the campaign.
    Diff,
    AuthorUserId,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(super) enum CampaignRequests {
    Table,
    Id,
    OrgId,
    RequestedBy,
    Name,
    /// `outbound` | `inbound` (domain call direction).
    Direction,
    Description,
    MainGoal,
    DesiredAnalysis,
    /// `pending` | `approved` | `in_progress` | `rejected` | `completed` (domain campaign request
    /// status).
    Status,
    AdminNotes,
    ResultingCampaignId,
    CreatedAt,
    UpdatedAt,
}

/// `campaigns.current_prompt_version_id` -> `prompt_versions`. SET NULL rather than RESTRICT: a
/// version disappears only when its campaign is deleted (cascade), and on SQLite dropping
/// `prompt_versions` before `campaigns` (the `down` order) deletes its rows first.
pub(super) fn current_prompt_version_fk() -> ForeignKeyCreateStatement {
    fk(
        Campaigns::Table,
        Campaigns::CurrentPromptVersionId,
        PromptVersions::Table,
        PromptVersions::Id,
        ForeignKeyAction::SetNull,
    )
}

/// `prompt_versions.run_id` -> `runs`. Deleting a (draft) run keeps the version: it is history.
pub(super) fn prompt_version_run_fk() -> ForeignKeyCreateStatement {
    fk(PromptVersions::Table, PromptVersions::RunId, Runs::Table, Runs::Id, ForeignKeyAction::SetNull)
}

pub(super) async fn up(manager: &SchemaManager<'_>, cycles: CycleKeys) -> Result<(), DbErr> {
    let mut campaigns = Table::create()
        .table(Campaigns::Table)
        .col(pk_uuid(Campaigns::Id))
        .col(uuid(Campaigns::OrgId))
        .col(string(Campaigns::Name))
        .col(string(Campaigns::Direction))
        .col(string(Campaigns::Status))
        .col(string(Campaigns::AgentId))
        .col(text(Campaigns::BasePrompt))
        .col(text_null(Campaigns::VoicemailMessage))
        .col(json_binary(Campaigns::Variables))
        .col(json_binary(Campaigns::AnalysisFields))
        .col(json_binary(Campaigns::RetryPolicy))
        .col(uuid_null(Campaigns::CurrentPromptVersionId))
        .col(uuid_null(Campaigns::CreatedBy))
        .col(timestamp_with_time_zone(Campaigns::CreatedAt))
        .col(timestamp_with_time_zone(Campaigns::UpdatedAt))
        .foreign_key(&mut fk(
            Campaigns::Table,
            Campaigns::OrgId,
            Organizations::Table,
            Organizations::Id,
            ForeignKeyAction::Restrict,
        ))
        .foreign_key(&mut fk(
            Campaigns::Table,
            Campaigns::CreatedBy,
            Users::Table,
            Users::Id,
            ForeignKeyAction::SetNull,
        ))
        .to_owned();
    let mut prompt_versions = Table::create()
        .table(PromptVersions::Table)
        .col(pk_uuid(PromptVersions::Id))
        .col(uuid(PromptVersions::CampaignId))
        .col(uuid_null(PromptVersions::RunId))
        .col(integer(PromptVersions::Number).check(Expr::col(PromptVersions::Number).gt(0)))
        .col(text(PromptVersions::BasePrompt))
        .col(text_null(PromptVersions::RunInstructions))
        .col(text(PromptVersions::ComposedPrompt))
        .col(text_null(PromptVersions::VoicemailMessage))
        .col(text(PromptVersions::Diff))
        .col(uuid_null(PromptVersions::AuthorUserId))
        .col(text(PromptVersions::Reason))
        .col(timestamp_with_time_zone(PromptVersions::CreatedAt))
        // Versions belong to their campaign; campaigns are archived rather than deleted, and one
        // with runs cannot be deleted at all (runs.campaign_id is RESTRICT).
        .foreign_key(&mut fk(
            PromptVersions::Table,
            PromptVersions::CampaignId,
            Campaigns::Table,
            Campaigns::Id,
            ForeignKeyAction::Cascade,
        ))
        .foreign_key(&mut fk(
            PromptVersions::Table,
            PromptVersions::AuthorUserId,
            Users::Table,
            Users::Id,
            ForeignKeyAction::SetNull,
        ))
        .to_owned();
    if cycles == CycleKeys::Inline {
        campaigns.foreign_key(&mut current_prompt_version_fk());
        prompt_versions.foreign_key(&mut prompt_version_run_fk());
    }
    manager.create_table(campaigns).await?;
    manager.create_table(prompt_versions).await?;

    manager
        .create_table(
            Table::create()
                .table(CampaignRequests::Table)
                .col(pk_uuid(CampaignRequests::Id))
                .col(uuid(CampaignRequests::OrgId))
                .col(uuid_null(CampaignRequests::RequestedBy))
                .col(string(CampaignRequests::Name))
                .col(string(CampaignRequests::Direction))
                .col(text(CampaignRequests::Description))
                .col(text_null(CampaignRequests::MainGoal))
                .col(json_binary(CampaignRequests::DesiredAnalysis))
                .col(string(CampaignRequests::Status))
                .col(text_null(CampaignRequests::AdminNotes))
                .col(uuid_null(CampaignRequests::ResultingCampaignId))
                .col(timestamp_with_time_zone(CampaignRequests::CreatedAt))
                .col(timestamp_with_time_zone(CampaignRequests::UpdatedAt))
                .foreign_key(&mut fk(
                    CampaignRequests::Table,
                    CampaignRequests::OrgId,
                    Organizations::Table,
                    Organizations::Id,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    CampaignRequests::Table,
                    CampaignRequests::RequestedBy,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    CampaignRequests::Table,
                    CampaignRequests::ResultingCampaignId,
                    Campaigns::Table,
                    Campaigns::Id,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;

    create_indexes(
        manager,
        vec![
            // Also serves "campaigns of this org" (org_id leads), so no separate org_id index.
            unique_index(Campaigns::Table, &[Campaigns::OrgId, Campaigns::Name]),
            unique_index(PromptVersions::Table, &[PromptVersions::CampaignId, PromptVersions::Number]),
            index(PromptVersions::Table, &[PromptVersions::RunId]),
            index(CampaignRequests::Table, &[CampaignRequests::OrgId, CampaignRequests::CreatedAt]),
            // The operators' queue.
            index(CampaignRequests::Table, &[CampaignRequests::Status, CampaignRequests::CreatedAt]),
        ],
    )
    .await
}

pub(super) async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_table(manager, CampaignRequests::Table).await?;
    drop_table(manager, PromptVersions::Table).await?;
    drop_table(manager, Campaigns::Table).await
}
