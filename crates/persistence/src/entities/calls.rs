use sea_orm::entity::prelude::*;

/// One call per attempt of a row (`ux_calls_row_id_attempt`; inbound calls have no row), and a
/// provider id used once (`ux_calls_provider_call_id`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// `outbound` | `inbound`.
    pub direction: String,
    pub run_id: Option<Uuid>,
    pub row_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub provider_call_id: Option<String>,
    /// Domain call state machine.
    pub status: String,
    pub outcome: Option<String>,
    #[sea_orm(column_type = "Blob")]
    pub from_number_sealed: Vec<u8>,
    #[sea_orm(column_type = "Blob")]
    pub to_number_sealed: Vec<u8>,
    pub attempt: i32,
    pub started_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    pub disconnection_reason: Option<String>,
    #[sea_orm(column_type = "Blob", nullable)]
    pub transcript_sealed: Option<Vec<u8>>,
    #[sea_orm(column_type = "Blob", nullable)]
    pub summary_sealed: Option<Vec<u8>>,
    /// Written before sealed call data only; moved to `recording_url_sealed` at start-up.
    #[sea_orm(column_type = "Text", nullable)]
    pub recording_url: Option<String>,
    #[sea_orm(column_type = "Blob", nullable)]
    pub recording_url_sealed: Option<Vec<u8>>,
    /// Written before sealed call data only; moved to `analysis_sealed` at start-up.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub analysis: Option<Json>,
    /// The provider's analysis object as JSON text, sealed.
    #[sea_orm(column_type = "Blob", nullable)]
    pub analysis_sealed: Option<Vec<u8>>,
    pub related_call_id: Option<Uuid>,
    pub local_hour: Option<i32>,
    pub local_date: Option<Date>,
    pub local_weekday: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
