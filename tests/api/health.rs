use crate::support::TestApp;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    app.stop().await;
}

#[tokio::test]
async fn readyz_reports_the_database_reachable() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    app.stop().await;
}

#[tokio::test]
async fn input_that_is_not_json_gets_an_rspc_shaped_400() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/rspc/organizations.getCurrent?input=%7B%22id%22%3A%2012"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["result"]["data"]["code"], 400);
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_and_time_requests_by_route_without_raw_paths() {
    let app = TestApp::spawn().await;
    let secret_path = "/rspc/runs.get?input=%7B%22id%22%3A%22patient-ish%22%7D";
    app.http.get(app.url("/healthz")).send().await.unwrap();
    app.http.get(app.url(secret_path)).send().await.unwrap();
    app.http.get(app.url("/no/such/route/unlisted-segment")).send().await.unwrap();

    let response = app.http.get(app.metrics_url("/metrics")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let body = response.text().await.unwrap();
    let healthz = body
        .lines()
        .find(|l| l.starts_with("http_requests_total{") && l.contains("route=\"/healthz\""))
        .unwrap_or_else(|| panic!("no /healthz counter in\n{body}"));
    assert!(healthz.contains("status=\"200\"") && healthz.contains("method=\"GET\""), "{healthz}");
    assert!(body.contains("http_request_duration_seconds_bucket{"), "durations are histograms");
    assert!(body.contains("route=\"unmatched\""), "unknown paths share one label");
    // Words no number or id can spell: a sample's value (a duration sum such as 0.00123456) may
    // hold any digits, so a numeric segment here made this check fail by chance.
    assert!(!body.contains("patient-ish") && !body.contains("unlisted-segment"), "no raw path in labels");
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_not_on_the_main_one() {
    let app = TestApp::spawn().await;
    assert_ne!(app.metrics_address.unwrap().port(), app.address.port());

    let main = app.http.get(app.url("/metrics")).send().await.unwrap();
    let other_path = app.http.get(app.metrics_url("/healthz")).send().await.unwrap();
    let metrics = app.http.get(app.metrics_url("/metrics")).send().await.unwrap();

    assert_eq!(main.status(), 404, "the public port does not serve metrics");
    assert_eq!(other_path.status(), 404, "the metrics port serves nothing else");
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("http_requests_total{"));
    app.stop().await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = TestApp::spawn_with(|s| s.metrics_listen = rivvi_server::config::MetricsListen::Off).await;

    assert_eq!(app.metrics_address, None);
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    app.stop().await;
}
