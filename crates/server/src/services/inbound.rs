//! A patient calling one of our organizations' numbers: who is calling, about what, and the call
//! recorded, so the inbound agent can answer them by name and about their open outreach.
//!
//! In one transaction: the request is recorded once in `webhook_events` (by a key the transport
//! derives from the request's signature, so a replay of the same signed request writes nothing
//! and is answered without patient data); the organization is found by the called number; the
//! caller by the HMAC key of their number, and their open outreach (see
//! `rivvi_persistence::inbound` for the rule and for how a number shared by a family is
//! resolved); then the inbound call is written `registered`, as a callback of the outreach's last
//! outbound call when there is one.
//!
//! The variables follow the outbound dispatcher's convention (whose builder is private to the
//! engine): the outreach row's variables, its appointment details, with our built-ins taking
//! precedence (`organization_name`, `organization_phone`, `campaign_name`, `run_instructions`,
//! `first_name`/`patient_first_name`), plus `caller_known`, `has_open_outreach`, `shared_phone`
//! (other patients of the organization have this number; never who) and `last_call_outcome`.
//! Every answer carries the same keys, empty when unknown, so an agent prompt never shows a raw
//! placeholder. Caller ID can be spoofed: the inbound agent's prompt should verify the caller
//! (for instance their birth date) before discussing the appointment.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use rivvi_domain::ids::{CallId, CampaignId, OrgId};
use rivvi_domain::{IanaZone, PhoneNumber};
use rivvi_execution::engine::WEBHOOK_SOURCE;
use rivvi_execution::retell::webhook::InboundCall;
use rivvi_persistence::calls::LocalStamp;
use rivvi_persistence::campaigns as stored_campaigns;
use rivvi_persistence::inbound::{
    self, Caller, NewInboundCall, NumberOwner, OpenOutreach, OPEN_OUTREACH_WINDOW,
};
use rivvi_persistence::organizations::OrganizationRecord;
use rivvi_persistence::{campaigns, engine_queries, run_rows, runs, webhook_events, OrgScope};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::ServiceResult;
use crate::state::AppState;

/// How to answer an inbound call.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundOutcome {
    /// The call was recorded as `call_id` in `org_id`; `variables` are for the inbound agent,
    /// `agent` the organization's inbound campaign's agent and pinned version (none configured:
    /// the number's own agent at the provider answers).
    Answered {
        call_id: CallId,
        org_id: OrgId,
        variables: BTreeMap<String, String>,
        agent: Option<InboundAgent>,
    },
    /// Nothing about the caller may be said (a replay, or a number no single organization owns):
    /// answer with [`generic_variables`] and no call recorded.
    Generic,
}

/// Looks the call `call` up and records it, in one transaction; `replay_key` names this exact
/// request (a second request with the same key is answered [`InboundOutcome::Generic`] and
/// writes nothing).
pub async fn answer_inbound_call(
    state: &AppState,
    call: &InboundCall,
    replay_key: &str,
) -> ServiceResult<InboundOutcome> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let receipt = webhook_events::record_once(&txn, WEBHOOK_SOURCE, replay_key).await?;
    if !receipt.first_time {
        txn.commit().await?;
        tracing::warn!("a replayed inbound call request was answered without patient data");
        return Ok(InboundOutcome::Generic);
    }

    let called = PhoneNumber::parse(&call.to_number).ok();
    let owner = match &called {
        Some(number) => inbound::organization_by_number(&txn, number).await?,
        None => NumberOwner::Nobody,
    };
    let (org, assigned_campaign) = match owner {
        NumberOwner::One(org, campaign) => (*org, campaign),
        NumberOwner::Nobody => {
            tracing::warn!(called = ?called, "inbound call to a number assigned to no organization for inbound calls; answered generically");
            webhook_events::mark_processed(&txn, receipt.id, "ignored: unknown number").await?;
            txn.commit().await?;
            return Ok(InboundOutcome::Generic);
        }
    };
    let scope = OrgScope::for_verified_org(org.id);
    let to_number =
        called.as_ref().map_or_else(|| call.to_number.trim().to_owned(), |n| n.as_str().to_owned());

    // A withheld or malformed caller id is an unknown caller, recorded as received.
    let from = PhoneNumber::parse(&call.from_number).ok();
    let caller = match &from {
        Some(number) => {
            inbound::find_caller(&txn, &scope, &state.keys, number.as_str(), now - OPEN_OUTREACH_WINDOW)
                .await?
        }
        None => None,
    };
    let outreach = caller.as_ref().and_then(|c| c.outreach);
    let mut variables = match &outreach {
        Some(outreach) => outreach_variables(&txn, &scope, state, outreach).await?,
        None => BTreeMap::new(),
    };
    variables.extend(builtin_variables(Some((&org, &to_number)), caller.as_ref()));

    let call_id = CallId::new();
    let new = NewInboundCall {
        id: call_id,
        campaign_id: outreach.map(|o| o.campaign_id),
        patient_id: caller.as_ref().map(|c| c.patient.id),
        related_call_id: outreach.map(|o| o.call_id),
        from_number: from.map_or_else(|| call.from_number.trim().to_owned(), String::from),
        to_number,
        local: Some(local_stamp(org.time_zone, now)),
        created_at: now,
    };
    inbound::create_inbound_call(&txn, &scope, &state.keys, new).await?;
    let agent = inbound_agent(&txn, &scope, assigned_campaign).await?;
    let outcome = match (&caller, outreach) {
        (Some(_), Some(_)) => "answered: callback",
        (Some(_), None) => "answered: known caller",
        (None, _) => "answered: unknown caller",
    };
    webhook_events::mark_processed(&txn, receipt.id, outcome).await?;
    txn.commit().await?;
    tracing::info!(
        org_id = %scope,
        call_id = %call_id,
        caller_known = caller.is_some(),
        related_call_id = ?outreach.map(|o| o.call_id),
        "inbound call answered"
    );
    Ok(InboundOutcome::Answered { call_id, org_id: org.id, variables, agent })
}

