//! Limits (issue 15, item 8) and per-procedure metrics (issue 17, item 3): rate limits per client
//! address on the webhooks and per organization on the procedures, answered 429 with
//! `Retry-After` in each surface's error shape; oversized query strings answered with a JSON body;
//! `rivvi_rpc_requests_total{procedure, code}` and its latency histogram, over HTTP and the
//! websocket.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

use futures_util::{SinkExt, StreamExt};
use rivvi_server::config::{IpNetwork, RateLimit, Settings};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestApp, TokenBuilder};

/// `burst` requests at once, then one a minute: a test never sees a token come back.
fn limit(burst: u32) -> Option<RateLimit> {
    Some(RateLimit { per_minute: NonZeroU32::MIN, burst: NonZeroU32::new(burst).unwrap() })
}

fn retry_after(response: &reqwest::Response) -> u64 {
    let value = response.headers().get("retry-after").expect("a Retry-After header");
    value.to_str().unwrap().parse().expect("Retry-After in whole seconds")
}

/// A client whose connections come from `source` (any 127.x address reaches the server).
fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::V4(Ipv4Addr::from(source))).build().unwrap()
}

async fn post_webhook(
    client: &reqwest::Client,
    app: &TestApp,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request =
        client.post(app.url("/webhooks/retell")).header("content-type", "application/json").body("{}");
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    request.send().await.unwrap()
}

async fn get_procedure(app: &TestApp, token: Option<&str>, key: &str) -> reqwest::Response {
    let mut request = app.http.get(app.url(&format!("/rspc/{key}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn webhooks_from_one_address_get_429_with_retry_after_past_the_limit() {
    let app = TestApp::spawn_with(|s: &mut Settings| s.rate_limits.webhook = limit(3)).await;
    let first = client_from([127, 0, 0, 1]);
    let second = client_from([127, 0, 0, 2]);

    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(post_webhook(&first, &app, None).await.status().as_u16());
    }
    let refused = post_webhook(&first, &app, None).await;
    let other_address = post_webhook(&second, &app, None).await;

    assert!(statuses.iter().all(|s| *s == 401), "unsigned, answered as usual: {statuses:?}");
    assert_eq!(refused.status(), 429);
    let wait = retry_after(&refused);
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    assert!(refused.headers().contains_key("x-request-id"));
    let body: Value = refused.json().await.unwrap();
    let message = body["error"].as_str().unwrap_or_else(|| panic!("the webhook error shape: {body}"));
    assert!(message.contains("too many requests") && message.contains("per address"), "{message}");
    assert_eq!(other_address.status(), 401, "another address has its own bucket");
    app.stop().await;
}

#[tokio::test]
async fn forwarded_for_picks_the_bucket_only_behind_a_trusted_proxy() {
    let app = TestApp::spawn_with(|s: &mut Settings| {
        s.rate_limits.webhook = limit(2);
        s.rate_limits.trusted_proxies = vec![IpNetwork::parse("127.0.0.1").unwrap()];
    })
    .await;
    let proxy = client_from([127, 0, 0, 1]);
    let untrusted = client_from([127, 0, 0, 3]);

    for _ in 0..2 {
        assert_eq!(post_webhook(&proxy, &app, Some("203.0.113.1")).await.status(), 401);
    }
    let same_client = post_webhook(&proxy, &app, Some("203.0.113.1")).await.status();
    let other_client = post_webhook(&proxy, &app, Some("198.51.100.1, 203.0.113.2")).await.status();
    // From an address that is not a proxy, the header is anyone's to write: ignored.
    let mut forged = Vec::new();
    for n in 0..3 {
        forged.push(post_webhook(&untrusted, &app, Some(&format!("192.0.2.{n}"))).await.status().as_u16());
    }

    assert_eq!(same_client, 429);
    assert_eq!(other_client, 401, "the client the proxy names has its own bucket");
    assert_eq!(forged, [401, 401, 429]);
    app.stop().await;
}

#[tokio::test]
async fn procedures_of_one_organization_get_429_while_another_is_unaffected() {
    let app = TestApp::spawn_with(|s: &mut Settings| s.rate_limits.rpc = limit(3)).await;
    let alpha = TokenBuilder::user("user_limits_a").in_org("org_limits_alpha", "admin").sign();
    let alpha_colleague = TokenBuilder::user("user_limits_c").in_org("org_limits_alpha", "member").sign();
    let beta = TokenBuilder::user("user_limits_b").in_org("org_limits_beta", "admin").sign();

    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(app.query(Some(&alpha), "organizations.isSuperAdmin", Value::Null).await.code());
    }
    let refused = get_procedure(&app, Some(&alpha), "organizations.isSuperAdmin").await;
    let colleague = app.query(Some(&alpha_colleague), "organizations.isSuperAdmin", Value::Null).await;
    let other_org = app.query(Some(&beta), "organizations.isSuperAdmin", Value::Null).await;
    let anonymous = app.query(None, "organizations.isSuperAdmin", Value::Null).await;

    assert_eq!(codes, [200, 200, 200]);
    assert_eq!(refused.status(), 429);
    assert!((1..=60).contains(&retry_after(&refused)));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["result"]["type"], "error", "rspc's error shape: {body}");
    assert_eq!(body["result"]["data"]["code"], 429, "{body}");
    let message = body["result"]["data"]["message"].as_str().unwrap();
    assert!(message.contains("per organization"), "{message}");
    assert_eq!(colleague.http_status, 429, "the whole organization shares its bucket");
    assert_eq!(other_org.code(), 200, "another organization is unaffected: {}", other_org.body);
    assert_eq!(anonymous.code(), 401, "anonymous callers are counted by address: {}", anonymous.body);
    app.stop().await;
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_query(socket: &mut Socket, id: u32, path: &str, input: Value) -> Value {
    let request = json!({"id": id, "method": "query", "params": {"path": path, "input": input}});
    socket.send(Message::Text(request.to_string())).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let Message::Text(text) = socket.next().await.expect("socket open").expect("frame") {
                break serde_json::from_str::<Value>(&text).unwrap();
            }
        }
    })
    .await
    .expect("an answer within 10 s")
}

