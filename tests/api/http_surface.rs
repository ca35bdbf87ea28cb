//! What every request passes through: CORS, request ids, the body limit, rspc error shapes, the
//! websocket transport and panic recovery.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{RpcResponse, TestApp, TokenBuilder, FRONTEND_ORIGIN};

async fn rpc(response: reqwest::Response) -> RpcResponse {
    let http_status = response.status();
    let text = response.text().await.expect("body");
    RpcResponse { http_status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_preflight_from_the_frontend_origin_is_allowed() {
    let app = TestApp::spawn().await;

    let response = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/rspc/organizations.getCurrent"))
        .header("origin", FRONTEND_ORIGIN)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();

    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(header(&response, "access-control-allow-origin"), Some(FRONTEND_ORIGIN));
    assert!(
        header(&response, "access-control-allow-headers").is_some_and(|h| h.contains("authorization")),
        "{:?}",
        response.headers()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_401_answer_to_the_frontend_origin_carries_cors_headers() {
    let app = TestApp::spawn().await;

    let response = app
        .http
        .get(app.url("/rspc/organizations.getCurrent"))
        .header("origin", FRONTEND_ORIGIN)
        .send()
        .await
        .unwrap();

    assert_eq!(header(&response, "access-control-allow-origin"), Some(FRONTEND_ORIGIN));
    assert_eq!(rpc(response).await.code(), 401);
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_origin_gets_no_allow_origin_header() {
    let app = TestApp::spawn().await;

    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/rspc/organizations.getCurrent"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    let get = app
        .http
        .get(app.url("/rspc/organizations.getCurrent"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();

    assert_eq!(header(&preflight, "access-control-allow-origin"), None);
    assert_eq!(header(&get, "access-control-allow-origin"), None);
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;

    let responses = [
        app.http.get(app.url("/healthz")).send().await.unwrap(),
        app.http.get(app.url("/rspc/organizations.getCurrent")).send().await.unwrap(),
        app.http.get(app.url("/no/such/route")).send().await.unwrap(),
        app.http.post(app.url("/webhooks/clerk")).body("{}").send().await.unwrap(),
    ];

    for response in &responses {
        let id = header(response, "x-request-id").unwrap_or_default();
        assert!(!id.is_empty(), "{} {} has no request id", response.status(), response.url());
    }
    app.stop().await;
}

#[tokio::test]
async fn a_client_supplied_request_id_is_echoed() {
    let app = TestApp::spawn().await;

    let response = app
        .http
        .get(app.url("/rspc/organizations.getCurrent"))
        .header("x-request-id", "req-from-the-browser-42")
        .send()
        .await
        .unwrap();

    assert_eq!(header(&response, "x-request-id"), Some("req-from-the-browser-42"));
    app.stop().await;
}

#[tokio::test]
async fn a_mutation_body_over_the_limit_answers_an_rspc_shaped_413() {
    let app = TestApp::spawn_with(|s| s.body_limit = 1024).await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "admin").sign();

    let response =
        app.mutation(Some(&token), "organizations.update", json!({"name": "x".repeat(2048)})).await;

    assert_eq!(response.http_status, 413);
    assert_eq!(response.code(), 413, "{}", response.body);
    assert!(response.message().contains("1024"), "{}", response.message());
    app.stop().await;
}

#[tokio::test]
async fn a_mistyped_input_field_answers_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "admin").sign();

    let response =
        app.mutation(Some(&token), "organizations.update", json!({"concurrentCallLimit": "lots"})).await;

    assert_eq!(response.code(), 400, "{}", response.body);
    let failure: Value = serde_json::from_str(response.message()).expect("message is JSON");
    assert_eq!(failure["issues"][0]["field"], "concurrentCallLimit", "{failure}");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_procedure_answers_404() {
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "admin").sign();

    let response = app.query(Some(&token), "organizations.noSuchProcedure", Value::Null).await;

    assert_eq!(response.code(), 404, "{}", response.body);
    app.stop().await;
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one rspc query over the socket and returns the JSON-RPC answer to it.
async fn ws_query(socket: &mut Socket, id: u32, path: &str) -> Value {
    let request = json!({"id": id, "method": "query", "params": {"path": path, "input": null}});
    socket.send(Message::Text(request.to_string())).await.expect("query sent");
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match socket.next().await.expect("socket open").expect("frame") {
                Message::Text(text) => break serde_json::from_str::<Value>(&text).expect("JSON"),
                Message::Close(frame) => panic!("socket closed: {frame:?}"),
                _ => continue,
            }
        }
    })
    .await
    .expect("an answer within 10 s");
    assert_eq!(answer["id"], id, "{answer}");
    answer
}

#[tokio::test]
async fn a_websocket_with_a_token_in_the_query_answers_queries() {
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "member").sign();
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/rspc/ws?token={token}", app.address))
            .await
            .unwrap();

    let answer = ws_query(&mut socket, 1, "organizations.isSuperAdmin").await;

    assert_eq!(answer["result"], json!({"type": "response", "data": false}), "{answer}");
    socket.close(None).await.ok();
    app.stop().await;
}

#[tokio::test]
async fn a_websocket_without_a_token_answers_401() {
    let app = TestApp::spawn().await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/rspc/ws", app.address)).await.unwrap();

    let answer = ws_query(&mut socket, 1, "organizations.isSuperAdmin").await;

    assert_eq!(answer["result"]["type"], "error", "{answer}");
    assert_eq!(answer["result"]["data"]["code"], 401, "{answer}");
    socket.close(None).await.ok();
    app.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_answers_a_generic_500_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;

    let response = app.http.get(app.url("/__test/panic")).send().await.unwrap();
    let status = response.status();
    let request_id = header(&response, "x-request-id").map(str::to_owned);
    let body = response.text().await.unwrap();
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(status, 500);
    assert!(request_id.is_some(), "the 500 must carry a request id");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"error": "internal error"}));
    assert!(!body.contains("panicked") && !body.contains("deliberate") && !body.contains(".rs"), "{body}");
    assert_eq!(health.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn the_test_routes_are_not_mounted_unless_asked_for() {
    let app = TestApp::spawn_with(|s| s.expose_test_routes = false).await;

    let response = app.http.get(app.url("/__test/panic")).send().await.unwrap();

    assert_eq!(response.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn the_server_stops_promptly_when_idle() {
    let app = TestApp::spawn().await;
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);

    let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), app.stop()).await;

    assert!(stopped.is_ok(), "stop() did not complete within 10 s");
}

