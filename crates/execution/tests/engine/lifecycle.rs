//! Run lifecycle through the engine: every call validated by the domain's run machine.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use rivvi_domain::lifecycle::{CallOutcome, RowStatus, RunStatus};
use rivvi_execution::engine::lifecycle::RunChange;
use rivvi_execution::engine::{Engine, EngineError, EngineSettings};
use rivvi_persistence::audit::{self, AuditActor, AuditFilter};
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::{runs, Page};

use crate::support::{by_test, OrgSpec, Person, World};

#[tokio::test]
async fn a_scheduled_run_starts_by_itself_and_pauses_resumes_and_cancels_as_the_domain_allows() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let campaign = world.campaign(None).await;
        let run = world.run(campaign, &[Person::chicago(0), Person::chicago(1)]).await;
        let engine = world.engine("engine-a");
        let start_at = world.now() + TimeDelta::hours(1);

        assert_eq!(
            engine
                .change_run(&world.scope, run, RunChange::Schedule { at: start_at }, &by_test())
                .await
                .unwrap()
                .status,
            RunStatus::Scheduled
        );
        let early = engine.schedule_tick(world.now()).await.unwrap();
        assert!(early.started.is_empty());
        assert_eq!(engine.dispatch_tick(world.now()).await.unwrap().dialed, 0);

        world.clock.set(start_at);
        let due = engine.schedule_tick(world.now()).await.unwrap();
        assert_eq!(due.started, vec![run]);
        let record = runs::get(&world.db, &world.scope, run).await.unwrap();
        assert_eq!(record.status, RunStatus::Running);
        assert_eq!(record.started_at, Some(start_at));

        let paused = engine
            .change_run(
                &world.scope,
                run,
                RunChange::Pause { reason: Some("waiting for the doctor".into()) },
                &by_test(),
            )
            .await
            .unwrap();
        assert_eq!(paused.status, RunStatus::Paused);
        assert_eq!(
            runs::get(&world.db, &world.scope, run).await.unwrap().pause_reason.as_deref(),
            Some("waiting for the doctor")
        );
        assert_eq!(engine.dispatch_tick(world.now()).await.unwrap().dialed, 0, "a paused run places no call");
        let refused = engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap_err();
        assert!(matches!(refused, EngineError::Transition(_)), "{refused}");

        assert_eq!(
            engine.change_run(&world.scope, run, RunChange::Resume, &by_test()).await.unwrap().status,
            RunStatus::Running
        );
        assert_eq!(runs::get(&world.db, &world.scope, run).await.unwrap().pause_reason, None);
        assert_eq!(
            engine.change_run(&world.scope, run, RunChange::Cancel, &by_test()).await.unwrap().status,
            RunStatus::Cancelled
        );

        for (_, state) in world.rows(run).await {
            assert_eq!(state.status, RowStatus::Cancelled);
        }
        let record = runs::get(&world.db, &world.scope, run).await.unwrap();
        assert_eq!(record.finished_at, Some(world.now()));
        let err = engine.change_run(&world.scope, run, RunChange::Resume, &by_test()).await.unwrap_err();
        assert_eq!(err.to_string(), "cannot resume a run that is cancelled");
        assert!(world.provider.dials().is_empty());

        // Each accepted change wrote its audit entry, by its author; the refused ones wrote none.
        let filter =
            AuditFilter { entity_id: Some(run.to_string()), page: Page::new(50, 0), ..Default::default() };
        let (entries, _) = audit::list(&world.db, &world.scope, &filter).await.unwrap();
        let mut actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        actions.reverse();
        assert_eq!(actions, ["run.scheduled", "run.paused", "run.resumed", "run.cancelled"]);
        assert!(entries.iter().all(|e| e.actor == AuditActor::System { label: "engine test".into() }));
    })
    .await;
}

#[tokio::test]
async fn cancelling_a_run_cancels_pending_rows_and_lets_calls_in_flight_finish() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec { concurrent_call_limit: 2, ..OrgSpec::default() }).await;
        let campaign = world.campaign(None).await;
        let people: Vec<Person> = (0..5).map(Person::chicago).collect();
        // The first call rings out (the policy would retry it), the second answers.
        world.sim.script_outcomes(&people[0].phone, [CallOutcome::NoAnswer]);
        let run = world.run(campaign, &people).await;
        let engine = world.engine("engine-a");
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();

        assert_eq!(engine.dispatch_tick(world.now()).await.unwrap().dialed, 2);
        engine.change_run(&world.scope, run, RunChange::Cancel, &by_test()).await.unwrap();
        world.clock.advance(TimeDelta::minutes(10));
        world.deliver(&engine).await;

        let statuses: Vec<RowStatus> = world.rows(run).await.into_iter().map(|(_, s)| s.status).collect();
        assert_eq!(
            statuses,
            [
                RowStatus::Cancelled, // would have been retried: cancelled instead
                RowStatus::Completed, // answered
                RowStatus::Cancelled,
                RowStatus::Cancelled,
                RowStatus::Cancelled,
            ]
        );
        assert_eq!(world.run_status(run).await, RunStatus::Cancelled);
        assert_eq!(engine.dispatch_tick(world.now()).await.unwrap().dialed, 0);
        assert_eq!(world.provider.assert_no_attempt_dialled_twice(), 2);
    })
    .await;
}

/// An engine with `tick` whose background loop runs until the returned sender fires.
fn looping_engine(
    world: &World,
    name: &str,
    tick: Duration,
) -> (Arc<Engine>, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let settings = EngineSettings { tick, ..Default::default() };
    let engine = Arc::new(world.engine_with(name, settings));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = engine.clone().spawn(async move {
        let _ = stopped.await;
    });
    (engine, stop, handle)
}

/// Whether the provider saw `count` dials within ten seconds.
async fn dials_reach(world: &World, count: usize) -> bool {
    tokio::time::timeout(Duration::from_secs(10), async {
        while world.provider.dials().len() < count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn the_background_loop_runs_the_steps_until_shut_down() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let campaign = world.campaign(None).await;
        let run = world.run(campaign, &[Person::chicago(0), Person::chicago(1)]).await;
        let (engine, stop, handle) = looping_engine(&world, "engine-loop", Duration::from_millis(5));
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();

        let dialled = dials_reach(&world, 2).await;
        stop.send(()).unwrap();
        handle.await.unwrap();

        assert!(dialled, "the loop dialled both rows");
        assert_eq!(world.provider.assert_no_attempt_dialled_twice(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_wake_dispatches_at_once_instead_of_at_the_next_tick() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let campaign = world.campaign(None).await;
        let run = world.run(campaign, &[Person::chicago(0), Person::chicago(1)]).await;
        // The first tick fires at once, before the run starts; the next one is an hour away.
        let (engine, stop, handle) = looping_engine(&world, "engine-woken", Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(200)).await;
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();
        let before_wake = world.provider.dials().len();

        engine.wake();
        let dialled = dials_reach(&world, 2).await;
        stop.send(()).unwrap();
        handle.await.unwrap();

        assert_eq!(before_wake, 0, "nothing dialled before the wake");
        assert!(dialled, "the wake dialled both rows");
    })
    .await;
}
