//! `POST /webhooks/clerk`: signed events sync users, organizations and memberships; anything
//! unsigned, stale, malformed or replayed changes nothing.

use serde_json::{json, Value};

use crate::support::clerk::{
    self, count, count_where, identity_counts, membership_data, org_data, strings, user_data, SvixDelivery,
};
use crate::support::{TestApp, TokenBuilder};

/// Another valid Svix secret, which is not the one the server trusts.
const OTHER_SECRET: &str = "whsec_b3RoZXItc2VjcmV0LW5vdC1jbGVya3M=";

#[tokio::test]
async fn user_created_stores_the_primary_email_and_the_names() {
    let app = TestApp::spawn().await;

    clerk::apply(&app, "msg_1", "user.created", user_data("user_mia", "mia@example.com", "Mia")).await;

    assert_eq!(
        strings(&app, "SELECT email AS v FROM users WHERE clerk_user_id = 'user_mia'").await,
        [Some("mia@example.com".to_owned())]
    );
    assert_eq!(strings(&app, "SELECT first_name AS v FROM users").await, [Some("Mia".to_owned())]);
    assert_eq!(
        strings(&app, "SELECT outcome AS v FROM webhook_events WHERE idempotency_key = 'msg_1'").await,
        [Some("applied".to_owned())]
    );
    app.stop().await;
}

#[tokio::test]
async fn user_updated_replaces_the_profile_of_the_same_user() {
    let app = TestApp::spawn().await;
    clerk::apply(&app, "msg_1", "user.created", user_data("user_mia", "mia@example.com", "Mia")).await;

    clerk::apply(&app, "msg_2", "user.updated", user_data("user_mia", "mia.lopez@example.com", "Amelia"))
        .await;

    assert_eq!(count(&app, "users").await, 1);
    assert_eq!(
        strings(&app, "SELECT email AS v FROM users").await,
        [Some("mia.lopez@example.com".to_owned())]
    );
    assert_eq!(strings(&app, "SELECT first_name AS v FROM users").await, [Some("Amelia".to_owned())]);
    app.stop().await;
}