#[tokio::test]
async fn a_websocket_counts_as_one_request_however_many_messages_it_carries() {
    let app = TestApp::spawn_with(|s: &mut Settings| s.rate_limits.rpc = limit(2)).await;
    let token = TokenBuilder::user("user_limits_ws").in_org("org_limits_ws", "admin").sign();
    let socket_url = format!("ws://{}/rspc/ws?token={token}", app.address);

    let (mut socket, _) = tokio_tungstenite::connect_async(&socket_url).await.unwrap();
    let mut answers = Vec::new();
    for id in 0..6 {
        answers.push(ws_query(&mut socket, id, "organizations.isSuperAdmin", Value::Null).await);
    }
    let mut over_http = Vec::new();
    for _ in 0..2 {
        over_http
            .push(get_procedure(&app, Some(&token), "organizations.isSuperAdmin").await.status().as_u16());
    }
    let second_socket = tokio_tungstenite::connect_async(&socket_url).await;

    assert!(answers.iter().all(|a| a["result"]["type"] == "response"), "{answers:?}");
    assert_eq!(over_http, [200, 429], "the upgrade and one HTTP call used the rest");
    match second_socket {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("expected the upgrade refused with 429, got {other:?}"),
    }
    socket.close(None).await.ok();
    app.stop().await;
}

