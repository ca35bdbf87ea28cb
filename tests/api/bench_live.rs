//! Load measurement of live events (issue 13; ignored, `just bench`): 1,000 websocket subscribers
//! to one run, spread over two server instances on one PostgreSQL, while the run produces about
//! 200 events a second; and the engine's dispatch time per call for the same run size with and
//! without subscribers, and with as many subscribers that never read.
//!
//! Delivery latency is measured from the database commit to the client: the benchmark itself
//! LISTENs on the bus's channel, and a notification arrives when the transaction that sent it
//! commits; each subscriber notes when each numbered item reaches it. Both clocks are this
//! process's `Instant`. Prints the numbers for docs/benchmarks.md; asserts only correctness (every
//! subscriber saw the completion; numbers in order).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::bench::gen;
use crate::bench_engine::{fast_forward_app, sum_and_count};
use crate::support::load::quantile;
use crate::support::{seed, TestApp, TokenBuilder};

const FAST_FORWARD: f64 = 8.0;

/// The numbered items one subscriber received: (seq, when), and whether it saw the completion.
#[derive(Default)]
struct Received {
    items: Vec<(u64, Instant)>,
    resyncs: u32,
    completed: bool,
}

/// `"key":<digits>` in `text`, without parsing the frame (1,000 subscribers share two cores
/// with both servers).
fn number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// One subscriber: connects to `address`, subscribes, notes each numbered item until the run's
/// completion arrives (or `deadline`).
async fn subscriber(
    address: std::net::SocketAddr,
    token: String,
    run_id: String,
    ready: tokio::sync::mpsc::Sender<()>,
) -> Received {
    let mut received = Received::default();
    let url = format!("ws://{address}/rspc/ws?token={token}");
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(url).await else { return received };
    let request = json!({"id": 1, "method": "subscription", "params": {"path": "runs.events", "input": ["s", {"runId": run_id}]}});
    if socket.send(Message::Text(request.to_string())).await.is_err() {
        return received;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1800);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
        let Message::Text(text) = message else { continue };
        let at = Instant::now();
        if text.contains("\"type\":\"snapshot\"") {
            let _ = ready.send(()).await;
        } else if text.contains("\"type\":\"resync\"") {
            received.resyncs += 1;
        } else if text.contains("\"type\":\"row\"") || text.contains("\"type\":\"status\"") {
            if let Some(seq) = number_after(&text, "\"seq\":") {
                received.items.push((seq, at));
            }
            if text.contains("\"type\":\"status\"") && text.contains("\"status\":\"completed\"") {
                received.completed = true;
                break;
            }
        }
    }
    let _ = socket.close(None).await;
    received
}

/// A subscriber that reads its snapshot and then nothing: its socket, held open.
async fn idle_subscriber(address: std::net::SocketAddr, token: &str, run_id: &str) -> Socket {
    let url = format!("ws://{address}/rspc/ws?token={token}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
    let request = json!({"id": 1, "method": "subscription", "params": {"path": "runs.events", "input": ["s", {"runId": run_id}]}});
    socket.send(Message::Text(request.to_string())).await.expect("subscription sent");
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(60), socket.next()).await {
        if matches!(&message, Message::Text(text) if text.contains("\"type\":\"snapshot\"")) {
            break;
        }
    }
    socket
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Creates a run of `rows` rows in alpha, ready to start.
async fn load_run(
    app: &TestApp,
    super_admin: &str,
    admin: &str,
    org_id: &str,
    rows: usize,
    name: &str,
) -> String {
    let (file, _) = gen::csv(rows);
    let mut campaign = seed::reminder_campaign(name);
    campaign["retryPolicy"] = json!({"maxAttempts": 1, "retryOn": [], "delayMinutes": 1});
    let campaign = seed::create_campaign_from(app, super_admin, org_id, campaign).await;
    let upload = app.upload(admin, &format!("{name}.csv"), file).await;
    let input = json!({"campaignId": campaign.data()["id"], "uploadId": upload, "name": name, "clientRequestId": name});
    app.mutation(Some(admin), "runs.create", input).await.data()["id"].as_str().unwrap().to_owned()
}

/// Starts `run_id` and waits for it to complete; answers the wall seconds it took.
async fn run_to_completion(app: &TestApp, admin: &str, run_id: &str) -> f64 {
    let started = Instant::now();
    app.mutation(Some(admin), "runs.start", json!({"id": run_id})).await.data();
    while started.elapsed() < Duration::from_secs(1800) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let stats = app.query(Some(admin), "runs.getStats", json!({"id": run_id})).await;
        if stats.data()["run"]["status"] == "completed" {
            break;
        }
    }
    started.elapsed().as_secs_f64()
}

/// The engine's dispatch seconds so far (both instances share this process's recorder).
async fn dispatch_seconds(app: &TestApp) -> f64 {
    let exposition = app.scrape_metrics().await;
    sum_and_count(&exposition, "rivvi_engine_dispatch_tick_seconds").0
}

