//! `GET /rspc/ws`: the procedures over one websocket, as `@rspc/client`'s WebsocketTransport
//! speaks it (queries, mutations and subscriptions as JSON-RPC messages).
//!
//! rspc-axum's own socket handler is not used: it cannot end a connection when the token it was
//! opened with expires, it drops a message it cannot parse without an answer, and it reads and
//! writes on one loop (a slow client stalls its own requests). Here a writer task owns the
//! socket's sending half, fed by a bounded outbox; the reader runs each message through rspc's
//! JSON-RPC executor; at the token's `exp` the client gets an error frame (code 401) and a close
//! frame (code 4001, "token expired"), and its subscriptions stop.
//!
//! A connection is authenticated once, by its upgrade request (the `token` query parameter, the
//! `__session` cookie or the header: see `auth::middleware`); every message on it acts as that
//! caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

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

use super::rpc_guard::error_response;
use crate::api::live::SubscriptionSink;
use crate::api::Ctx;
use crate::auth::middleware::TokenExpiry;
use crate::auth::RequestIdentity;
use crate::state::AppState;

/// Frames waiting for a slow client before the connection's own producers wait.
const OUTBOX: usize = 128;

/// The close code sent when the connection's token expires (4000–4999: private use).
pub const TOKEN_EXPIRED_CLOSE_CODE: u16 = 4001;

/// Accepts the upgrade (a plain GET is a 400 in rspc's error shape).
pub async fn upgrade(
    procedures: Arc<rspc::Router<Ctx>>,
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
}

impl Connection {
    async fn serve(self, socket: WebSocket, procedures: Arc<rspc::Router<Ctx>>) {
        let (mut sending, mut receiving) = socket.split();
        let (out, mut outbox) = mpsc::channel::<jsonrpc::Response>(OUTBOX);
        let (close, closing) = oneshot::channel::<CloseFrame<'static>>();
        tokio::spawn(async move {
            tokio::pin!(closing);
            loop {
                tokio::select! {
                    // Frames queued before the close go out first.
                    biased;
                    frame = outbox.recv() => {
                        let Some(frame) = frame else {
                            // Every producer is gone; a close asked for meanwhile still goes out.
                            if let Ok(frame) = closing.try_recv() {
                                let _ = sending.send(Message::Close(Some(frame))).await;
                            }
                            break;
                        };
                        let Ok(text) = serde_json::to_string(&frame) else { continue };
                        if sending.send(Message::Text(text)).await.is_err() {
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
        });

        // Dropping an entry stops its subscription.
        let mut subscriptions = HashMap::new();
        let expired = until(self.expires_at);
        tokio::pin!(expired);
        loop {
            tokio::select! {
                () = &mut expired => {
                    subscriptions.clear();
                    let error = JsonRPCError {
                        code: 401,
                        message: "token expired: reconnect with a fresh token".into(),
                        data: None,
                    };
                    let frame = jsonrpc::Response { jsonrpc: "2.0", id: RequestId::Null, result: ResponseInner::Error(error) };
                    let _ = out.send(frame).await;
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
                    self.handle(&bytes, &procedures, &out, &mut subscriptions).await;
                }
            }
        }
    }

    /// Runs every request of one message (a request or an array of them).
    async fn handle(
        &self,
        bytes: &[u8],
        procedures: &Arc<rspc::Router<Ctx>>,
        out: &mpsc::Sender<jsonrpc::Response>,
        subscriptions: &mut HashMap<RequestId, oneshot::Sender<()>>,
    ) {
        let parsed = serde_json::from_slice::<serde_json::Value>(bytes).and_then(|v| match v.is_array() {
            true => serde_json::from_value::<Vec<jsonrpc::Request>>(v),
            false => serde_json::from_value::<jsonrpc::Request>(v).map(|r| vec![r]),
        });
        let requests = match parsed {
            Ok(requests) => requests,
            Err(err) => {
                let error =
                    JsonRPCError { code: 400, message: format!("not a JSON-RPC request: {err}"), data: None };
                let frame = jsonrpc::Response {
                    jsonrpc: "2.0",
                    id: RequestId::Null,
                    result: ResponseInner::Error(error),
                };
                let _ = out.send(frame).await;
                return;
            }
        };
        for request in requests {
            let subscription = match &request.inner {
                RequestInner::Subscription { input: (id, _), .. } => Some(SubscriptionSink {
                    reply_to: if request.id == RequestId::Null { id.clone() } else { request.id.clone() },
                    subscription: id.clone(),
                    out: out.clone(),
                }),
                _ => None,
            };
            let ctx = Ctx {
                state: self.state.clone(),
                identity: self.identity.clone(),
                request_id: self.request_id.clone(),
                subscription,
            };
            let mut sender = out.clone();
            handle_json_rpc(
                ctx,
                request,
                procedures,
                &mut Sender::Channel(&mut sender),
                &mut SubscriptionMap::Ref(subscriptions),
            )
            .await;
        }
    }
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
