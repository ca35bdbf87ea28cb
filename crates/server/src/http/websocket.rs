//! `GET /rspc/ws`: the procedures over one websocket, as `@rspc/client`'s WebsocketTransport
//! speaks it (queries, mutations and subscriptions as JSON-RPC messages).
//!
//! rspc-axum's own socket handler is not used: it cannot end a connection when the token it was
//! opened with expires, it drops a message it cannot parse without an answer, it reads and writes
//! on one loop (a slow client stalls its own requests), and it serialises every event once per
//! subscriber. Here:
//! - a writer task owns the socket's sending half, fed by a bounded outbox of ready frames, and
//!   writes whatever is queued before flushing once;
//! - queries and mutations go through rspc's JSON-RPC executor, each counted and timed by
//!   procedure and outcome like an HTTP call (`http::procedures`);
//! - the live subscriptions (`api::live`) are served here: each item's JSON is rendered once per
//!   instance and framed per subscriber; a refusal answers the subscribing message; a subscriber
//!   whose socket cannot keep up stops reading its feed and is told to resync;
//! - at the token's `exp` the client gets an error frame (code 401) and a close frame (code 4001,
//!   "token expired"), and its subscriptions stop.
//!
//! A connection is authenticated once, by its upgrade request (the `token` query parameter, the
//! `__session` cookie or the header: see `auth::middleware`); every message on it acts as that
//! caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use futures_util::{SinkExt, StreamExt};
use rspc::internal::jsonrpc::{
    self, handle_json_rpc, JsonRPCError, RequestId, RequestInner, ResponseInner, Sender, SubscriptionMap,
};
use tokio::sync::{mpsc, oneshot};

use super::procedures::{self as procedure_metrics, ProcedureKeys};
use super::rpc_guard::error_response;
use crate::api::{live, Ctx};
use crate::auth::middleware::TokenExpiry;
use crate::auth::RequestIdentity;
use crate::state::AppState;

/// Frames waiting for a slow client before the connection's producers wait (and its live
/// feeds fall behind).
const OUTBOX: usize = 128;

/// Frames written before one flush.
const BATCH: usize = 64;

/// How long a live event may wait for others to share its flush: under load, a subscriber gets
/// its events a few per write instead of one per write (each write is a system call at both ends).
/// Answers to requests never wait.
const COALESCE: Duration = Duration::from_millis(20);

/// A frame ready to go, and whether it may wait for company ([`COALESCE`]).
enum Frame {
    Now(String),
    Soon(String),
}

/// The close code sent when the connection's token expires (4000–4999: private use).
pub const TOKEN_EXPIRED_CLOSE_CODE: u16 = 4001;

/// Accepts the upgrade (a plain GET is a 400 in rspc's error shape).
pub async fn upgrade(
    procedures: Arc<rspc::Router<Ctx>>,
    keys: Arc<ProcedureKeys>,
    State(state): State<AppState>,
    identity: Option<Extension<RequestIdentity>>,
    expiry: Option<Extension<TokenExpiry>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return error_response(StatusCode::BAD_REQUEST, 400, "/rspc/ws takes a websocket upgrade");
    };
    let connection = Connection {
        state,
        identity: identity.map(|Extension(i)| i).unwrap_or(RequestIdentity::Anonymous),
        request_id: crate::telemetry::request_id(&headers),
        expires_at: expiry.map(|Extension(TokenExpiry(exp))| exp),
        keys,
    };
    upgrade.on_upgrade(move |socket| connection.serve(socket, procedures))
}

/// Who is on the socket.
struct Connection {
    state: AppState,
    identity: RequestIdentity,
    request_id: Option<String>,
    /// The token's `exp` (unix seconds).
    expires_at: Option<i64>,
    keys: Arc<ProcedureKeys>,
}

/// What a connection's reader hands out: where frames go, and its subscriptions (dropping an
/// entry stops one).
struct Session {
    outbox: mpsc::Sender<Frame>,
    /// rspc's answers, serialised into the outbox by a pump task.
    answers: mpsc::Sender<jsonrpc::Response>,
    rspc_subscriptions: HashMap<RequestId, oneshot::Sender<()>>,
    live_subscriptions: HashMap<RequestId, oneshot::Sender<()>>,
}

impl Session {
    async fn send(&self, response: &jsonrpc::Response) {
        if let Ok(text) = serde_json::to_string(response) {
            let _ = self.outbox.send(Frame::Now(text)).await;
        }
    }

    async fn send_error(&self, id: RequestId, code: i32, message: String) {
        let error = JsonRPCError { code, message, data: None };
        self.send(&jsonrpc::Response { jsonrpc: "2.0", id, result: ResponseInner::Error(error) }).await;
    }

    fn stop_all(&mut self) {
        self.rspc_subscriptions.clear();
        self.live_subscriptions.clear();
    }
}

