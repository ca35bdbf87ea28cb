use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// `outbound` | `inbound`.
    pub direction: String,
    /// `active` | `paused` | `archived`.
    pub status: String,
    pub agent_id: String,
    #[sea_orm(column_type = "Text")]
    pub base_prompt: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub voicemail_message: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub variables: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub analysis_fields: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub retry_policy: Json,
    pub current_prompt_version_id: Option<Uuid>,
    pub inbound_agent_version: Option<i32>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
