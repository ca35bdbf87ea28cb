//! `calls.*`: the organization's phone calls, for staff reading what happened.
//!
//! `calls.list` pages through calls with filters and shows who the call was with (the patient's
//! name, the organization's own data) but only the last four digits of the number; `calls.get`
//! opens one call in full: both numbers, transcript, summary, analysis and recording. Another
//! organization's call is not found.

use chrono::{DateTime, Utc};
use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::OrgId;
use rivvi_domain::ids::{CallId, CampaignId, PatientId, RunId, RunRowId};
use rivvi_domain::lifecycle::{CallOutcome, CallStatus};
use rivvi_domain::Role;
use rivvi_persistence::calls::{CallFilter, CallRecord, CallTime, PatientName};
use rspc::{Router, RouterBuilder};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::ApiResult;
use super::paging::check_time_range;
use super::Ctx;
use crate::services::calls;

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new().query("list", procedure!(list)).query("get", procedure!(get))
}

// ---------------------------------------------------------------- inputs

/// Which of a call's times `from` and `to` apply to.
#[derive(Debug, Clone, Copy, Default, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum CallDateField {
    /// When the call was placed (or, inbound, received).
    #[default]
    CreatedAt,
    /// When the conversation started: calls that never connected do not match.
    StartedAt,
}

paged_input! {
    pub struct ListCalls {
        #[specta(optional)]
        pub status: Option<CallStatus>,
        #[specta(optional)]
        pub direction: Option<Direction>,
        #[specta(optional)]
        pub campaign_id: Option<CampaignId>,
        #[specta(optional)]
        pub run_id: Option<RunId>,
        #[specta(optional)]
        pub patient_id: Option<PatientId>,
        /// Calls at or after this instant.
        #[specta(optional)]
        pub from: Option<DateTime<Utc>>,
        /// Calls before this instant (exclusive, so `from` = one midnight, `to` = the next is a day).
        #[specta(optional)]
        pub to: Option<DateTime<Utc>>,
        /// Default `createdAt`.
        #[specta(optional)]
        pub date_field: Option<CallDateField>,
        /// Operators only: act in this organization (the access is audited there).
        #[specta(optional)]
        pub org_id: Option<OrgId>,
    }
}

#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallById {
    pub id: CallId,
    /// Operators only: act in this organization (the access is audited there).
    #[specta(optional)]
    pub org_id: Option<OrgId>,
}

// ---------------------------------------------------------------- outputs

/// A call in a list: no number beyond its last four digits.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CallSummary {
    pub id: CallId,
    pub direction: Direction,
    pub status: CallStatus,
    /// Null while the call is still going.
    pub outcome: Option<CallOutcome>,
    pub campaign_id: Option<CampaignId>,
    pub run_id: Option<RunId>,
    pub row_id: Option<RunRowId>,
    pub patient_id: Option<PatientId>,
    /// `First Last`; null when the call is not linked to a named patient.
    pub patient_name: Option<String>,
    /// The last four digits of the patient's number.
    pub phone_last4: String,
    /// 1 for the first attempt of a row (0 for an inbound call).
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The conversation's length as the provider reported it.
    pub duration_ms: Option<u32>,
}

page_output! {
    pub struct CallPage { calls: CallSummary }
}

/// One call in full.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CallDetail {
    pub id: CallId,
    pub direction: Direction,
    pub status: CallStatus,
    pub outcome: Option<CallOutcome>,
    pub campaign_id: Option<CampaignId>,
    pub run_id: Option<RunId>,
    pub row_id: Option<RunRowId>,
    pub patient_id: Option<PatientId>,
    pub patient_first_name: Option<String>,
    pub patient_last_name: Option<String>,
    /// E.164; for an outbound call, the organization's caller number.
    pub from_number: String,
    /// E.164; for an outbound call, the patient's number.
    pub to_number: String,
    pub attempt: u32,
    pub provider_call_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u32>,
    /// Why the call ended, as the provider says (`user_hangup`, `voicemail_reached`, ...).
    pub disconnection_reason: Option<String>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
    /// The campaign's analysis fields by key, as the provider extracted them.
    pub analysis: Option<serde_json::Value>,
    pub recording_url: Option<String>,
    /// For an inbound callback: the outbound call it answers.
    pub related_call_id: Option<CallId>,
}

// ---------------------------------------------------------------- procedures

async fn list(ctx: &Ctx, input: ListCalls) -> ApiResult<CallPage> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let page = input.page()?;
    check_time_range(input.from, input.to)?;
    let filter = CallFilter {
        status: input.status,
        direction: input.direction,
        campaign_id: input.campaign_id,
        run_id: input.run_id,
        patient_id: input.patient_id,
        from: input.from,
        to: input.to,
        time: match input.date_field.unwrap_or_default() {
            CallDateField::CreatedAt => CallTime::Created,
            CallDateField::StartedAt => CallTime::Started,
        },
    };
    let (entries, total) = calls::list(&ctx.state, &caller, &filter, page).await?;
    Ok(CallPage::of(page, entries, total, |entry| {
        summary_view(entry.call, entry.patient_name.as_ref(), entry.patient_phone_last4)
    }))
}

async fn get(ctx: &Ctx, input: CallById) -> ApiResult<CallDetail> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let detail = calls::get(&ctx.state, &caller, input.id).await?;
    let (call, content) = (detail.call, detail.content);
    let (first_name, last_name) = match detail.patient_name {
        Some(name) => (Some(name.first_name), Some(name.last_name)),
        None => (None, None),
    };
    Ok(CallDetail {
        id: call.id,
        direction: call.direction,
        status: call.status,
        outcome: call.outcome,
        campaign_id: call.campaign_id,
        run_id: call.run_id,
        row_id: call.row_id,
        patient_id: call.patient_id,
        patient_first_name: first_name,
        patient_last_name: last_name,
        from_number: content.from_number,
        to_number: content.to_number,
        attempt: call.attempt,
        provider_call_id: call.provider_call_id,
        created_at: call.created_at,
        updated_at: call.updated_at,
        started_at: call.started_at,
        ended_at: call.ended_at,
        duration_ms: duration(call.duration_ms),
        disconnection_reason: call.disconnection_reason,
        transcript: content.transcript,
        summary: content.summary,
        analysis: content.analysis,
        recording_url: content.recording_url,
        related_call_id: call.related_call_id,
    })
}

// ---------------------------------------------------------------- helpers

fn summary_view(call: CallRecord, name: Option<&PatientName>, phone_last4: String) -> CallSummary {
    CallSummary {
        id: call.id,
        direction: call.direction,
        status: call.status,
        outcome: call.outcome,
        campaign_id: call.campaign_id,
        run_id: call.run_id,
        row_id: call.row_id,
        patient_id: call.patient_id,
        patient_name: name.and_then(display_name),
        phone_last4,
        attempt: call.attempt,
        created_at: call.created_at,
        started_at: call.started_at,
        ended_at: call.ended_at,
        duration_ms: duration(call.duration_ms),
    }
}

/// `First Last`, or whichever part there is; `None` for a patient known only by number.
fn display_name(name: &PatientName) -> Option<String> {
    let full = format!("{} {}", name.first_name.trim(), name.last_name.trim());
    let full = full.trim();
    (!full.is_empty()).then(|| full.to_owned())
}

/// Milliseconds as the wire's `u32` (49 days; longer is clamped, no call lasts that long).
fn duration(ms: Option<i64>) -> Option<u32> {
    ms.map(|ms| u32::try_from(ms.max(0)).unwrap_or(u32::MAX))
}
