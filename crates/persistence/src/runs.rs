//! Runs of one organization: a campaign over one uploaded sheet.
//!
//! Creation is idempotent per organization through `client_request_id` (a unique index), so a
//! retried `runs.create` finds the run the first attempt made instead of writing a second one.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CampaignId, OrgId, PromptVersionId, RunId, UploadId, UserId};
use rivvi_domain::lifecycle::{RunEvent, RunStatus};
use rivvi_domain::Patch;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use crate::entities::runs;
use crate::org_owned::{update_row, InOrg};
use crate::sealing::{Aad, Keys};
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: RunId,
    pub org_id: OrgId,
    pub campaign_id: CampaignId,
    pub upload_id: Option<UploadId>,
    pub name: String,
    pub status: RunStatus,
    pub prompt_version_id: Option<PromptVersionId>,
    /// The user's free-text instructions for this run (not PHI by contract; shown to operators).
    pub instructions: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
    pub settings: Value,
    pub client_request_id: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A run to create; `id` is chosen by the caller so sealed row data can be bound to it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub id: RunId,
    pub campaign_id: CampaignId,
    pub upload_id: Option<UploadId>,
    pub name: String,
    pub status: RunStatus,
    pub instructions: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub settings: Value,
    pub client_request_id: Option<String>,
    pub created_by: Option<UserId>,
}

#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %new.id), err(level = "debug"))]
pub async fn create(conn: &impl ConnectionTrait, scope: &OrgScope, new: NewRun) -> Result<RunRecord> {
    let at = now();
    let row = runs::Model {
        id: new.id.as_uuid(),
        org_id: scope.org_id().as_uuid(),
        campaign_id: new.campaign_id.as_uuid(),
        upload_id: new.upload_id.map(|u| u.as_uuid()),
        name: new.name,
        status: new.status.as_str().to_owned(),
        prompt_version_id: None,
        instructions: new.instructions,
        scheduled_at: new.scheduled_at,
        started_at: None,
        finished_at: None,
        pause_reason: None,
        settings: new.settings,
        client_request_id: new.client_request_id,
        created_by: new.created_by.map(|u| u.as_uuid()),
        headers_sealed: None,
        created_at: at,
        updated_at: at,
    };
    runs::Entity::insert(runs::ActiveModel::from(row.clone())).exec_without_returning(conn).await?;
    row.try_into()
}

#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %id), err(level = "debug"))]
pub async fn get(conn: &impl ConnectionTrait, scope: &OrgScope, id: RunId) -> Result<RunRecord> {
    runs::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("run", id))?
        .try_into()
}

/// The number of the run's last published event (`runs.event_seq`, see the event bus): what a
/// live subscriber's snapshot is as of.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %id), err(level = "debug"))]
pub async fn event_seq(conn: &impl ConnectionTrait, scope: &OrgScope, id: RunId) -> Result<u64> {
    let seq: Option<i64> = runs::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .select_only()
        .column_as(sea_orm::sea_query::Expr::col(sea_orm::sea_query::Alias::new("event_seq")), "event_seq")
        .into_tuple()
        .one(conn)
        .await?;
    let seq = seq.ok_or_else(|| PersistenceError::not_found("run", id))?;
    Ok(u64::try_from(seq).unwrap_or(0))
}

#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn find_by_client_request_id(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    client_request_id: &str,
) -> Result<Option<RunRecord>> {
    runs::Entity::find()
        .in_org(scope)
        .filter(runs::Column::ClientRequestId.eq(client_request_id))
        .one(conn)
        .await?
        .map(RunRecord::try_from)
        .transpose()
}

/// Runs of the organization, newest first, optionally of one campaign.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    campaign_id: Option<CampaignId>,
    page: Page,
) -> Result<(Vec<RunRecord>, u64)> {
    let mut query = runs::Entity::find().in_org(scope);
    if let Some(campaign_id) = campaign_id {
        query = query.filter(runs::Column::CampaignId.eq(campaign_id.as_uuid()));
    }
    let (rows, total) = page
        .fetch(conn, query, |q| q.order_by_desc(runs::Column::CreatedAt).order_by_desc(runs::Column::Id))
        .await?;
    let records = rows.into_iter().map(RunRecord::try_from).collect::<Result<Vec<_>>>()?;
    Ok((records, total))
}

/// Keeps the sheet's header row (every header text, in column order, as read), sealed with the
/// run's id: a header can name a person when the sheet has none.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %id), err(level = "debug"))]
pub async fn store_headers(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: RunId,
    headers: &[String],
) -> Result<()> {
    let json = serde_json::to_vec(headers).map_err(|_| corrupt_headers())?;
    let sealed = keys.sealer.seal(&headers_aad(id), &json)?;
    let update = runs::Entity::update_many()
        .col_expr(runs::Column::HeadersSealed, sea_orm::sea_query::Expr::value(sealed));
    update_row(conn, scope, update, "run", id.as_uuid()).await
}

