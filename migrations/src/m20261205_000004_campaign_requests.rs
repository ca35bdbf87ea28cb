//! What a clinic's campaign request carries besides its name, goal and description (issue 12):
//! the variables it wants (`desired_variables`, a JSON list of names), a sample upload of its
//! sheets (`sample_upload_id`, checked to be the clinic's own when written) and a due date.
//! `down` drops the three columns.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum CampaignRequests {
    Table,
    DesiredVariables,
    SampleUploadId,
    DueDate,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            json_binary_null(CampaignRequests::DesiredVariables),
            uuid_null(CampaignRequests::SampleUploadId),
            date_null(CampaignRequests::DueDate),
        ] {
            let mut column = column;
            manager
                .alter_table(Table::alter().table(CampaignRequests::Table).add_column(&mut column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in
            [CampaignRequests::DueDate, CampaignRequests::SampleUploadId, CampaignRequests::DesiredVariables]
        {
            manager
                .alter_table(Table::alter().table(CampaignRequests::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
