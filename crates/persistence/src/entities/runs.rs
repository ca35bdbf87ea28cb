use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub campaign_id: Uuid,
    pub upload_id: Option<Uuid>,
    pub name: String,
    /// Domain run state machine.
    pub status: String,
    pub prompt_version_id: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub instructions: Option<String>,
    pub scheduled_at: Option<DateTimeUtc>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub pause_reason: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub settings: Json,
    pub client_request_id: Option<String>,
    pub created_by: Option<Uuid>,
    /// The sheet's header row, sealed (JSON array of strings); `None` for runs created before
    /// header rows were kept.
    #[sea_orm(column_type = "Blob", nullable)]
    pub headers_sealed: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
