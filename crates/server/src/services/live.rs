//! Live feeds (issue 13): a run's progress, an organization's activity, the engine's health,
//! delivered to subscribers as they happen.
//!
//! One [`LiveHub`] per instance listens to the event bus (which carries ids and kinds only, from
//! every instance) and, for an event somebody here watches, re-reads what changed once through
//! the event's organization scope, then hands it to that run's or organization's watchers on a
//! bounded broadcast. A subscriber was authorised for exactly that run or organization when it
//! subscribed (like the matching query); the hub never reads for events nobody watches.
//!
//! A subscriber pulls from a [`Watch`] ([`RunWatch`], [`OrgWatch`], [`EngineWatch`]); items are
//! [`Shared`], so the transport renders each once for all of an instance's watchers. A slow
//! subscriber never holds anything up: the hub's broadcast does not wait for receivers, and one
//! that falls more than [`FEED_CAPACITY`] behind is told how many it missed
//! ([`RunFeed::Resync`], [`OrgFeed::Resync`]) and re-reads. Each run item carries the run's
//! event sequence number (`runs.event_seq`): the first item of a subscription is a snapshot as
//! of a number, so a client that reconnects knows whether it missed anything.
//!
//! The running tally (the numbers of `runs.getStats`) is re-read at most every
//! [`TALLY_EVERY`] per run while rows change, and with every change of the run's status, so the
//! last item of a finished run carries its final numbers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use rivvi_domain::campaign::CampaignStatus;
use rivvi_domain::ids::{CampaignId, OrgId, RunId, UploadId};
use rivvi_execution::bus::{BusEvent, BusEventKind};
use rivvi_persistence::engine_health::{self, InstanceHealth};
use rivvi_persistence::run_rows::{self, RowState};
use rivvi_persistence::runs::RunRecord;
use rivvi_persistence::uploads::UploadStatus;
use rivvi_persistence::{campaigns, engine_queries, runs, uploads, OrgScope};
use tokio::sync::broadcast;

use super::error::{ServiceError, ServiceResult};
use super::runs::{stats_in, RunStats};
use crate::auth::OrgCaller;
use crate::state::AppState;

/// How far a watcher may fall behind before it is told to re-read.
pub const FEED_CAPACITY: usize = 256;

/// The longest a run's tally waits behind its row changes.
pub const TALLY_EVERY: Duration = Duration::from_millis(250);

/// How often the engine health feed reports.
pub const HEALTH_EVERY: Duration = Duration::from_secs(2);

/// Instances that reported within this long are listed in the health feed.
const HEALTH_RECENT: TimeDelta = TimeDelta::seconds(30);

/// What a subscriber to one run receives.
#[derive(Debug, Clone)]
pub enum RunFeed {
    /// First: where the run stands, as of event `seq`.
    Snapshot { seq: u64, stats: RunStats },
    /// The run's status changed (started, paused, completed…), with its tally.
    Status { seq: u64, stats: RunStats },
    /// A row changed state (`call_ended`: because its call ended).
    Row { seq: u64, row: RowState, call_ended: bool },
    /// The running tally, as of event `seq`.
    Tally { seq: u64, stats: RunStats },
    /// The subscriber fell `missed` events behind: re-read the run's rows and tally.
    Resync { missed: u64 },
}

impl RunFeed {
    /// The event number the item is as of (`None` for a resync).
    pub fn seq(&self) -> Option<u64> {
        match self {
            RunFeed::Snapshot { seq, .. }
            | RunFeed::Status { seq, .. }
            | RunFeed::Row { seq, .. }
            | RunFeed::Tally { seq, .. } => Some(*seq),
            RunFeed::Resync { .. } => None,
        }
    }
}

/// What a subscriber to an organization receives.
#[derive(Debug, Clone)]
pub enum OrgFeed {
    /// First: the feed is live from `at` (read what you need now; later changes follow).
    Subscribed { at: DateTime<Utc> },
    /// A run was created (`created`) or changed status.
    Run { run: Box<RunRecord>, created: bool, seq: Option<u64> },
    /// An upload was read into a run.
    Upload { upload_id: UploadId, status: UploadStatus, at: DateTime<Utc> },
    /// A campaign was created or changed.
    Campaign { campaign_id: CampaignId, name: String, status: CampaignStatus, at: DateTime<Utc> },
    /// The subscriber fell `missed` events behind: re-read the organization's runs.
    Resync { missed: u64 },
}