/// The agent an inbound call is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundAgent {
    pub agent_id: String,
    /// The published version of the inbound campaign's current prompt (`None`: the agent's
    /// latest, for inbound campaigns saved before versions were pinned).
    pub version: Option<u32>,
}

/// The organization's inbound configuration: the campaign the number names, else its only
/// active inbound campaign; none when it has several and the number names none (the number's
/// own agent at the provider then answers).
async fn inbound_agent(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    assigned: Option<CampaignId>,
) -> ServiceResult<Option<InboundAgent>> {
    let campaign = match assigned {
        Some(id) => Some(stored_campaigns::get(conn, scope, id).await?),
        None => {
            let mut active = stored_campaigns::active_inbound(conn, scope).await?;
            match active.len() {
                1 => active.pop(),
                _ => None,
            }
        }
    };
    Ok(campaign.map(|c| InboundAgent {
        agent_id: c.definition.agent_id().to_string(),
        version: c.inbound_agent_version,
    }))
}

/// The variables of an answer that says nothing about an organization or a patient: every key,
/// empty or `false`.
pub fn generic_variables() -> BTreeMap<String, String> {
    builtin_variables(None, None)
}

/// The outreach row's variables (its appointment details, as sent with the outbound calls).
async fn outreach_variables(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    state: &AppState,
    outreach: &OpenOutreach,
) -> ServiceResult<BTreeMap<String, String>> {
    let row = run_rows::get(conn, scope, &state.keys, outreach.row_id).await?;
    let campaign = campaigns::get(conn, scope, outreach.campaign_id).await?;
    let run = runs::get(conn, scope, outreach.run_id).await?;
    let instructions = engine_queries::pinned_run_instructions(conn, &run).await?;
    let mut variables = row.content.variables;
    variables.insert("has_open_outreach".to_owned(), "true".to_owned());
    variables.insert("campaign_name".to_owned(), campaign.definition.name().to_owned());
    variables.insert("run_instructions".to_owned(), instructions.unwrap_or_default());
    let last_outcome = row.outcome.map(|o| o.as_str().to_owned()).unwrap_or_default();
    variables.insert("last_call_outcome".to_owned(), last_outcome);
    Ok(variables)
}

/// The keys every answer carries (empty or `false` when unknown), for the organization and the
/// caller when known. The outreach keys are filled by [`outreach_variables`], which this leaves
/// alone when a caller has an outreach.
fn builtin_variables(
    org: Option<(&OrganizationRecord, &str)>,
    caller: Option<&Caller>,
) -> BTreeMap<String, String> {
    let first_name = caller.map(|c| c.patient.fields.first_name.clone()).unwrap_or_default();
    let mut variables: BTreeMap<String, String> = [
        ("caller_known", caller.is_some().to_string()),
        ("shared_phone", caller.is_some_and(|c| c.shares_phone).to_string()),
        ("organization_name", org.map(|(o, _)| o.name.clone()).unwrap_or_default()),
        ("organization_phone", org.map(|(_, number)| number.to_owned()).unwrap_or_default()),
        ("patient_first_name", first_name.clone()),
        ("first_name", first_name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if caller.and_then(|c| c.outreach).is_none() {
        for key in ["campaign_name", "run_instructions", "last_call_outcome"] {
            variables.insert(key.to_owned(), String::new());
        }
        variables.insert("has_open_outreach".to_owned(), "false".to_owned());
    }
    variables
}

/// `at` on the organization's wall clock, like an outbound call's.
fn local_stamp(zone: IanaZone, at: DateTime<Utc>) -> LocalStamp {
    let local = at.with_timezone(&zone.tz());
    LocalStamp { hour: local.hour(), date: local.date_naive(), weekday: local.weekday().number_from_monday() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_stamp_is_on_the_organizations_wall_clock() {
        let at = DateTime::parse_from_rfc3339("2026-11-02T03:30:00Z").unwrap().with_timezone(&Utc);
        let stamp = local_stamp(IanaZone::parse("America/Chicago").unwrap(), at);
        assert_eq!((stamp.hour, stamp.date.to_string(), stamp.weekday), (21, "2026-11-01".to_owned(), 7));
    }
}
