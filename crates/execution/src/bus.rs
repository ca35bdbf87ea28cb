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
//! Each event of a run carries the run's next sequence number (`runs.event_seq`), taken in the
//! statement that sends it: a subscriber that reconnects compares numbers to learn whether it
//! missed anything.
//!
//! Events are published after the change they describe is committed: a receiver that re-reads
//! finds it. An event lost to a crash between the commit and the publish is the same as one a
//! lagging receiver missed; receivers that must not miss anything (the dispatcher) also tick.

use std::future::Future;
use std::time::Duration;

use rivvi_domain::ids::{CampaignId, OrgId, RunId, RunRowId, UploadId};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::sqlx::PgPool;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value};
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
    /// The run row concerned ([`BusEventKind::RowChanged`], [`BusEventKind::CallEnded`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_id: Option<RunRowId>,
    /// The upload concerned ([`BusEventKind::UploadProcessed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<UploadId>,
    /// The campaign concerned ([`BusEventKind::CampaignChanged`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    /// The event's place in its run's sequence (`runs.event_seq`), assigned when it is
    /// published: 1, 2, 3… per run, in the order every instance receives them. `None` for
    /// events of no run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusEventKind {
    /// A run was created.
    RunCreated,
    /// A run was started, paused, resumed, scheduled, completed, failed or canceled.
    RunChanged,
    /// A row of a run changed state (claimed, dialled, skipped, deferred, retried).
    RowChanged,
    /// A call ended (a concurrency slot is free, a row may be due for a retry); for an
    /// outbound call its row changed too.
    CallEnded,
    /// An uploaded sheet was read into a run.
    UploadProcessed,
    /// A campaign was created, edited, published, paused or archived.
    CampaignChanged,
}

impl BusEvent {
    fn new(kind: BusEventKind, org_id: OrgId) -> Self {
        BusEvent { kind, org_id, run_id: None, row_id: None, upload_id: None, campaign_id: None, seq: None }
    }

    /// An event of a whole run ([`BusEventKind::RunCreated`], [`BusEventKind::RunChanged`]).
    pub fn run(kind: BusEventKind, org_id: OrgId, run_id: RunId) -> Self {
        BusEvent { run_id: Some(run_id), ..Self::new(kind, org_id) }
    }

    /// A row of `run_id` changed; `call_ended` when a call's end moved it.
    pub fn row(org_id: OrgId, run_id: RunId, row_id: RunRowId, call_ended: bool) -> Self {
        let kind = if call_ended { BusEventKind::CallEnded } else { BusEventKind::RowChanged };
        BusEvent { run_id: Some(run_id), row_id: Some(row_id), ..Self::new(kind, org_id) }
    }

    /// A call of no run (an inbound call) ended.
    pub fn call_ended(org_id: OrgId) -> Self {
        Self::new(BusEventKind::CallEnded, org_id)
    }

    /// An upload was read into a run.
    pub fn upload(org_id: OrgId, upload_id: UploadId) -> Self {
        BusEvent { upload_id: Some(upload_id), ..Self::new(BusEventKind::UploadProcessed, org_id) }
    }

    /// A campaign changed.
    pub fn campaign(org_id: OrgId, campaign_id: CampaignId) -> Self {
        BusEvent { campaign_id: Some(campaign_id), ..Self::new(BusEventKind::CampaignChanged, org_id) }
    }

    /// Whether a dispatcher should look for work at once rather than at its next tick.
    pub fn wakes_dispatch(&self) -> bool {
        matches!(self.kind, BusEventKind::RunChanged | BusEventKind::CallEnded)
    }

    /// The event's JSON without its closing brace, ready for `,"seq":N}`.
    fn open_payload(&self) -> Result<String, DbErr> {
        let mut payload = serde_json::to_string(&BusEvent { seq: None, ..self.clone() })
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        payload.pop();
        payload.push_str(",\"seq\":");
        Ok(payload)
    }
}

