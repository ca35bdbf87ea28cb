//! The organization's concurrent call limit and calls-per-minute budget, with one engine and
//! with two engines sharing one PostgreSQL database.

use std::sync::Arc;

use chrono::TimeDelta;
use rivvi_domain::lifecycle::RunStatus;
use rivvi_execution::simulator::OutcomeWeights;
use rivvi_persistence::testing::on_each_backend;

use rivvi_execution::engine::lifecycle::RunChange;

use crate::support::{by_test, OrgSpec, Person, World};

#[tokio::test]
async fn one_engine_keeps_to_the_concurrency_limit_and_the_calls_per_minute() {
    on_each_backend(|db| async move {
        let spec = OrgSpec { concurrent_call_limit: 3, calls_per_minute: 5, ..OrgSpec::default() };
        let world = World::new(db, spec).await;
        let campaign = world.campaign(None).await;
        let people: Vec<Person> = (0..10).map(Person::chicago).collect();
        let run = world.run(campaign, &people).await;
        let engine = world.engine("engine-a");
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();

        let first = engine.dispatch_tick(world.now()).await.unwrap();
        let again = engine.dispatch_tick(world.now()).await.unwrap();
        assert_eq!(first.dialed, 3, "the concurrency limit");
        assert_eq!(again.dialed, 0, "no free slot until a call ends");

        // Calls end within ~5 minutes; the 5-a-minute budget is then the bound.
        world.clock.advance(TimeDelta::minutes(6));
        world.deliver(&engine).await;
        let third = engine.dispatch_tick(world.now()).await.unwrap();
        assert_eq!(third.dialed, 3);
        world.clock.advance(TimeDelta::minutes(6));
        world.deliver(&engine).await;
        let fourth = engine.dispatch_tick(world.now()).await.unwrap();
        assert_eq!(fourth.dialed, 3);

        world.drive(&engine, run, TimeDelta::seconds(20), 500).await;
        assert_eq!(world.run_status(run).await, RunStatus::Completed);
        assert_eq!(world.provider.assert_no_attempt_dialled_twice(), 10);
    })
    .await;
}

#[tokio::test]
async fn calls_per_minute_bounds_dialling_even_with_free_slots() {
    on_each_backend(|db| async move {
        let spec = OrgSpec { concurrent_call_limit: 20, calls_per_minute: 4, ..OrgSpec::default() };
        let world = World::new(db, spec).await;
        let engine = world.engine("engine-a");
        world.started_run(&engine, &(0..10).map(Person::chicago).collect::<Vec<_>>()).await;

        let first = engine.dispatch_tick(world.now()).await.unwrap();
        world.clock.advance(TimeDelta::seconds(30));
        let half_a_minute = engine.dispatch_tick(world.now()).await.unwrap();
        world.clock.advance(TimeDelta::seconds(31));
        let a_minute_later = engine.dispatch_tick(world.now()).await.unwrap();

        assert_eq!((first.dialed, half_a_minute.dialed, a_minute_later.dialed), (4, 0, 4));
    })
    .await;
}

