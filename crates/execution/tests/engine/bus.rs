//! The event bus between instances: on PostgreSQL a NOTIFY reaches every instance's listener
//! (its own included); on SQLite the one instance hears its own events. Events of a run are
//! numbered in one sequence per run, whoever publishes them; the engine publishes every row and
//! run change it commits.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use rivvi_domain::ids::{RunRowId, UploadId};
use rivvi_execution::bus::{BusEvent, BusEventKind, EventBus};
use rivvi_execution::engine::lifecycle::RunChange;
use rivvi_persistence::runs;
use rivvi_persistence::testing::on_each_backend;
use sea_orm::{ConnectionTrait, DbBackend};
use tokio::sync::{broadcast, oneshot};

use crate::support::{by_test, OrgSpec, Person, World};

/// The next event within a second, if any.
async fn next(receiver: &mut broadcast::Receiver<BusEvent>) -> Option<BusEvent> {
    tokio::time::timeout(Duration::from_secs(1), receiver.recv()).await.ok().and_then(Result::ok)
}

/// A listener for `bus` on PostgreSQL (none on SQLite) and the sender that stops it.
fn listen(bus: &EventBus) -> (Option<tokio::task::JoinHandle<()>>, oneshot::Sender<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = bus.spawn_listener(async move {
        let _ = stopped.await;
    });
    (listener, stop)
}

/// Publishes a probe on `bus` until every receiver heard one: the listeners connect in the
/// background. Drains what the probes left.
async fn until_listening(
    bus: &EventBus,
    receivers: &mut [&mut broadcast::Receiver<BusEvent>],
    probe: &BusEvent,
) {
    let mut heard = vec![false; receivers.len()];
    for _ in 0..50 {
        bus.publish(probe).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for (receiver, heard) in receivers.iter_mut().zip(heard.iter_mut()) {
            while let Ok(seen) = receiver.try_recv() {
                *heard |= seen.kind == probe.kind && seen.upload_id == probe.upload_id;
            }
        }
        if heard.iter().all(|h| *h) {
            return;
        }
    }
    panic!("not every listener came up: {heard:?}");
}

#[tokio::test]
async fn events_of_a_run_reach_every_instance_numbered_in_order() {
    on_each_backend(|db| async move {
        // Arrange: a run, and two instances' buses over one database, each listening (PostgreSQL).
        let postgres = db.get_database_backend() == DbBackend::Postgres;
        let world = World::new(db.clone(), OrgSpec::default()).await;
        let campaign = world.campaign(None).await;
        let run = world.run(campaign, &[Person::chicago(1)]).await;
        let org = world.org.id;
        let (a, b) = (EventBus::new(db.clone()), EventBus::new(db.clone()));
        let (listen_a, stop_a) = listen(&a);
        let (listen_b, stop_b) = listen(&b);
        assert_eq!(listen_a.is_some() && listen_b.is_some(), postgres);
        let (mut at_a, mut at_b) = (a.subscribe(), b.subscribe());
        let probe = BusEvent::upload(org, UploadId::new());
        if postgres {
            until_listening(&a, &mut [&mut at_a, &mut at_b], &probe).await;
        }

        // Act: a run change from a, two row changes from b in one batch, an event of no run.
        let changed = BusEvent::run(BusEventKind::RunChanged, org, run);
        a.publish(&changed).await.unwrap();
        let rows = [RunRowId::new(), RunRowId::new()];
        let batch = [BusEvent::row(org, run, rows[0], false), BusEvent::row(org, run, rows[1], true)];
        b.publish_all(&batch).await.unwrap();
        a.publish(&probe).await.unwrap();

        // Assert: numbered 1, 2, 3 for the run, the same at both instances (on SQLite, b's
        // receivers are its own), in order; the event of no run has no number.
        let expected = vec![
            BusEvent { seq: Some(1), ..changed.clone() },
            BusEvent { seq: Some(2), ..batch[0].clone() },
            BusEvent { seq: Some(3), ..batch[1].clone() },
            probe.clone(),
        ];
        let heard_a: Vec<_> = collect(&mut at_a, 4).await;
        if postgres {
            assert_eq!(heard_a, expected);
            assert_eq!(collect(&mut at_b, 4).await, expected);
        } else {
            // Each SQLite bus is its own instance: a hears what a published.
            assert_eq!(heard_a, vec![expected[0].clone(), expected[3].clone()]);
            assert_eq!(collect(&mut at_b, 2).await, expected[1..3].to_vec());
        }
        assert_eq!(runs::event_seq(&db, &world.scope, run).await.unwrap(), 3);
        assert!(
            expected[0].wakes_dispatch() && expected[2].wakes_dispatch() && !expected[1].wakes_dispatch()
        );
        let _ = (stop_a.send(()), stop_b.send(()));
        for listener in [listen_a, listen_b].into_iter().flatten() {
            listener.await.unwrap();
        }
    })
    .await;
}

/// `n` events, each within a second.
async fn collect(receiver: &mut broadcast::Receiver<BusEvent>, n: usize) -> Vec<BusEvent> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match next(receiver).await {
            Some(event) => out.push(event),
            None => break,
        }
    }
    out
}

#[tokio::test]
async fn the_engine_publishes_every_row_and_run_change_of_a_run_numbered_without_gaps() {
    on_each_backend(|db| async move {
        // Arrange
        let world = World::new(db.clone(), OrgSpec { concurrent_call_limit: 2, ..OrgSpec::default() }).await;
        let (listener, stop) = listen(&world.bus);
        let mut events = world.bus.subscribe();
        if listener.is_some() {
            let probe = BusEvent::upload(world.org.id, UploadId::new());
            until_listening(&world.bus, &mut [&mut events], &probe).await;
        }
        let campaign = world.campaign(None).await;
        let people: Vec<Person> = (0..3).map(Person::chicago).collect();
        let run = world.run(campaign, &people).await;
        let engine = world.engine("engine-a");

        // Act
        engine.change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();
        world.drive(&engine, run, TimeDelta::seconds(30), 500).await;

        // Assert: every event up to the run's last number arrives, numbered 1..=last in order.
        let last = runs::event_seq(&db, &world.scope, run).await.unwrap();
        let mut of_run: Vec<BusEvent> = Vec::new();
        while of_run.last().and_then(|e| e.seq) != Some(last) {
            let event = next(&mut events).await.expect("every published event arrives");
            if event.run_id == Some(run) {
                of_run.push(event);
            }
        }
        let seqs: Vec<u64> = of_run.iter().filter_map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=last).collect::<Vec<_>>(), "numbered without gaps, in order");
        assert_eq!(of_run[0].kind, BusEventKind::RunChanged, "the start comes first");
        let closing = of_run.last().unwrap();
        assert_eq!(closing.kind, BusEventKind::RunChanged, "the completion comes last");
        let all_rows: BTreeSet<_> = world.rows(run).await.iter().map(|(row, _)| row.id).collect();
        let ended: BTreeSet<_> =
            of_run.iter().filter(|e| e.kind == BusEventKind::CallEnded).filter_map(|e| e.row_id).collect();
        assert_eq!(ended, all_rows, "every row's call end is published");
        let _ = stop.send(());
        if let Some(listener) = listener {
            listener.await.unwrap();
        }
    })
    .await;
}
