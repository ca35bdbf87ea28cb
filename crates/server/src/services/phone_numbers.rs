//! Phone numbers: operators assign each number to one organization and release it; a clinic
//! lists its own and picks one of its outbound numbers as caller id (`organizations.update`).
//! A number assigned elsewhere cannot be assigned again (409) until it is released.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::ids::{CampaignId, OrgId};
use rivvi_domain::organization::NumberPurpose;
use rivvi_domain::{campaign::Direction, PhoneNumber};
use rivvi_persistence::phone_numbers::{self, AssignedNumber, NewAssignment};
use rivvi_persistence::{campaigns, organizations, OrgScope, Page};
use sea_orm::TransactionTrait;

use super::error::conflict_as;
use super::{audit_trail, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// What an operator asks to assign.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub org_id: OrgId,
    /// As written; normalized to E.164.
    pub number: String,
    pub purpose: NumberPurpose,
    /// An inbound campaign of that organization that answers the number.
    pub inbound_campaign_id: Option<CampaignId>,
    pub retell_number_id: Option<String>,
}

/// Assigns a number to an organization (operators), audited in that organization.
#[tracing::instrument(skip_all, fields(org_id = %request.org_id), err)]
pub async fn assign(
    state: &AppState,
    caller: &OrgCaller,
    request: Assignment,
) -> ServiceResult<AssignedNumber> {
    let number = PhoneNumber::parse(&request.number).map_err(|e| ServiceError::invalid("number", e))?;
    let retell_number_id =
        request.retell_number_id.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());
    if retell_number_id.as_ref().is_some_and(|id| id.len() > 128) {
        return Err(ServiceError::invalid("retellNumberId", "must be at most 128 characters"));
    }
    let scope = OrgScope::for_verified_org(request.org_id);
    let txn = state.db.begin().await?;
    organizations::get(&txn, &scope).await?;
    if let Some(campaign_id) = request.inbound_campaign_id {
        if !request.purpose.allows_inbound() {
            return Err(ServiceError::invalid("inboundCampaignId", "needs a number for inbound calls"));
        }
        let campaign = campaigns::get(&txn, &scope, campaign_id).await.map_err(|_| {
            ServiceError::invalid("inboundCampaignId", "is not a campaign of this organization")
        })?;
        if campaign.definition.direction() != Direction::Inbound {
            return Err(ServiceError::invalid("inboundCampaignId", "is not an inbound campaign"));
        }
    }
    let new = NewAssignment {
        number,
        purpose: request.purpose,
        inbound_campaign_id: request.inbound_campaign_id,
        retell_number_id,
    };
    let assigned = phone_numbers::assign(&txn, &scope, new)
        .await
        .map_err(conflict_as("this number is assigned already; release it first"))?;
    let fields = vec!["number".to_owned(), "purpose".to_owned()];
    audit_trail::record(&txn, caller, request.org_id, AuditAction::PhoneNumberAssigned, assigned.id, fields)
        .await?;
    txn.commit().await?;
    Ok(assigned)
}

/// Releases a number (operators): the organization holding it loses it, and its caller id if
/// it was that number. Not found when nobody holds it.
#[tracing::instrument(skip_all, err)]
pub async fn release(state: &AppState, caller: &OrgCaller, number: &str) -> ServiceResult<AssignedNumber> {
    let number = PhoneNumber::parse(number).map_err(|e| ServiceError::invalid("number", e))?;
    let txn = state.db.begin().await?;
    let Some(held) = phone_numbers::holder(&txn, &number).await? else {
        return Err(ServiceError::not_found("phone number"));
    };
    let scope = OrgScope::for_verified_org(held.org_id);
    phone_numbers::release(&txn, &scope, &number).await?;
    let fields = vec!["number".to_owned()];
    audit_trail::record(&txn, caller, held.org_id, AuditAction::PhoneNumberReleased, held.id, fields).await?;
    txn.commit().await?;
    Ok(held)
}

/// Every assignment (operators), optionally of one organization, with the total.
pub async fn list(
    state: &AppState,
    org_id: Option<OrgId>,
    page: Page,
) -> ServiceResult<(Vec<AssignedNumber>, u64)> {
    Ok(phone_numbers::list(&state.db, org_id, page).await?)
}

/// The caller's organization's numbers.
pub async fn own(state: &AppState, caller: &OrgCaller) -> ServiceResult<Vec<AssignedNumber>> {
    Ok(phone_numbers::of_org(&state.db, &caller.scope).await?)
}