/// The value of the `rivvi_rpc_requests_total` series for `procedure` and `code` (0 if absent).
fn calls(exposition: &str, procedure: &str, code: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| l.starts_with("rivvi_rpc_requests_total{"))
        .find(|l| {
            l.contains(&format!("procedure=\"{procedure}\"")) && l.contains(&format!("code=\"{code}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

/// The `_count` of the latency histogram of `procedure` (0 if absent).
fn timed(exposition: &str, procedure: &str) -> f64 {
    let prefix = format!("rivvi_rpc_request_duration_seconds_count{{procedure=\"{procedure}\"}}");
    exposition
        .lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn procedure_calls_are_counted_by_procedure_and_code_and_timed() {
    // The registry is the process's: other tests add to the same series meanwhile, so each
    // check is an increase of at least what this test did.
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_metrics").in_org("org_metrics", "admin").sign();
    let missing = json!({"id": "0190d8a0-0000-7000-8000-000000000000"});
    let before = app.scrape_metrics().await;

    let ok = app.query(Some(&token), "organizations.isSuperAdmin", Value::Null).await;
    let not_found = app.query(Some(&token), "runs.get", missing.clone()).await;
    let unauthenticated = app.query(None, "runs.get", missing.clone()).await;
    let made_up = app.query(Some(&token), "no.suchProcedure", Value::Null).await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/rspc/ws?token={token}", app.address))
            .await
            .unwrap();
    let ws_ok = ws_query(&mut socket, 1, "organizations.isSuperAdmin", Value::Null).await;
    let ws_not_found = ws_query(&mut socket, 2, "runs.get", missing).await;
    socket.close(None).await.ok();
    let after = app.scrape_metrics().await;

    assert_eq!((ok.code(), not_found.code(), unauthenticated.code(), made_up.code()), (200, 404, 401, 404));
    assert_eq!(ws_ok["result"]["type"], "response", "{ws_ok}");
    assert_eq!(ws_not_found["result"]["data"]["code"], 404, "{ws_not_found}");
    let grew = |procedure: &str, code: &str| calls(&after, procedure, code) - calls(&before, procedure, code);
    assert!(grew("organizations.isSuperAdmin", "ok") >= 2.0, "HTTP and websocket successes:\n{after}");
    assert!(grew("runs.get", "NOT_FOUND") >= 2.0, "HTTP and websocket failures:\n{after}");
    assert!(grew("runs.get", "UNAUTHORIZED") >= 1.0);
    assert!(grew("unknown", "NOT_FOUND") >= 1.0, "a made-up key is counted as unknown");
    assert!(!after.contains("no.suchProcedure"), "no label from a made-up key");
    assert!(timed(&after, "runs.get") - timed(&before, "runs.get") >= 3.0);
    assert!(after.contains("rivvi_rpc_request_duration_seconds_bucket{procedure=\"runs.get\",le=\""));
    assert!(!after.contains("procedure=\"ws\""), "the upgrade is not a procedure");
    app.stop().await;
}

#[tokio::test]
async fn rate_limited_calls_are_counted_as_too_many_requests() {
    let app = TestApp::spawn_with(|s: &mut Settings| s.rate_limits.rpc = limit(1)).await;
    let token = TokenBuilder::user("user_limits_m").in_org("org_limits_metrics", "admin").sign();
    let before = app.scrape_metrics().await;

    get_procedure(&app, Some(&token), "organizations.isSuperAdmin").await;
    let refused = get_procedure(&app, Some(&token), "organizations.isSuperAdmin").await;
    let after = app.scrape_metrics().await;

    assert_eq!(refused.status(), 429);
    let code = "TOO_MANY_REQUESTS";
    let grew = calls(&after, "organizations.isSuperAdmin", code)
        - calls(&before, "organizations.isSuperAdmin", code);
    assert!(grew >= 1.0, "{after}");
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_query_string_gets_a_json_error_naming_the_limit() {
    let app = TestApp::spawn().await;
    let input = |bytes: usize| format!("%22{}%22", "a".repeat(bytes));

    // Over our limit but within hyper's: the surface's own shape, with the usual headers.
    let procedure = app
        .http
        .get(app.url(&format!("/rspc/organizations.isSuperAdmin?input={}", input(20 * 1024))))
        .send()
        .await
        .unwrap();
    let upload_route = app
        .http
        .post(app.url(&format!("/uploads?fileName={}", "a".repeat(20 * 1024))))
        .body("x")
        .send()
        .await
        .unwrap();
    // Over hyper's own 64 KiB request line and over its head buffer: answered before any
    // route is known, in both shapes at once. (Sent by hand: HTTP clients refuse such URLs.)
    let line = raw_get(&app, &format!("/rspc/runs.get?input={}", input(100 * 1024))).await;
    let head = raw_get(&app, &format!("/rspc/runs.get?input={}", input(500 * 1024))).await;
    let still_serving = app.http.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(procedure.status(), 414);
    assert!(procedure.headers().contains_key("x-request-id"));
    let body: Value = procedure.json().await.unwrap();
    assert_eq!(body["result"]["data"]["code"], 414, "{body}");
    let message = body["result"]["data"]["message"].as_str().unwrap();
    assert!(message.contains("query string too long") && message.contains("16384 bytes"), "{message}");

    assert_eq!(upload_route.status(), 414);
    let body: Value = upload_route.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("16384 bytes"), "{body}");

    assert_eq!(line.status, 414, "{}", line.head);
    assert!(line.head.contains("content-type: application/json"), "{}", line.head);
    assert!(line.body["error"].as_str().unwrap().contains("16384 bytes"), "{}", line.body);
    assert_eq!(line.body["result"]["data"]["code"], 414, "{}", line.body);

    // Which of hyper's two limits trips first depends on how much of the line it has read when
    // it gives up (seen both ways under load): either way the answer is JSON naming a limit.
    let error = head.body["error"].as_str().unwrap_or_default();
    match head.status {
        431 => assert!(error.contains("request head too large"), "{}", head.body),
        414 => assert!(error.contains("16384 bytes"), "{}", head.body),
        other => panic!("status {other}: {}", head.head),
    }
    assert_eq!(still_serving.status(), 200);
    app.stop().await;
}

/// An answer read off the socket.
struct RawAnswer {
    status: u16,
    head: String,
    body: Value,
}

/// `GET target` written by hand on a new connection, read until the server closes it (as it
/// does after refusing a request it could not parse).
async fn raw_get(app: &TestApp, target: &str) -> RawAnswer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nhost: {}\r\n\r\n", app.address);
    // The server may answer and close before reading all of a huge request: a failed write is
    // expected then, the answer is what counts.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .ok();
    let text = String::from_utf8(answer).expect("a text answer");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head in {text:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    RawAnswer {
        status,
        head: head.to_owned(),
        body: serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    }
}
