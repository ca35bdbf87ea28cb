//! Clerk session tokens: what is refused, what is accepted, and what a first sign-in creates.

use serde_json::{json, Value};

use crate::support::clerk::{self, count, count_where, identity_counts, strings};
use crate::support::{RpcResponse, Shape, TestApp, TokenBuilder, OPERATOR_ORG};

const GET_CURRENT: &str = "organizations.getCurrent";
const IS_SUPER_ADMIN: &str = "organizations.isSuperAdmin";

/// A valid admin token of `user_ana` in `org_lakeside` unless changed.
fn ana() -> TokenBuilder {
    TokenBuilder::user("user_ana").in_org("org_lakeside", "admin")
}

/// A `getCurrent` answer for Ana: her clinic.
fn assert_answers_ana(response: &RpcResponse) {
    assert_eq!(response.code(), 200, "{}", response.body);
    assert_eq!(response.data()["clerkOrgId"], "org_lakeside");
}

/// `getCurrent` with `token` answers 401 whose message contains `reason`, and nothing is created.
async fn assert_token_refused(token: &str, reason: &str) {
    let app = TestApp::spawn().await;

    let response = app.query(Some(token), GET_CURRENT, Value::Null).await;

    assert_eq!(response.code(), 401, "{}", response.body);
    assert!(response.message().contains(reason), "message {:?} lacks {reason:?}", response.message());
    assert_eq!(identity_counts(&app).await, [0; 5], "a refused token must create nothing");
    app.stop().await;
}

async fn assert_header_refused(authorization: &str, reason: &str) {
    let app = TestApp::spawn().await;

    let response = RpcResponse::read(
        app.http
            .get(app.url(&format!("/rspc/{GET_CURRENT}")))
            .header("authorization", authorization)
            .send()
            .await
            .expect("request sent"),
    )
    .await;

    assert_eq!(response.code(), 401, "{}", response.body);
    assert!(response.message().contains(reason), "message {:?} lacks {reason:?}", response.message());
    assert_eq!(identity_counts(&app).await, [0; 5]);
    app.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    assert_token_refused(&ana().expires_in(-60).sign(), "expired").await;
}

#[tokio::test]
async fn with_clerk_issuer_set_only_tokens_of_that_issuer_are_accepted() {
    // The test tokens say `iss: https://clerk.test.local`.
    let app = TestApp::spawn_with(|s| s.auth.issuer = Some("https://clerk.test.local".into())).await;

    let ours = app.query(Some(&ana().sign()), GET_CURRENT, Value::Null).await;
    let theirs = app
        .query(
            Some(&ana().claim("iss", json!("https://clerk.other.example")).sign()),
            GET_CURRENT,
            Value::Null,
        )
        .await;
    let none = app.query(Some(&ana().claim("iss", Value::Null).sign()), GET_CURRENT, Value::Null).await;

    assert_eq!(ours.code(), 200, "{}", ours.body);
    for refused in [&theirs, &none] {
        assert_eq!(refused.code(), 401, "{}", refused.body);
        assert!(refused.message().to_lowercase().contains("iss"), "{}", refused.message());
    }
    app.stop().await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    assert_token_refused(&ana().not_before_in(60).sign(), "not yet valid").await;
}

