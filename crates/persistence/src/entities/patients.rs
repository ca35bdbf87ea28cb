use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "patients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    #[sea_orm(column_type = "Blob")]
    pub first_name_sealed: Vec<u8>,
    #[sea_orm(column_type = "Blob")]
    pub last_name_sealed: Vec<u8>,
    #[sea_orm(column_type = "Blob")]
    pub dob_sealed: Vec<u8>,
    #[sea_orm(column_type = "Blob")]
    pub phone_sealed: Vec<u8>,
    #[sea_orm(column_type = "Blob", nullable)]
    pub secondary_phone_sealed: Option<Vec<u8>>,
    #[sea_orm(column_type = "Blob", nullable)]
    pub mrn_sealed: Option<Vec<u8>>,
    pub identity_key: String,
    pub phone_key: String,
    pub secondary_phone_key: Option<String>,
    pub key_id: String,
    /// `sealing::LookupScheme` code of the lookup keys.
    pub lookup_scheme: i16,
    /// HMAC of the folded MRN; unique per organization where present.
    pub mrn_key: Option<String>,
    /// HMAC of the folded `first|last|birth date`.
    pub name_dob_key: Option<String>,
    /// Written before `mrn_key` and `name_dob_key` existed: the server computes them at start-up.
    pub match_keys_pending: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
