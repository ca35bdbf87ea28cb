use sea_orm::entity::prelude::*;

/// One upload per file per organization (`ux_uploads_org_id_sha256`), one per storage key
/// (`ux_uploads_storage_key`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub uploaded_by: Option<Uuid>,
    /// Empty since sealed call data; written before, moved to `file_name_sealed` at start-up.
    pub file_name: String,
    #[sea_orm(column_type = "Blob", nullable)]
    pub file_name_sealed: Option<Vec<u8>>,
    pub media_type: String,
    pub size_bytes: i64,
    /// Lowercase hex SHA-256 of the stored bytes.
    pub sha256: String,
    pub storage_key: String,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
