//! Live feeds (issue 13): a run's progress, an organization's activity, the engine's health,
//! delivered to subscribers as they happen.
//!
//! One [`LiveHub`] per instance listens to the event bus (which carries ids and kinds only, from
//! every instance) and, for an event somebody here watches, re-reads what changed once through
//! the event's organization scope, then hands it to that run's or organization's watchers on a
//! bounded broadcast. A subscriber was authorised for exactly that run or organization when it
//! subscribed (like the matching query); the hub never reads for events nobody watches.
//!
//! A slow subscriber never holds anything up: the hub's broadcast does not wait for receivers,
//! and one that falls more than [`FEED_CAPACITY`] behind is told how many it missed
//! ([`RunFeed::Resync`], [`OrgFeed::Resync`]) and re-reads. Each run item carries the run's
//! event sequence number (`runs.event_seq`): the first item of a subscription is a snapshot as
//! of a number, so a client that reconnects knows whether it missed anything.
//!
//! The running tally (the numbers of `runs.getStats`) is re-read at most every
//! [`TALLY_EVERY`] per run while rows change, and with every change of the run's status, so the
//! last item of a finished run carries its final numbers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rivvi_domain::campaign::CampaignStatus;
use rivvi_domain::ids::{CampaignId, OrgId, RunId, UploadId};
use rivvi_execution::bus::{BusEvent, BusEventKind};
use rivvi_persistence::engine_health::{self, InstanceHealth};
use rivvi_persistence::run_rows::{self, RowState};
use rivvi_persistence::runs::RunRecord;
use rivvi_persistence::uploads::UploadStatus;
use rivvi_persistence::{campaigns, engine_queries, runs, uploads, OrgScope};
use tokio::sync::{broadcast, mpsc};

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
    runs: Mutex<HashMap<RunId, broadcast::Sender<Arc<RunFeed>>>>,
    orgs: Mutex<HashMap<OrgId, broadcast::Sender<Arc<OrgFeed>>>>,
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
    /// How many runs and organizations are watched on this instance.
    pub fn watched(&self) -> (usize, usize) {
        prune(&self.runs);
        prune(&self.orgs);
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner()).len();
        let orgs = self.orgs.lock().unwrap_or_else(|p| p.into_inner()).len();
        (runs, orgs)
    }

    /// Tells every watcher it missed `missed` events.
    fn resync_all(&self, missed: u64) {
        for sender in self.runs.lock().unwrap_or_else(|p| p.into_inner()).values() {
            let _ = sender.send(Arc::new(RunFeed::Resync { missed }));
        }
        for sender in self.orgs.lock().unwrap_or_else(|p| p.into_inner()).values() {
            let _ = sender.send(Arc::new(OrgFeed::Resync { missed }));
        }
    }
}

/// Listens to the bus until `shutdown`, turning events into feed items for this instance's
/// watchers.
pub fn spawn<F>(state: AppState, shutdown: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut events = state.bus.subscribe();
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        let mut tallies = tokio::time::interval(TALLY_EVERY);
        tallies.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Runs whose rows changed since their last tally: organization and latest number.
        let mut stale: HashMap<RunId, (OrgId, u64)> = HashMap::new();
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                received = events.recv() => match received {
                    Ok(event) => relay(&state, &event, &mut stale).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "live feeds fell behind the event bus; watchers re-read");
                        stale.clear();
                        state.live.resync_all(missed);
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tallies.tick() => {
                    for (run_id, (org_id, seq)) in std::mem::take(&mut stale) {
                        let Some(sender) = watched(&state.live.runs, &run_id) else { continue };
                        let scope = OrgScope::for_verified_org(org_id);
                        match stats_in(&state, &scope, run_id).await {
                            Ok(stats) => {
                                let _ = sender.send(Arc::new(RunFeed::Tally { seq, stats }));
                            }
                            Err(err) => tracing::debug!(run_id = %run_id, error = %err, "live tally skipped"),
                        }
                    }
                    prune(&state.live.runs);
                    prune(&state.live.orgs);
                }
            }
        }
    })
}