#[tokio::test]
#[ignore = "a load measurement: run with `just bench`"]
async fn bench_live_1000_subscribers_two_instances() {
    let subscribers: usize =
        std::env::var("RIVVI_BENCH_SUBSCRIBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let rows: usize =
        std::env::var("RIVVI_BENCH_LIVE_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let (app, _clock) = fast_forward_app(FAST_FORWARD).await;
    if !app.database.is_postgres() {
        println!("BENCH live: skipped (two instances need PostgreSQL: set RIVVI_TEST_DATABASE_URL)");
        app.stop().await;
        return;
    }
    let second = app.another_instance().await;
    let world = seed::world(&app).await;
    let admin = TokenBuilder::user("user_alpha_admin").in_org(seed::ALPHA, "admin").expires_in(86_400).sign();
    let settings = json!({"officeHours": seed::open_all_week(), "callerNumber": "+13125550100", "callsPerMinute": 600, "concurrentCallLimit": 100});
    seed::configure(&app, &world.super_admin, &admin, &world.alpha.id, settings).await;
    let quiet = load_run(&app, &world.super_admin, &admin, &world.alpha.id, rows, "quiet").await;
    let watched = load_run(&app, &world.super_admin, &admin, &world.alpha.id, rows, "watched").await;
    let ignored = load_run(&app, &world.super_admin, &admin, &world.alpha.id, rows, "ignored").await;

    // Phase 1: the same run size without subscribers.
    let before = dispatch_seconds(&app).await;
    let quiet_seconds = run_to_completion(&app, &admin, &quiet).await;
    let quiet_dispatch = dispatch_seconds(&app).await - before;

    // Phase 2: the commit times, straight from the bus's channel.
    let commits: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(&app.database.url).await.unwrap();
    listener.listen(rivvi_execution::bus::CHANNEL).await.unwrap();
    let listening = tokio::spawn({
        let commits = commits.clone();
        let watched = watched.clone();
        async move {
            while let Ok(notification) = listener.recv().await {
                let at = Instant::now();
                let payload = notification.payload();
                if payload.contains(&watched) {
                    if let Some(seq) = number_after(payload, "\"seq\":") {
                        commits.lock().unwrap().insert(seq, at);
                    }
                }
            }
        }
    });
    let (ready, mut readiness) = tokio::sync::mpsc::channel(subscribers);
    let mut tasks = Vec::with_capacity(subscribers);
    for n in 0..subscribers {
        let address = if n % 2 == 0 { app.address } else { second.address };
        tasks.push(tokio::spawn(subscriber(address, admin.clone(), watched.clone(), ready.clone())));
    }
    for _ in 0..subscribers {
        tokio::time::timeout(Duration::from_secs(120), readiness.recv())
            .await
            .expect("every subscriber subscribed");
    }
    let before = dispatch_seconds(&app).await;
    let watched_seconds = run_to_completion(&app, &admin, &watched).await;
    let watched_dispatch = dispatch_seconds(&app).await - before;
    let mut received = Vec::with_capacity(subscribers);
    for task in tasks {
        received.push(
            tokio::time::timeout(Duration::from_secs(120), task).await.expect("subscriber ends").unwrap(),
        );
    }
    listening.abort();

    // Correctness: every subscriber saw the completion, numbers in order.
    let completed = received.iter().filter(|r| r.completed).count();
    assert_eq!(completed, subscribers, "every subscriber saw the completion");
    assert!(received.iter().all(|r| r.items.windows(2).all(|w| w[0].0 < w[1].0)), "numbers in order");

    // Phase 3: the same run size with subscribers that never read after their snapshot.
    let mut idle = Vec::with_capacity(subscribers);
    for n in 0..subscribers {
        let address = if n % 2 == 0 { app.address } else { second.address };
        idle.push(idle_subscriber(address, &admin, &ignored).await);
    }
    let before = dispatch_seconds(&app).await;
    let ignored_seconds = run_to_completion(&app, &admin, &ignored).await;
    let ignored_dispatch = dispatch_seconds(&app).await - before;
    drop(idle);

    // Report
    let commits = std::mem::take(&mut *commits.lock().unwrap());
    let events = commits.len();
    let mut latencies: Vec<f64> = received
        .iter()
        .flat_map(|r| r.items.iter())
        .filter_map(|(seq, at)| {
            commits.get(seq).map(|c| at.saturating_duration_since(*c).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let delivered = latencies.len();
    let resyncs: u32 = received.iter().map(|r| r.resyncs).sum();
    // One attempt per row: the dispatcher's milliseconds per call.
    let per_call = |dispatch: f64| dispatch * 1e3 / rows.max(1) as f64;
    println!(
        "BENCH live PostgreSQL, 2 instances, {subscribers} subscribers ({} per instance) to a {rows}-row run: {events} events in {watched_seconds:.1} s = {:.0} events/s; {delivered} deliveries ({:.0}% of {} expected), {resyncs} resyncs; commit-to-client p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; dispatch {:.3} ms per call with subscribers vs {:.3} ms without (same run size, {quiet_seconds:.1} s)",
        subscribers / 2,
        events as f64 / watched_seconds,
        delivered as f64 * 100.0 / (events * subscribers).max(1) as f64,
        events * subscribers,
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        per_call(watched_dispatch),
        per_call(quiet_dispatch),
    );
    println!(
        "BENCH live idle: {subscribers} subscribers that never read after their snapshot: the run took {ignored_seconds:.1} s, dispatch {:.3} ms per call (without subscribers: {quiet_seconds:.1} s, {:.3} ms)",
        per_call(ignored_dispatch),
        per_call(quiet_dispatch),
    );
    second.stop().await;
    app.stop().await;
}
