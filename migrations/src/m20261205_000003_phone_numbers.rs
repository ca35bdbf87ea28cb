//! Phone numbers are assigned to organizations by operators, not claimed (issue 12).
//!
//! `phone_numbers`: one row per number (E.164, unique across all organizations), its
//! organization, what it is for (`outbound`, `inbound`, `both`), the inbound campaign that
//! answers it and the provider's number id. `organizations.caller_number` stays as the caller id
//! an organization chose, which must now be one of its outbound numbers.
//!
//! Existing caller numbers become assignments (`both`, id = the organization's id, which is
//! unique since an organization had one number). A number that several live organizations had
//! set is assigned to none of them: the migration logs each such conflict (the number's last four
//! digits and the organizations' ids) and clears it from those organizations, so an operator
//! decides who owns it. `down` drops the table; cleared caller numbers are not restored.

use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_schema::{fk, index, unique_index, Campaigns, Organizations};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum PhoneNumbers {
    Table,
    Id,
    OrgId,
    /// E.164.
    Number,
    /// `outbound` | `inbound` | `both`.
    Purpose,
    /// The inbound campaign that answers calls to it.
    InboundCampaignId,
    /// The voice provider's id of the number, when known.
    RetellNumberId,
    CreatedAt,
    UpdatedAt,
}

/// Live organizations sharing `o`'s caller number (`o` included).
const HOLDERS: &str = "(SELECT COUNT(*) FROM organizations d \
     WHERE d.caller_number = o.caller_number AND d.deleted_at IS NULL)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PhoneNumbers::Table)
                    .col(pk_uuid(PhoneNumbers::Id))
                    .col(uuid(PhoneNumbers::OrgId))
                    .col(string(PhoneNumbers::Number))
                    .col(string(PhoneNumbers::Purpose))
                    .col(uuid_null(PhoneNumbers::InboundCampaignId))
                    .col(string_null(PhoneNumbers::RetellNumberId))
                    .col(timestamp_with_time_zone(PhoneNumbers::CreatedAt))
                    .col(timestamp_with_time_zone(PhoneNumbers::UpdatedAt))
                    .foreign_key(&mut fk(
                        PhoneNumbers::Table,
                        PhoneNumbers::OrgId,
                        Organizations::Table,
                        Organizations::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        PhoneNumbers::Table,
                        PhoneNumbers::InboundCampaignId,
                        Campaigns::Table,
                        Campaigns::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique_index(PhoneNumbers::Table, &[PhoneNumbers::Number])).await?;
        manager.create_index(index(PhoneNumbers::Table, &[PhoneNumbers::OrgId])).await?;

        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO phone_numbers (id, org_id, number, purpose, created_at, updated_at) \
             SELECT o.id, o.id, o.caller_number, 'both', o.updated_at, o.updated_at FROM organizations o \
             WHERE o.caller_number IS NOT NULL AND o.deleted_at IS NULL AND {HOLDERS} = 1"
        ))
        .await?;
        let conflicts = db
            .query_all(Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT o.caller_number AS number, o.clerk_org_id AS org FROM organizations o \
                     WHERE o.caller_number IS NOT NULL AND o.deleted_at IS NULL AND {HOLDERS} > 1 \
                     ORDER BY o.caller_number, o.clerk_org_id"
                ),
            ))
            .await?;
        for row in &conflicts {
            let number: String = row.try_get("", "number")?;
            let org: String = row.try_get("", "org")?;
            let last4 = &number[number.len().saturating_sub(4)..];
            tracing::warn!(
                number_last4 = last4,
                clerk_org_id = %org,
                "caller number set by several organizations: assigned to none of them and cleared; \
                 an operator assigns it (admin.phoneNumbers.assign)"
            );
        }
        db.execute_unprepared(&format!(
            "UPDATE organizations SET caller_number = NULL WHERE id IN ( \
               SELECT o.id FROM organizations o \
               WHERE o.caller_number IS NOT NULL AND o.deleted_at IS NULL AND {HOLDERS} > 1)"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PhoneNumbers::Table).to_owned()).await
    }
}
