use std::collections::BTreeMap;

use chrono::TimeDelta;
use rivvi_domain::analytics::OPTED_OUT_FIELD;
use rivvi_domain::ids::{CallId, CampaignId, OrgId, RunId, RunRowId};
use rivvi_domain::lifecycle::CallStatus;
use serde_json::Value;

use super::*;
use crate::clock::ManualClock;
use crate::provider::{AnalysisKind, CallMetadata, DisconnectionReason};

const KEY: &str = "key_simulator_test";
const FROM: &str = "+13125550100";

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-09T15:00:00Z").unwrap().with_timezone(&Utc)
}

fn simulator(seed: u64, scale: f64) -> (Arc<Simulator>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let mut config = SimulatorConfig::new(KEY, "http://127.0.0.1:9/unused");
    config.seed = seed;
    config.time_scale = scale;
    (Arc::new(Simulator::new(config, clock.clone())), clock)
}

fn number(i: u32) -> String {
    format!("+1312555{:04}", 1000 + i)
}

fn request(to: &str) -> CreatePhoneCallRequest {
    CreatePhoneCallRequest {
        from_number: FROM.into(),
        to_number: to.into(),
        override_agent_id: None,
        override_agent_version: None,
        retell_llm_dynamic_variables: BTreeMap::from([
            ("first_name".into(), "Maria".into()),
            ("last_name".into(), "Gonzalez".into()),
            ("phone".into(), to.into()),
        ]),
        metadata: Some(serde_json::json!({"call_id": "c1"})),
        agent_override: None,
    }
}

fn fields() -> Vec<AnalysisFieldSpec> {
    let spec = |key: &str, kind| AnalysisFieldSpec { key: key.into(), kind, description: "d".into() };
    vec![
        spec("appointment_confirmed", AnalysisKind::Boolean),
        spec("preferred_time", AnalysisKind::Enum(vec!["morning".into(), "afternoon".into()])),
        spec("pain_score", AnalysisKind::Number),
        spec("notes", AnalysisKind::Text),
        spec("new_date", AnalysisKind::Date),
    ]
}

fn with_fields(to: &str) -> CreatePhoneCallRequest {
    let mut r = request(to);
    r.agent_override = Some(crate::retell::api::AgentOverride {
        agent: Some(crate::retell::api::AgentSettings {
            post_call_analysis_data: Some(fields().iter().map(AnalysisFieldSpec::to_retell).collect()),
        }),
    });
    r
}

