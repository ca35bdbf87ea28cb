//! Webhooks applied once each, in any order; unknown calls recorded and ignored; a call whose
//! create answer was lost linked by our id in the metadata.

use chrono::TimeDelta;
use rivvi_domain::lifecycle::{CallOutcome, CallStatus, RowStatus, RunStatus};
use rivvi_execution::engine::{ApplyOutcome, WEBHOOK_SOURCE};
use rivvi_execution::retell::webhook::{CallEvent, CallEventKind};
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::webhook_events;
use serde_json::json;

use crate::support::{Fault, OrgSpec, Person, World};

#[tokio::test]
async fn replayed_and_out_of_order_events_change_nothing() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let engine = world.engine("engine-a");
        let run = world.started_run(&engine, &[Person::chicago(0)]).await;
        engine.dispatch_tick(world.now()).await.unwrap();
        world.clock.advance(TimeDelta::minutes(10));
        let events = world.take_events();
        let kinds: Vec<&CallEventKind> = events.iter().map(|e| &e.event).collect();
        assert_eq!(
            kinds,
            [&CallEventKind::CallStarted, &CallEventKind::CallEnded, &CallEventKind::CallAnalyzed]
        );
        let (started, ended, analyzed) = (&events[0], &events[1], &events[2]);

        // The end arrives first: the call ends and the row is decided.
        let first = engine.apply_call_event(ended).await.unwrap();
        assert!(matches!(
            first,
            ApplyOutcome::Applied {
                call_status: CallStatus::Ended,
                row_status: Some(RowStatus::Completed),
                ..
            }
        ));
        assert_eq!(world.run_status(run).await, RunStatus::Completed);
        // The late start does not move the call back; the analysis adds detail only.
        let late = engine.apply_call_event(started).await.unwrap();
        assert!(matches!(
            late,
            ApplyOutcome::Applied { call_status: CallStatus::Ended, row_status: None, .. }
        ));
        engine.apply_call_event(analyzed).await.unwrap();
        let (row, state) = world.rows(run).await.remove(0);
        let call = world.calls_of(row.id).await.remove(0);
        assert!(call.started_at.is_some(), "the late start still records its timestamp");
        assert!(world.content_of(call.id).await.analysis.is_some());
        assert_eq!(call.outcome, Some(CallOutcome::Reached));

        for event in &events {
            assert_eq!(engine.apply_call_event(event).await.unwrap(), ApplyOutcome::Duplicate);
        }

        let (row_after, state_after) = world.rows(run).await.remove(0);
        assert_eq!((row_after, state_after), (row.clone(), state));
        assert_eq!(world.calls_of(row.id).await.remove(0), call);
        let key = format!("{}:call_ended", call.provider_call_id.as_deref().unwrap());
        let stored = webhook_events::find(&world.db, WEBHOOK_SOURCE, &key).await.unwrap().unwrap();
        assert_eq!(stored.outcome.as_deref(), Some("applied"));
    })
    .await;
}

#[tokio::test]
async fn an_event_about_an_unknown_call_is_recorded_and_ignored() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let engine = world.engine("engine-a");
        let event: CallEvent = serde_json::from_value(json!({
            "event": "call_ended",
            "call": {"call_id": "call_from_elsewhere", "call_status": "ended", "disconnection_reason": "user_hangup"}
        }))
        .unwrap();
        let transcript: CallEvent = serde_json::from_value(json!({
            "event": "transcript_updated", "call": {"call_id": "call_from_elsewhere", "call_status": "ongoing"}
        }))
        .unwrap();

        assert_eq!(engine.apply_call_event(&event).await.unwrap(), ApplyOutcome::UnknownCall);
        assert_eq!(engine.apply_call_event(&event).await.unwrap(), ApplyOutcome::Duplicate);
        assert_eq!(engine.apply_call_event(&transcript).await.unwrap(), ApplyOutcome::Ignored);
        let stored =
            webhook_events::find(&world.db, WEBHOOK_SOURCE, "call_from_elsewhere:call_ended").await.unwrap().unwrap();
        assert_eq!(stored.outcome.as_deref(), Some("ignored: unknown call"));
    })
    .await;
}

#[tokio::test]
async fn a_call_whose_create_answer_was_lost_is_linked_by_its_webhooks() {
    on_each_backend(|db| async move {
        let world = World::new(db, OrgSpec::default()).await;
        let engine = world.engine("engine-a");
        let run = world.started_run(&engine, &[Person::chicago(0)]).await;
        world.provider.inject([Fault::LoseAnswer]);

        let lost = engine.dispatch_tick(world.now()).await.unwrap();

        assert_eq!((lost.dialed, lost.awaiting_reconciliation), (0, 1));
        let (row, state) = world.rows(run).await.remove(0);
        assert_eq!(state.status, RowStatus::Dialing, "left for reconciliation, not redialled");
        assert_eq!(world.calls_of(row.id).await[0].provider_call_id, None);
        assert_eq!(engine.dispatch_tick(world.now()).await.unwrap().dialed, 0);

        world.drive(&engine, run, TimeDelta::seconds(30), 100).await;

        let state = world.rows(run).await.remove(0).1;
        let call = world.calls_of(row.id).await.remove(0);
        assert_eq!((state.status, state.attempts), (RowStatus::Completed, 1));
        assert_eq!(call.provider_call_id.as_deref(), world.provider.placed().first().map(String::as_str));
        assert_eq!(world.provider.assert_no_attempt_dialled_twice(), 1);
    })
    .await;
}
