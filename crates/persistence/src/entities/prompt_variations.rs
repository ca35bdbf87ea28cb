use sea_orm::entity::prelude::*;

/// A suggested prompt variation: written once, then marked applied at most once.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "prompt_variations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub campaign_id: Uuid,
    pub author_user_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub request: String,
    #[sea_orm(column_type = "Text")]
    pub base_prompt: String,
    #[sea_orm(column_type = "Text")]
    pub proposed_prompt: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    #[sea_orm(column_type = "Text")]
    pub diff: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub warnings: Json,
    pub applied_version_id: Option<Uuid>,
    pub applied_by: Option<Uuid>,
    pub applied_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