/// Re-reads what `event` names for whoever watches it here.
async fn relay(state: &AppState, event: &BusEvent, stale: &mut HashMap<RunId, (OrgId, u64)>) {
    let scope = OrgScope::for_verified_org(event.org_id);
    if let (Some(run_id), Some(seq)) = (event.run_id, event.seq) {
        if let Some(sender) = watched(&state.live.runs, &run_id) {
            let item = match (event.kind, event.row_id) {
                (BusEventKind::RowChanged | BusEventKind::CallEnded, Some(row_id)) => {
                    stale.insert(run_id, (event.org_id, seq));
                    run_rows::state(&state.db, &scope, row_id, false)
                        .await
                        .map(|row| RunFeed::Row {
                            seq,
                            row,
                            call_ended: event.kind == BusEventKind::CallEnded,
                        })
                        .map_err(ServiceError::from)
                }
                _ => {
                    stale.remove(&run_id);
                    stats_in(state, &scope, run_id).await.map(|stats| RunFeed::Status { seq, stats })
                }
            };
            match item {
                Ok(item) => {
                    let _ = sender.send(Arc::new(item));
                }
                Err(err) => tracing::debug!(run_id = %run_id, error = %err, "live run item skipped"),
            }
        }
    }
    let Some(sender) = watched(&state.live.orgs, &event.org_id) else {
        return;
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
            Some(id) => uploads::get(&state.db, &scope, id).await.map(|upload| {
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
        Ok(Some(item)) => {
            let _ = sender.send(Arc::new(item));
        }
        Ok(None) => {}
        Err(err) => tracing::debug!(org_id = %event.org_id, error = %err, "live organization item skipped"),
    }
}

/// A subscription's items, ending when the subscriber goes away.
pub type Feed<T> = mpsc::Receiver<T>;

/// How many items wait for a subscriber's socket before its feed stops reading (and later
/// tells it to resync).
const SUBSCRIBER_BUFFER: usize = 32;

/// The live feed of a run of the caller's organization: a not-found for another
/// organization's run, exactly like `runs.getStats`.
pub async fn watch_run(state: &AppState, caller: &OrgCaller, run_id: RunId) -> ServiceResult<Feed<RunFeed>> {
    let scope = caller.scope;
    // Watch first, then read: nothing committed after the snapshot's number is missed.
    let items = sender_for(&state.live.runs, run_id).subscribe();
    let seq = runs::event_seq(&state.db, &scope, run_id).await?;
    let stats = stats_in(state, &scope, run_id).await?;
    let (out, feed) = mpsc::channel(SUBSCRIBER_BUFFER);
    tokio::spawn(forward_run(RunFeed::Snapshot { seq, stats }, items, out));
    Ok(feed)
}

/// Sends `first`, then the run's items after its number; a watcher that fell behind gets a
/// [`RunFeed::Resync`] in place of what it missed. Ends when the subscriber goes away.
async fn forward_run(
    first: RunFeed,
    mut items: broadcast::Receiver<Arc<RunFeed>>,
    out: mpsc::Sender<RunFeed>,
) {
    let seq = first.seq().unwrap_or(0);
    if out.send(first).await.is_err() {
        return;
    }
    loop {
        let item = tokio::select! {
            () = out.closed() => break,
            received = items.recv() => match received {
                // Already in the snapshot.
                Ok(item) if item.seq().is_some_and(|n| n <= seq) => continue,
                Ok(item) => RunFeed::clone(&item),
                Err(broadcast::error::RecvError::Lagged(missed)) => RunFeed::Resync { missed },
                Err(broadcast::error::RecvError::Closed) => break,
            },
        };
        if out.send(item).await.is_err() {
            break;
        }
    }
}

/// The live feed of the caller's organization.
pub fn watch_org(state: &AppState, caller: &OrgCaller) -> Feed<OrgFeed> {
    let mut items = sender_for(&state.live.orgs, caller.scope.org_id()).subscribe();
    let (out, feed) = mpsc::channel(SUBSCRIBER_BUFFER);
    let at = Utc::now();
    tokio::spawn(async move {
        if out.send(OrgFeed::Subscribed { at }).await.is_err() {
            return;
        }
        loop {
            let item = tokio::select! {
                () = out.closed() => break,
                received = items.recv() => match received {
                    Ok(item) => OrgFeed::clone(&item),
                    Err(broadcast::error::RecvError::Lagged(missed)) => OrgFeed::Resync { missed },
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            };
            if out.send(item).await.is_err() {
                break;
            }
        }
    });
    feed
}

/// The engine health feed: a report now, then every `every`.
pub fn watch_engine(state: &AppState, every: Duration) -> Feed<EngineHealth> {
    let state = state.clone();
    let (out, feed) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut reports = tokio::time::interval(every);
        reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = out.closed() => break,
                _ = reports.tick() => {}
            }
            match engine_health(&state).await {
                Ok(health) => {
                    if out.send(health).await.is_err() {
                        break;
                    }
                }
                Err(err) => tracing::warn!(error = %err, "engine health could not be read"),
            }
        }
    });
    feed
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
            analysis: None,
            last_error: None,
            skip_reason: None,
        }
    }

    fn row(seq: u64) -> Arc<RunFeed> {
        Arc::new(RunFeed::Row { seq, row: pending_row(), call_ended: false })
    }

    fn seqs(items: &[RunFeed]) -> Vec<Option<u64>> {
        items.iter().map(RunFeed::seq).collect()
    }

    async fn drain(feed: &mut Feed<RunFeed>) -> Vec<RunFeed> {
        let mut items = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(200), feed.recv()).await {
            items.push(item);
        }
        items
    }

    #[tokio::test]
    async fn items_already_in_the_snapshot_are_skipped_and_later_ones_follow_in_order() {
        let (sender, items) = broadcast::channel(8);
        let (out, mut feed) = mpsc::channel(8);
        for seq in [4, 5, 6, 7] {
            sender.send(row(seq)).unwrap();
        }
        tokio::spawn(forward_run(RunFeed::Resync { missed: 0 }, items, out));
        // A resync has no number: everything after 0 follows.
        assert_eq!(seqs(&drain(&mut feed).await), vec![None, Some(4), Some(5), Some(6), Some(7)]);

        let (sender, items) = broadcast::channel(8);
        let (out, mut feed) = mpsc::channel(8);
        for seq in [4, 5, 6, 7] {
            sender.send(row(seq)).unwrap();
        }
        let snapshot = RunFeed::Row { seq: 5, row: pending_row(), call_ended: false };
        tokio::spawn(forward_run(snapshot, items, out));
        assert_eq!(seqs(&drain(&mut feed).await), vec![Some(5), Some(6), Some(7)]);
    }

    #[tokio::test]
    async fn a_watcher_that_falls_behind_gets_a_resync_then_the_newest_items() {
        // Arrange: a channel holding 4 items, and 10 sent before the watcher reads any.
        let (sender, items) = broadcast::channel(4);
        for seq in 1..=10 {
            sender.send(row(seq)).unwrap();
        }
        let (out, mut feed) = mpsc::channel(8);

        // Act
        tokio::spawn(forward_run(RunFeed::Resync { missed: 0 }, items, out));
        let received = drain(&mut feed).await;

        // Assert: told it missed 6, then 7..=10; the publisher never waited.
        assert!(matches!(received[1], RunFeed::Resync { missed: 6 }), "{:?}", received[1]);
        assert_eq!(seqs(&received[2..]), vec![Some(7), Some(8), Some(9), Some(10)]);
    }

    #[tokio::test]
    async fn the_feed_stops_when_its_subscriber_goes_away() {
        let (sender, items) = broadcast::channel(4);
        let (out, feed) = mpsc::channel(1);
        let forwarding = tokio::spawn(forward_run(RunFeed::Resync { missed: 0 }, items, out));
        drop(feed);
        tokio::time::timeout(Duration::from_secs(1), forwarding).await.unwrap().unwrap();
        assert_eq!(sender.receiver_count(), 0);
    }
}
