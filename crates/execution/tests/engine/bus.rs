//! The event bus between instances: on PostgreSQL a NOTIFY reaches every instance's listener
//! (its own included); on SQLite the one instance hears its own events.

use std::time::Duration;

use rivvi_domain::ids::{OrgId, RunId};
use rivvi_execution::bus::{BusEvent, BusEventKind, EventBus};
use rivvi_persistence::testing::on_each_backend;
use sea_orm::{ConnectionTrait, DbBackend};
use tokio::sync::{broadcast, oneshot};

fn event(n: u8) -> BusEvent {
    BusEvent {
        kind: if n.is_multiple_of(2) { BusEventKind::CallEnded } else { BusEventKind::RunChanged },
        org_id: OrgId(uuid::Uuid::from_bytes([n; 16])),
        run_id: Some(RunId(uuid::Uuid::from_bytes([n + 1; 16]))),
    }
}

/// The next event within a second, if any.
async fn next(receiver: &mut broadcast::Receiver<BusEvent>) -> Option<BusEvent> {
    tokio::time::timeout(Duration::from_secs(1), receiver.recv()).await.ok().and_then(Result::ok)
}

#[tokio::test]
async fn an_event_published_by_one_instance_reaches_every_instance_in_order() {
    on_each_backend(|db| async move {
        // Arrange: two instances' buses over one database, each listening (PostgreSQL).
        let postgres = db.get_database_backend() == DbBackend::Postgres;
        let (a, b) = (EventBus::new(db.clone()), EventBus::new(db.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let (stop_b, stopped_b) = oneshot::channel::<()>();
        let stopped_b = async move {
            let _ = stopped_b.await;
        };
        let listeners: Vec<_> =
            [a.spawn_listener(stopped), b.spawn_listener(stopped_b)].into_iter().flatten().collect();
        assert_eq!(listeners.len(), if postgres { 2 } else { 0 });
        let (mut at_a, mut at_b) = (a.subscribe(), b.subscribe());
        // The listeners connect in the background: probe until both hear one.
        if postgres {
            let mut ready = (false, false);
            for _ in 0..50 {
                a.publish(&event(200)).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
                while let Ok(seen) = at_a.try_recv() {
                    ready.0 |= seen == event(200);
                }
                while let Ok(seen) = at_b.try_recv() {
                    ready.1 |= seen == event(200);
                }
                if ready == (true, true) {
                    break;
                }
            }
            assert_eq!(ready, (true, true), "both listeners are up");
        }

        // Act
        for n in 1..=3 {
            a.publish(&event(n)).await.unwrap();
        }

        // Assert: the publisher's own receivers, and on PostgreSQL the other instance's too.
        for n in 1..=3 {
            assert_eq!(next(&mut at_a).await, Some(event(n)));
        }
        for n in 1..=3 {
            let expected = if postgres { Some(event(n)) } else { None };
            assert_eq!(next(&mut at_b).await, expected, "instance b, event {n}");
        }
        assert!(event(2).wakes_dispatch() && event(1).wakes_dispatch());
        let _ = (stop.send(()), stop_b.send(()));
        for listener in listeners {
            listener.await.unwrap();
        }
    })
    .await;
}