#[tokio::test]
async fn a_token_signed_by_an_untrusted_key_is_refused() {
    assert_token_refused(&ana().signed_by_untrusted_key().sign(), "invalid token").await;
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    assert_token_refused(&ana().unsigned(), "invalid token").await;
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_public_key_is_refused() {
    assert_token_refused(&ana().sign_hs256_with_public_key(), "algorithm").await;
}

#[tokio::test]
async fn a_token_for_another_authorized_party_is_refused() {
    assert_token_refused(&ana().azp("https://evil.example").sign(), "authorized party").await;
}

#[tokio::test]
async fn a_bearer_value_that_is_not_a_jwt_is_refused() {
    assert_header_refused("Bearer not.a.jwt", "invalid token").await;
}

#[tokio::test]
async fn a_basic_authorization_header_is_refused() {
    assert_header_refused("Basic x", "malformed authorization header").await;
}

#[tokio::test]
async fn a_token_expired_within_the_clock_skew_is_accepted() {
    let app = TestApp::spawn().await;

    let response = app.query(Some(&ana().expires_in(-2).sign()), GET_CURRENT, Value::Null).await;

    assert_answers_ana(&response);
    app.stop().await;
}

#[tokio::test]
async fn a_token_without_an_active_org_is_forbidden_org_procedures_but_may_ask_if_super_admin() {
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_ana").sign();

    let current = app.query(Some(&token), GET_CURRENT, Value::Null).await;
    let super_admin = app.query(Some(&token), IS_SUPER_ADMIN, Value::Null).await;

    assert_eq!(current.code(), 403, "{}", current.body);
    assert!(current.message().contains("organization"), "{}", current.message());
    assert_eq!(super_admin.data(), &json!(false));
    app.stop().await;
}

#[tokio::test]
async fn v1_and_v2_tokens_of_the_same_user_reach_the_same_organization() {
    let app = TestApp::spawn().await;
    let v1 = ana().shape(Shape::V1).sign();
    let v2 = ana().shape(Shape::V2).sign();

    let first = app.query(Some(&v1), GET_CURRENT, Value::Null).await;
    let second = app.query(Some(&v2), GET_CURRENT, Value::Null).await;

    assert_eq!(first.code(), 200, "{}", first.body);
    assert_eq!(second.code(), 200, "{}", second.body);
    assert_eq!(first.data()["id"], second.data()["id"]);
    assert_eq!(count(&app, "organizations").await, 1);
    assert_eq!(count(&app, "memberships").await, 1);
    app.stop().await;
}

/// A first request creates exactly one org, user and admin membership, audited; a repeat creates
/// nothing.
async fn first_request_creates_the_caller_just_in_time(shape: Shape) {
    let app = TestApp::spawn().await;
    let token = ana().shape(shape).sign();

    let first = app.query(Some(&token), GET_CURRENT, Value::Null).await;

    assert_eq!(first.code(), 200, "{}", first.body);
    assert_eq!(count_where(&app, "organizations", "clerk_org_id = 'org_lakeside'").await, 1);
    assert_eq!(count_where(&app, "users", "clerk_user_id = 'user_ana' AND deleted_at IS NULL").await, 1);
    assert_eq!(strings(&app, "SELECT role AS v FROM memberships").await, [Some("admin".to_owned())]);
    let mut actions = strings(&app, "SELECT action AS v FROM audit_log").await;
    actions.sort();
    assert_eq!(actions, [Some("membership.created".to_owned()), Some("organization.created".to_owned())]);
    assert_eq!(identity_counts(&app).await, [1, 1, 1, 2, 0]);

    let again = app.query(Some(&token), GET_CURRENT, Value::Null).await;

    assert_eq!(again.data()["id"], first.data()["id"]);
    assert_eq!(identity_counts(&app).await, [1, 1, 1, 2, 0], "a second request must create nothing");
    app.stop().await;
}

#[tokio::test]
async fn a_first_v1_request_creates_org_user_and_admin_membership_once() {
    first_request_creates_the_caller_just_in_time(Shape::V1).await;
}

#[tokio::test]
async fn a_first_v2_request_creates_org_user_and_admin_membership_once() {
    first_request_creates_the_caller_just_in_time(Shape::V2).await;
}

#[tokio::test]
async fn a_role_change_in_the_token_updates_the_membership() {
    let app = TestApp::spawn().await;
    let as_admin = ana().sign();
    let as_member = TokenBuilder::user("user_ana").in_org("org_lakeside", "member").sign();
    assert_eq!(app.query(Some(&as_admin), GET_CURRENT, Value::Null).await.code(), 200);

    let response = app.query(Some(&as_member), GET_CURRENT, Value::Null).await;

    assert_eq!(response.code(), 200, "{}", response.body);
    assert_eq!(strings(&app, "SELECT role AS v FROM memberships").await, [Some("member".to_owned())]);
    assert_eq!(count_where(&app, "audit_log", "action = 'membership.updated'").await, 1);
    let update = app.mutation(Some(&as_member), "organizations.update", json!({"name": "Renamed"})).await;
    assert_eq!(update.code(), 403, "the demoted member must lose admin rights: {}", update.body);
    app.stop().await;
}

#[tokio::test]
async fn a_token_in_the_session_cookie_is_accepted() {
    let app = TestApp::spawn().await;

    let response = RpcResponse::read(
        app.http
            .get(app.url(&format!("/rspc/{GET_CURRENT}")))
            .header("cookie", format!("theme=dark; __session={}", ana().sign()))
            .send()
            .await
            .unwrap(),
    )
    .await;

    assert_answers_ana(&response);
    app.stop().await;
}

#[tokio::test]
async fn a_token_in_the_query_string_is_accepted() {
    let app = TestApp::spawn().await;

    let response = RpcResponse::read(
        app.http.get(app.url(&format!("/rspc/{GET_CURRENT}?token={}", ana().sign()))).send().await.unwrap(),
    )
    .await;

    assert_answers_ana(&response);
    app.stop().await;
}

#[tokio::test]
async fn a_member_of_the_operator_org_is_a_super_admin_and_an_ordinary_admin_is_not() {
    let app = TestApp::spawn().await;
    let operator = TokenBuilder::user("user_op").in_org(OPERATOR_ORG, "member").sign();

    let operator_answer = app.query(Some(&operator), IS_SUPER_ADMIN, Value::Null).await;
    let admin_answer = app.query(Some(&ana().sign()), IS_SUPER_ADMIN, Value::Null).await;

    assert_eq!(operator_answer.data(), &json!(true));
    assert_eq!(admin_answer.data(), &json!(false));
    app.stop().await;
}

#[tokio::test]
async fn a_token_of_a_user_deleted_by_the_clerk_webhook_is_refused() {
    let app = TestApp::spawn().await;
    let token = ana().sign();
    assert_eq!(app.query(Some(&token), GET_CURRENT, Value::Null).await.code(), 200);
    clerk::apply(&app, "msg_delete_ana", "user.deleted", json!({"id": "user_ana", "deleted": true})).await;

    let response = app.query(Some(&token), GET_CURRENT, Value::Null).await;

    assert_eq!(response.code(), 401, "{}", response.body);
    assert!(response.message().contains("deleted"), "{}", response.message());
    assert_eq!(count_where(&app, "users", "deleted_at IS NOT NULL").await, 1);
    app.stop().await;
}

/// Serves `document` at `/.well-known/jwks.json` on 127.0.0.1 and counts the fetches.
async fn serve_jwks(document: Value) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let fetches = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let document = document.clone();
            async move { axum::Json(document) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/.well-known/jwks.json"), fetches)
}

#[tokio::test]
async fn tokens_verify_against_a_jwks_url_that_is_fetched_once_and_cached() {
    // Arrange
    let (url, fetches) = serve_jwks(crate::support::tokens::jwks()).await;
    let app = TestApp::spawn_with(|s| s.auth.jwt_key = rivvi_server::config::JwtKeySource::Jwks(url)).await;
    let token = ana().in_org("org_jwks", "admin").sign();

    // Act
    let first = app.query(Some(&token), "organizations.getCurrent", Value::Null).await;
    let second = app.query(Some(&token), "organizations.getCurrent", Value::Null).await;
    let forged = app
        .query(
            Some(&ana().in_org("org_jwks", "admin").signed_by_untrusted_key().sign()),
            "organizations.getCurrent",
            Value::Null,
        )
        .await;

    // Assert
    assert_eq!(first.code(), 200, "{}", first.body);
    assert_eq!(second.code(), 200);
    assert_eq!(forged.code(), 401);
    assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1, "the key set is cached");
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_jwks_url_refuses_tokens_instead_of_failing_open() {
    let app = TestApp::spawn_with(|s| {
        s.auth.jwt_key = rivvi_server::config::JwtKeySource::Jwks("http://127.0.0.1:9/jwks.json".into())
    })
    .await;

    let response = app
        .query(Some(&ana().in_org("org_jwks", "admin").sign()), "organizations.getCurrent", Value::Null)
        .await;

    assert_eq!(response.code(), 401, "{}", response.body);
    app.stop().await;
}
