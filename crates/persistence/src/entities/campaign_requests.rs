use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub requested_by: Option<Uuid>,
    pub name: String,
    /// `outbound` | `inbound`.
    pub direction: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub main_goal: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub desired_analysis: Json,
    /// `pending` | `approved` | `in_progress` | `rejected` | `completed`.
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub admin_notes: Option<String>,
    pub resulting_campaign_id: Option<Uuid>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub desired_variables: Option<Json>,
    pub sample_upload_id: Option<Uuid>,
    pub due_date: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
