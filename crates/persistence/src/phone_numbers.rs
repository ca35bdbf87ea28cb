//! Phone numbers assigned to organizations: each number belongs to one organization at most
//! (a unique index), assigned and released by operators. An organization's caller id must be one
//! of its outbound numbers; an inbound call finds its organization by the number called.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CampaignId, OrgId};
use rivvi_domain::organization::NumberPurpose;
use rivvi_domain::PhoneNumber;
use sea_orm::prelude::Uuid;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{organizations, phone_numbers};
use crate::org_owned::InOrg;
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

/// A number and whom it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedNumber {
    pub id: Uuid,
    pub org_id: OrgId,
    pub number: PhoneNumber,
    pub purpose: NumberPurpose,
    /// The inbound campaign that answers it.
    pub inbound_campaign_id: Option<CampaignId>,
    /// The voice provider's id of the number.
    pub retell_number_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an assignment says besides its organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssignment {
    pub number: PhoneNumber,
    pub purpose: NumberPurpose,
    pub inbound_campaign_id: Option<CampaignId>,
    pub retell_number_id: Option<String>,
}

/// Assigns a number to the organization of `scope`. A number assigned anywhere already is a
/// `Conflict` on [`crate::constraints::PHONE_NUMBERS_NUMBER`].
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn assign(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    new: NewAssignment,
) -> Result<AssignedNumber> {
    let at = now();
    let row = phone_numbers::Model {
        id: Uuid::now_v7(),
        org_id: scope.org_id().as_uuid(),
        number: new.number.as_str().to_owned(),
        purpose: new.purpose.as_str().to_owned(),
        inbound_campaign_id: new.inbound_campaign_id.map(|c| c.as_uuid()),
        retell_number_id: new.retell_number_id,
        created_at: at,
        updated_at: at,
    };
    phone_numbers::Entity::insert(phone_numbers::ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await?;
    row.try_into()
}

/// The organization's numbers, by number.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn of_org(conn: &impl ConnectionTrait, scope: &OrgScope) -> Result<Vec<AssignedNumber>> {
    let rows = phone_numbers::Entity::find()
        .in_org(scope)
        .order_by_asc(phone_numbers::Column::Number)
        .all(conn)
        .await?;
    rows.into_iter().map(AssignedNumber::try_from).collect()
}

/// The organization's assignment of `number`, if it has one.
pub async fn assigned_to(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    number: &PhoneNumber,
) -> Result<Option<AssignedNumber>> {
    let row = phone_numbers::Entity::find()
        .in_org(scope)
        .filter(phone_numbers::Column::Number.eq(number.as_str()))
        .one(conn)
        .await?;
    row.map(AssignedNumber::try_from).transpose()
}

/// Whoever holds `number`, across organizations: for operators and for inbound calls (the one
/// unscoped lookup by number; the index on `number` serves it).
pub async fn holder(conn: &impl ConnectionTrait, number: &PhoneNumber) -> Result<Option<AssignedNumber>> {
    let row = phone_numbers::Entity::find()
        .filter(phone_numbers::Column::Number.eq(number.as_str()))
        .one(conn)
        .await?;
    row.map(AssignedNumber::try_from).transpose()
}

/// Every assignment (operators), optionally of one organization, by number, with the total.
pub async fn list(
    conn: &impl ConnectionTrait,
    org: Option<OrgId>,
    page: Page,
) -> Result<(Vec<AssignedNumber>, u64)> {
    let mut query = phone_numbers::Entity::find();
    if let Some(org) = org {
        query = query.in_org(&OrgScope::for_verified_org(org));
    }
    let (rows, total) = page.fetch(conn, query, |q| q.order_by_asc(phone_numbers::Column::Number)).await?;
    let numbers = rows.into_iter().map(AssignedNumber::try_from).collect::<Result<Vec<_>>>()?;
    Ok((numbers, total))
}

/// Releases a number of the organization of `scope` and clears it as that organization's caller
/// id if it was; `false` when the organization did not hold it.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn release(conn: &impl ConnectionTrait, scope: &OrgScope, number: &PhoneNumber) -> Result<bool> {
    let deleted = phone_numbers::Entity::delete_many()
        .filter(phone_numbers::Column::Number.eq(number.as_str()))
        .in_org(scope)
        .exec(conn)
        .await?;
    if deleted.rows_affected == 0 {
        return Ok(false);
    }
    organizations::Entity::update_many()
        .col_expr(
            organizations::Column::CallerNumber,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(organizations::Column::Id.eq(scope.org_id().as_uuid()))
        .filter(organizations::Column::CallerNumber.eq(number.as_str()))
        .exec(conn)
        .await?;
    Ok(true)
}

impl TryFrom<phone_numbers::Model> for AssignedNumber {
    type Error = PersistenceError;

    fn try_from(row: phone_numbers::Model) -> Result<Self> {
        let corrupt = |column| PersistenceError::Corrupt { table: "phone_numbers", column };
        Ok(AssignedNumber {
            id: row.id,
            org_id: OrgId(row.org_id),
            number: PhoneNumber::parse_e164_strict(&row.number).map_err(|_| corrupt("number"))?,
            purpose: row.purpose.parse().map_err(|_| corrupt("purpose"))?,
            inbound_campaign_id: row.inbound_campaign_id.map(CampaignId),
            retell_number_id: row.retell_number_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