impl Connection {
    async fn serve(self, socket: WebSocket, procedures: Arc<rspc::Router<Ctx>>) {
        let (sending, mut receiving) = socket.split();
        let (outbox, queued) = mpsc::channel::<Frame>(OUTBOX);
        let (close, closing) = oneshot::channel::<CloseFrame<'static>>();
        tokio::spawn(write(sending, queued, closing));
        let (answers, mut answered) = mpsc::channel::<jsonrpc::Response>(OUTBOX);
        tokio::spawn({
            let outbox = outbox.clone();
            async move {
                while let Some(answer) = answered.recv().await {
                    let Ok(text) = serde_json::to_string(&answer) else { continue };
                    if outbox.send(Frame::Now(text)).await.is_err() {
                        break;
                    }
                }
            }
        });
        let mut session = Session {
            outbox,
            answers,
            rspc_subscriptions: HashMap::new(),
            live_subscriptions: HashMap::new(),
        };

        let expired = until(self.expires_at);
        tokio::pin!(expired);
        loop {
            tokio::select! {
                () = &mut expired => {
                    session.stop_all();
                    let message = "token expired: reconnect with a fresh token".to_owned();
                    session.send_error(RequestId::Null, 401, message).await;
                    let _ = close.send(CloseFrame { code: TOKEN_EXPIRED_CLOSE_CODE, reason: "token expired".into() });
                    break;
                }
                incoming = receiving.next() => {
                    let bytes = match incoming {
                        Some(Ok(Message::Text(text))) => text.into_bytes(),
                        Some(Ok(Message::Binary(bytes))) => bytes,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    };
                    self.handle(&bytes, &procedures, &mut session).await;
                }
            }
        }
        session.stop_all();
    }

    /// Runs every request of one message (a request or an array of them).
    async fn handle(&self, bytes: &[u8], procedures: &Arc<rspc::Router<Ctx>>, session: &mut Session) {
        let parsed = serde_json::from_slice::<serde_json::Value>(bytes).and_then(|v| match v.is_array() {
            true => serde_json::from_value::<Vec<jsonrpc::Request>>(v),
            false => serde_json::from_value::<jsonrpc::Request>(v).map(|r| vec![r]),
        });
        let requests = match parsed {
            Ok(requests) => requests,
            Err(err) => {
                session.send_error(RequestId::Null, 400, format!("not a JSON-RPC request: {err}")).await;
                return;
            }
        };
        for request in requests {
            let ctx = self.ctx();
            match request.inner {
                RequestInner::Subscription { path, input: (subscription, input) } => {
                    if session.live_subscriptions.contains_key(&subscription)
                        || session.rspc_subscriptions.contains_key(&subscription)
                    {
                        let message = "a subscription with this id is already running".to_owned();
                        session.send_error(request.id, 400, message).await;
                        continue;
                    }
                    if live::is_live(&path) {
                        let (stop, stopped) = oneshot::channel();
                        session.live_subscriptions.insert(subscription.clone(), stop);
                        let reply_to =
                            if request.id == RequestId::Null { subscription.clone() } else { request.id };
                        let opening = Opening { ctx, path, input, reply_to, subscription };
                        tokio::spawn(opening.serve(session.outbox.clone(), stopped));
                        continue;
                    }
                    let request = jsonrpc::Request {
                        jsonrpc: request.jsonrpc,
                        id: request.id,
                        inner: RequestInner::Subscription { path, input: (subscription, input) },
                    };
                    self.execute(ctx, request, procedures, session).await;
                }
                RequestInner::SubscriptionStop { input }
                    if session.live_subscriptions.remove(&input).is_some() => {}
                inner => {
                    let procedure = match &inner {
                        RequestInner::Query { path, .. } | RequestInner::Mutation { path, .. } => {
                            Some(path.clone())
                        }
                        _ => None,
                    };
                    let request = jsonrpc::Request { jsonrpc: request.jsonrpc, id: request.id, inner };
                    match procedure {
                        Some(procedure) => self.call(ctx, request, &procedure, procedures, session).await,
                        None => self.execute(ctx, request, procedures, session).await,
                    }
                }
            }
        }
    }

    /// Queries, mutations and other subscriptions: rspc's executor.
    async fn execute(
        &self,
        ctx: Ctx,
        request: jsonrpc::Request,
        procedures: &Arc<rspc::Router<Ctx>>,
        session: &mut Session,
    ) {
        let mut answers = session.answers.clone();
        handle_json_rpc(
            ctx,
            request,
            procedures,
            &mut Sender::Channel(&mut answers),
            &mut SubscriptionMap::Ref(&mut session.rspc_subscriptions),
        )
        .await;
    }

