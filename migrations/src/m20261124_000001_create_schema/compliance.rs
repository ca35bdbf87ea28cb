//! Compliance: webhook replay protection, the audit trail and the do-not-call list.

use sea_orm_migration::{prelude::*, schema::*};

use super::identity::{Organizations, Users};
use super::{create_indexes, drop_table, fk, index, unique_index};

#[derive(DeriveIden, Clone, Copy)]
pub(super) enum WebhookEvents {
    Table,
    Id,
    /// `clerk` | `retell` | ...
    Source,
    /// `svix-id` for Clerk, the provider's event id for Retell.
    IdempotencyKey,
    ReceivedAt,
    ProcessedAt,
    Outcome,
}

#[derive(DeriveIden, Clone, Copy)]
pub(super) enum AuditLog {
    Table,
    Id,
    /// Null for super admin actions outside any organization.
    OrgId,
    /// `user` | `super_admin` | `webhook` | `system`.
    ActorKind,
    /// No foreign key on purpose: the audit log is append-only and outlives the user row, so
    /// neither a cascade nor SET NULL may ever rewrite it. `actor_label` keeps who it was.
    ActorUserId,
    ActorLabel,
    Action,
    EntityType,
    EntityId,
    /// The names of the changed fields, never their values (PHI).
    Changes,
    RequestId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum DoNotCall {
    Table,
    Id,
    OrgId,
    /// Hex HMAC of the E.164 phone: the list holds no phone number.
    PhoneKey,
    Reason,
    AddedBy,
    CreatedAt,
}

pub(super) async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(WebhookEvents::Table)
                .col(pk_uuid(WebhookEvents::Id))
                .col(string(WebhookEvents::Source))
                .col(string(WebhookEvents::IdempotencyKey))
                .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                .col(timestamp_with_time_zone_null(WebhookEvents::ProcessedAt))
                .col(string_null(WebhookEvents::Outcome))
                .to_owned(),
        )
        .await?;

    manager
        .create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(pk_uuid(AuditLog::Id))
                .col(uuid_null(AuditLog::OrgId))
                .col(string(AuditLog::ActorKind))
                .col(uuid_null(AuditLog::ActorUserId))
                .col(string(AuditLog::ActorLabel))
                .col(string(AuditLog::Action))
                .col(string(AuditLog::EntityType))
                .col(string_null(AuditLog::EntityId))
                .col(json_binary(AuditLog::Changes))
                .col(string_null(AuditLog::RequestId))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                // The trail must survive any purge of the organization's data.
                .foreign_key(&mut fk(
                    AuditLog::Table,
                    AuditLog::OrgId,
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
                .table(DoNotCall::Table)
                .col(pk_uuid(DoNotCall::Id))
                .col(uuid(DoNotCall::OrgId))
                .col(string(DoNotCall::PhoneKey))
                .col(text(DoNotCall::Reason))
                .col(uuid_null(DoNotCall::AddedBy))
                .col(timestamp_with_time_zone(DoNotCall::CreatedAt))
                .foreign_key(&mut fk(
                    DoNotCall::Table,
                    DoNotCall::OrgId,
                    Organizations::Table,
                    Organizations::Id,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    DoNotCall::Table,
                    DoNotCall::AddedBy,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;

    create_indexes(
        manager,
        vec![
            unique_index(WebhookEvents::Table, &[WebhookEvents::Source, WebhookEvents::IdempotencyKey]),
            // Pruning old events.
            index(WebhookEvents::Table, &[WebhookEvents::ReceivedAt]),
            index(AuditLog::Table, &[AuditLog::OrgId, AuditLog::CreatedAt]),
            index(AuditLog::Table, &[AuditLog::OrgId, AuditLog::EntityType, AuditLog::EntityId]),
            index(AuditLog::Table, &[AuditLog::ActorUserId]),
            unique_index(DoNotCall::Table, &[DoNotCall::OrgId, DoNotCall::PhoneKey]),
        ],
    )
    .await
}

pub(super) async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_table(manager, DoNotCall::Table).await?;
    drop_table(manager, AuditLog::Table).await?;
    drop_table(manager, WebhookEvents::Table).await
}
