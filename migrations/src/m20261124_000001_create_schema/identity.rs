//! Organizations, users and memberships: who may see what. Rows are created just in time from a
//! verified Clerk token and filled in by Clerk webhooks.

use sea_orm_migration::{prelude::*, schema::*};

use super::{create_indexes, drop_table, fk, index, unique_index};

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Organizations {
    Table,
    Id,
    ClerkOrgId,
    Name,
    Slug,
    /// IANA zone name.
    TimeZone,
    /// `{"monday": {"open": "09:00", "close": "17:00"} | null, ..., "holidays": ["2026-12-25"]}`,
    /// local times in `time_zone`; parsed by the domain's office hours type.
    OfficeHours,
    /// E.164 caller id for outbound calls; also how an inbound call finds its organization.
    CallerNumber,
    ConcurrentCallLimit,
    CallsPerMinute,
    /// The Rivvi operator organization: its members are super admins.
    IsOperator,
    CreatedAt,
    UpdatedAt,
    /// Clerk deleted the organization; its data is kept (PHI retention) but nobody can reach it.
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Users {
    Table,
    Id,
    ClerkUserId,
    Email,
    FirstName,
    LastName,
    ImageUrl,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub(super) enum Memberships {
    Table,
    Id,
    OrgId,
    UserId,
    /// `member` | `admin` (domain `Role`; `super_admin` comes from the operator org, never stored).
    Role,
    ClerkMembershipId,
    CreatedAt,
    UpdatedAt,
}

pub(super) async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Organizations::Table)
                .col(pk_uuid(Organizations::Id))
                .col(string(Organizations::ClerkOrgId))
                .col(string(Organizations::Name))
                // Clerk organizations may have no slug.
                .col(string_null(Organizations::Slug))
                .col(string(Organizations::TimeZone).default("America/New_York"))
                .col(json_binary(Organizations::OfficeHours))
                .col(string_null(Organizations::CallerNumber))
                .col(
                    integer(Organizations::ConcurrentCallLimit)
                        .default(20)
                        .check(Expr::col(Organizations::ConcurrentCallLimit).gt(0)),
                )
                .col(
                    integer(Organizations::CallsPerMinute)
                        .default(10)
                        .check(Expr::col(Organizations::CallsPerMinute).gt(0)),
                )
                .col(boolean(Organizations::IsOperator).default(false))
                .col(timestamp_with_time_zone(Organizations::CreatedAt))
                .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                .col(timestamp_with_time_zone_null(Organizations::DeletedAt))
                .to_owned(),
        )
        .await?;

    manager
        .create_table(
            Table::create()
                .table(Users::Table)
                .col(pk_uuid(Users::Id))
                .col(string(Users::ClerkUserId))
                // Unknown until the Clerk webhook arrives when the user was created just in time
                // from a token.
                .col(string_null(Users::Email))
                .col(string_null(Users::FirstName))
                .col(string_null(Users::LastName))
                .col(text_null(Users::ImageUrl))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .col(timestamp_with_time_zone_null(Users::DeletedAt))
                .to_owned(),
        )
        .await?;

    manager
        .create_table(
            Table::create()
                .table(Memberships::Table)
                .col(pk_uuid(Memberships::Id))
                .col(uuid(Memberships::OrgId))
                .col(uuid(Memberships::UserId))
                .col(string(Memberships::Role).check(Expr::col(Memberships::Role).is_in(["member", "admin"])))
                .col(string_null(Memberships::ClerkMembershipId))
                .col(timestamp_with_time_zone(Memberships::CreatedAt))
                .col(timestamp_with_time_zone(Memberships::UpdatedAt))
                // A membership means nothing without both sides.
                .foreign_key(&mut fk(
                    Memberships::Table,
                    Memberships::OrgId,
                    Organizations::Table,
                    Organizations::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    Memberships::Table,
                    Memberships::UserId,
                    Users::Table,
                    Users::Id,
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;

    create_indexes(
        manager,
        vec![
            unique_index(Organizations::Table, &[Organizations::ClerkOrgId]),
            unique_index(Users::Table, &[Users::ClerkUserId]),
            unique_index(Memberships::Table, &[Memberships::OrgId, Memberships::UserId]),
            // "Which organizations is this user in?"; the unique index above leads with org_id.
            index(Memberships::Table, &[Memberships::UserId]),
            unique_index(Memberships::Table, &[Memberships::ClerkMembershipId]),
        ],
    )
    .await
}

pub(super) async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_table(manager, Memberships::Table).await?;
    drop_table(manager, Users::Table).await?;
    drop_table(manager, Organizations::Table).await
}
