//! Live events over the websocket (issue 13): `runs.events`, `organizations.events` and
//! `admin.engine.health`, as a browser's `@rspc/client` speaks them at `/rspc/ws`.
//!
//! On PostgreSQL the run is dialled by instance A (the simulator's signed webhooks go to A) while
//! the subscriber is connected to instance B, which has no engine: every event reaches B through
//! LISTEN/NOTIFY. On SQLite, the embedded default, one instance does both.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use futures_util::{SinkExt, StreamExt};
use rivvi_execution::clock::ManualClock;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::support::tokens::TokenBuilder;
use crate::support::{seed, TestApp};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server sent.
#[derive(Debug)]
enum Frame {
    Json(Value),
    Closed(Option<CloseFrame<'static>>),
}

/// A client socket at `/rspc/ws`, speaking rspc's JSON-RPC.
struct LiveSocket {
    socket: Socket,
    next_id: u32,
}

impl LiveSocket {
    async fn open(app: &TestApp, token: &str) -> LiveSocket {
        Self::connect(format!("ws://{}/rspc/ws?token={token}", app.address)).await
    }

    async fn open_anonymous(app: &TestApp) -> LiveSocket {
        Self::connect(format!("ws://{}/rspc/ws", app.address)).await
    }

    async fn connect(url: String) -> LiveSocket {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        LiveSocket { socket, next_id: 1 }
    }

    /// Opens a subscription; answers (message id, subscription id).
    async fn subscribe(&mut self, path: &str, input: Value) -> (u32, String) {
        let id = self.next_id;
        self.next_id += 1;
        let subscription = format!("sub-{id}");
        let request = json!({"id": id, "method": "subscription", "params": {"path": path, "input": [subscription, input]}});
        self.socket.send(Message::Text(request.to_string())).await.expect("subscription sent");
        (id, subscription)
    }

    /// The next frame within `within`, if any.
    async fn frame(&mut self, within: Duration) -> Option<Frame> {
        tokio::time::timeout(within, async {
            loop {
                match self.socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        break Frame::Json(serde_json::from_str(&text).expect("JSON frame"))
                    }
                    Some(Ok(Message::Close(frame))) => {
                        break Frame::Closed(frame.map(CloseFrame::into_owned))
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => {
                        eprintln!("socket error: {err}");
                        break Frame::Closed(None);
                    }
                    None => break Frame::Closed(None),
                }
            }
        })
        .await
        .ok()
    }

    /// The data of the next event of `subscription` within `within`, skipping other frames.
    async fn event(&mut self, subscription: &str, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.frame(left).await? {
                Frame::Json(frame) if frame["id"] == subscription && frame["result"]["type"] == "event" => {
                    return Some(frame["result"]["data"].clone())
                }
                Frame::Json(_) => continue,
                Frame::Closed(frame) => panic!("socket closed: {frame:?}"),
            }
        }
    }
}

/// A clock at a Wednesday afternoon, and a server on it whose simulator runs in real time.
async fn app_on_a_manual_clock() -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()));
    let app = TestApp::spawn_with_clock(|s| s.simulator_time_scale = 1.0, clock.clone()).await;
    (app, clock)
}

fn open_clinic() -> Value {
    json!({"officeHours": seed::open_all_week(), "callerNumber": "+13125550100", "callsPerMinute": 600, "concurrentCallLimit": 6})
}

