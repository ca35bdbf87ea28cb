//! Outreach: patients, uploaded sheets, runs over them, one row per call target, and the calls.

use sea_orm_migration::{prelude::*, schema::*};

use super::campaigns::{Campaigns, PromptVersions};
use super::identity::{Organizations, Users};
use super::{create_indexes, drop_table, fk, index, unique_index};

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Patients {
    Table,
    Id,
    OrgId,
    FirstNameSealed,
    LastNameSealed,
    DobSealed,
    PhoneSealed,
    SecondaryPhoneSealed,
    MrnSealed,
    /// Hex HMAC of canonical name + date of birth + phone: one patient per person per org.
    IdentityKey,
    /// Hex HMAC of the E.164 phone, for inbound lookup and the do-not-call check.
    PhoneKey,
    SecondaryPhoneKey,
    /// Which data key sealed the columns above (key rotation).
    KeyId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Uploads {
    Table,
    Id,
    OrgId,
    UploadedBy,
    FileName,
    MediaType,
    SizeBytes,
    /// Hex SHA-256 of the stored bytes.
    Sha256,
    StorageKey,
    /// Domain upload status.
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Runs {
    Table,
    Id,
    OrgId,
    CampaignId,
    UploadId,
    Name,
    /// `draft` | `ready` | `scheduled` | `running` | `paused` | `completed` | `cancelled` |
    /// `failed` (domain run state machine).
    Status,
    /// The prompt this run is pinned to.
    PromptVersionId,
    Instructions,
    ScheduledAt,
    StartedAt,
    FinishedAt,
    PauseReason,
    /// Calls per minute, max attempts, retry delays, patient-time-zone window.
    Settings,
    /// The client's idempotency key for `runs.create`.
    ClientRequestId,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum RunRows {
    Table,
    Id,
    RunId,
    OrgId,
    PatientId,
    /// Order within the run (original file order).
    SortIndex,
    /// 1-based row number in the sheet, for error messages.
    SheetRow,
    VariablesSealed,
    /// Every original cell of the sheet row, so nothing is lost.
    CellsSealed,
    /// `pending` | `dialing` | `in_call` | `completed` | `failed` | `skipped` | `cancelled`
    /// (domain row state machine).
    Status,
    SkipReason,
    /// The earlier row of the same run for the same patient.
    DuplicateOf,
    Attempts,
    NextAttemptAt,
    /// The dispatching instance owns the row until then; past it, recovery reconciles the row.
    LeaseUntil,
    LeasedBy,
    /// Domain call outcome of the last attempt.
    Outcome,
    Analysis,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Calls {
    Table,
    Id,
    OrgId,
    /// `outbound` | `inbound` (domain call direction).
    Direction,
    RunId,
    RowId,
    CampaignId,
    PatientId,
    ProviderCallId,
    /// `registered` | `ongoing` | `ended` | `error` | `not_connected` (domain call state machine).
    Status,
    /// `reached` | `voicemail` | `no_answer` | `busy` | `failed` (domain call outcome).
    Outcome,
    /// Sealed: one side of every call is the patient's phone number.
    FromNumberSealed,
    ToNumberSealed,
    Attempt,
    StartedAt,
    EndedAt,
    DurationMs,
    DisconnectionReason,
    TranscriptSealed,
    SummarySealed,
    RecordingUrl,
    Analysis,
    /// Inbound callback -> the outbound call it answers.
    RelatedCallId,
    /// Hour (0-23), date and ISO weekday (1 = Monday) of `started_at` (else `created_at`) in the
    /// org's zone, so analytics group by plain columns on both databases.
    LocalHour,
    LocalDate,
    LocalWeekday,
    CreatedAt,
    UpdatedAt,
}

pub(super) async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Patients::Table)
                .col(pk_uuid(Patients::Id))
                .col(uuid(Patients::OrgId))
                .col(blob(Patients::FirstNameSealed))
                .col(blob(Patients::LastNameSealed))
                .col(blob(Patients::DobSealed))
                .col(blob(Patients::PhoneSealed))
                .col(blob_null(Patients::SecondaryPhoneSealed))
                .col(blob_null(Patients::MrnSealed))
                .col(string(Patients::IdentityKey))
                .col(string(Patients::PhoneKey))
                .col(string_null(Patients::SecondaryPhoneKey))
                .col(string(Patients::KeyId))
                .col(timestamp_with_time_zone(Patients::CreatedAt))
                .col(timestamp_with_time_zone(Patients::UpdatedAt))
                .foreign_key(&mut fk(
                    Patients::Table,
                    Patients::OrgId,
                    Organizations::Table,
                    Organizations::Id,
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
        )
        .await?;

    manager
        .create_table(
            Table::create()
                .table(Uploads::Table)
                .col(pk_uuid(Uploads::Id))
                .col(uuid(Uploads::OrgId))
                .col(uuid_null(Uploads::UploadedBy))
                .col(string(Uploads::FileName))
                .col(string(Uploads::MediaType))
                .col(big_integer(Uploads::SizeBytes).check(Expr::col(Uploads::SizeBytes).gte(0)))
                .col(string(Uploads::Sha256))
                .col(string(Uploads::StorageKey))
                .col(string(Uploads::Status))
                .col(timestamp_with_time_zone(Uploads::CreatedAt))
                .col(timestamp_with_time_zone(Uploads::UpdatedAt))
                .foreign_key(&mut fk(
                    Uploads::Table,
                    Uploads::OrgId,
                    Organizations::Table,
                    Organizations::Id,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    Uploads::Table,
                    Uploads::UploadedBy,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;

    manager
        .create_table(
            Table::create()
                .table(Runs::Table)
                .col(pk_uuid(Runs::Id))
                .col(uuid(Runs::OrgId))
                .col(uuid(Runs::CampaignId))
                .col(uuid_null(Runs::UploadId))
                .col(string(Runs::Name))
                .col(string(Runs::Status))
                .col(uuid_null(Runs::PromptVersionId))
                .col(text_null(Runs::Instructions))
                .col(timestamp_with_time_zone_null(Runs::ScheduledAt))
                .col(timestamp_with_time_zone_null(Runs::StartedAt))
                .col(timestamp_with_time_zone_null(Runs::FinishedAt))
                .col(text_null(Runs::PauseReason))
                .col(json_binary(Runs::Settings))
                .col(string_null(Runs::ClientRequestId))
                .col(uuid_null(Runs::CreatedBy))
                .col(timestamp_with_time_zone(Runs::CreatedAt))
                .col(timestamp_with_time_zone(Runs::UpdatedAt))
                .foreign_key(&mut fk(
                    Runs::Table,
                    Runs::OrgId,
                    Organizations::Table,
                    Organizations::Id,
                    ForeignKeyAction::Restrict,
                ))
                // A campaign with runs keeps its history: archive it instead.
                .foreign_key(&mut fk(
                    Runs::Table,
                    Runs::CampaignId,
                    Campaigns::Table,
                    Campaigns::Id,
                    ForeignKeyAction::Restrict,
                ))
                // The sheet may be purged from storage after retention; the rows keep every cell.
                .foreign_key(&mut fk(
                    Runs::Table,
                    Runs::UploadId,
                    Uploads::Table,
                    Uploads::Id,
                    ForeignKeyAction::SetNull,
                ))
                // Prompt versions are append-only: never deleted while a run is pinned to one.
                .foreign_key(&mut fk(
                    Runs::Table,
                    Runs::PromptVersionId,
                    PromptVersions::Table,
                    PromptVersions::Id,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    Runs::Table,
                    Runs::CreatedBy,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;

    manager
        .create_table(
            Table::create()
                .table(RunRows::Table)
                .col(pk_uuid(RunRows::Id))
                .col(uuid(RunRows::RunId))
                .col(uuid(RunRows::OrgId))
                .col(uuid_null(RunRows::PatientId))
                .col(integer(RunRows::SortIndex))
                .col(integer(RunRows::SheetRow))
                .col(blob(RunRows::VariablesSealed))
                .col(blob(RunRows::CellsSealed))
                .col(string(RunRows::Status))
                .col(string_null(RunRows::SkipReason))
                .col(uuid_null(RunRows::DuplicateOf))
                .col(integer(RunRows::Attempts).default(0).check(Expr::col(RunRows::Attempts).gte(0)))
                .col(timestamp_with_time_zone_null(RunRows::NextAttemptAt))
                .col(timestamp_with_time_zone_null(RunRows::LeaseUntil))
                .col(string_null(RunRows::LeasedBy))
                .col(string_null(RunRows::Outcome))
                .col(json_binary_null(RunRows::Analysis))
                .col(text_null(RunRows::LastError))
                .col(timestamp_with_time_zone(RunRows::CreatedAt))
                .col(timestamp_with_time_zone(RunRows::UpdatedAt))
                // Deleting a run (only possible while it has no calls: calls.row_id is RESTRICT)
                // removes its rows.
                .foreign_key(&mut fk(
                    RunRows::Table,
                    RunRows::RunId,
                    Runs::Table,
                    Runs::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    RunRows::Table,
                    RunRows::OrgId,
                    Organizations::Table,
                    Organizations::Id,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    RunRows::Table,
                    RunRows::PatientId,
                    Patients::Table,
                    Patients::Id,
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    RunRows::Table,
                    RunRows::DuplicateOf,
                    RunRows::Table,
                    RunRows::Id,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;

    manager
        .create_table(
            Table::create()
                .table(Calls::Table)
                .col(pk_uuid(Calls::Id))
                .col(uuid(Calls::OrgId))
                .col(string(Calls::Direction))
                .col(uuid_null(Calls::RunId))
                .col(uuid_null(Calls::RowId))
                .col(uuid_null(Calls::CampaignId))
                .col(uuid_null(Calls::PatientId))
                .col(string_null(Calls::ProviderCallId))
                .col(string(Calls::Status))
                .col(string_null(Calls::Outcome))
                .col(blob(Calls::FromNumberSealed))
                .col(blob(Calls::ToNumberSealed))
                .col(integer(Calls::Attempt).check(Expr::col(Calls::Attempt).gte(0)))
                .col(timestamp_with_time_zone_null(Calls::StartedAt))
                .col(timestamp_with_time_zone_null(Calls::EndedAt))
                .col(big_integer_null(Calls::DurationMs))
                .col(string_null(Calls::DisconnectionReason))
                .col(blob_null(Calls::TranscriptSealed))
                .col(blob_null(Calls::SummarySealed))
                .col(text_null(Calls::RecordingUrl))
                .col(json_binary_null(Calls::Analysis))
                .col(uuid_null(Calls::RelatedCallId))
                .col(integer_null(Calls::LocalHour))
                .col(date_null(Calls::LocalDate))
                .col(integer_null(Calls::LocalWeekday))
                .col(timestamp_with_time_zone(Calls::CreatedAt))
                .col(timestamp_with_time_zone(Calls::UpdatedAt))
                .foreign_key(&mut fk(
                    Calls::Table,
                    Calls::OrgId,
                    Organizations::Table,
                    Organizations::Id,
                    ForeignKeyAction::Restrict,
                ))
                // Calls are the record of what happened: their run, row and campaign stay.
                .foreign_key(&mut fk(
                    Calls::Table,
                    Calls::RunId,
                    Runs::Table,
                    Runs::Id,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    Calls::Table,
                    Calls::RowId,
                    RunRows::Table,
                    RunRows::Id,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    Calls::Table,
                    Calls::CampaignId,
                    Campaigns::Table,
                    Campaigns::Id,
                    ForeignKeyAction::Restrict,
                ))
                // Erasing a patient keeps the (sealed) call statistics, unlinked.
                .foreign_key(&mut fk(
                    Calls::Table,
                    Calls::PatientId,
                    Patients::Table,
                    Patients::Id,
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    Calls::Table,
                    Calls::RelatedCallId,
                    Calls::Table,
                    Calls::Id,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;

    create_indexes(
        manager,
        vec![
            unique_index(Patients::Table, &[Patients::OrgId, Patients::IdentityKey]),
            index(Patients::Table, &[Patients::OrgId, Patients::PhoneKey]),
            index(Patients::Table, &[Patients::OrgId, Patients::SecondaryPhoneKey]),
            // "Was this file uploaded before?"
            index(Uploads::Table, &[Uploads::OrgId, Uploads::Sha256]),
            unique_index(Uploads::Table, &[Uploads::StorageKey]),
            // Idempotent `runs.create`; NULLs (no key sent) never collide.
            unique_index(Runs::Table, &[Runs::OrgId, Runs::ClientRequestId]),
            // The scheduler: due scheduled runs, running runs.
            index(Runs::Table, &[Runs::Status, Runs::ScheduledAt]),
            index(Runs::Table, &[Runs::OrgId, Runs::CampaignId]),
            // One row per sheet position: re-submitting the same file to a run is a no-op.
            unique_index(RunRows::Table, &[RunRows::RunId, RunRows::SortIndex]),
            // The dispatcher's claim: pending rows of a run whose next attempt is due, in order.
            index(
                RunRows::Table,
                &[RunRows::RunId, RunRows::Status, RunRows::NextAttemptAt, RunRows::SortIndex],
            ),
            // Recovery: rows whose lease expired.
            index(RunRows::Table, &[RunRows::Status, RunRows::LeaseUntil]),
            index(RunRows::Table, &[RunRows::OrgId, RunRows::PatientId]),
            unique_index(Calls::Table, &[Calls::ProviderCallId]),
            index(Calls::Table, &[Calls::OrgId, Calls::CreatedAt]),
            index(Calls::Table, &[Calls::RunId]),
            index(Calls::Table, &[Calls::RowId]),
            index(Calls::Table, &[Calls::PatientId]),
            index(Calls::Table, &[Calls::CampaignId]),
            index(Calls::Table, &[Calls::Status]),
        ],
    )
    .await
}

pub(super) async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_table(manager, Calls::Table).await?;
    drop_table(manager, RunRows::Table).await?;
    drop_table(manager, Runs::Table).await?;
    drop_table(manager, Uploads::Table).await?;
    drop_table(manager, Patients::Table).await
}
