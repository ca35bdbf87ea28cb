//! A whole run, from ready to completed, against the simulator's seeded outcome mix.

use chrono::TimeDelta;
use rivvi_domain::lifecycle::{CallOutcome, CallStatus, RowStatus, RunStatus};
use rivvi_execution::simulator::OutcomeWeights;
use rivvi_persistence::calls;
use rivvi_persistence::testing::on_each_backend;
use serde_json::json;

use rivvi_execution::engine::lifecycle::RunChange;

use crate::support::{by_test, OrgSpec, Person, World, CALLER};

#[tokio::test]
async fn a_run_goes_from_ready_to_completed_with_every_row_final_and_no_attempt_dialled_twice() {
    on_each_backend(|db| async move {
        let spec = OrgSpec { concurrent_call_limit: 4, ..OrgSpec::default() };
        let world = World::with_sim(db, spec, 11, OutcomeWeights::default()).await;
        let policy =
            json!({"maxAttempts": 3, "retryOn": ["no_answer", "busy", "dial_failed"], "delayMinutes": 5});
        let campaign = world.campaign(Some(policy)).await;
        let people: Vec<Person> = (0..12).map(Person::chicago).collect();
        let run = world.run(campaign, &people).await;
        let engine = world.engine("engine-a");

        assert_eq!(
            engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap().status,
            RunStatus::Running
        );
        world.drive(&engine, run, TimeDelta::seconds(30), 2_000).await;

        assert_eq!(world.run_status(run).await, RunStatus::Completed);
        let dials = world.provider.assert_no_attempt_dialled_twice();
        let rows = world.rows(run).await;
        let mut calls_total = 0;
        for (row, state) in &rows {
            let calls = world.calls_of(row.id).await;
            calls_total += calls.len();
            assert_eq!(calls.len() as u32, state.attempts, "one call per attempt");
            for (i, call) in calls.iter().enumerate() {
                assert_eq!(call.attempt, i as u32 + 1);
                assert!(call.status.is_final(), "{:?}", call.status);
                let provider_id = call.provider_call_id.as_deref().unwrap();
                assert_eq!(call.outcome, world.sim.outcome_of(provider_id), "what the provider decided");
            }
            let last = calls.last().unwrap().outcome.unwrap();
            match state.status {
                RowStatus::Completed => {
                    assert!(matches!(last, CallOutcome::Reached | CallOutcome::Voicemail), "{last}");
                }
                RowStatus::Failed => assert_eq!(state.attempts, 3, "failed only once attempts ran out"),
                other => panic!("row {} ended {other}", row.sort_index),
            }
            assert_eq!(state.outcome.map(CallOutcome::as_str), Some(last.as_str()));
            assert_eq!(state.lease_until, None);
            if last == CallOutcome::Reached {
                assert!(row.analysis.as_ref().unwrap().get("appt_confirmed").is_some(), "the campaign's KPI");
            }
        }
        assert_eq!(calls_total, dials, "every dial has its call row");
        assert!(rows.iter().any(|(_, s)| s.attempts > 1), "the seed gives some retries");

        // What the provider was asked: the row, the built-ins and ids only in the metadata.
        // Requests run concurrently: find the first person's by number.
        let dials = world.provider.dials();
        let first = &dials.iter().find(|d| d.create.to_number == people[0].phone).unwrap().create;
        assert_eq!(first.from_number, CALLER);
        assert_eq!(first.override_agent_id.as_deref(), Some("agent_3f2a9c1d0b7e"));
        let vars = &first.dynamic_variables;
        for (name, value) in [
            ("first_name", "Ada0"),
            ("patient_first_name", "Ada0"),
            ("last_name", "Lovelace0"),
            ("phone", people[0].phone.as_str()),
            ("organization_name", "Lakeside Clinic"),
            ("organization_phone", CALLER),
            ("run_instructions", "Mention parking."),
            ("attempt", "1"),
            ("retry_count", "0"),
            ("appt_date", "2026-12-01"),
        ] {
            assert_eq!(vars.get(name).map(String::as_str), Some(value), "{name}");
        }
        assert!(vars["campaign_name"].starts_with("Reminders"));
        assert_eq!(first.metadata.run_id, run);
        assert_eq!(first.metadata.row_id, rows[0].0.id);
        assert_eq!(first.metadata.attempt, 1);
        let asked: Vec<&str> = first.analysis_fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(asked, ["appt_confirmed", "opted_out"], "the campaign's field and the built-in opt-out");

        // The call row: numbers sealed, stamped on the organization's clock (11:00 in New York).
        let call = &world.calls_of(rows[0].0.id).await[0];
        assert_eq!(call.local_hour, Some(11));
        assert_eq!(call.local_weekday, Some(1));
        let content = calls::get_content(&world.db, &world.scope, &world.keys, call.id).await.unwrap();
        assert_eq!(content.to_number, people[0].phone);
        assert_eq!(content.from_number, CALLER);
        if call.status == CallStatus::Ended && call.outcome == Some(CallOutcome::Reached) {
            assert!(content.transcript.unwrap().contains("Ada0"));
        }
        assert_eq!(world.active_calls().await, 0);
    })
    .await;
}
