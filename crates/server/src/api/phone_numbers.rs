//! Phone numbers: `admin.phoneNumbers.assign|release|list` (operators assign each number to one
//! organization) and `organizations.phoneNumbers` (a clinic's own numbers, to pick its caller id
//! from). Mounted by `admin` and `organizations`.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CampaignId, OrgId};
use rivvi_domain::organization::NumberPurpose;
use rivvi_domain::Role;
use rivvi_persistence::phone_numbers::AssignedNumber;
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::ApiResult;
use super::Ctx;
use crate::services::phone_numbers::{self, Assignment};

/// A phone number and the organization it is assigned to.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumber {
    /// E.164.
    pub number: String,
    pub org_id: OrgId,
    pub purpose: NumberPurpose,
    /// The inbound campaign that answers it.
    pub inbound_campaign_id: Option<CampaignId>,
    /// The voice provider's id of the number.
    pub retell_number_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<AssignedNumber> for PhoneNumber {
    fn from(n: AssignedNumber) -> Self {
        PhoneNumber {
            number: n.number.as_str().to_owned(),
            org_id: n.org_id,
            purpose: n.purpose,
            inbound_campaign_id: n.inbound_campaign_id,
            retell_number_id: n.retell_number_id,
            created_at: n.created_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignPhoneNumber {
    /// The organization that gets the number.
    pub org_id: OrgId,
    /// The number, E.164 or as people write it (`(312) 555-0100`).
    pub number: String,
    pub purpose: NumberPurpose,
    /// For inbound numbers: the organization's inbound campaign that answers.
    #[specta(optional)]
    pub inbound_campaign_id: Option<CampaignId>,
    /// The voice provider's id of the number.
    #[specta(optional)]
    pub retell_number_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleasePhoneNumber {
    pub number: String,
}

paged_input! {
    pub struct PhoneNumberSearch {
        /// Only this organization's numbers.
        #[specta(optional)]
        pub org_id: Option<OrgId>,
    }
}

page_output! {
    pub struct PhoneNumberPage { phone_numbers: PhoneNumber }
}

pub(super) async fn assign(ctx: &Ctx, input: AssignPhoneNumber) -> ApiResult<PhoneNumber> {
    let caller = ctx.require(Role::SuperAdmin)?;
    let request = Assignment {
        org_id: input.org_id,
        number: input.number,
        purpose: input.purpose,
        inbound_campaign_id: input.inbound_campaign_id,
        retell_number_id: input.retell_number_id,
    };
    Ok(phone_numbers::assign(&ctx.state, &caller, request).await?.into())
}

pub(super) async fn release(ctx: &Ctx, input: ReleasePhoneNumber) -> ApiResult<PhoneNumber> {
    let caller = ctx.require(Role::SuperAdmin)?;
    Ok(phone_numbers::release(&ctx.state, &caller, &input.number).await?.into())
}

pub(super) async fn list(ctx: &Ctx, input: PhoneNumberSearch) -> ApiResult<PhoneNumberPage> {
    ctx.require(Role::SuperAdmin)?;
    let page = input.page()?;
    let (found, total) = phone_numbers::list(&ctx.state, input.org_id, page).await?;
    Ok(PhoneNumberPage::of(page, found, total, PhoneNumber::from))
}

/// The caller's organization's numbers.
pub(super) async fn own(ctx: &Ctx) -> ApiResult<Vec<PhoneNumber>> {
    let caller = ctx.require(Role::Member)?;
    Ok(phone_numbers::own(&ctx.state, &caller).await?.into_iter().map(PhoneNumber::from).collect())
}
