//! Opt-outs honoured as they are heard (TCPA): every call asks for the built-in `opted_out`
//! field; a call whose analysis says yes puts the number on the do-not-call list once, audited
//! by the system, skips the number's pending rows in every unfinished run, and is never retried.

use chrono::TimeDelta;
use rivvi_domain::analytics::{is_opted_out, OPTED_OUT_FIELD};
use rivvi_domain::lifecycle::{CallOutcome, RowStatus, RunStatus};
use rivvi_execution::engine::lifecycle::RunChange;
use rivvi_execution::engine::ApplyOutcome;
use rivvi_execution::provider::AnalysisFieldSpec;
use rivvi_execution::retell::webhook::{CallEvent, CallEventKind};
use rivvi_persistence::audit::{self, AuditActor, AuditFilter};
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::{do_not_call, Page};
use serde_json::Value;

use crate::support::{by_test, OrgSpec, Person, World};

/// The number's do-not-call entries and the audit entries about the list.
async fn listed(world: &World) -> (Vec<do_not_call::DoNotCallEntry>, Vec<audit::AuditEntry>) {
    let (entries, _) =
        do_not_call::list_with_numbers(&world.db, &world.scope, &world.keys, Page::new(50, 0)).await.unwrap();
    let filter = AuditFilter {
        entity_type: Some("do_not_call".into()),
        page: Page::new(50, 0),
        ..AuditFilter::default()
    };
    let (audited, _) = audit::list(&world.db, &world.scope, &filter).await.unwrap();
    (entries, audited)
}

/// `event` with the patient's analysis answering `opted_out: true`, as `kind`.
fn opting_out(event: &CallEvent, kind: CallEventKind) -> CallEvent {
    let mut call = event.call.clone();
    let analysis = call.call_analysis.as_mut().unwrap();
    analysis.custom_analysis_data.insert(OPTED_OUT_FIELD.into(), Value::Bool(true));
    CallEvent { event: kind, call }
}

#[tokio::test]
async fn a_patient_who_opts_out_is_listed_once_audited_and_never_dialled_again() {
    on_each_backend(|db| async move {
        // Arrange: one call at a time; run A calls the patient first, run B (started a second
        // later) has them last; the simulator makes them say "stop calling me".
        let world = World::new(db, OrgSpec { concurrent_call_limit: 1, ..OrgSpec::default() }).await;
        let engine = world.engine("engine-a");
        let campaign = world.campaign(None).await;
        let (opting, first, second) = (Person::chicago(0), Person::chicago(1), Person::chicago(2));
        let run_a = world.run(campaign, &[opting.clone(), first.clone()]).await;
        engine.change_run(&world.scope, run_a, RunChange::Start, &by_test()).await.unwrap();
        world.clock.advance(TimeDelta::seconds(1));
        let run_b = world.run(campaign, &[second.clone(), opting.clone()]).await;
        engine.change_run(&world.scope, run_b, RunChange::Start, &by_test()).await.unwrap();
        world.sim.script_opt_out(&opting.phone);

        // Act: the call; its end arrives carrying the analysis (as Retell's may), then the
        // analysis itself, then both again.
        let dispatched = engine.dispatch_tick(world.now()).await.unwrap();
        world.clock.advance(TimeDelta::minutes(10));
        let events = world.take_events();
        let (started, ended, analyzed) = (&events[0], &events[1], &events[2]);
        let ended_with_analysis = CallEvent { event: CallEventKind::CallEnded, call: analyzed.call.clone() };
        engine.apply_call_event(started).await.unwrap();
        let on_end = engine.apply_call_event(&ended_with_analysis).await.unwrap();
        let after_end = listed(&world).await;
        let b_after_end = world.rows(run_b).await;
        let on_analysis = engine.apply_call_event(analyzed).await.unwrap();
        let replays =
            [engine.apply_call_event(ended).await.unwrap(), engine.apply_call_event(analyzed).await.unwrap()];
        world.drive(&engine, run_b, TimeDelta::seconds(30), 200).await;
        let third = world.run(campaign, std::slice::from_ref(&opting)).await;
        engine.change_run(&world.scope, third, RunChange::Start, &by_test()).await.unwrap();
        let later = engine.dispatch_tick(world.now()).await.unwrap();

        // Assert: the call asked for the field and heard the opt-out.
        assert_eq!(dispatched.dialed, 1);
        let dials = world.provider.dials();
        assert!(
            dials[0].create.analysis_fields.contains(&AnalysisFieldSpec::opted_out()),
            "{:?}",
            dials[0].create
        );
        assert!(analyzed.call.transcript.as_deref().unwrap().contains("Please stop calling me."));
        assert!(matches!(on_end, ApplyOutcome::Applied { row_status: Some(RowStatus::Completed), .. }));
        assert!(matches!(on_analysis, ApplyOutcome::Applied { row_status: None, .. }));
        assert_eq!(replays, [ApplyOutcome::Duplicate, ApplyOutcome::Duplicate]);

        // Listed once, by the system, naming the call and never the number.
        let call = world.calls_of(world.rows(run_a).await[0].0.id).await.remove(0);
        let (entries, audited) = listed(&world).await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].number.as_deref(), Some(opting.phone.as_str()));
        assert_eq!(entries[0].record.reason, format!("opted out during call {}", call.id));
        assert_eq!(entries[0].record.added_by, None);
        assert_eq!(audited.len(), 1, "{audited:?}");
        assert_eq!(audited[0].action, "do_not_call.added");
        assert_eq!(audited[0].actor, AuditActor::System { label: format!("opt-out in call {}", call.id) });
        assert_eq!(audited[0].entity_id, Some(entries[0].record.id.to_string()));
        let digits = opting.phone.trim_start_matches("+1");
        assert!(!format!("{audited:?}").contains(digits), "no number in the audit log");
        assert_eq!((after_end.0.len(), after_end.1.len()), (1, 1), "honoured on the first report");
        assert_eq!(b_after_end[1].1.status, RowStatus::Skipped, "skipped at once, not when claimed");
        assert_eq!(b_after_end[0].1.status, RowStatus::Pending, "another patient's row is left alone");

        // Run B's row for the number was skipped without a call; everyone else was called once.
        let a = world.rows(run_a).await;
        let b = world.rows(run_b).await;
        assert_eq!(a[0].1.status, RowStatus::Completed);
        assert!(is_opted_out(a[0].0.analysis.as_ref()), "the row counts as opted out: {:?}", a[0].1);
        assert_eq!(b[1].1.status, RowStatus::Skipped);
        assert_eq!(b[1].1.skip_reason.as_deref(), Some("do_not_call"));
        assert_eq!(b[1].1.attempts, 0);
        let called =
            |phone: &str| world.provider.dials().iter().filter(|d| d.create.to_number == phone).count();
        assert_eq!((called(&opting.phone), called(&first.phone), called(&second.phone)), (1, 1, 1));
        assert_eq!(world.run_status(run_a).await, RunStatus::Completed);
        assert_eq!(world.run_status(run_b).await, RunStatus::Completed);

        // A run made afterwards skips the number at dispatch.
        assert_eq!((later.dialed, later.skipped_dnc), (0, 1));
        assert_eq!(called(&opting.phone), 1);
    })
    .await;
}