/// Two instances dispatching at the same moments must never hold more calls than the limit
/// together. Their dispatch transactions take turns under `pg_try_advisory_xact_lock`; SQLite
/// has a single connection (one writer), so this race cannot happen there and the test is
/// PostgreSQL-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_sharing_postgresql_never_exceed_the_concurrency_limit() {
    on_each_backend(|db| async move {
        let spec = OrgSpec { concurrent_call_limit: 5, ..OrgSpec::default() };
        let world = World::with_sim(db, spec, 5, OutcomeWeights::default()).await;
        if !world.is_postgres() {
            eprintln!("skipped on SQLite: one connection is the single writer, two engines cannot race");
            return;
        }
        let campaign = world.campaign(None).await;
        let run = world.run(campaign, &(0..40).map(Person::chicago).collect::<Vec<_>>()).await;
        let a = Arc::new(world.engine("engine-a"));
        let b = Arc::new(world.engine("engine-b"));
        a.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();

        let mut dialed = (0, 0);
        let mut busy_elsewhere = 0;
        for step in 0..3_000 {
            let now = world.now();
            let (ra, rb) = tokio::join!(
                {
                    let a = a.clone();
                    tokio::spawn(async move { a.dispatch_tick(now).await })
                },
                {
                    let b = b.clone();
                    tokio::spawn(async move { b.dispatch_tick(now).await })
                }
            );
            let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
            dialed.0 += ra.dialed;
            dialed.1 += rb.dialed;
            busy_elsewhere += ra.orgs_busy_elsewhere + rb.orgs_busy_elsewhere;
            world.assert_within_limit().await;
            let events = world.take_events();
            for (i, event) in events.iter().enumerate() {
                let engine = if i % 2 == 0 { &a } else { &b };
                engine.apply_call_event(event).await.unwrap();
            }
            a.schedule_tick(now).await.unwrap();
            if world.run_status(run).await.is_final() {
                eprintln!(
                    "completed after {step} steps; dialed {dialed:?}; lock contended {busy_elsewhere} times"
                );
                break;
            }
            world.clock.advance(TimeDelta::seconds(15));
        }
        assert_eq!(world.run_status(run).await, RunStatus::Completed);
        world.provider.assert_no_attempt_dialled_twice();
        assert!(dialed.0 > 0 && dialed.1 > 0, "both instances dialled: {dialed:?}");
    })
    .await;
}

/// Without the dispatch lock, two transactions claiming from one run at once still get disjoint
/// rows (`FOR UPDATE SKIP LOCKED`), and each claim honours its limit. PostgreSQL-only: SQLite's
/// single connection cannot hold two transactions at once.
#[tokio::test]
async fn two_claims_in_flight_at_once_get_disjoint_rows_on_postgresql() {
    use rivvi_persistence::run_rows;
    use sea_orm::TransactionTrait;

    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        if !world.is_postgres() {
            eprintln!("skipped on SQLite: one connection holds one transaction at a time");
            return;
        }
        let campaign = world.campaign(None).await;
        let run = world.run(campaign, &(0..10).map(Person::chicago).collect::<Vec<_>>()).await;
        world.engine("engine-a").change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();
        let (now, lease) = (world.now(), world.now() + TimeDelta::minutes(5));

        let first = world.db.begin().await.unwrap();
        let second = world.db.begin().await.unwrap();
        let a =
            run_rows::claim_due(&first, &world.scope, &world.keys, run, now, 3, lease, "a").await.unwrap();
        let b =
            run_rows::claim_due(&second, &world.scope, &world.keys, run, now, 3, lease, "b").await.unwrap();
        first.commit().await.unwrap();
        second.commit().await.unwrap();

        let a: Vec<u32> = a.iter().map(|r| r.sort_index).collect();
        let b: Vec<u32> = b.iter().map(|r| r.sort_index).collect();
        assert_eq!(a, [0, 1, 2], "in sheet order");
        assert_eq!(b, [3, 4, 5], "the locked rows are skipped, not waited for");
        let dialing = world.rows(run).await.iter().filter(|(_, s)| s.attempts == 1).count();
        assert_eq!(dialing, 6);
    })
    .await;
}

#[tokio::test]
async fn the_dispatcher_sends_its_create_call_requests_concurrently_up_to_dials_at_once() {
    on_each_backend(|db| async move {
        let spec = OrgSpec { concurrent_call_limit: 12, calls_per_minute: 600, ..OrgSpec::default() };
        let world = World::new(db, spec).await;
        let campaign = world.campaign(None).await;
        let run = world.run(campaign, &(0..12).map(Person::chicago).collect::<Vec<_>>()).await;
        let settings = rivvi_execution::engine::EngineSettings { dials_at_once: 5, ..Default::default() };
        let engine = world.engine_with("engine-a", settings);
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();

        let outcome = engine.dispatch_tick(world.now()).await.unwrap();

        assert_eq!(outcome.dialed, 12);
        let most = world.provider.most_in_flight.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(most, 5, "requests overlap, at most dials_at_once of them");
        assert_eq!(world.provider.assert_no_attempt_dialled_twice(), 12);
    })
    .await;
}