    /// A query or a mutation: rspc's executor, its answer read on the way out for the
    /// procedure's measurements.
    async fn call(
        &self,
        ctx: Ctx,
        request: jsonrpc::Request,
        procedure: &str,
        procedures: &Arc<rspc::Router<Ctx>>,
        session: &mut Session,
    ) {
        let started = Instant::now();
        // Room for everything rspc answers one query or mutation: at most a complaint about the
        // `jsonrpc` version, then the result. Nothing else holds this sender.
        let (mut answer, mut answered) = mpsc::channel::<jsonrpc::Response>(4);
        handle_json_rpc(
            ctx,
            request,
            procedures,
            &mut Sender::Channel(&mut answer),
            &mut SubscriptionMap::Ref(&mut session.rspc_subscriptions),
        )
        .await;
        drop(answer);
        let mut outcome = None;
        while let Ok(response) = answered.try_recv() {
            outcome = match &response.result {
                ResponseInner::Error(error) => Some(error.code),
                _ => None,
            };
            let _ = session.answers.send(response).await;
        }
        let elapsed = started.elapsed();
        let request_id = self.request_id.as_deref();
        procedure_metrics::record(&self.keys, procedure, outcome, elapsed, request_id, "websocket");
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            state: self.state.clone(),
            identity: self.identity.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// A live subscription being opened and then served.
struct Opening {
    ctx: Ctx,
    path: String,
    input: Option<serde_json::Value>,
    /// The message that asked for it, which a refusal answers.
    reply_to: RequestId,
    subscription: RequestId,
}

impl Opening {
    /// Authorises and opens the feed, then frames its items into `outbox` until `stopped` or the
    /// socket goes away. Waiting for room in the outbox is what makes a slow subscriber fall
    /// behind its feed (and get a resync) instead of holding anything else up.
    async fn serve(self, outbox: mpsc::Sender<Frame>, mut stopped: oneshot::Receiver<()>) {
        let Opening { ctx, path, input, reply_to, subscription } = self;
        let opened = tokio::select! {
            _ = &mut stopped => return,
            opened = live::open(&ctx, &path, input) => opened,
        };
        let mut feed = match opened {
            Some(Ok(feed)) => feed,
            Some(Err(err)) => {
                if let Ok(text) = serde_json::to_string(&live::refusal(&reply_to, &subscription, err)) {
                    let _ = outbox.send(Frame::Now(text)).await;
                }
                return;
            }
            None => return,
        };
        let id = serde_json::to_string(&subscription).unwrap_or_else(|_| "null".to_owned());
        let prefix = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"type":"event","data":"#);
        loop {
            let data = tokio::select! {
                _ = &mut stopped => break,
                data = feed.next() => match data {
                    Some(data) => data,
                    None => break,
                },
            };
            let mut frame = String::with_capacity(prefix.len() + data.len() + 2);
            frame.push_str(&prefix);
            frame.push_str(&data);
            frame.push_str("}}");
            if outbox.send(Frame::Soon(frame)).await.is_err() {
                break;
            }
        }
    }
}

/// Writes queued frames, several per flush, until every producer is gone or a close is asked for
/// (frames queued before it go out first). A flush waits up to [`COALESCE`] for more frames when
/// all it holds are live events.
async fn write(
    mut sending: futures_util::stream::SplitSink<WebSocket, Message>,
    mut queued: mpsc::Receiver<Frame>,
    mut closing: oneshot::Receiver<CloseFrame<'static>>,
) {
    loop {
        tokio::select! {
            biased;
            frame = queued.recv() => {
                let Some(frame) = frame else {
                    // Every producer is gone; a close asked for meanwhile still goes out.
                    if let Ok(frame) = closing.try_recv() {
                        let _ = sending.send(Message::Close(Some(frame))).await;
                    }
                    break;
                };
                if write_batch(&mut sending, &mut queued, frame).await.is_err() {
                    break;
                }
            }
            frame = &mut closing => {
                if let Ok(frame) = frame {
                    let _ = sending.send(Message::Close(Some(frame))).await;
                }
                break;
            }
        }
    }
    let _ = sending.close().await;
}

/// Writes `first` and what follows it (up to [`BATCH`] frames, waiting up to [`COALESCE`] while
/// only live events are in hand), then flushes once.
async fn write_batch(
    sending: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    queued: &mut mpsc::Receiver<Frame>,
    first: Frame,
) -> Result<(), axum::Error> {
    let deadline = tokio::time::Instant::now() + COALESCE;
    let mut urgent = false;
    let mut next = Some(first);
    let mut written = 0;
    while let Some(frame) = next.take() {
        let text = match frame {
            Frame::Now(text) => {
                urgent = true;
                text
            }
            Frame::Soon(text) => text,
        };
        sending.feed(Message::Text(text)).await?;
        written += 1;
        if written == BATCH {
            break;
        }
        next = match queued.try_recv() {
            Ok(frame) => Some(frame),
            Err(_) if urgent => None,
            Err(_) => tokio::time::timeout_at(deadline, queued.recv()).await.ok().flatten(),
        };
    }
    sending.flush().await
}

/// Resolves at `exp` (unix seconds, the wall clock as the token verifier reads it); never without.
async fn until(exp: Option<i64>) {
    match exp {
        Some(exp) => {
            let left = exp.saturating_sub(chrono::Utc::now().timestamp());
            tokio::time::sleep(Duration::from_secs(u64::try_from(left).unwrap_or(0))).await;
        }
        None => std::future::pending().await,
    }
}
