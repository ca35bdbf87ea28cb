//! Inbound campaigns answer with a pinned agent version (issue 12, item 2):
//! `campaigns.inbound_agent_version` is the published agent version that carries an inbound
//! campaign's current prompt, voicemail text and analysis fields; the inbound call webhook
//! names it. Null for outbound campaigns (each run pins its own) and for inbound campaigns
//! saved before this migration (they answer with the agent's latest version until edited).
//! `down` drops the column.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Campaigns {
    Table,
    InboundAgentVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Campaigns::Table)
                    .add_column(integer_null(Campaigns::InboundAgentVersion))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Campaigns::Table).drop_column(Campaigns::InboundAgentVersion).to_owned(),
            )
            .await
    }
}
