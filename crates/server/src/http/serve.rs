//! The main listener's accept loop: what `axum::serve(..).with_graceful_shutdown(..)` does
//! (HTTP/1 with upgrades for the websocket; on shutdown, no new connections and in-flight
//! requests finish), plus two things it cannot do:
//! - every request carries `ConnectInfo<SocketAddr>`, the peer the rate limits key on;
//! - hyper answers a request whose line exceeds 64 KiB, or whose head exceeds its buffer, by
//!   itself (a bare 414 or 431, before any of our code sees the request): [`ParseErrorBodies`]
//!   gives that answer the JSON error body every other error has.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt as _;

/// The largest request head (line and headers) hyper buffers: its own default, set here so the
/// message of the 431 can name it.
pub const HEAD_LIMIT: usize = 8192 + 4096 * 100;

/// Serves `router` on `listener` until `shutdown` resolves, then waits for open connections to
/// finish their requests (upgraded websockets are no longer hyper's and are not waited for).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Dropping `stop` is the signal; every connection task holds a clone of `closed` until it ends.
    let (stop, stopping) = watch::channel(());
    let stop = Arc::new(stop);
    tokio::spawn(async move {
        shutdown.await;
        drop(stopping);
    });
    let (all_closed, closed) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => match accepted {
                Some(accepted) => accepted,
                None => continue,
            },
            () = stop.closed() => break,
        };
        let service = router.clone().map_request(move |request: axum::http::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let stop = stop.clone();
        let closed = closed.clone();
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder.http1().max_buf_size(HEAD_LIMIT);
            let io = TokioIo::new(ParseErrorBodies::new(stream));
            let connection = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
            tokio::pin!(connection);
            // Errors are clients going away mid-request or sending garbage: not ours to report.
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.closed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.as_mut().await;
                }
            }
            drop(closed);
        });
    }
    drop(closed);
    drop(listener);
    all_closed.closed().await;
    Ok(())
}

async fn accept(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    match listener.accept().await {
        Ok(accepted) => Some(accepted),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::ConnectionReset
            ) =>
        {
            None
        }
        Err(err) => {
            // Out of file descriptors, mostly: a second's pause lets connections close, where
            // retrying at once would spin (axum does the same).
            tracing::error!(error = %err, "accepting a connection failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
            None
        }
    }
}

/// A connection that rewrites hyper's own answer to a request it could not parse because it was
/// too large: the bare head `HTTP/1.1 414 URI Too Long` or `431 Request Header Fields Too
/// Large` with `content-length: 0`, which hyper writes on a fresh response and then closes the
/// connection. Every answer of ours has a body, so nothing else matches.
pub struct ParseErrorBodies<S> {
    inner: S,
    replacing: Option<Replacement>,
}

/// The answer being written in place of hyper's head, and how much of hyper's bytes it stands for.
struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    replaces: usize,
}

impl<S> ParseErrorBodies<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, replacing: None }
    }
}

/// Our answer in place of `head`, when `head` is hyper's bare answer to an oversized request.
fn replacement_for(head: &[u8]) -> Option<Vec<u8>> {
    let (status, code, message) = if head.starts_with(b"HTTP/1.1 414 URI Too Long\r\n") {
        ("414 URI Too Long", 414, super::limits::query_too_long(None))
    } else if head.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n") {
        let message =
            format!("request head too large: the request line and headers are limited to {HEAD_LIMIT} bytes");
        ("431 Request Header Fields Too Large", 431, message)
    } else {
        return None;
    };
    let bare = head.ends_with(b"\r\n\r\n")
        && head
            .windows(b"\r\ncontent-length: 0\r\n".len())
            .any(|w| w.eq_ignore_ascii_case(b"\r\ncontent-length: 0\r\n"));
    if !bare {
        return None;
    }
    // Which route was asked for is unknown here (hyper did not get as far as the path), so the
    // body carries both error shapes: `error` as the webhooks and upload routes answer, and the
    // rspc envelope `@rspc/client` reads (such long URLs are procedure queries in practice).
    let body = serde_json::json!({
        "error": message,
        "jsonrpc": "2.0",
        "id": null,
        "result": {"type": "error", "data": {"code": code, "message": message}},
    })
    .to_string();
    let mut bytes = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    Some(bytes)
}

impl<S: AsyncRead + Unpin> AsyncRead for ParseErrorBodies<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> ParseErrorBodies<S> {
    /// Writes the rest of the replacement; `Ready(Ok(n))` with the count of hyper's bytes it
    /// stands for once all of it is out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(replacement) = self.replacing.as_mut() else { return Poll::Ready(Ok(0)) };
        while replacement.written < replacement.bytes.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &replacement.bytes[replacement.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            replacement.written += n;
        }
        let replaces = replacement.replaces;
        self.replacing = None;
        Poll::Ready(Ok(replaces))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ParseErrorBodies<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.replacing.is_none() {
            // hyper writes a head as the first slice of a write (it is never split before
            // the first attempt), and writes the same slices again after a `Pending`.
            if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
                if let Some(bytes) = replacement_for(first) {
                    self.replacing = Some(Replacement { bytes, written: 0, replaces: first.len() });
                }
            }
        }
        if self.replacing.is_some() {
            return self.poll_replacement(cx);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_answers_to_oversized_requests_are_replaced() {
        let bare =
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Mon, 01 Jan 2026 00:00:00 GMT\r\n\r\n";
        let replaced = String::from_utf8(replacement_for(bare).unwrap()).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n"));
        let body: serde_json::Value =
            serde_json::from_str(replaced.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert!(body["error"].as_str().unwrap().contains("16384 bytes"), "{body}");
        assert_eq!(body["result"]["data"]["code"], 414);

        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(head).is_some());

        let ours =
            b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 80\r\n\r\n";
        assert!(replacement_for(ours).is_none(), "an answer with a body is ours");
        let other = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(other).is_none());
    }
}
