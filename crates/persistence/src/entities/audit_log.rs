use sea_orm::entity::prelude::*;

/// Append-only: rows are inserted, never updated.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    /// `user` | `super_admin` | `webhook` | `system`.
    pub actor_kind: String,
    pub actor_user_id: Option<Uuid>,
    pub actor_label: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    /// A JSON array of changed field names.
    #[sea_orm(column_type = "JsonBinary")]
    pub changes: Json,
    pub request_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
