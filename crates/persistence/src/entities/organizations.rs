use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub clerk_org_id: String,
    pub name: String,
    pub slug: Option<String>,
    pub time_zone: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub office_hours: Json,
    pub caller_number: Option<String>,
    pub concurrent_call_limit: i32,
    pub calls_per_minute: i32,
    pub upload_retention_days: i32,
    pub transcript_retention_days: i32,
    pub is_operator: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