#[tokio::test]
async fn a_procedure_error_is_answered_with_its_code_as_http_status_and_the_same_body() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = crate::support::seed::world(&app).await;
    let member = world.alpha.member.as_str();
    let unknown_run = json!({"id": "00000000-0000-7000-8000-000000000000"});

    // Act
    let ok = app.query(Some(member), "runs.get", json!({"id": world.alpha.run_id})).await;
    let not_found = app.query(Some(member), "runs.get", unknown_run).await;
    let bad_input = app.mutation(Some(member), "runs.create", json!({"campaignId": "x"})).await;
    let anonymous = app.query(None, "organizations.getCurrent", Value::Null).await;
    let forbidden = app.query(Some(member), "admin.organizations.list", json!({})).await;
    let conflict = app.mutation(Some(member), "runs.pause", json!({"id": world.alpha.run_id})).await;

    // Assert: the status is the body's code; the body is what rspc always answered.
    assert_eq!(ok.http_status, 200);
    for (response, code) in
        [(&not_found, 404), (&bad_input, 400), (&anonymous, 401), (&forbidden, 403), (&conflict, 409)]
    {
        assert_eq!(response.code(), code, "{}", response.body);
        assert_eq!(response.http_status.as_u16(), code, "{}", response.body);
        assert_eq!(response.body["result"]["type"], "error", "{}", response.body);
    }
    app.stop().await;
}
