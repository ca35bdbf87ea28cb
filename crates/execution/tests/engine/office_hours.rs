//! Office hours: a running run waits outside them (it is not paused) and dials when they open,
//! on the organization's wall clock, across daylight-saving changes.

use rivvi_domain::lifecycle::RunStatus;
use rivvi_persistence::testing::on_each_backend;
use serde_json::json;

use rivvi_execution::engine::lifecycle::RunChange;

use crate::support::{at, by_test, OrgSpec, Person, World};

fn weekdays_nine_to_five() -> serde_json::Value {
    let day = json!({"open": "09:00", "close": "17:00"});
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "holidays": []})
}

fn every_day_nine_to_five() -> serde_json::Value {
    let day = json!({"open": "09:00", "close": "17:00"});
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day,
           "saturday": day, "sunday": day, "holidays": []})
}

#[tokio::test]
async fn a_run_started_before_office_hours_waits_and_dials_when_they_open() {
    on_each_backend(|db| async move {
        let spec = OrgSpec { office_hours: weekdays_nine_to_five(), ..OrgSpec::default() };
        let world = World::new(db, spec).await;
        // Monday 08:30 in New York (EDT).
        world.clock.set(at("2026-03-09T12:30:00Z"));
        let campaign = world.campaign(None).await;
        let run =
            world.run(campaign, &[Person::new(0, "+12125550101"), Person::new(1, "+12125550102")]).await;
        let engine = world.engine("engine-a");
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();

        let before = engine.schedule_tick(world.now()).await.unwrap();
        let dispatched = engine.dispatch_tick(world.now()).await.unwrap();

        assert_eq!(before.waiting.len(), 1);
        assert_eq!(before.waiting[0].run_id, run);
        assert_eq!(before.waiting[0].opens_at, Some(at("2026-03-09T13:00:00Z")));
        assert_eq!(dispatched.dialed, 0);
        assert_eq!(dispatched.orgs_outside_office_hours, 1);
        assert_eq!(world.run_status(run).await, RunStatus::Running, "waiting is not a pause");

        world.clock.set(at("2026-03-09T13:00:00Z"));
        let open = engine.schedule_tick(world.now()).await.unwrap();
        let dispatched = engine.dispatch_tick(world.now()).await.unwrap();

        assert_eq!(open.in_office_hours, vec![run]);
        assert_eq!(dispatched.dialed, 2);
    })
    .await;
}

#[tokio::test]
async fn office_hours_follow_the_new_york_clock_across_the_november_dst_change() {
    on_each_backend(|db| async move {
        let spec = OrgSpec { office_hours: every_day_nine_to_five(), ..OrgSpec::default() };
        let world = World::new(db, spec).await;
        // Saturday 2026-10-31 17:30 EDT: closed for the day.
        world.clock.set(at("2026-10-31T21:30:00Z"));
        let engine = world.engine("engine-a");
        let run = world.started_run(&engine, &[Person::new(0, "+12125550101")]).await;

        let saturday = engine.schedule_tick(world.now()).await.unwrap();
        // Clocks fall back at 02:00 on Sunday: 09:00 EST is 14:00 UTC, not 13:00.
        assert_eq!(saturday.waiting[0].opens_at, Some(at("2026-11-01T14:00:00Z")));

        // 08:30 EST (09:30 if the offset had not changed).
        world.clock.set(at("2026-11-01T13:30:00Z"));
        let early = engine.dispatch_tick(world.now()).await.unwrap();
        assert_eq!(early.orgs_outside_office_hours, 1);
        assert_eq!(early.dialed, 0);

        world.clock.set(at("2026-11-01T14:00:00Z"));
        let open = engine.dispatch_tick(world.now()).await.unwrap();
        assert_eq!(open.dialed, 1);
        let call = &world.calls_of(world.rows(run).await[0].0.id).await[0];
        assert_eq!(call.local_hour, Some(9), "stamped 09:00 on the clinic's clock");
        assert_eq!(call.local_weekday, Some(7));
    })
    .await;
}