/// The sheet's header row kept by [`store_headers`]; `None` for a run created before header rows
/// were kept.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %id), err(level = "debug"))]
pub async fn headers(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    id: RunId,
) -> Result<Option<Vec<String>>> {
    let sealed: Option<Option<Vec<u8>>> = runs::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .select_only()
        .column(runs::Column::HeadersSealed)
        .into_tuple()
        .one(conn)
        .await?;
    let Some(sealed) = sealed.ok_or_else(|| PersistenceError::not_found("run", id))? else {
        return Ok(None);
    };
    let json = keys.sealer.open(&headers_aad(id), &sealed)?;
    serde_json::from_slice(&json).map(Some).map_err(|_| corrupt_headers())
}

fn headers_aad(id: RunId) -> Aad<'static> {
    Aad { table: "runs", column: "headers_sealed", row_id: id.as_uuid() }
}

fn corrupt_headers() -> PersistenceError {
    PersistenceError::Corrupt { table: "runs", column: "headers_sealed" }
}

impl TryFrom<runs::Model> for RunRecord {
    type Error = PersistenceError;

    fn try_from(row: runs::Model) -> Result<Self> {
        Ok(RunRecord {
            id: RunId(row.id),
            org_id: OrgId(row.org_id),
            campaign_id: CampaignId(row.campaign_id),
            upload_id: row.upload_id.map(UploadId),
            name: row.name,
            status: row
                .status
                .parse()
                .map_err(|_| PersistenceError::Corrupt { table: "runs", column: "status" })?,
            prompt_version_id: row.prompt_version_id.map(PromptVersionId),
            instructions: row.instructions,
            scheduled_at: row.scheduled_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            pause_reason: row.pause_reason,
            settings: row.settings,
            client_request_id: row.client_request_id,
            created_by: row.created_by.map(UserId),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Pins the prompt version the run's calls use.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %id), err(level = "debug"))]
pub async fn set_prompt_version(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: RunId,
    version: PromptVersionId,
) -> Result<()> {
    let update = runs::Entity::update_many()
        .col_expr(runs::Column::PromptVersionId, sea_orm::sea_query::Expr::value(version.as_uuid()))
        .col_expr(runs::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now()));
    update_row(conn, scope, update, "run", id.as_uuid()).await
}

// ---------------------------------------------------------------- engine

/// What else a run's status change writes; [`Patch::Keep`] leaves a column alone.
///
/// Written by [`transition`] without being asked: `started_at` on the first start (kept on a
/// resume), `finished_at` on reaching a final status, `pause_reason` cleared on resume and
/// `scheduled_at` cleared on unschedule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunUpdate {
    /// Free text, never quoting patient data.
    pub pause_reason: Patch<String>,
    pub scheduled_at: Patch<DateTime<Utc>>,
}

/// Moves a run that is still `from` by `event`, checked against the domain's run state machine
/// first (a refused event is [`PersistenceError::Invalid`] on `status`). `Ok(None)` when the run
/// is no longer `from` (another writer got there first); otherwise the status it now has.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %id, from = %from, event = %event), err(level = "debug"))]
pub async fn transition(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    id: RunId,
    from: RunStatus,
    event: RunEvent,
    update: RunUpdate,
    at: DateTime<Utc>,
) -> Result<Option<RunStatus>> {
    use sea_orm::sea_query::{Expr, Func};
    let to = from
        .transition(event)
        .map_err(|e| PersistenceError::Invalid { field: "status", reason: e.to_string() })?;
    let mut query = runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(to.as_str()))
        .col_expr(runs::Column::UpdatedAt, Expr::value(at));
    if event == RunEvent::Start {
        query = query.col_expr(
            runs::Column::StartedAt,
            Func::coalesce([Expr::col(runs::Column::StartedAt).into(), Expr::value(at)]).into(),
        );
    }
    if to.is_final() {
        query = query.col_expr(runs::Column::FinishedAt, Expr::value(at));
    }
    let pause_reason = match (event, update.pause_reason) {
        (RunEvent::Resume, Patch::Keep) => Patch::Clear,
        (_, patch) => patch,
    };
    if let Some(reason) = pause_reason.into_change() {
        query = query.col_expr(runs::Column::PauseReason, Expr::value(reason));
    }
    let scheduled_at = match (event, update.scheduled_at) {
        (RunEvent::Unschedule, Patch::Keep) => Patch::Clear,
        (_, patch) => patch,
    };
    if let Some(when) = scheduled_at.into_change() {
        query = query.col_expr(runs::Column::ScheduledAt, Expr::value(when));
    }
    let updated = query
        .filter(runs::Column::Id.eq(id.as_uuid()))
        .in_org(scope)
        .filter(runs::Column::Status.eq(from.as_str()))
        .exec(conn)
        .await?;
    Ok((updated.rows_affected == 1).then_some(to))
}

/// A run of the organization, locked until the end of the transaction on PostgreSQL
/// (`FOR UPDATE`): status changes and "is the run complete?" checks about one run take turns.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, run_id = %id), err(level = "debug"))]
pub async fn get_for_update(conn: &impl ConnectionTrait, scope: &OrgScope, id: RunId) -> Result<RunRecord> {
    runs::Entity::find_by_id(id.as_uuid())
        .in_org(scope)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("run", id))?
        .try_into()
}
