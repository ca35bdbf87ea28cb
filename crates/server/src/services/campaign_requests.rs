//! Campaign requests: a clinic admin asks operators for a campaign; clinic members read their
//! own; operators list every clinic's, take or decline one with a note, and fulfil it by linking
//! the campaign they built. The status moves by `domain`'s state machine only; every change is
//! audited in the clinic.

use rivvi_domain::audit::AuditAction;
use rivvi_domain::campaign::request::CampaignRequestInput;
use rivvi_domain::ids::{CampaignId, CampaignRequestId, OrgId};
use rivvi_domain::lifecycle::{CampaignRequestEvent, CampaignRequestStatus};
use rivvi_domain::validation::multi_line;
use rivvi_persistence::campaign_requests::{self, CampaignRequest, StatusChange};
use rivvi_persistence::{campaigns, uploads, OrgScope, Page};
use sea_orm::TransactionTrait;

use super::{audit_trail, ServiceError, ServiceResult};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// The longest operator note.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// A clinic admin's request, pending, audited.
#[tracing::instrument(skip_all, fields(org_id = %caller.scope), err)]
pub async fn create(
    state: &AppState,
    caller: &OrgCaller,
    input: CampaignRequestInput,
) -> ServiceResult<CampaignRequest> {
    let today = state.clock.now().date_naive();
    let valid = input.validate(today)?;
    let txn = state.db.begin().await?;
    if let Some(upload) = valid.sample_upload_id {
        uploads::get(&txn, &caller.scope, &state.keys, upload)
            .await
            .map_err(|_| ServiceError::invalid("sampleUploadId", "is not an upload of this organization"))?;
    }
    let request = campaign_requests::create(&txn, &caller.scope, Some(caller.user_id), valid).await?;
    let org = caller.scope.org_id();
    audit_trail::record(&txn, caller, org, AuditAction::CampaignRequestCreated, request.id, vec![]).await?;
    txn.commit().await?;
    Ok(request)
}

/// One of the caller's organization's requests.
pub async fn get(
    state: &AppState,
    caller: &OrgCaller,
    id: CampaignRequestId,
) -> ServiceResult<CampaignRequest> {
    Ok(campaign_requests::get(&state.db, &caller.scope, id).await?)
}

/// The caller's organization's requests, newest first.
pub async fn list(
    state: &AppState,
    caller: &OrgCaller,
    page: Page,
) -> ServiceResult<(Vec<CampaignRequest>, u64)> {
    Ok(campaign_requests::list(&state.db, Some(caller.scope.org_id()), None, page).await?)
}

/// Every clinic's requests (operators), optionally of one organization and status.
pub async fn list_all(
    state: &AppState,
    org_id: Option<OrgId>,
    status: Option<CampaignRequestStatus>,
    page: Page,
) -> ServiceResult<(Vec<CampaignRequest>, u64)> {
    Ok(campaign_requests::list(&state.db, org_id, status, page).await?)
}

/// An operator takes (`in_progress`) or declines (`rejected`, a note required) a request.
#[tracing::instrument(skip_all, fields(request_id = %id), err)]
pub async fn update(
    state: &AppState,
    caller: &OrgCaller,
    id: CampaignRequestId,
    status: CampaignRequestStatus,
    note: Option<String>,
) -> ServiceResult<CampaignRequest> {
    let event =
        match status {
            CampaignRequestStatus::InProgress => CampaignRequestEvent::Take,
            CampaignRequestStatus::Rejected => CampaignRequestEvent::Reject,
            _ => return Err(ServiceError::invalid(
                "status",
                "must be in_progress or rejected (fulfil links the campaign: admin.campaignRequests.fulfil)",
            )),
        };
    let note = match note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(text) => Some(multi_line(text, MAX_NOTE_CHARS).map_err(|e| ServiceError::invalid("note", e))?),
        None if event == CampaignRequestEvent::Reject => {
            return Err(ServiceError::invalid("note", "is required to reject: say why"))
        }
        None => None,
    };
    move_request(state, caller, id, event, note, None).await
}

/// An operator links the campaign built for a request (a campaign of the same clinic).
#[tracing::instrument(skip_all, fields(request_id = %id), err)]
pub async fn fulfil(
    state: &AppState,
    caller: &OrgCaller,
    id: CampaignRequestId,
    campaign_id: CampaignId,
) -> ServiceResult<CampaignRequest> {
    move_request(state, caller, id, CampaignRequestEvent::Fulfil, None, Some(campaign_id)).await
}

async fn move_request(
    state: &AppState,
    caller: &OrgCaller,
    id: CampaignRequestId,
    event: CampaignRequestEvent,
    note: Option<String>,
    campaign_id: Option<CampaignId>,
) -> ServiceResult<CampaignRequest> {
    let txn = state.db.begin().await?;
    let org = campaign_requests::org_of(&txn, id).await?;
    let scope = OrgScope::for_verified_org(org);
    let current = campaign_requests::get(&txn, &scope, id).await?;
    let to = current.status.transition(event).map_err(|e| ServiceError::Conflict(e.to_string()))?;
    if let Some(campaign) = campaign_id {
        campaigns::get(&txn, &scope, campaign).await.map_err(|_| {
            ServiceError::invalid("campaignId", "is not a campaign of the requesting organization")
        })?;
    }
    let change = StatusChange { from: current.status, to, note, campaign_id };
    let mut fields = vec!["status".to_owned()];
    if change.note.is_some() {
        fields.push("note".to_owned());
    }
    if campaign_id.is_some() {
        fields.push("campaign_id".to_owned());
    }
    if !campaign_requests::change_status(&txn, &scope, id, change).await? {
        return Err(ServiceError::Conflict("the request changed at the same time; retry".into()));
    }
    let action = match event {
        CampaignRequestEvent::Fulfil => AuditAction::CampaignRequestFulfilled,
        _ => AuditAction::CampaignRequestUpdated,
    };
    audit_trail::record(&txn, caller, org, action, id, fields).await?;
    let updated = campaign_requests::get(&txn, &scope, id).await?;
    txn.commit().await?;
    Ok(updated)
}
