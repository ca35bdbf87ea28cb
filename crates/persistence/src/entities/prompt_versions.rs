use sea_orm::entity::prelude::*;

/// Append-only: rows are inserted, never updated. A run's version carries its snapshot: the
/// published agent version and the variables and analysis fields frozen with it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "prompt_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub run_id: Option<Uuid>,
    pub number: i32,
    #[sea_orm(column_type = "Text")]
    pub base_prompt: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub run_instructions: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub composed_prompt: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub voicemail_message: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub diff: String,
    pub author_user_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub created_at: DateTimeUtc,
    pub agent_id: Option<String>,
    pub agent_version: Option<i32>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub variables: Option<Json>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub analysis_fields: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