/// Every webhook the simulator will ever send, in delivery order, parsed.
fn drain(sim: &Simulator, clock: &ManualClock) -> Vec<(DateTime<Utc>, CallEvent)> {
    let mut out = Vec::new();
    while let Some(due) = sim.next_due() {
        clock.set(due);
        for w in sim.take_due(due) {
            assert_eq!(
                webhook::verify(KEY, &w.signature, &w.body, due.timestamp_millis()),
                Ok(due.timestamp_millis())
            );
            out.push((due, serde_json::from_slice(&w.body).unwrap()));
        }
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_outcomes_and_timelines() {
    let run = |seed| {
        let (sim, clock) = simulator(seed, 10.0);
        for i in 0..60 {
            sim.create_phone_call(request(&number(i))).unwrap();
        }
        drain(&sim, &clock)
            .into_iter()
            .map(|(at, e)| (at, e.event, e.call.to_number, e.call.disconnection_reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn outcomes_do_not_depend_on_the_order_calls_to_different_numbers_arrive_in() {
    let outcomes = |order: &[u32]| {
        let (sim, _) = simulator(42, 1.0);
        let mut by_number = BTreeMap::new();
        for &i in order {
            let call = sim.create_phone_call(request(&number(i))).unwrap();
            by_number.insert(number(i), sim.outcome_of(&call.call_id).unwrap());
        }
        by_number
    };
    assert_eq!(outcomes(&[0, 1, 2, 3, 4, 5]), outcomes(&[5, 3, 1, 0, 4, 2]));
}

#[test]
fn the_distribution_follows_the_weights() {
    let (sim, _) = simulator(3, 1.0);
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for i in 0..2_000 {
        let call = sim.create_phone_call(request(&number(i))).unwrap();
        *counts.entry(sim.outcome_of(&call.call_id).unwrap().as_str()).or_default() += 1;
    }
    // 60/15/15/5/5 of 2000, within a generous margin.
    for (outcome, expected) in
        [("reached", 1200), ("voicemail", 300), ("no_answer", 300), ("busy", 100), ("failed", 100)]
    {
        let got = i64::from(counts[outcome]);
        assert!((got - expected).abs() < expected / 4 + 20, "{outcome}: {got} vs {expected}");
    }
}

#[test]
fn a_reached_call_starts_ends_and_is_analyzed_in_order_on_the_compressed_clock() {
    let (sim, clock) = simulator(1, 10.0);
    sim.script_outcomes(&number(1), [CallOutcome::Reached]);
    let created = sim.create_phone_call(with_fields(&number(1))).unwrap();
    assert_eq!(created.call_status, CallStatus::Registered);
    assert!(created.call_id.starts_with("call_"));
    assert!(sim.take_due(start()).is_empty(), "nothing is due at creation");

    let events = drain(&sim, &clock);
    let kinds: Vec<_> = events.iter().map(|(_, e)| e.event.clone()).collect();
    assert_eq!(kinds, [CallEventKind::CallStarted, CallEventKind::CallEnded, CallEventKind::CallAnalyzed]);
    let (started_at, started) = &events[0];
    let (ended_at, ended) = &events[1];
    let (analyzed_at, analyzed) = &events[2];
    // Ring 4-20 s, talk 30-240 s, analysis 2-6 s later, all divided by 10.
    let ring = *started_at - start();
    assert!(ring >= TimeDelta::milliseconds(400) && ring <= TimeDelta::seconds(2), "{ring}");
    assert!(
        *ended_at - *started_at >= TimeDelta::seconds(3) && *ended_at - *started_at <= TimeDelta::seconds(24)
    );
    assert!(*analyzed_at > *ended_at && *analyzed_at - *ended_at <= TimeDelta::milliseconds(600));

    assert_eq!(started.call.call_status, CallStatus::Ongoing);
    assert_eq!(started.call.start_timestamp, Some(started_at.timestamp_millis()));
    assert_eq!(ended.call.call_status, CallStatus::Ended);
    assert_eq!(ended.call.end_timestamp, Some(ended_at.timestamp_millis()));
    assert!(ended.call.duration_ms.unwrap() >= 30_000, "duration is the uncompressed conversation");
    assert!(matches!(
        ended.call.disconnection_reason,
        Some(DisconnectionReason::UserHangup | DisconnectionReason::AgentHangup)
    ));
    assert!(ended.call.call_analysis.is_none());
    let analysis = analyzed.call.call_analysis.as_ref().unwrap();
    assert_eq!(analysis.in_voicemail, Some(false));
    assert_eq!(analyzed.call.finished().unwrap().outcome, CallOutcome::Reached);
}

#[test]
fn analysis_carries_every_campaign_field_with_a_value_of_its_type() {
    let (sim, clock) = simulator(5, 100.0);
    for i in 0..20 {
        sim.script_outcomes(&number(i), [CallOutcome::Reached]);
        sim.create_phone_call(with_fields(&number(i))).unwrap();
    }
    let analyzed: Vec<_> =
        drain(&sim, &clock).into_iter().filter(|(_, e)| e.event == CallEventKind::CallAnalyzed).collect();
    assert_eq!(analyzed.len(), 20);
    for (_, event) in analyzed {
        let data = event.call.call_analysis.unwrap().custom_analysis_data;
        assert!(data["appointment_confirmed"].is_boolean());
        assert!(["morning", "afternoon"].contains(&data["preferred_time"].as_str().unwrap()));
        assert!(data["pain_score"].is_number());
        assert!(data["notes"].is_string());
        let date = data["new_date"].as_str().unwrap();
        assert!(chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(), "{date}");
    }
}

#[test]
fn a_registered_agent_supplies_fields_when_the_request_has_none() {
    let (sim, clock) = simulator(5, 100.0);
    sim.register_agent("agent_flu", fields());
    sim.script_outcomes(&number(1), [CallOutcome::Reached]);
    let mut r = request(&number(1));
    r.override_agent_id = Some("agent_flu".into());
    let call = sim.create_phone_call(r).unwrap();
    assert_eq!(call.agent_id, "agent_flu");
    let (_, last) = drain(&sim, &clock).pop().unwrap();
    assert_eq!(last.call.call_analysis.unwrap().custom_analysis_data.len(), fields().len());
}

#[test]
fn dial_failures_send_no_call_started_and_no_custom_analysis() {
    let cases = [
        (CallOutcome::NoAnswer, DisconnectionReason::DialNoAnswer),
        (CallOutcome::Busy, DisconnectionReason::DialBusy),
        (CallOutcome::Failed, DisconnectionReason::DialFailed),
    ];
    for (outcome, reason) in cases {
        let (sim, clock) = simulator(9, 10.0);
        sim.script_outcomes(&number(1), [outcome]);
        sim.create_phone_call(with_fields(&number(1))).unwrap();
        let events = drain(&sim, &clock);
        let kinds: Vec<_> = events.iter().map(|(_, e)| e.event.clone()).collect();
        assert_eq!(kinds, [CallEventKind::CallEnded, CallEventKind::CallAnalyzed], "{outcome}");
        let ended = &events[0].1.call;
        assert_eq!(ended.call_status, CallStatus::NotConnected);
        assert_eq!(ended.disconnection_reason.as_ref(), Some(&reason));
        assert_eq!(ended.start_timestamp, None);
        assert_eq!(ended.transcript, None);
        let analyzed = &events[1].1.call;
        assert!(analyzed.call_analysis.as_ref().unwrap().custom_analysis_data.is_empty());
        assert_eq!(analyzed.finished().unwrap().outcome, outcome);
    }
}

#[test]
fn voicemail_is_flagged_and_answers_yes_no_fields_with_no() {
    let (sim, clock) = simulator(9, 10.0);
    sim.script_outcomes(&number(1), [CallOutcome::Voicemail]);
    sim.create_phone_call(with_fields(&number(1))).unwrap();
    let events = drain(&sim, &clock);
    assert_eq!(events.len(), 3);
    let analyzed = &events[2].1.call;
    assert_eq!(analyzed.disconnection_reason, Some(DisconnectionReason::VoicemailReached));
    let analysis = analyzed.call_analysis.as_ref().unwrap();
    assert_eq!(analysis.in_voicemail, Some(true));
    assert_eq!(analysis.custom_analysis_data.get("appointment_confirmed"), Some(&Value::Bool(false)));
    assert_eq!(analyzed.finished().unwrap().outcome, CallOutcome::Voicemail);
}

/// A request for [`fields`] and the built-in opt-out field.
fn with_opt_out_field(to: &str) -> CreatePhoneCallRequest {
    let mut r = with_fields(to);
    if let Some(items) = r.agent_override.as_mut().and_then(|o| o.agent.as_mut()) {
        items
            .post_call_analysis_data
            .get_or_insert_with(Vec::new)
            .push(AnalysisFieldSpec::opted_out().to_retell());
    }
    r
}

#[test]
fn only_a_scripted_patient_opts_out_and_only_on_a_call_that_reaches_them() {
    // Arrange: 30 reached patients, one of them scripted to opt out, whose first call reaches
    // voicemail and second reaches them; a third call to them is a plain one.
    let (sim, clock) = simulator(11, 100.0);
    let opting_out = number(0);
    sim.script_opt_out(&opting_out);
    sim.script_outcomes(&opting_out, [CallOutcome::Voicemail, CallOutcome::Reached, CallOutcome::Reached]);
    for i in 1..30 {
        sim.script_outcomes(&number(i), [CallOutcome::Reached]);
    }

    // Act
    let calls: Vec<String> = (0..3)
        .map(|_| opting_out.clone())
        .chain((1..30).map(number))
        .map(|to| sim.create_phone_call(with_opt_out_field(&to)).unwrap().call_id)
        .collect();
    let analyzed: BTreeMap<String, ProviderCall> = drain(&sim, &clock)
        .into_iter()
        .filter(|(_, e)| e.event == CallEventKind::CallAnalyzed)
        .map(|(_, e)| (e.call.call_id.clone(), e.call))
        .collect();

    // Assert
    let opted_out = |id: &String| {
        analyzed[id].call_analysis.as_ref().unwrap().custom_analysis_data[OPTED_OUT_FIELD].clone()
    };
    let said_stop =
        |id: &String| analyzed[id].transcript.as_deref().unwrap().contains("Please stop calling me.");
    assert_eq!(opted_out(&calls[0]), Value::Bool(false), "voicemail cannot opt out");
    assert_eq!(opted_out(&calls[1]), Value::Bool(true));
    assert!(said_stop(&calls[1]));
    assert_eq!(opted_out(&calls[2]), Value::Bool(false), "the script is used once");
    for call in &calls[2..] {
        assert_eq!(opted_out(call), Value::Bool(false), "never drawn at random");
        assert!(!said_stop(call));
    }
}

#[test]
fn transcripts_name_the_patient_by_first_name_only() {
    let (sim, clock) = simulator(2, 10.0);
    sim.script_outcomes(&number(1), [CallOutcome::Reached, CallOutcome::Voicemail]);
    sim.create_phone_call(request(&number(1))).unwrap();
    sim.create_phone_call(request(&number(1))).unwrap();
    for (_, event) in drain(&sim, &clock) {
        let Some(transcript) = event.call.transcript else { continue };
        assert!(transcript.contains("Maria"), "{transcript}");
        assert!(!transcript.contains("Gonzalez") && !transcript.contains("555"), "{transcript}");
    }
}

#[test]
fn get_call_follows_the_clock() {
    let (sim, clock) = simulator(4, 1.0);
    sim.script_outcomes(&number(1), [CallOutcome::Reached]);
    let call = sim.create_phone_call(request(&number(1))).unwrap();
    let status = || sim.get_phone_call(&call.call_id).unwrap();
    assert_eq!(status().call_status, CallStatus::Registered);
    let mut seen = Vec::new();
    while let Some(due) = sim.next_due() {
        clock.set(due - TimeDelta::milliseconds(1));
        let before = status();
        clock.set(due);
        sim.take_due(due);
        let after = status();
        seen.push((before.call_status, after.call_status, after.call_analysis.is_some()));
    }
    use CallStatus::*;
    assert_eq!(seen, [(Registered, Ongoing, false), (Ongoing, Ended, false), (Ended, Ended, true)]);
    assert_eq!(sim.get_phone_call("call_nope"), Err(SimError::NotFound));
}

#[test]
fn requests_are_validated_like_retell() {
    let (sim, _) = simulator(1, 1.0);
    let cases = [
        ("", "+13125550143", "from_number"),
        (FROM, "3125550143", "to_number"),
        (FROM, "+1 312", "to_number"),
    ];
    for (from, to, field) in cases {
        let mut r = request(to);
        r.from_number = from.into();
        match sim.create_phone_call(r) {
            Err(SimError::InvalidRequest(message)) => {
                assert!(message.starts_with(field), "{message}");
                assert!(!message.contains("312"), "no number echoed: {message}");
            }
            other => panic!("{from} {to}: {other:?}"),
        }
    }
    assert_eq!(sim.call_count(), 0);
    assert_eq!(sim.create_requests(), 3);
}

#[test]
fn injected_failures_fail_the_next_creates_then_stop() {
    let (sim, _) = simulator(1, 1.0);
    sim.fail_next_create(2);
    assert_eq!(sim.create_phone_call(request(&number(1))).unwrap_err().status(), 500);
    assert_eq!(sim.create_phone_call(request(&number(1))).unwrap_err().status(), 500);
    assert!(sim.create_phone_call(request(&number(1))).is_ok());
    assert_eq!((sim.create_requests(), sim.call_count()), (3, 1));
}

#[test]
fn duplicate_delivery_sends_every_event_twice() {
    let (sim, clock) = simulator(1, 10.0);
    sim.set_duplicate_delivery(true);
    sim.script_outcomes(&number(1), [CallOutcome::Reached]);
    sim.create_phone_call(request(&number(1))).unwrap();
    let kinds: Vec<_> = drain(&sim, &clock).into_iter().map(|(_, e)| e.event).collect();
    use CallEventKind::*;
    assert_eq!(kinds, [CallStarted, CallStarted, CallEnded, CallEnded, CallAnalyzed, CallAnalyzed]);
}

#[test]
fn reordering_sends_some_call_started_after_call_ended() {
    let (sim, clock) = simulator(1, 10.0);
    sim.set_reorder(true);
    for i in 0..30 {
        sim.script_outcomes(&number(i), [CallOutcome::Reached]);
        sim.create_phone_call(request(&number(i))).unwrap();
    }
    let mut seen_end: std::collections::HashSet<String> = Default::default();
    let mut late_starts = 0;
    for (_, event) in drain(&sim, &clock) {
        match event.event {
            CallEventKind::CallEnded => {
                seen_end.insert(event.call.call_id);
            }
            CallEventKind::CallStarted if seen_end.contains(&event.call.call_id) => {
                late_starts += 1;
                assert_eq!(event.call.call_status, CallStatus::Ongoing, "the payload is still the start");
            }
            _ => {}
        }
    }
    assert!((1..30).contains(&late_starts), "{late_starts}");
}

#[tokio::test]
async fn failed_deliveries_are_retried_then_dropped() {
    // A port nobody listens on: every POST fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (sim, clock) = simulator(1, 10.0);
    sim.set_webhook_url(format!("http://{closed}/webhooks/retell"));
    sim.script_outcomes(&number(1), [CallOutcome::Failed]);
    sim.create_phone_call(request(&number(1))).unwrap();

    let mut attempts = Vec::new();
    while let Some(due) = sim.next_due() {
        clock.set(due);
        for result in sim.deliver_due(due).await {
            assert!(!result.delivered() && result.error.is_some());
            attempts.push((result.event.clone(), result.attempt, result.retry_at.map(|at| at - due)));
        }
    }
    let ended: Vec<_> = attempts.iter().filter(|(e, _, _)| *e == CallEventKind::CallEnded).collect();
    let expected = [(0, Some(1)), (1, Some(2)), (2, Some(4)), (3, None)];
    assert_eq!(ended.len(), expected.len());
    for ((_, attempt, wait), (want_attempt, want_secs)) in ended.iter().zip(expected) {
        assert_eq!(*attempt, want_attempt);
        assert_eq!(*wait, want_secs.map(TimeDelta::seconds));
    }
    assert_eq!(sim.pending_webhooks(), 0);
}

#[tokio::test]
async fn the_simulator_is_a_voice_provider_in_process() {
    let (sim, clock) = simulator(1, 10.0);
    sim.script_outcomes(&number(1), [CallOutcome::Busy]);
    let provider: Arc<dyn VoiceProvider> = sim.clone();
    let metadata = CallMetadata {
        org_id: OrgId::new(),
        campaign_id: CampaignId::new(),
        run_id: RunId::new(),
        row_id: RunRowId::new(),
        call_id: CallId::new(),
        attempt: 1,
    };
    let call = provider
        .create_call(CreateCall {
            from_number: FROM.into(),
            to_number: number(1),
            override_agent_id: None,
            override_agent_version: None,
            dynamic_variables: BTreeMap::new(),
            analysis_fields: fields(),
            metadata,
        })
        .await
        .unwrap();
    assert_eq!(call.rivvi_metadata(), Some(metadata));
    clock.advance(TimeDelta::minutes(5));
    let done = provider.get_call(&call.call_id).await.unwrap();
    assert_eq!(
        done.finished().map(|f| (f.status, f.outcome)),
        Some((CallStatus::NotConnected, CallOutcome::Busy))
    );
    assert_eq!(provider.get_call("call_missing").await, Err(ProviderError::NotFound("call_missing".into())));
}