#[tokio::test]
async fn an_opt_out_is_never_retried_even_when_heard_after_the_retry_was_scheduled() {
    on_each_backend(|db| async move {
        // Arrange: voicemail is retried; two patients' machines answer (a provider may still
        // hear "stop calling me" on them).
        let world = World::new(db, OrgSpec::default()).await;
        let engine = world.engine("engine-a");
        let policy = serde_json::json!({"maxAttempts": 3, "retryOn": ["voicemail"], "delayMinutes": 5});
        let campaign = world.campaign(Some(policy)).await;
        let (on_end, on_analysis) = (Person::chicago(0), Person::chicago(1));
        for person in [&on_end, &on_analysis] {
            world.sim.script_outcomes(&person.phone, [CallOutcome::Voicemail]);
        }
        let run = world.run(campaign, &[on_end.clone(), on_analysis.clone()]).await;
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();
        engine.dispatch_tick(world.now()).await.unwrap();
        world.clock.advance(TimeDelta::minutes(10));
        let events = world.take_events();
        let of = |phone: &str, kind: CallEventKind| {
            events.iter().find(|e| e.call.to_number == phone && e.event == kind).unwrap().clone()
        };

        // Act: the first patient's end carries the opt-out; the second's end is plain, so the
        // row is put back for a retry, and the opt-out comes with the analysis.
        let analyzed = of(&on_end.phone, CallEventKind::CallAnalyzed);
        engine.apply_call_event(&opting_out(&analyzed, CallEventKind::CallEnded)).await.unwrap();
        engine.apply_call_event(&of(&on_analysis.phone, CallEventKind::CallEnded)).await.unwrap();
        let retrying = world.rows(run).await[1].1.clone();
        let analyzed = of(&on_analysis.phone, CallEventKind::CallAnalyzed);
        engine.apply_call_event(&opting_out(&analyzed, CallEventKind::CallAnalyzed)).await.unwrap();
        let rows = world.rows(run).await;
        world.clock.advance(TimeDelta::minutes(30));
        let later = engine.dispatch_tick(world.now()).await.unwrap();

        // Assert
        assert_eq!(rows[0].1.status, RowStatus::Completed, "not retried: {:?}", rows[0].1);
        assert_eq!(retrying.status, RowStatus::Pending);
        assert_eq!(rows[1].1.status, RowStatus::Skipped, "the retry is taken back: {:?}", rows[1].1);
        assert_eq!(rows[1].1.skip_reason.as_deref(), Some("do_not_call"));
        assert_eq!(rows[1].1.next_attempt_at, None);
        assert_eq!(rows[1].1.attempts, 1, "the attempt that heard it still counts");
        assert_eq!(listed(&world).await.0.len(), 2);
        assert_eq!(later.dialed, 0);
        assert_eq!(world.provider.dials().len(), 2);
    })
    .await;
}