/// What the operators' engine health feed reports every [`HEALTH_EVERY`].
#[derive(Debug, Clone)]
pub struct EngineHealth {
    pub at: DateTime<Utc>,
    /// Instances that reported in the last 30 seconds, by id.
    pub instances: Vec<InstanceHealth>,
    /// Rows of running runs due now, across instances (the shared database's, not an
    /// instance's: any instance may dial any organization's next row).
    pub due_rows: u64,
    /// Calls in progress per organization, most first.
    pub active_calls: Vec<(OrgId, u64)>,
}

/// One instance's watchers, by run and by organization.
#[derive(Default)]
pub struct LiveHub {
    runs: Mutex<HashMap<RunId, broadcast::Sender<Arc<Shared<RunFeed>>>>>,
    orgs: Mutex<HashMap<OrgId, broadcast::Sender<Arc<Shared<OrgFeed>>>>>,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub").finish_non_exhaustive()
    }
}

/// A channel's sender for `key`, created on first use.
fn sender_for<K: std::hash::Hash + Eq + Copy, T: Clone>(
    map: &Mutex<HashMap<K, broadcast::Sender<T>>>,
    key: K,
) -> broadcast::Sender<T> {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key).or_insert_with(|| broadcast::channel(FEED_CAPACITY).0).clone()
}

/// The sender for `key` if anyone listens.
fn watched<K: std::hash::Hash + Eq, T>(
    map: &Mutex<HashMap<K, broadcast::Sender<T>>>,
    key: &K,
) -> Option<broadcast::Sender<T>> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get(key).filter(|s| s.receiver_count() > 0).cloned()
}

/// Forgets channels nobody listens to any more.
fn prune<K: std::hash::Hash + Eq, T>(map: &Mutex<HashMap<K, broadcast::Sender<T>>>) {
    map.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, s| s.receiver_count() > 0);
}

impl LiveHub {
    /// Tells every watcher it missed `missed` events.
    fn resync_all(&self, missed: u64) {
        for sender in self.runs.lock().unwrap_or_else(|p| p.into_inner()).values() {
            let _ = sender.send(Shared::new(RunFeed::Resync { missed }));
        }
        for sender in self.orgs.lock().unwrap_or_else(|p| p.into_inner()).values() {
            let _ = sender.send(Shared::new(OrgFeed::Resync { missed }));
        }
    }
}

/// Event re-reads in flight at once per instance; their items still go out in event order.
const READS_IN_FLIGHT: usize = 16;

/// Runs whose rows changed since their last tally: organization and latest number.
type Stale = Arc<Mutex<HashMap<RunId, (OrgId, u64)>>>;

/// Listens to the bus until `shutdown`, turning events into feed items for this instance's
/// watchers. Events are re-read several at a time and delivered in order; tallies are counted on
/// a task of their own, so a slow count never delays the events behind it.
pub fn spawn<F>(state: AppState, shutdown: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let events = state.bus.subscribe();
    let stale: Stale = Arc::default();
    let tallies = tokio::spawn(count_tallies(state.clone(), stale.clone()));
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        let received = futures_util::stream::unfold(events, |mut events| async move {
            match events.recv().await {
                Err(broadcast::error::RecvError::Closed) => None,
                received => Some((received, events)),
            }
        });
        let relayed = received
            .map(|received| {
                let state = state.clone();
                async move {
                    match received {
                        Ok(event) => Relayed::Items(relay(&state, &event).await),
                        Err(broadcast::error::RecvError::Lagged(missed)) => Relayed::Lagged(missed),
                        Err(broadcast::error::RecvError::Closed) => Relayed::Items(Vec::new()),
                    }
                }
            })
            .buffered(READS_IN_FLIGHT);
        tokio::pin!(relayed);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                relayed = relayed.next() => match relayed {
                    Some(Relayed::Items(deliveries)) => {
                        for delivery in deliveries {
                            delivery.deliver(&stale);
                        }
                    }
                    Some(Relayed::Lagged(missed)) => {
                        tracing::warn!(missed, "live feeds fell behind the event bus; watchers re-read");
                        state.live.resync_all(missed);
                    }
                    None => break,
                },
            }
        }
        tallies.abort();
    })
}

