//! The campaign's retry policy: which outcomes earn another attempt, how many, how far apart,
//! and a provider error counted as an attempt.

use chrono::TimeDelta;
use rivvi_domain::lifecycle::{CallOutcome, CallStatus, RowStatus};
use rivvi_persistence::testing::on_each_backend;
use serde_json::json;

use rivvi_execution::engine::lifecycle::RunChange;

use crate::support::{by_test, Fault, OrgSpec, Person, World};

fn outcomes(calls: &[rivvi_persistence::calls::CallRecord]) -> Vec<CallOutcome> {
    calls.iter().map(|c| c.outcome.unwrap()).collect()
}

#[tokio::test]
async fn no_answer_is_retried_until_max_attempts_then_the_row_fails() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let campaign = world
            .campaign(Some(json!({"maxAttempts": 3, "retryOn": ["no_answer"], "delayMinutes": 10})))
            .await;
        let person = Person::chicago(0);
        world.sim.script_outcomes(&person.phone, [CallOutcome::NoAnswer; 4]);
        let run = world.run(campaign, std::slice::from_ref(&person)).await;
        let engine = world.engine("engine-a");
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();

        world.drive(&engine, run, TimeDelta::seconds(30), 500).await;

        let (row, state) = &world.rows(run).await[0];
        let calls = world.calls_of(row.id).await;
        assert_eq!(state.status, RowStatus::Failed);
        assert_eq!(state.attempts, 3);
        assert_eq!(state.outcome.map(CallOutcome::as_str), Some("no_answer"));
        assert_eq!(outcomes(&calls), [CallOutcome::NoAnswer; 3]);
        for pair in calls.windows(2) {
            let gap = pair[1].created_at - pair[0].created_at;
            assert!(gap >= TimeDelta::minutes(10), "retried after {gap}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_busy_line_is_retried_after_the_delay_and_completes_when_answered() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let campaign =
            world.campaign(Some(json!({"maxAttempts": 3, "retryOn": ["busy"], "delayMinutes": 15}))).await;
        let person = Person::chicago(0);
        world.sim.script_outcomes(&person.phone, [CallOutcome::Busy, CallOutcome::Reached]);
        let run = world.run(campaign, std::slice::from_ref(&person)).await;
        let engine = world.engine("engine-a");
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();
        let started = world.now();

        engine.dispatch_tick(world.now()).await.unwrap();
        world.clock.advance(TimeDelta::seconds(10));
        world.deliver(&engine).await;
        let (row, waiting) = world.rows(run).await.remove(0);
        assert_eq!(waiting.status, RowStatus::Pending);
        assert_eq!(waiting.attempts, 1);
        let retry_at = waiting.next_attempt_at.unwrap();
        assert!(retry_at >= started + TimeDelta::minutes(15));
        assert_eq!(engine.dispatch_tick(world.now()).await.unwrap().dialed, 0, "not before the delay");

        world.drive(&engine, run, TimeDelta::minutes(1), 200).await;

        let state = &world.rows(run).await[0].1;
        assert_eq!(state.status, RowStatus::Completed);
        assert_eq!(state.attempts, 2);
        assert_eq!(outcomes(&world.calls_of(row.id).await), [CallOutcome::Busy, CallOutcome::Reached]);
        let second = &world.provider.dials()[1].create;
        assert_eq!(
            (second.dynamic_variables["attempt"].as_str(), second.dynamic_variables["retry_count"].as_str()),
            ("2", "1")
        );
    })
    .await;
}

#[tokio::test]
async fn voicemail_completes_the_row_unless_the_policy_retries_it() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let default_policy = world.campaign(None).await;
        let retries_voicemail = world
            .campaign(Some(json!({"maxAttempts": 2, "retryOn": ["voicemail"], "delayMinutes": 5})))
            .await;
        let (once, twice) = (Person::chicago(0), Person::chicago(1));
        world.sim.script_outcomes(&once.phone, [CallOutcome::Voicemail]);
        world.sim.script_outcomes(&twice.phone, [CallOutcome::Voicemail, CallOutcome::Voicemail]);
        let run_once = world.run(default_policy, std::slice::from_ref(&once)).await;
        let run_twice = world.run(retries_voicemail, std::slice::from_ref(&twice)).await;
        let engine = world.engine("engine-a");
        engine.change_run(&world.scope, run_once, RunChange::Start, &by_test()).await.unwrap();
        engine.change_run(&world.scope, run_twice, RunChange::Start, &by_test()).await.unwrap();

        world.drive(&engine, run_once, TimeDelta::seconds(30), 200).await;
        world.drive(&engine, run_twice, TimeDelta::seconds(30), 200).await;

        let once = world.rows(run_once).await.remove(0).1;
        let twice = world.rows(run_twice).await.remove(0).1;
        assert_eq!(
            (once.status, once.attempts, once.outcome.map(CallOutcome::as_str)),
            (RowStatus::Completed, 1, Some("voicemail"))
        );
        assert_eq!(
            (twice.status, twice.attempts, twice.outcome.map(CallOutcome::as_str)),
            (RowStatus::Completed, 2, Some("voicemail"))
        );
    })
    .await;
}

#[tokio::test]
async fn a_provider_refusal_counts_as_a_dial_failed_attempt() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        // The default policy: dial failures retried, three attempts, an hour apart.
        let engine = world.engine("engine-a");
        let run = world.started_run(&engine, &[Person::chicago(0)]).await;
        world.provider.inject([Fault::Refuse]);

        let refused = engine.dispatch_tick(world.now()).await.unwrap();

        assert_eq!((refused.dialed, refused.provider_errors, refused.awaiting_reconciliation), (0, 1, 0));
        let (row, state) = world.rows(run).await.remove(0);
        assert_eq!(state.status, RowStatus::Pending);
        assert_eq!(state.attempts, 1, "the refusal counts");
        assert_eq!(state.next_attempt_at, Some(world.now() + TimeDelta::hours(1)));
        assert!(state.last_error.as_deref().unwrap().contains("rejected"));
        let call = &world.calls_of(row.id).await[0];
        assert_eq!((call.status, call.outcome), (CallStatus::NotConnected, Some(CallOutcome::Failed)));
        assert_eq!(world.active_calls().await, 0, "the slot is free again");

        world.drive(&engine, run, TimeDelta::minutes(5), 100).await;

        let state = world.rows(run).await.remove(0).1;
        assert_eq!((state.status, state.attempts), (RowStatus::Completed, 2));
        assert_eq!(state.last_error, None);
    })
    .await;
}