#[tokio::test]
async fn a_subscriber_on_another_instance_sees_a_run_to_completion_in_order_with_the_final_tally() {
    // Arrange: instance A dials; the subscriber watches through B (no engine) on PostgreSQL.
    let (app, clock) = app_on_a_manual_clock().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.clone();
    let run_id = seed::reminder_run(&app, &world, open_clinic(), "clinic_d_cp1252.csv").await;
    let second = match app.database.is_postgres() {
        true => Some(app.another_instance_with(|s| s.engine_enabled = false).await),
        false => None,
    };
    let watched = second.as_ref().unwrap_or(&app);
    let mut socket = LiveSocket::open(watched, &admin).await;
    let (_, subscription) = socket.subscribe("runs.events", json!({"runId": run_id})).await;
    let snapshot = socket.event(&subscription, Duration::from_secs(10)).await.expect("a snapshot first");
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    assert_eq!(snapshot["stats"]["run"]["status"], "ready");
    let first_seq = snapshot["seq"].as_u64().unwrap();
    let collector = tokio::spawn(async move {
        let mut items = Vec::new();
        while let Some(item) = socket.event(&subscription, Duration::from_secs(60)).await {
            let done = item["type"] == "status" && item["stats"]["run"]["status"] == "completed";
            items.push(item);
            if done {
                break;
            }
        }
        items
    });

    // Act: start the run on A, move the clock until it completes.
    app.mutation(Some(&admin), "runs.start", json!({"id": run_id})).await.data();
    let mut completed = false;
    for _ in 0..1500 {
        clock.advance(TimeDelta::seconds(10));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let stats = watched.query(Some(&admin), "runs.getStats", json!({"id": run_id})).await;
        if stats.data()["run"]["status"] == "completed" {
            completed = true;
            break;
        }
    }
    assert!(completed, "the run completes");
    let items =
        tokio::time::timeout(Duration::from_secs(30), collector).await.expect("the feed ends").unwrap();

    // Assert: numbered in order without a gap after the snapshot, no resync, and the last item is
    // the completion with the same numbers as runs.getStats.
    assert!(items.iter().all(|i| i["type"] != "resync"), "nothing missed");
    let numbered: Vec<u64> = items
        .iter()
        .filter(|i| i["type"] == "row" || i["type"] == "status")
        .map(|i| i["seq"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (first_seq + 1..=first_seq + numbered.len() as u64).collect();
    assert_eq!(numbered, expected, "row and status items are numbered one by one, in order");
    let last_numbered = *numbered.last().unwrap();
    assert!(
        items.iter().filter(|i| i["type"] == "tally").all(|i| i["seq"].as_u64().unwrap() <= last_numbered),
        "a tally is as of a change already sent"
    );
    let last = items.last().unwrap();
    let stats = watched.query(Some(&admin), "runs.getStats", json!({"id": run_id})).await.data().clone();
    assert_eq!(last["stats"]["rows"], stats["rows"]);
    assert_eq!(last["stats"]["calls"], stats["calls"]);
    assert_eq!(items.iter().find(|i| i["type"] == "status").unwrap()["stats"]["run"]["status"], "running");

    // Every row's last item is its final status; no item carries a patient field.
    let rows = watched.query(Some(&admin), "runs.getRows", json!({"runId": run_id, "limit": 100})).await;
    let final_status: BTreeMap<String, String> = rows.data()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["status"].as_str().unwrap().to_owned()))
        .collect();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for item in items.iter().filter(|i| i["type"] == "row") {
        let row = &item["row"];
        let keys: BTreeSet<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "rowId",
                "status",
                "attempt",
                "outcome",
                "nextAttemptAt",
                "skipReason",
                "callEnded"
            ])
        );
        seen.insert(row["rowId"].as_str().unwrap().to_owned(), row["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, final_status, "each row's last item is where it ended");
    if let Some(second) = second {
        second.stop().await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_run_of_another_organization_answers_not_found_on_subscribe_and_sends_nothing() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let mut socket = LiveSocket::open(&app, &world.beta.member).await;

    let (message_id, subscription) =
        socket.subscribe("runs.events", json!({"runId": world.alpha.run_id})).await;

    let Some(Frame::Json(answer)) = socket.frame(Duration::from_secs(10)).await else {
        panic!("an answer to the subscription");
    };
    assert_eq!(answer["id"], message_id, "{answer}");
    assert_eq!(answer["result"]["type"], "error", "{answer}");
    assert_eq!(answer["result"]["data"]["code"], 404, "{answer}");
    assert_eq!(answer["result"]["data"]["data"]["subscriptionId"], subscription.as_str());
    assert!(socket.frame(Duration::from_millis(500)).await.is_none(), "no event follows");
    // The same socket still serves its own organization's run.
    let (_, own) = socket.subscribe("runs.events", json!({"runId": world.beta.run_id})).await;
    let snapshot = socket.event(&own, Duration::from_secs(10)).await.unwrap();
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["stats"]["run"]["id"], world.beta.run_id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn subscriptions_are_authorised_like_their_queries() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let refusal = |answer: Option<Frame>| match answer {
        Some(Frame::Json(answer)) if answer["result"]["type"] == "error" => {
            answer["result"]["data"]["code"].clone()
        }
        other => panic!("expected an error frame, got {other:?}"),
    };
    // No token: 401; a member asking for the engine's health: 403; a bad input names its field.
    let mut anonymous = LiveSocket::open_anonymous(&app).await;
    anonymous.subscribe("organizations.events", json!({})).await;
    assert_eq!(refusal(anonymous.frame(Duration::from_secs(10)).await), 401);
    let mut member = LiveSocket::open(&app, &world.alpha.member).await;
    member.subscribe("admin.engine.health", json!({})).await;
    assert_eq!(refusal(member.frame(Duration::from_secs(10)).await), 403);
    member.subscribe("runs.events", json!({"runId": "not-a-uuid"})).await;
    let Some(Frame::Json(bad)) = member.frame(Duration::from_secs(10)).await else { panic!() };
    assert_eq!(bad["result"]["data"]["code"], 400, "{bad}");
    assert!(bad["result"]["data"]["message"].as_str().unwrap().contains("runId"), "{bad}");

    // The super admin gets a health report naming this instance's engine, every second.
    let mut operator = LiveSocket::open(&app, &world.super_admin).await;
    let (_, health) = operator.subscribe("admin.engine.health", json!({"everySeconds": 1})).await;
    let mut instances = Vec::new();
    for _ in 0..10 {
        let report = operator.event(&health, Duration::from_secs(5)).await.expect("a report");
        instances = report["instances"].as_array().unwrap().clone();
        // The first report may come before the engine's first tick.
        if instances.first().is_some_and(|i| i["lastTickAt"].is_string()) {
            assert!(report["dueRows"].is_u64() && report["activeCalls"].is_array(), "{report}");
            break;
        }
    }
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert!(instances[0]["instanceId"].as_str().unwrap().starts_with("rivvi-"));
    assert!(instances[0]["lastTickAt"].is_string(), "the engine ticked: {:?}", instances[0]);
    app.stop().await;
}

#[tokio::test]
async fn the_socket_closes_with_an_error_frame_when_its_token_expires() {
    let app = TestApp::spawn().await;
    seed::provision(&app, &seed::token("user_ana", "org_lakeside", "admin")).await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "admin").expires_in(3).sign();
    let mut socket = LiveSocket::open(&app, &token).await;
    let (_, subscription) = socket.subscribe("organizations.events", json!({})).await;

    let mut frames = Vec::new();
    while let Some(frame) = socket.frame(Duration::from_secs(15)).await {
        let closed = matches!(frame, Frame::Closed(_));
        frames.push(frame);
        if closed {
            break;
        }
    }

    // The feed's own first item may come before: what matters is how the socket ends.
    frames.retain(|f| !matches!(f, Frame::Json(j) if j["id"] == subscription.as_str() && j["result"]["type"] == "event"));
    let [Frame::Json(error), Frame::Closed(Some(close))] = frames.as_slice() else {
        panic!("an error frame, then a close frame: {frames:?}");
    };
    assert_eq!(error["result"]["type"], "error");
    assert_eq!(error["result"]["data"]["code"], 401);
    assert!(error["result"]["data"]["message"].as_str().unwrap().contains("expired"));
    assert_eq!(u16::from(close.code), 4001);
    assert_eq!(close.reason, "token expired");
    app.stop().await;
}

#[tokio::test]
async fn organization_events_show_runs_and_uploads_of_the_callers_organization_only() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let mut alpha = LiveSocket::open(&app, &world.alpha.admin).await;
    let (_, alpha_events) = alpha.subscribe("organizations.events", json!({})).await;
    let mut beta = LiveSocket::open(&app, &world.beta.admin).await;
    let (_, beta_events) = beta.subscribe("organizations.events", json!({})).await;
    // Each feed says when it is live.
    assert_eq!(alpha.event(&alpha_events, Duration::from_secs(10)).await.unwrap()["type"], "subscribed");
    assert_eq!(beta.event(&beta_events, Duration::from_secs(10)).await.unwrap()["type"], "subscribed");

    // Act: alpha uploads a sheet, creates a run of it and starts it.
    let sheet = b"Patient phone,Appointment date\n(312) 555-0199,2026-12-03\n".to_vec();
    let upload = app.upload(&world.alpha.member, "live.csv", sheet).await;
    let created =
        seed::create_run(&app, &world.alpha.member, &world.alpha.campaign_id, &upload, "Live", "live-1")
            .await;
    let run_id = created.data()["id"].as_str().unwrap().to_owned();
    seed::configure(&app, &world.super_admin, &world.alpha.admin, &world.alpha.id, open_clinic()).await;
    app.mutation(Some(&world.alpha.admin), "runs.start", json!({"id": run_id})).await.data();

    // Assert
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let item = alpha.event(&alpha_events, Duration::from_secs(10)).await.expect("alpha's events");
        seen.push(item);
    }
    assert_eq!(seen[0]["type"], "run");
    assert_eq!(seen[0]["activity"], "created");
    assert_eq!(seen[0]["run"]["id"], run_id.as_str());
    assert_eq!(seen[1]["type"], "upload");
    assert_eq!(seen[1]["uploadId"], upload.as_str());
    assert_eq!(seen[1]["status"], "ingested");
    assert_eq!(seen[2]["type"], "run");
    assert_eq!(seen[2]["activity"], "started");
    assert!(
        beta.event(&beta_events, Duration::from_millis(800)).await.is_none(),
        "beta sees none of alpha's"
    );
    app.stop().await;
}