/// What one bus event became.
enum Relayed {
    Items(Vec<Delivery>),
    /// This instance's hub missed events: every watcher re-reads.
    Lagged(u64),
}

/// An item for the watchers of a run or an organization.
enum Delivery {
    Run { sender: broadcast::Sender<Arc<Shared<RunFeed>>>, run_id: RunId, org_id: OrgId, item: Box<RunFeed> },
    Org { sender: broadcast::Sender<Arc<Shared<OrgFeed>>>, item: OrgFeed },
}

impl Delivery {
    /// Sends the item; a row change marks its run's tally stale, a status (which carries the
    /// tally) marks it fresh.
    fn deliver(self, stale: &Stale) {
        match self {
            Delivery::Run { sender, run_id, org_id, item } => {
                let mut stale = stale.lock().unwrap_or_else(|p| p.into_inner());
                match &*item {
                    RunFeed::Row { seq, .. } => {
                        stale.insert(run_id, (org_id, *seq));
                    }
                    RunFeed::Status { .. } => {
                        stale.remove(&run_id);
                    }
                    _ => {}
                }
                let _ = sender.send(Shared::new(*item));
            }
            Delivery::Org { sender, item } => {
                let _ = sender.send(Shared::new(item));
            }
        }
    }
}

/// Every [`TALLY_EVERY`], counts the tally of each run whose rows changed and sends it to its
/// watchers (`seq`: the latest row change it includes).
async fn count_tallies(state: AppState, stale: Stale) {
    let mut ticks = tokio::time::interval(TALLY_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let due = std::mem::take(&mut *stale.lock().unwrap_or_else(|p| p.into_inner()));
        for (run_id, (org_id, seq)) in due {
            let Some(sender) = watched(&state.live.runs, &run_id) else { continue };
            let scope = OrgScope::for_verified_org(org_id);
            match stats_in(&state, &scope, run_id).await {
                Ok(stats) => {
                    let _ = sender.send(Shared::new(RunFeed::Tally { seq, stats }));
                }
                Err(err) => tracing::debug!(run_id = %run_id, error = %err, "live tally skipped"),
            }
        }
        prune(&state.live.runs);
        prune(&state.live.orgs);
    }
}

/// Re-reads what `event` names for whoever watches it here.
async fn relay(state: &AppState, event: &BusEvent) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    let scope = OrgScope::for_verified_org(event.org_id);
    if let (Some(run_id), Some(seq)) = (event.run_id, event.seq) {
        if let Some(sender) = watched(&state.live.runs, &run_id) {
            let item = match (event.kind, event.row_id) {
                (BusEventKind::RowChanged | BusEventKind::CallEnded, Some(row_id)) => {
                    run_rows::state(&state.db, &scope, row_id, false)
                        .await
                        .map(|row| RunFeed::Row {
                            seq,
                            row,
                            call_ended: event.kind == BusEventKind::CallEnded,
                        })
                        .map_err(ServiceError::from)
                }
                _ => stats_in(state, &scope, run_id).await.map(|stats| RunFeed::Status { seq, stats }),
            };
            match item {
                Ok(item) => deliveries.push(Delivery::Run {
                    sender,
                    run_id,
                    org_id: event.org_id,
                    item: Box::new(item),
                }),
                Err(err) => tracing::debug!(run_id = %run_id, error = %err, "live run item skipped"),
            }
        }
    }
    let Some(sender) = watched(&state.live.orgs, &event.org_id) else {
        return deliveries;
    };
    let item = match event.kind {
        BusEventKind::RunCreated | BusEventKind::RunChanged => match event.run_id {
            Some(run_id) => runs::get(&state.db, &scope, run_id).await.map(|run| {
                Some(OrgFeed::Run {
                    run: Box::new(run),
                    created: event.kind == BusEventKind::RunCreated,
                    seq: event.seq,
                })
            }),
            None => Ok(None),
        },
        BusEventKind::UploadProcessed => match event.upload_id {
            Some(id) => uploads::get(&state.db, &scope, &state.keys, id).await.map(|upload| {
                Some(OrgFeed::Upload { upload_id: upload.id, status: upload.status, at: upload.updated_at })
            }),
            None => Ok(None),
        },
        BusEventKind::CampaignChanged => match event.campaign_id {
            Some(id) => campaigns::get(&state.db, &scope, id).await.map(|campaign| {
                Some(OrgFeed::Campaign {
                    campaign_id: campaign.id,
                    name: campaign.definition.name().to_owned(),
                    status: campaign.definition.status(),
                    at: campaign.updated_at,
                })
            }),
            None => Ok(None),
        },
        BusEventKind::RowChanged | BusEventKind::CallEnded => Ok(None),
    };
    match item {
        Ok(Some(item)) => deliveries.push(Delivery::Org { sender, item }),
        Ok(None) => {}
        Err(err) => tracing::debug!(org_id = %event.org_id, error = %err, "live organization item skipped"),
    }
    deliveries
}

