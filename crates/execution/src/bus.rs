//! The event bus (DESIGN.md §9, issue 13): what happened, as ids and kinds only, published by
//! whichever instance did it and received by every instance.
//!
//! On PostgreSQL an event is a `NOTIFY` on [`CHANNEL`] (payload: the event's JSON, well under
//! PostgreSQL's 8 KB limit since it carries no text), and every instance `LISTEN`s there
//! ([`EventBus::spawn_listener`]), its own events included; on SQLite, which has one instance,
//! it goes straight to the in-process broadcast. Either way receivers get it from
//! [`EventBus::subscribe`]: a bounded broadcast, so a slow receiver never blocks the publisher
//! or the others; one that falls behind is told how many it missed (`Lagged`) and re-reads.
//!
//! Events are published after the change they describe is committed: a receiver that re-reads
//! finds it. An event lost to a crash between the commit and the publish is the same as one a
//! lagging receiver missed; receivers that must not miss anything (the dispatcher) also tick.

use std::future::Future;
use std::time::Duration;

use rivvi_domain::ids::{OrgId, RunId};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::sqlx::PgPool;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The PostgreSQL channel every instance listens on.
pub const CHANNEL: &str = "rivvi_events";

/// How many events a receiver may fall behind before it is told it lagged.
pub const CAPACITY: usize = 1024;

/// Something that happened, by kind and ids: receivers re-read through their own scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusEvent {
    /// What happened.
    pub kind: BusEventKind,
    /// Whose: receivers re-read only within this organization.
    pub org_id: OrgId,
    /// The run concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
}

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusEventKind {
    /// A run was started, resumed, scheduled or otherwise changed status.
    RunChanged,
    /// A call ended (a concurrency slot is free, a row may be due for a retry).
    CallEnded,
}

impl BusEvent {
    /// Whether a dispatcher should look for work at once rather than at its next tick.
    pub fn wakes_dispatch(&self) -> bool {
        matches!(self.kind, BusEventKind::RunChanged | BusEventKind::CallEnded)
    }
}

/// The bus of one instance. Share it as `Arc<EventBus>`.
#[derive(Debug)]
pub struct EventBus {
    db: DatabaseConnection,
    local: broadcast::Sender<BusEvent>,
}

impl EventBus {
    /// A bus over `db`: LISTEN/NOTIFY on PostgreSQL (start [`EventBus::spawn_listener`]), the
    /// in-process broadcast on SQLite.
    pub fn new(db: DatabaseConnection) -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        EventBus { db, local }
    }

    /// Every event from now on, this instance's and (on PostgreSQL) every other instance's.
    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.local.subscribe()
    }

    /// Publishes `event` to every instance. Call it after the change is committed.
    pub async fn publish(&self, event: &BusEvent) -> Result<(), DbErr> {
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let payload = serde_json::to_string(event).map_err(|e| DbErr::Custom(e.to_string()))?;
                let notify = Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                );
                self.db.execute(notify).await?;
            }
            _ => {
                // No receiver is fine: nobody is listening yet.
                let _ = self.local.send(event.clone());
            }
        }
        Ok(())
    }

    /// On PostgreSQL, listens on [`CHANNEL`] until `shutdown` resolves, forwarding each event to
    /// this instance's receivers; reconnects (after a pause) when the connection drops. Events
    /// sent meanwhile are lost to this instance, which its receivers' own ticks cover. Does
    /// nothing on SQLite.
    pub fn spawn_listener<F>(&self, shutdown: F) -> Option<tokio::task::JoinHandle<()>>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return None;
        }
        let pool: PgPool = self.db.get_postgres_connection_pool().clone();
        let local = self.local.clone();
        Some(tokio::spawn(async move {
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    ended = listen(&pool, &local) => {
                        if let Err(err) = ended {
                            tracing::warn!(error = %err, "event bus listener lost its connection; reconnecting");
                        }
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            }
            tracing::debug!("event bus listener stopped");
        }))
    }
}

/// Receives notifications until the connection fails.
async fn listen(pool: &PgPool, local: &broadcast::Sender<BusEvent>) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let notification = listener.recv().await?;
        match serde_json::from_str::<BusEvent>(notification.payload()) {
            Ok(event) => {
                let _ = local.send(event);
            }
            Err(err) => {
                tracing::warn!(error = %err, "ignored an event bus notification that is not an event")
            }
        }
    }
}