#[tokio::test]
async fn subscribers_that_never_read_do_not_stop_a_run_or_other_subscribers() {
    // Arrange: twenty subscribers that never read, and one that does.
    let (app, clock) = app_on_a_manual_clock().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.clone();
    let run_id = seed::reminder_run(&app, &world, open_clinic(), "clinic_d_cp1252.csv").await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        let mut socket = LiveSocket::open(&app, &admin).await;
        socket.subscribe("runs.events", json!({"runId": run_id})).await;
        idle.push(socket);
    }
    let mut reader = LiveSocket::open(&app, &admin).await;
    let (_, subscription) = reader.subscribe("runs.events", json!({"runId": run_id})).await;
    assert_eq!(reader.event(&subscription, Duration::from_secs(10)).await.unwrap()["type"], "snapshot");
    let collector = tokio::spawn(async move {
        let mut last = Value::Null;
        while let Some(item) = reader.event(&subscription, Duration::from_secs(60)).await {
            let done = item["type"] == "status" && item["stats"]["run"]["status"] == "completed";
            last = item;
            if done {
                break;
            }
        }
        last
    });

    // Act
    app.mutation(Some(&admin), "runs.start", json!({"id": run_id})).await.data();
    let mut status = Value::Null;
    for _ in 0..1500 {
        clock.advance(TimeDelta::seconds(10));
        tokio::time::sleep(Duration::from_millis(30)).await;
        status = app.query(Some(&admin), "runs.getStats", json!({"id": run_id})).await.data()["run"]
            ["status"]
            .clone();
        if status == "completed" {
            break;
        }
    }

    // Assert: the run completed and the reading subscriber saw the completion.
    assert_eq!(status, "completed");
    let last = tokio::time::timeout(Duration::from_secs(30), collector).await.unwrap().unwrap();
    assert_eq!(last["stats"]["run"]["status"], "completed", "{last}");
    drop(idle);
    app.stop().await;
}
