//! Campaign requests: a clinic asks for a campaign; operators take, decline or fulfil it. A
//! status change is written only from the status it was checked against, so two operators
//! acting at once cannot both move it.

use chrono::{DateTime, NaiveDate, Utc};
use rivvi_domain::campaign::request::ValidCampaignRequest;
use rivvi_domain::ids::{CampaignId, CampaignRequestId, OrgId, UploadId, UserId};
use rivvi_domain::lifecycle::CampaignRequestStatus;
use sea_orm::{ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entities::campaign_requests;
use crate::org_owned::InOrg;
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRequest {
    pub id: CampaignRequestId,
    pub org_id: OrgId,
    pub requested_by: Option<UserId>,
    pub name: String,
    pub goal: String,
    pub description: String,
    pub desired_variables: Vec<String>,
    pub sample_upload_id: Option<UploadId>,
    pub due_date: Option<NaiveDate>,
    pub status: CampaignRequestStatus,
    /// The operator's latest note.
    pub note: Option<String>,
    /// The campaign built for it, once fulfilled.
    pub campaign_id: Option<CampaignId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A status change: from what it was checked against, to what, with the operator's note and
/// (on fulfilment) the campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub from: CampaignRequestStatus,
    pub to: CampaignRequestStatus,
    pub note: Option<String>,
    pub campaign_id: Option<CampaignId>,
}

/// Stores a pending request of the organization.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn create(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    requested_by: Option<UserId>,
    request: ValidCampaignRequest,
) -> Result<CampaignRequest> {
    let at = now();
    let row = campaign_requests::Model {
        id: CampaignRequestId::new().as_uuid(),
        org_id: scope.org_id().as_uuid(),
        requested_by: requested_by.map(|u| u.as_uuid()),
        name: request.name,
        direction: "outbound".to_owned(),
        description: request.description,
        main_goal: Some(request.goal),
        desired_analysis: serde_json::json!([]),
        status: CampaignRequestStatus::Pending.as_str().to_owned(),
        admin_notes: None,
        resulting_campaign_id: None,
        desired_variables: Some(serde_json::json!(request.desired_variables)),
        sample_upload_id: request.sample_upload_id.map(|u| u.as_uuid()),
        due_date: request.due_date,
        created_at: at,
        updated_at: at,
    };
    campaign_requests::Entity::insert(campaign_requests::ActiveModel::from(row.clone()))
        .exec_without_returning(conn)
        .await?;
    row.try_into()
}

/// A request of the organization.
pub async fn get(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CampaignRequestId,
) -> Result<CampaignRequest> {
    campaign_requests::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("campaign request", id))?
        .try_into()
}

/// The organization of a request, whichever it is (operators act on every clinic's requests).
pub async fn org_of(conn: &impl ConnectionTrait, id: CampaignRequestId) -> Result<OrgId> {
    let row = campaign_requests::Entity::find_by_id(id.as_uuid())
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("campaign request", id))?;
    Ok(OrgId(row.org_id))
}

/// A page of requests, newest first: of one organization, or (operators, `None`) of all,
/// optionally of one status; with the total.
pub async fn list(
    conn: &impl ConnectionTrait,
    org: Option<OrgId>,
    status: Option<CampaignRequestStatus>,
    page: Page,
) -> Result<(Vec<CampaignRequest>, u64)> {
    let mut query = campaign_requests::Entity::find();
    if let Some(org) = org {
        query = query.in_org(&OrgScope::for_verified_org(org));
    }
    if let Some(status) = status {
        query = query.filter(campaign_requests::Column::Status.eq(status.as_str()));
    }
    let (rows, total) = page
        .fetch(conn, query, |q| {
            q.order_by_desc(campaign_requests::Column::CreatedAt).order_by_desc(campaign_requests::Column::Id)
        })
        .await?;
    let requests = rows.into_iter().map(CampaignRequest::try_from).collect::<Result<Vec<_>>>()?;
    Ok((requests, total))
}

/// Moves a request from `change.from`; `false` when it is no longer in that status.
pub async fn change_status(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: CampaignRequestId,
    change: StatusChange,
) -> Result<bool> {
    let row = campaign_requests::ActiveModel {
        status: Set(change.to.as_str().to_owned()),
        admin_notes: change.note.map_or(NotSet, |note| Set(Some(note))),
        resulting_campaign_id: change.campaign_id.map_or(NotSet, |c| Set(Some(c.as_uuid()))),
        updated_at: Set(now()),
        ..Default::default()
    };
    let done = campaign_requests::Entity::update_many()
        .set(row)
        .filter(campaign_requests::Column::Id.eq(id.as_uuid()))
        .filter(campaign_requests::Column::Status.eq(change.from.as_str()))
        .in_org(scope)
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

impl TryFrom<campaign_requests::Model> for CampaignRequest {
    type Error = PersistenceError;

    fn try_from(row: campaign_requests::Model) -> Result<Self> {
        let corrupt = |column| PersistenceError::Corrupt { table: "campaign_requests", column };
        let desired_variables = match row.desired_variables {
            Some(value) => serde_json::from_value(value).map_err(|_| corrupt("desired_variables"))?,
            None => Vec::new(),
        };
        Ok(CampaignRequest {
            id: CampaignRequestId(row.id),
            org_id: OrgId(row.org_id),
            requested_by: row.requested_by.map(UserId),
            name: row.name,
            goal: row.main_goal.unwrap_or_default(),
            description: row.description,
            desired_variables,
            sample_upload_id: row.sample_upload_id.map(UploadId),
            due_date: row.due_date,
            status: row.status.parse().map_err(|_| corrupt("status"))?,
            note: row.admin_notes,
            campaign_id: row.resulting_campaign_id.map(CampaignId),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