#[tokio::test]
async fn user_deleted_soft_deletes_the_user() {
    let app = TestApp::spawn().await;
    clerk::apply(&app, "msg_1", "user.created", user_data("user_mia", "mia@example.com", "Mia")).await;

    clerk::apply(&app, "msg_2", "user.deleted", json!({"id": "user_mia", "object": "user", "deleted": true}))
        .await;

    assert_eq!(count(&app, "users").await, 1, "the row is kept");
    assert_eq!(count_where(&app, "users", "deleted_at IS NOT NULL").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn an_organization_renamed_by_the_webhook_is_what_get_current_returns() {
    let app = TestApp::spawn().await;
    clerk::apply(&app, "msg_1", "organization.created", org_data("org_lakeside", "Lakeside Clinic")).await;
    assert_eq!(
        strings(&app, "SELECT name AS v FROM organizations").await,
        [Some("Lakeside Clinic".to_owned())]
    );

    clerk::apply(&app, "msg_2", "organization.updated", org_data("org_lakeside", "Lakeside Family Clinic"))
        .await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "member").sign();
    let current = app.query(Some(&token), "organizations.getCurrent", Value::Null).await;

    assert_eq!(current.data()["name"], "Lakeside Family Clinic");
    assert_eq!(current.data()["slug"], "clinic");
    assert_eq!(count(&app, "organizations").await, 1);
    assert_eq!(count_where(&app, "audit_log", "action = 'organization.created'").await, 1);
    assert_eq!(count_where(&app, "audit_log", "action = 'organization.updated'").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn organization_deleted_leaves_its_members_without_an_active_organization() {
    let app = TestApp::spawn().await;
    clerk::apply(&app, "msg_1", "organization.created", org_data("org_lakeside", "Lakeside Clinic")).await;

    clerk::apply(
        &app,
        "msg_2",
        "organization.deleted",
        json!({"id": "org_lakeside", "object": "organization", "deleted": true}),
    )
    .await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "admin").sign();
    let current = app.query(Some(&token), "organizations.getCurrent", Value::Null).await;

    assert_eq!(count_where(&app, "organizations", "deleted_at IS NOT NULL").await, 1);
    assert_eq!(count_where(&app, "audit_log", "action = 'organization.deleted'").await, 1);
    assert_eq!(current.code(), 403, "{}", current.body);
    app.stop().await;
}

#[tokio::test]
async fn membership_created_for_unknown_parties_creates_them_with_an_admin_membership() {
    let app = TestApp::spawn().await;

    clerk::apply(
        &app,
        "msg_1",
        "organizationMembership.created",
        membership_data("orgmem_1", "org_lakeside", "user_mia", "org:admin"),
    )
    .await;

    assert_eq!(
        strings(&app, "SELECT name AS v FROM organizations").await,
        [Some("Lakeside Clinic".to_owned())]
    );
    assert_eq!(strings(&app, "SELECT email AS v FROM users").await, [Some("mia@example.com".to_owned())]);
    assert_eq!(strings(&app, "SELECT role AS v FROM memberships").await, [Some("admin".to_owned())]);
    assert_eq!(
        strings(&app, "SELECT clerk_membership_id AS v FROM memberships").await,
        [Some("orgmem_1".to_owned())]
    );
    assert_eq!(count_where(&app, "audit_log", "action = 'membership.created'").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn membership_updated_changes_the_role() {
    let app = TestApp::spawn().await;
    let admin = membership_data("orgmem_1", "org_lakeside", "user_mia", "org:admin");
    clerk::apply(&app, "msg_1", "organizationMembership.created", admin).await;

    let member = membership_data("orgmem_1", "org_lakeside", "user_mia", "org:member");
    clerk::apply(&app, "msg_2", "organizationMembership.updated", member).await;

    assert_eq!(strings(&app, "SELECT role AS v FROM memberships").await, [Some("member".to_owned())]);
    assert_eq!(count_where(&app, "audit_log", "action = 'membership.updated'").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn membership_deleted_removes_the_membership_and_keeps_org_and_user() {
    let app = TestApp::spawn().await;
    let data = membership_data("orgmem_1", "org_lakeside", "user_mia", "org:admin");
    clerk::apply(&app, "msg_1", "organizationMembership.created", data.clone()).await;

    clerk::apply(&app, "msg_2", "organizationMembership.deleted", data).await;

    assert_eq!(count(&app, "memberships").await, 0);
    assert_eq!(count(&app, "organizations").await, 1);
    assert_eq!(count(&app, "users").await, 1);
    assert_eq!(count_where(&app, "audit_log", "action = 'membership.deleted'").await, 1);
    app.stop().await;
}

/// Seeds an org, a user and a membership by a sign-in, then sends a rename of that org changed by
/// `spoil`: it must answer `status` and leave every table (and the name) as it was.
async fn assert_delivery_refused(spoil: impl FnOnce(&mut SvixDelivery), status: u16) {
    let app = TestApp::spawn().await;
    let token = TokenBuilder::user("user_ana").in_org("org_lakeside", "admin").sign();
    assert_eq!(app.query(Some(&token), "organizations.getCurrent", Value::Null).await.code(), 200);
    let before = identity_counts(&app).await;
    let names_before = strings(&app, "SELECT name AS v FROM organizations").await;
    let mut delivery =
        SvixDelivery::event("msg_1", "organization.updated", org_data("org_lakeside", "Hijacked"));
    spoil(&mut delivery);

    let answer = delivery.send(&app).await;

    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(identity_counts(&app).await, before, "a refused delivery must change no table");
    assert_eq!(count(&app, "webhook_events").await, 0);
    assert_eq!(strings(&app, "SELECT name AS v FROM organizations").await, names_before);
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_signed_with_another_secret_changes_nothing() {
    assert_delivery_refused(|d| d.secret = OTHER_SECRET.to_owned(), 401).await;
}

#[tokio::test]
async fn a_tampered_body_changes_nothing() {
    assert_delivery_refused(
        |d| {
            let original = org_data("org_lakeside", "Lakeside Clinic");
            d.signed_body =
                Some(json!({"type": "organization.updated", "data": original}).to_string().into());
        },
        401,
    )
    .await;
}

#[tokio::test]
async fn a_delivery_without_the_svix_id_header_changes_nothing() {
    assert_delivery_refused(|d| d.omit = vec!["svix-id"], 401).await;
}

#[tokio::test]
async fn a_delivery_without_the_svix_timestamp_header_changes_nothing() {
    assert_delivery_refused(|d| d.omit = vec!["svix-timestamp"], 401).await;
}

#[tokio::test]
async fn a_delivery_without_the_svix_signature_header_changes_nothing() {
    assert_delivery_refused(|d| d.omit = vec!["svix-signature"], 401).await;
}

#[tokio::test]
async fn a_correctly_signed_delivery_six_minutes_old_changes_nothing() {
    assert_delivery_refused(|d| d.timestamp -= 6 * 60, 401).await;
}

#[tokio::test]
async fn a_correctly_signed_body_that_is_not_json_answers_400_and_changes_nothing() {
    assert_delivery_refused(|d| d.body = br#"{"type": "organization.updated", "data": {"#.to_vec(), 400)
        .await;
}

#[tokio::test]
async fn a_replayed_svix_id_answers_duplicate_and_changes_nothing_even_with_another_body() {
    let app = TestApp::spawn().await;
    clerk::apply(&app, "msg_1", "organization.created", org_data("org_lakeside", "Lakeside Clinic")).await;
    let before = identity_counts(&app).await;

    let replay = SvixDelivery::event("msg_1", "organization.updated", org_data("org_lakeside", "Hijacked"))
        .send(&app)
        .await;
    let identical =
        SvixDelivery::event("msg_1", "organization.created", org_data("org_lakeside", "Lakeside Clinic"))
            .send(&app)
            .await;

    assert_eq!((replay.status, &replay.body["status"]), (200, &json!("duplicate")), "{}", replay.body);
    assert_eq!(identical.body["status"], "duplicate");
    assert_eq!(identity_counts(&app).await, before);
    assert_eq!(
        strings(&app, "SELECT name AS v FROM organizations").await,
        [Some("Lakeside Clinic".to_owned())]
    );
    assert_eq!(count(&app, "webhook_events").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_event_type_is_ignored_and_recorded_once() {
    let app = TestApp::spawn().await;
    let event =
        || SvixDelivery::event("msg_1", "session.created", json!({"id": "sess_1", "user_id": "user_mia"}));

    let first = event().send(&app).await;
    let second = event().send(&app).await;

    assert_eq!((first.status, &first.body["status"]), (200, &json!("ignored")), "{}", first.body);
    assert_eq!(second.body["status"], "duplicate");
    assert_eq!(
        strings(&app, "SELECT outcome AS v FROM webhook_events").await,
        [Some("ignored".to_owned())],
        "recorded exactly once"
    );
    assert_eq!(identity_counts(&app).await, [0, 0, 0, 0, 1]);
    app.stop().await;
}