/// The bus of one instance. Share it as `Arc<EventBus>`.
#[derive(Debug)]
pub struct EventBus {
    db: DatabaseConnection,
    local: broadcast::Sender<BusEvent>,
    /// On SQLite, numbering and sending happen under this lock, so receivers get each run's
    /// events in sequence order (PostgreSQL orders them by the run row's lock and the commit).
    in_order: tokio::sync::Mutex<()>,
}

impl EventBus {
    /// A bus over `db`: LISTEN/NOTIFY on PostgreSQL (start [`EventBus::spawn_listener`]), the
    /// in-process broadcast on SQLite.
    pub fn new(db: DatabaseConnection) -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        EventBus { db, local, in_order: tokio::sync::Mutex::new(()) }
    }

    /// Every event from now on, this instance's and (on PostgreSQL) every other instance's.
    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.local.subscribe()
    }

    /// Publishes `event` to every instance. Call it after the change is committed.
    pub async fn publish(&self, event: &BusEvent) -> Result<(), DbErr> {
        self.publish_all(std::slice::from_ref(event)).await
    }

    /// Publishes `events` to every instance, in order, numbering those of a run in its
    /// sequence. Consecutive events of one run take one statement. Call it after the changes
    /// are committed.
    pub async fn publish_all(&self, events: &[BusEvent]) -> Result<(), DbErr> {
        let mut rest = events;
        while let Some(first) = rest.first() {
            let same = rest.iter().take_while(|e| e.run_id == first.run_id).count();
            let (batch, next) = rest.split_at(same);
            rest = next;
            match first.run_id {
                Some(run_id) => self.publish_run_batch(run_id, batch).await?,
                None => {
                    for event in batch {
                        self.publish_unnumbered(event).await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn publish_unnumbered(&self, event: &BusEvent) -> Result<(), DbErr> {
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

    /// Numbers `batch` (all of `run_id`) and sends it. On PostgreSQL one statement takes the
    /// numbers and notifies, so the notifications commit in number order whoever else
    /// publishes for the run at the same time.
    async fn publish_run_batch(&self, run_id: RunId, batch: &[BusEvent]) -> Result<(), DbErr> {
        let count = i64::try_from(batch.len()).unwrap_or(i64::MAX);
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let mut values: Vec<Value> = vec![count.into(), run_id.as_uuid().into(), CHANNEL.into()];
                let mut notifies = Vec::with_capacity(batch.len());
                for (i, event) in batch.iter().enumerate() {
                    values.push(event.open_payload()?.into());
                    let payload = values.len();
                    notifies
                        .push(format!("pg_notify($3, ${payload} || (s.event_seq - $1 + {}) || '}}')", i + 1));
                }
                let sql = format!(
                    "WITH s AS (UPDATE runs SET event_seq = event_seq + $1 WHERE id = $2 RETURNING event_seq) \
                     SELECT {} FROM s",
                    notifies.join(", ")
                );
                // In a transaction of its own, though one statement: a pooled connection left
                // inside a transaction by a cancelled task (a dropped future mid-`BEGIN`) would
                // otherwise keep the run row locked until someone commits on it; here our own
                // COMMIT ends it.
                let txn = self.db.begin().await?;
                txn.execute(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?;
                txn.commit().await?;
            }
            backend => {
                let _ordered = self.in_order.lock().await;
                let bump = Statement::from_sql_and_values(
                    backend,
                    "UPDATE runs SET event_seq = event_seq + ? WHERE id = ? RETURNING event_seq",
                    [count.into(), run_id.as_uuid().into()],
                );
                let Some(row) = self.db.query_one(bump).await? else {
                    return Ok(()); // The run is gone: nobody can re-read it.
                };
                let last: i64 = row.try_get_by_index(0)?;
                let first = u64::try_from(last - count + 1).unwrap_or(0);
                for (i, event) in batch.iter().enumerate() {
                    let _ = self.local.send(BusEvent { seq: Some(first + i as u64), ..event.clone() });
                }
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
