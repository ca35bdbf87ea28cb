//! Recovery: an instance killed mid-dial, and calls whose final webhook never came.

use std::sync::Arc;

use chrono::TimeDelta;
use rivvi_domain::lifecycle::{CallOutcome, CallStatus, RowStatus, RunStatus};
use rivvi_execution::engine::EngineSettings;
use rivvi_persistence::testing::on_each_backend;

use rivvi_execution::engine::lifecycle::RunChange;

use crate::support::{by_test, dispatch_or_die, Fault, OrgSpec, Person, World};

#[tokio::test]
async fn an_engine_killed_mid_run_is_recovered_by_another_without_a_second_dial() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec { concurrent_call_limit: 3, ..OrgSpec::default() }).await;
        let campaign = world.campaign(None).await;
        let people: Vec<Person> = (0..6).map(Person::chicago).collect();
        let run = world.run(campaign, &people).await;
        // One dial at a time, so that the death lands between the second and the third.
        let one_at_a_time = EngineSettings { dials_at_once: 1, ..EngineSettings::default() };
        let doomed = Arc::new(world.engine_with("engine-doomed", one_at_a_time));
        doomed.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();
        // The first dial goes through; the second is placed but the instance dies waiting for the
        // answer; the third was written but never sent.
        world.provider.inject([Fault::Pass, Fault::HangAfterPlacing]);

        let died = dispatch_or_die(&doomed, &world.provider, world.now()).await;
        drop(doomed);

        assert!(died.is_none(), "the instance died mid-dial");
        let rows = world.rows(run).await;
        let statuses: Vec<RowStatus> = rows.iter().map(|(_, s)| s.status).collect();
        assert_eq!(
            &statuses[..4],
            [RowStatus::InCall, RowStatus::Dialing, RowStatus::Dialing, RowStatus::Pending]
        );
        assert_eq!(world.provider.placed().len(), 2);

        let heir = world.engine("engine-heir");
        // Webhooks of the second call link it; the third keeps its slot until the longest call
        // has passed, then counts as a failed dial and is retried an hour later as attempt 2.
        world.drive(&heir, run, TimeDelta::minutes(1), 300).await;

        assert_eq!(world.run_status(run).await, RunStatus::Completed);
        // Six rows once each, minus the dial that was never sent, plus its second attempt.
        assert_eq!(world.provider.assert_no_attempt_dialled_twice(), 6);
        let rows = world.rows(run).await;
        for (i, (_, state)) in rows.iter().enumerate() {
            assert_eq!(state.status, RowStatus::Completed, "row {i}");
        }
        assert_eq!(rows[1].1.attempts, 1, "the lost answer was linked, not redialled");
        assert_eq!(rows[2].1.attempts, 2, "the unsent dial counted as an attempt that may have rung");
        let never_sent = world.calls_of(rows[2].0.id).await;
        assert_eq!(never_sent[0].status, CallStatus::Error);
        assert_eq!(never_sent[0].disconnection_reason.as_deref(), Some("dial_outcome_unknown"));
        assert_eq!(never_sent[1].outcome, Some(CallOutcome::Reached));
    })
    .await;
}

#[tokio::test]
async fn a_call_whose_final_webhook_never_came_is_reconciled_from_the_provider() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let engine = world.engine("engine-a");
        let run = world.started_run(&engine, &[Person::chicago(0)]).await;
        engine.dispatch_tick(world.now()).await.unwrap();

        world.clock.advance(TimeDelta::minutes(10));
        let lost = world.take_events();
        assert!(!lost.is_empty(), "the webhooks are dropped");
        let early = engine.recover_tick(world.now()).await.unwrap();
        assert_eq!(early.reconciled, 0, "not before the longest plausible call");

        world.clock.advance(TimeDelta::minutes(25));
        let recovered = engine.recover_tick(world.now()).await.unwrap();
        engine.schedule_tick(world.now()).await.unwrap();

        assert_eq!(recovered.reconciled, 1);
        let (row, state) = world.rows(run).await.remove(0);
        assert_eq!(state.status, RowStatus::Completed);
        let call = world.calls_of(row.id).await.remove(0);
        assert_eq!((call.status, call.outcome), (CallStatus::Ended, Some(CallOutcome::Reached)));
        assert!(world.content_of(call.id).await.analysis.is_some(), "get-call carried the analysis");
        assert_eq!(world.run_status(run).await, RunStatus::Completed);
        // The webhooks arriving after all change nothing.
        for event in &lost {
            engine.apply_call_event(event).await.unwrap();
        }
        assert_eq!(world.rows(run).await.remove(0).1, state);
    })
    .await;
}