/// An item as the hub shares it among an instance's watchers, with the transport's rendering of
/// it made once for all of them (a thousand subscribers to a run cost one serialisation per item,
/// not a thousand).
#[derive(Debug)]
pub struct Shared<T> {
    pub item: T,
    rendered: OnceLock<Arc<str>>,
}

impl<T> Shared<T> {
    pub fn new(item: T) -> Arc<Self> {
        Arc::new(Shared { item, rendered: OnceLock::new() })
    }

    /// The item as `render` writes it, rendered by the first watcher that asks.
    pub fn rendered(&self, render: impl FnOnce(&T) -> String) -> Arc<str> {
        self.rendered.get_or_init(|| render(&self.item).into()).clone()
    }
}

/// A subscription's source of items: pull the next with [`Watch::next`]; dropping it
/// unsubscribes.
pub trait Watch: Send + 'static {
    type Item: Send + Sync + 'static;

    /// The next item, waiting for it; `None` when the feed ended.
    fn next(&mut self) -> impl Future<Output = Option<Arc<Shared<Self::Item>>>> + Send;
}

/// A subscriber's view of one run: its snapshot, then the run's items after the snapshot's
/// number; one that fell behind gets a [`RunFeed::Resync`] in place of what it missed.
pub struct RunWatch {
    first: Option<Arc<Shared<RunFeed>>>,
    seq: u64,
    items: broadcast::Receiver<Arc<Shared<RunFeed>>>,
}

impl RunWatch {
    fn new(first: RunFeed, items: broadcast::Receiver<Arc<Shared<RunFeed>>>) -> Self {
        RunWatch { seq: first.seq().unwrap_or(0), first: Some(Shared::new(first)), items }
    }
}

impl Watch for RunWatch {
    type Item = RunFeed;

    async fn next(&mut self) -> Option<Arc<Shared<RunFeed>>> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        loop {
            return match self.items.recv().await {
                // Already in the snapshot.
                Ok(item) if item.item.seq().is_some_and(|n| n <= self.seq) => continue,
                Ok(item) => Some(item),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some(Shared::new(RunFeed::Resync { missed }))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            };
        }
    }
}

/// A subscriber's view of one organization: `Subscribed`, then its items.
pub struct OrgWatch {
    first: Option<Arc<Shared<OrgFeed>>>,
    items: broadcast::Receiver<Arc<Shared<OrgFeed>>>,
}

impl Watch for OrgWatch {
    type Item = OrgFeed;

    async fn next(&mut self) -> Option<Arc<Shared<OrgFeed>>> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        match self.items.recv().await {
            Ok(item) => Some(item),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Shared::new(OrgFeed::Resync { missed })),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// The engine health feed: a report at once, then every `every`.
pub struct EngineWatch {
    state: AppState,
    reports: tokio::time::Interval,
}

impl Watch for EngineWatch {
    type Item = EngineHealth;

