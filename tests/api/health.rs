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
