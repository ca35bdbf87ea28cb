//! Retell's wire contract as TypeScript: every body Rivvi sends to Retell and every body the
//! simulator answers or posts, each written as `<body> satisfies <retell-sdk type>`, so `tsc`
//! checks them against the vendor's own SDK types (`tests/client/run.sh` does, on each CI run).
//!
//! The bodies come from the real code paths: the request types built from the provider seam's
//! inputs, and an in-process simulator on a manual clock for the answers and webhooks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use rivvi_domain::ids::{CallId, CampaignId, OrgId, RunId, RunRowId};
use rivvi_domain::lifecycle::CallOutcome;
use serde::Serialize;

use super::api::{AgentRequest, CreatePhoneCallRequest, PublishAgentVersionRequest, RetellLlmRequest};
use super::webhook::CallEventKind;
use crate::clock::{Clock, ManualClock};
use crate::provider::{AgentConfig, AnalysisFieldSpec, AnalysisKind, CallMetadata, CreateCall, LlmSettings};
use crate::retell::DEFAULT_VOICE_ID;
use crate::simulator::{OutcomeWeights, SimError, Simulator, SimulatorConfig};

/// The TypeScript module (imports `retell-sdk`).
pub fn typescript() -> Result<String, SimError> {
    let clock =
        Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).single().unwrap_or_default()));
    let mut config = SimulatorConfig::new("key_contract", "http://127.0.0.1:1/webhooks/retell");
    config.outcomes = OutcomeWeights::only(CallOutcome::Reached);
    let sim = Simulator::new(config, clock.clone());
    let mut out = Module::default();

    let llm = LlmSettings {
        general_prompt: "Hi {{first_name}}, this is the clinic about your visit on {{appt_date}}.".into(),
        begin_message: None,
    };
    let llm_request = RetellLlmRequest::from(&llm);
    out.body("createRetellLlm", "Retell.LlmCreateParams", &llm_request);
    out.body("updateRetellLlm", "Retell.LlmUpdateParams", &llm_request);
    let created_llm = sim.create_retell_llm(llm_request.clone())?;
    out.body("retellLlm", "Retell.LlmResponse", &created_llm);

    // A campaign's fields of every kind, then the built-in opt-out every call asks for.
    let fields = vec![
        AnalysisFieldSpec {
            key: "confirmed".into(),
            description: "Did they confirm?".into(),
            kind: AnalysisKind::Boolean,
        },
        AnalysisFieldSpec {
            key: "reason".into(),
            description: "Why not".into(),
            kind: AnalysisKind::Enum(vec!["sick".into(), "travel".into()]),
        },
        AnalysisFieldSpec {
            key: "new_date".into(),
            description: "A new date".into(),
            kind: AnalysisKind::Date,
        },
        AnalysisFieldSpec { key: "count".into(), description: "How many".into(), kind: AnalysisKind::Number },
        AnalysisFieldSpec { key: "notes".into(), description: "Notes".into(), kind: AnalysisKind::Text },
        AnalysisFieldSpec::opted_out(),
    ];
    let agent_config = AgentConfig {
        name: "Reminders".into(),
        llm_id: created_llm.llm_id.clone(),
        voicemail_message: Some("Please call the clinic back.".into()),
        analysis_fields: fields.clone(),
        webhook_url: Some("https://rivvi.example/webhooks/retell".into()),
    };
    let agent_request = AgentRequest::new(&agent_config, DEFAULT_VOICE_ID);
    out.body("createAgent", "Retell.AgentCreateParams", &agent_request);
    out.body("updateAgent", "Retell.AgentUpdateParams", &agent_request);
    let hang_up =
        AgentRequest::new(&AgentConfig { voicemail_message: None, ..agent_config }, DEFAULT_VOICE_ID);
    out.body("updateAgentHangUpOnVoicemail", "Retell.AgentUpdateParams", &hang_up);
    let agent = sim.create_agent(agent_request)?;
    out.body("agent", "Retell.AgentResponse", &agent);
    let publish = PublishAgentVersionRequest {
        version: agent.version,
        version_description: Some("published by Rivvi".into()),
    };
    out.body("publishAgentVersion", "Retell.AgentPublishParams", &publish);
    sim.publish_agent_version(&agent.agent_id, publish)?;
    out.body("agentVersions", "Retell.AgentGetVersionsResponse", &sim.get_agent_versions(&agent.agent_id)?);

    let call = CreateCall {
        from_number: "+13125550100".into(),
        to_number: "+13125550143".into(),
        override_agent_id: Some(agent.agent_id.clone()),
        override_agent_version: Some(agent.version),
        dynamic_variables: BTreeMap::from([
            ("first_name".into(), "Ada".into()),
            ("appt_date".into(), "2026-12-01".into()),
        ]),
        analysis_fields: fields,
        metadata: CallMetadata {
            org_id: OrgId::new(),
            campaign_id: CampaignId::new(),
            run_id: RunId::new(),
            row_id: RunRowId::new(),
            call_id: CallId::new(),
            attempt: 1,
        },
    };
    let call_request = CreatePhoneCallRequest::from(&call);
    out.body("createPhoneCall", "Retell.CallCreatePhoneCallParams", &call_request);
    let registered = sim.create_phone_call(call_request)?;
    out.body("phoneCallRegistered", "Retell.PhoneCallResponse", &registered);

    clock.advance(TimeDelta::hours(1));
    out.body("phoneCallAnalyzed", "Retell.PhoneCallResponse", &sim.get_phone_call(&registered.call_id)?);
    for webhook in sim.take_due(clock.now()) {
        let name = match webhook.event {
            CallEventKind::CallStarted => "webhookCallStarted",
            CallEventKind::CallEnded => "webhookCallEnded",
            _ => "webhookCallAnalyzed",
        };
        let body: serde_json::Value = serde_json::from_slice(&webhook.body).unwrap_or_default();
        out.body(name, "CallWebhook", &body);
    }
    Ok(out.finish())
}

#[derive(Default)]
struct Module {
    body: String,
}

impl Module {
    fn body(&mut self, name: &str, sdk_type: &str, value: &impl Serialize) {
        let json = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        let _ = writeln!(self.body, "export const {name} = {json} satisfies {sdk_type};\n");
    }

    fn finish(self) -> String {
        format!(
            "// Generated by `rivvi retell-contract`: bodies Rivvi sends to Retell and bodies its simulator\n\
             // answers or posts, checked against retell-sdk's types by tsc. Do not edit.\n\
             import type Retell from 'retell-sdk';\n\n\
             /** A call webhook: the SDK types the call, not the envelope. */\n\
             type CallWebhook = {{ event: 'call_started' | 'call_ended' | 'call_analyzed'; call: Retell.PhoneCallResponse }};\n\n{}",
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_contract_covers_every_request_answer_and_webhook() {
        let module = super::typescript().unwrap();
        for export in [
            "createRetellLlm = ",
            "updateRetellLlm = ",
            "retellLlm = ",
            "createAgent = ",
            "updateAgent = ",
            "agent = ",
            "publishAgentVersion = ",
            "agentVersions = ",
            "createPhoneCall = ",
            "phoneCallRegistered = ",
            "phoneCallAnalyzed = ",
            "webhookCallStarted = ",
            "webhookCallEnded = ",
            "webhookCallAnalyzed = ",
        ] {
            assert!(module.contains(&format!("export const {export}")), "{export}");
        }
        assert!(module.contains("\"override_agent_version\": 0"), "the call names the published version");
    }
}
