//! The do-not-call list and the patient's own calling window (08:00–21:00 local, TCPA).

use chrono::TimeDelta;
use rivvi_domain::lifecycle::{RowStatus, RunStatus};
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::{do_not_call, Page};

use rivvi_execution::engine::lifecycle::RunChange;

use crate::support::{at, by_test, OrgSpec, Person, World};

#[tokio::test]
async fn rows_on_the_do_not_call_list_are_skipped_without_a_call() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let campaign = world.campaign(None).await;
        let people: Vec<Person> = (0..3).map(Person::chicago).collect();
        let now = world.now();
        do_not_call::add(
            &world.db,
            &world.scope,
            &world.keys,
            &people[1].phone,
            "patient request",
            None,
            now,
        )
        .await
        .unwrap();
        let again =
            do_not_call::add(&world.db, &world.scope, &world.keys, &people[1].phone, "twice", None, now)
                .await
                .unwrap();
        assert_eq!(again.reason, "patient request", "adding a listed number keeps the entry");
        let run = world.run(campaign, &people).await;
        let engine = world.engine("engine-a");
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();

        let first = engine.dispatch_tick(world.now()).await.unwrap();
        world.drive(&engine, run, TimeDelta::seconds(30), 200).await;

        assert_eq!((first.dialed, first.skipped_dnc), (2, 1));
        let rows = world.rows(run).await;
        let skipped = &rows[1].1;
        assert_eq!(skipped.status, RowStatus::Skipped);
        assert_eq!(skipped.skip_reason.as_deref(), Some("do_not_call"));
        assert_eq!(skipped.attempts, 0, "never dialled, never counted");
        assert!(world.calls_of(rows[1].0.id).await.is_empty());
        assert!(world.provider.dials().iter().all(|d| d.create.to_number != people[1].phone));
        assert_eq!(world.run_status(run).await, RunStatus::Completed);

        let (entries, total) = do_not_call::list(&world.db, &world.scope, Page::new(10, 0)).await.unwrap();
        assert_eq!(total, 1);
        // The key is a hex HMAC: it may contain "555" by chance, never the subscriber digits.
        let digits = people[1].phone.trim_start_matches("+1");
        assert!(!entries[0].phone_key.contains(digits), "the list holds keys, not numbers");
        assert_eq!(entries[0].phone_key.len(), 64, "a SHA-256 HMAC in hex");
        assert!(do_not_call::remove(&world.db, &world.scope, &world.keys, &people[1].phone).await.unwrap());
        assert!(!do_not_call::contains(&world.db, &world.scope, &world.keys, &people[1].phone)
            .await
            .unwrap());
    })
    .await;
}

#[tokio::test]
async fn calls_wait_for_08_00_in_the_patients_own_time_zone() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        // 09:30 in New York, 08:30 in Chicago, 06:30 in Los Angeles.
        world.clock.set(at("2026-03-09T13:30:00Z"));
        let campaign = world.campaign(None).await;
        let new_york = Person::new(0, "+12125550101");
        let los_angeles = Person::new(1, "+12135550102");
        let chicago_number_in_la =
            Person { zone: Some("America/Los_Angeles".into()), ..Person::new(2, "+13125550103") };
        // No area code to go by: the organization's zone (New York) applies.
        let london = Person::new(3, "+442079460000");
        let run = world.run(campaign, &[new_york, los_angeles, chicago_number_in_la, london]).await;
        let engine = world.engine("engine-a");
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();

        let morning = engine.dispatch_tick(world.now()).await.unwrap();

        assert_eq!((morning.dialed, morning.deferred_quiet_hours), (2, 2));
        let rows = world.rows(run).await;
        let eight_in_la = at("2026-03-09T15:00:00Z");
        for i in [1, 2] {
            let state = &rows[i].1;
            assert_eq!(state.status, RowStatus::Pending, "row {i}");
            assert_eq!(state.next_attempt_at, Some(eight_in_la), "row {i}");
            assert_eq!(state.attempts, 0, "row {i}: deferring is not an attempt");
        }
        assert_eq!(rows[0].1.status, RowStatus::InCall);
        assert_eq!(rows[3].1.status, RowStatus::InCall);

        world.clock.set(eight_in_la - TimeDelta::minutes(1));
        assert_eq!(engine.dispatch_tick(world.now()).await.unwrap().dialed, 0);
        world.clock.set(eight_in_la);
        assert_eq!(engine.dispatch_tick(world.now()).await.unwrap().dialed, 2);

        // 21:00 in Chicago closes the window for a Chicago number.
        let late_campaign = world.campaign(None).await;
        let late = world.run(late_campaign, &[Person::chicago(9)]).await;
        engine.change_run(&world.scope, late, RunChange::Start, &by_test()).await.unwrap();
        world.clock.set(at("2026-03-10T02:00:00Z"));
        let evening = engine.dispatch_tick(world.now()).await.unwrap();
        assert_eq!(evening.deferred_quiet_hours, 1);
        assert_eq!(world.rows(late).await[0].1.next_attempt_at, Some(at("2026-03-10T13:00:00Z")));
    })
    .await;
}
