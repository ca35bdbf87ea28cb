//! What the server remembers about a token (its verified claims, the caller it resolved to) never
//! outlives what made it valid: a deleted user or organization is refused at once on the instance
//! that received Clerk's webhook, and an expired token stops working even after being remembered.
//!
//! A membership deleted by Clerk is not a revocation on its own: a token still naming the
//! organization re-creates it just in time (Clerk stops issuing such tokens), so the tests revoke
//! by deleting the user or the organization.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::clerk::{self, count_where, membership_data};
use crate::support::{TestApp, TokenBuilder};

const GET_CURRENT: &str = "organizations.getCurrent";

/// `token` answered twice, so its caller is resolved and then remembered (the first resolution
/// creates the user, organization and membership, and a resolution that writes is not kept).
async fn used_twice(app: &TestApp, token: &str) {
    for _ in 0..2 {
        let response = app.query(Some(token), GET_CURRENT, Value::Null).await;
        assert_eq!(response.code(), 200, "{}", response.body);
    }
    let remembered = app.query(Some(token), GET_CURRENT, Value::Null).await;
    assert_eq!(remembered.code(), 200, "{}", remembered.body);
}

#[tokio::test]
async fn a_remembered_caller_whose_user_clerk_deletes_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "admin").sign();
    used_twice(&app, &token).await;

    clerk::apply(&app, "msg_delete_ana", "user.deleted", json!({"id": "user_ana", "deleted": true})).await;
    let response = app.query(Some(&token), GET_CURRENT, Value::Null).await;

    assert_eq!(response.code(), 401, "{}", response.body);
    assert!(response.message().contains("deleted"), "{}", response.message());
    app.stop().await;
}

#[tokio::test]
async fn a_remembered_caller_whose_organization_clerk_deletes_loses_it_at_once() {
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "admin").sign();
    used_twice(&app, &token).await;

    let deleted = json!({"id": "org_lakeside", "object": "organization", "deleted": true});
    clerk::apply(&app, "msg_delete_org", "organization.deleted", deleted).await;
    let response = app.query(Some(&token), GET_CURRENT, Value::Null).await;

    assert_eq!(response.code(), 403, "{}", response.body);
    app.stop().await;
}

#[tokio::test]
async fn a_membership_webhook_makes_the_next_request_resolve_again() {
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "member").sign();
    used_twice(&app, &token).await;

    let data = membership_data("orgmem_1", "org_lakeside", "user_ana", "org:member");
    clerk::apply(&app, "msg_delete_membership", "organizationMembership.deleted", data).await;
    assert_eq!(count_where(&app, "memberships", "1 = 1").await, 0);
    let response = app.query(Some(&token), GET_CURRENT, Value::Null).await;

    assert_eq!(response.code(), 200, "{}", response.body);
    assert_eq!(
        count_where(&app, "memberships", "1 = 1").await,
        1,
        "a remembered caller would have skipped the resolution that re-creates it"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_remembered_token_stops_working_once_its_exp_and_the_clock_skew_pass() {
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "admin").expires_in(1).sign();
    used_twice(&app, &token).await;

    // One second to `exp`, five of tolerated clock skew (the verifier's leeway), one to spare.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let response = app.query(Some(&token), GET_CURRENT, Value::Null).await;

    assert_eq!(response.code(), 401, "{}", response.body);
    assert!(response.message().contains("expired"), "{}", response.message());
    app.stop().await;
}
