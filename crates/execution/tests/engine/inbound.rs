//! Webhooks about inbound calls: linked to the call written when Retell asked how to answer it
//! (by the ids in its metadata), moved like any call, and never touching a run row.

use chrono::TimeDelta;
use rivvi_domain::campaign::Direction;
use rivvi_domain::ids::{CallId, OrgId};
use rivvi_domain::lifecycle::{CallOutcome, CallStatus, RowStatus, RunStatus};
use rivvi_execution::engine::ApplyOutcome;
use rivvi_execution::retell::webhook::CallEvent;
use rivvi_persistence::calls::{self, CallRecord};
use rivvi_persistence::inbound::{self, NewInboundCall};
use rivvi_persistence::testing::on_each_backend;
use serde_json::{json, Value};

use crate::support::{OrgSpec, Person, World, CALLER};

/// Retell's webhook about the inbound call `provider_call_id`, echoing `metadata`.
fn event(kind: &str, provider_call_id: &str, status: &str, metadata: &Value, start_ms: i64) -> CallEvent {
    let mut call = json!({
        "call_id": provider_call_id, "call_status": status, "direction": "inbound",
        "from_number": "+13125552000", "to_number": CALLER, "metadata": metadata,
        "start_timestamp": start_ms,
    });
    if status == "ended" {
        call["end_timestamp"] = json!(start_ms + 60_000);
        call["duration_ms"] = json!(60_000);
        call["disconnection_reason"] = json!("user_hangup");
        call["transcript"] = json!("Agent: Hello. User: You called me about my appointment.");
    }
    if kind == "call_analyzed" {
        call["call_analysis"] = json!({"call_summary": "Returned the clinic's call.", "in_voicemail": false,
            "custom_analysis_data": {"appt_confirmed": true}});
    }
    serde_json::from_value(json!({"event": kind, "call": call})).unwrap()
}

/// An inbound call answered as a callback of `related`, as the inbound webhook writes it.
async fn answered_callback(world: &World, related: &CallRecord) -> CallId {
    let id = CallId::new();
    inbound::create_inbound_call(
        &world.db,
        &world.scope,
        &world.keys,
        NewInboundCall {
            id,
            campaign_id: related.campaign_id,
            patient_id: related.patient_id,
            related_call_id: Some(related.id),
            from_number: "+13125552000".into(),
            to_number: CALLER.into(),
            local: None,
            created_at: world.now(),
        },
    )
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn an_inbound_callback_is_linked_by_its_metadata_and_never_moves_the_outbound_row() {
    on_each_backend(|db| async move {
        // Arrange: the patient did not answer; a retry is pending.
        let world = World::new(db, OrgSpec::default()).await;
        let person = Person::chicago(0);
        world.sim.script_outcomes(&person.phone, [CallOutcome::NoAnswer]);
        let engine = world.engine("engine-a");
        let run = world.started_run(&engine, &[person]).await;
        engine.dispatch_tick(world.now()).await.unwrap();
        world.clock.advance(TimeDelta::minutes(5));
        world.deliver(&engine).await;
        let (row, before) = world.rows(run).await.remove(0);
        assert_eq!((before.status, before.attempts), (RowStatus::Pending, 1));
        let outbound = world.calls_of(row.id).await.remove(0);
        let call_id = answered_callback(&world, &outbound).await;
        let metadata = json!({"call_id": call_id, "org_id": world.org.id, "direction": "inbound"});
        let start = world.now().timestamp_millis();

        // Act
        let started =
            engine.apply_call_event(&event("call_started", "call_in_1", "ongoing", &metadata, start)).await;
        let ended =
            engine.apply_call_event(&event("call_ended", "call_in_1", "ended", &metadata, start)).await;
        let analyzed =
            engine.apply_call_event(&event("call_analyzed", "call_in_1", "ended", &metadata, start)).await;

        // Assert: the inbound call moved and got its provider id and details.
        let org_id = world.scope.org_id();
        let applied = |status| ApplyOutcome::Applied {
            call_id,
            org_id,
            run_id: None,
            call_status: status,
            row_status: None,
        };
        assert_eq!(started.unwrap(), applied(CallStatus::Ongoing));
        assert_eq!(ended.unwrap(), applied(CallStatus::Ended));
        assert_eq!(analyzed.unwrap(), applied(CallStatus::Ended));
        let call = calls::get(&world.db, &world.scope, call_id).await.unwrap();
        assert_eq!(call.direction, Direction::Inbound);
        assert_eq!(call.provider_call_id.as_deref(), Some("call_in_1"));
        assert_eq!((call.status, call.outcome), (CallStatus::Ended, Some(CallOutcome::Reached)));
        assert_eq!(call.related_call_id, Some(outbound.id));
        let content = calls::get_content(&world.db, &world.scope, &world.keys, call_id).await.unwrap();
        assert!(content.analysis.is_some());
        assert!(content.transcript.is_some() && content.summary.is_some());

        // Assert: the outbound row, its call and the run are as they were.
        let (row_after, after) = world.rows(run).await.remove(0);
        assert_eq!((row_after, after), (row.clone(), before));
        assert_eq!(world.calls_of(row.id).await, vec![outbound]);
        assert_eq!(world.run_status(run).await, RunStatus::Running);
        assert_eq!(world.active_calls().await, 0, "inbound calls hold no outbound slot");
        let replay =
            engine.apply_call_event(&event("call_ended", "call_in_1", "ended", &metadata, start)).await;
        assert_eq!(replay.unwrap(), ApplyOutcome::Duplicate);
    })
    .await;
}

#[tokio::test]
async fn an_inbound_call_event_naming_another_organization_is_not_linked() {
    on_each_backend(|db| async move {
        // Arrange
        let world = World::new(db, OrgSpec::default()).await;
        let engine = world.engine("engine-a");
        let run = world.started_run(&engine, &[Person::chicago(1)]).await;
        engine.dispatch_tick(world.now()).await.unwrap();
        let (row, _) = world.rows(run).await.remove(0);
        let outbound = world.calls_of(row.id).await.remove(0);
        let call_id = answered_callback(&world, &outbound).await;
        let forged = json!({"call_id": call_id, "org_id": OrgId::new(), "direction": "inbound"});

        // Act
        let outcome = engine
            .apply_call_event(&event(
                "call_started",
                "call_in_2",
                "ongoing",
                &forged,
                world.now().timestamp_millis(),
            ))
            .await;

        // Assert
        assert_eq!(outcome.unwrap(), ApplyOutcome::UnknownCall);
        let call = calls::get(&world.db, &world.scope, call_id).await.unwrap();
        assert_eq!((call.provider_call_id, call.status), (None, CallStatus::Registered));
    })
    .await;
}