    async fn next(&mut self) -> Option<Arc<Shared<EngineHealth>>> {
        loop {
            self.reports.tick().await;
            match engine_health(&self.state).await {
                Ok(health) => return Some(Shared::new(health)),
                Err(err) => tracing::warn!(error = %err, "engine health could not be read"),
            }
        }
    }
}

/// Watches a run of the caller's organization: a not-found for another organization's run,
/// exactly like `runs.getStats`.
pub async fn watch_run(state: &AppState, caller: &OrgCaller, run_id: RunId) -> ServiceResult<RunWatch> {
    let scope = caller.scope;
    // Watch first, then read: nothing committed after the snapshot's number is missed.
    let items = sender_for(&state.live.runs, run_id).subscribe();
    let seq = runs::event_seq(&state.db, &scope, run_id).await?;
    let stats = stats_in(state, &scope, run_id).await?;
    Ok(RunWatch::new(RunFeed::Snapshot { seq, stats }, items))
}

/// Watches the caller's organization.
pub fn watch_org(state: &AppState, caller: &OrgCaller) -> OrgWatch {
    let items = sender_for(&state.live.orgs, caller.scope.org_id()).subscribe();
    OrgWatch { first: Some(Shared::new(OrgFeed::Subscribed { at: Utc::now() })), items }
}

/// Watches the engines' health, a report every `every`.
pub fn watch_engine(state: &AppState, every: Duration) -> EngineWatch {
    let mut reports = tokio::time::interval(every);
    reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    EngineWatch { state: state.clone(), reports }
}

/// Every instance's latest report and the shared measures, now.
async fn engine_health(state: &AppState) -> ServiceResult<EngineHealth> {
    let at = Utc::now();
    let instances = engine_health::recent(&state.db, at - HEALTH_RECENT).await?;
    let workload = engine_queries::workload(&state.db, state.clock.now()).await?;
    let active_calls = engine_health::active_calls_by_org(&state.db).await?;
    Ok(EngineHealth { at, instances, due_rows: workload.due_rows, active_calls })
}

/// Publishes `events` after the change they describe committed. A failure is logged: the
/// dispatchers' ticks and the subscribers' next re-read cover it.
pub async fn publish(state: &AppState, events: &[BusEvent]) {
    if let Err(err) = state.bus.publish_all(events).await {
        tracing::warn!(error = %err, events = events.len(), "could not publish events; other instances see the change at their next tick");
    }
}

#[cfg(test)]
mod tests {
    use rivvi_domain::ids::RunRowId;
    use rivvi_domain::lifecycle::RowStatus;

    use super::*;

    fn pending_row() -> RowState {
        RowState {
            id: RunRowId::new(),
            run_id: RunId::new(),
            patient_id: None,
            status: RowStatus::Pending,
            attempts: 1,
            next_attempt_at: None,
            lease_until: None,
            leased_by: None,
            outcome: None,
            last_error: None,
            skip_reason: None,
        }
    }

    fn row(seq: u64) -> Arc<Shared<RunFeed>> {
        Shared::new(RunFeed::Row { seq, row: pending_row(), call_ended: false })
    }

    /// Every item the watch has now.
    async fn drain(watch: &mut RunWatch) -> Vec<Option<u64>> {
        let mut seqs = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(100), watch.next()).await {
            seqs.push(match item.item {
                RunFeed::Resync { missed } => Some(1000 + missed),
                ref other => other.seq(),
            });
        }
        seqs
    }

    #[tokio::test]
    async fn items_already_in_the_snapshot_are_skipped_and_later_ones_follow_in_order() {
        let (sender, items) = broadcast::channel(8);
        for seq in [4, 5, 6, 7] {
            sender.send(row(seq)).unwrap();
        }
        let snapshot = RunFeed::Row { seq: 5, row: pending_row(), call_ended: false };
        let mut watch = RunWatch::new(snapshot, items);

        assert_eq!(drain(&mut watch).await, vec![Some(5), Some(6), Some(7)]);
    }

    #[tokio::test]
    async fn a_watcher_that_falls_behind_gets_a_resync_then_the_newest_items() {
        // Arrange: a channel holding 4 items, and 10 sent before the watcher reads any.
        let (sender, items) = broadcast::channel(4);
        let mut watch = RunWatch::new(RunFeed::Resync { missed: 0 }, items);
        for seq in 1..=10 {
            sender.send(row(seq)).unwrap();
        }

        // Act
        let seqs = drain(&mut watch).await;

        // Assert: the first item, then told it missed 6 (1000 + 6 here), then 7..=10; the
        // publisher never waited.
        assert_eq!(seqs, vec![Some(1000), Some(1006), Some(7), Some(8), Some(9), Some(10)]);
    }

    #[test]
    fn an_item_is_rendered_once_for_all_its_watchers() {
        let item = row(1);
        let mut renders = 0;
        let first = item.rendered(|_| {
            renders += 1;
            "{}".to_owned()
        });
        let second = item.rendered(|_| unreachable!("rendered already"));
        assert_eq!((renders, &*first, Arc::ptr_eq(&first, &second)), (1, "{}", true));
    }
}
