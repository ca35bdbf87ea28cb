use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "run_rows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub run_id: Uuid,
    pub org_id: Uuid,
    pub patient_id: Option<Uuid>,
    pub sort_index: i32,
    pub sheet_row: i32,
    #[sea_orm(column_type = "Blob")]
    pub variables_sealed: Vec<u8>,
    #[sea_orm(column_type = "Blob")]
    pub cells_sealed: Vec<u8>,
    /// Domain row state machine.
    pub status: String,
    pub skip_reason: Option<String>,
    pub duplicate_of: Option<Uuid>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub lease_until: Option<DateTimeUtc>,
    pub leased_by: Option<String>,
    pub outcome: Option<String>,
    /// Written before sealed call data only; moved to `analysis_sealed` at start-up.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub analysis: Option<Json>,
    /// The last call's analysis object as JSON text, sealed.
    #[sea_orm(column_type = "Blob", nullable)]
    pub analysis_sealed: Option<Vec<u8>>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
