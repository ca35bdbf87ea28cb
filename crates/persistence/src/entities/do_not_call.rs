use sea_orm::entity::prelude::*;

/// One number per organization (`ux_do_not_call_org_id_phone_key`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "do_not_call")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// Hex HMAC of the E.164 number: what the dialler checks.
    pub phone_key: String,
    /// `sealing::LookupScheme` code of `phone_key`.
    pub lookup_scheme: i16,
    /// The E.164 number, sealed (AAD `do_not_call/number_sealed/<id>`); `None` for entries
    /// written before numbers were kept.
    #[sea_orm(column_type = "Blob", nullable)]
    pub number_sealed: Option<Vec<u8>>,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub added_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
