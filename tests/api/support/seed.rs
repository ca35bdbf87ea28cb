//! A small world to test against: two clinics and an operator, each with a campaign.
//!
//! - `org_alpha`: an admin and a member;
//! - `org_beta`: an admin and a member (the member is the "member of another org" for alpha);
//! - a super admin, acting in [`OPERATOR_ORG`](super::OPERATOR_ORG);
//! - one valid outbound campaign in alpha and one in beta, created through `campaigns.create` by
//!   the super admin, as operators do.
//!
//! Users and organizations come into being just in time, from the first request with their token.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use super::{RpcResponse, TestApp, TokenBuilder, OPERATOR_ORG};

pub const ALPHA: &str = "org_alpha";
pub const BETA: &str = "org_beta";

/// One clinic: its Clerk and database ids, tokens of its people and its campaign.
#[derive(Debug, Clone)]
pub struct SeededOrg {
    pub clerk_org_id: &'static str,
    pub id: String,
    pub admin: String,
    pub member: String,
    pub campaign_id: String,
    /// A patient the admin added by hand.
    pub patient_id: String,
    /// A small sheet the member uploaded, and the run made of it.
    pub upload_id: String,
    pub run_id: String,
}

#[derive(Debug, Clone)]
pub struct World {
    pub alpha: SeededOrg,
    pub beta: SeededOrg,
    /// A token acting in the operator organization.
    pub super_admin: String,
    /// The operator organization's own id.
    pub operator_org_id: String,
}

/// A token of `user` acting in `org` with the Clerk role `role` (`admin` or `member`).
pub fn token(user: &str, org: &str, role: &str) -> String {
    TokenBuilder::user(user).in_org(org, role).sign()
}

/// A token of the operator, which makes a super admin.
pub fn super_admin_token() -> String {
    token("user_operator", OPERATOR_ORG, "admin")
}

/// A valid outbound `NewCampaign`: a phone variable, and a base prompt that uses only a declared
/// key (`appt_date`) and built-ins.
pub fn valid_campaign(name: &str) -> Value {
    json!({
        "name": name,
        "direction": "outbound",
        "agentId": "agent_3f2a9c1d0b7e",
        "basePrompt": "Hi {{first_name}}, this is {{organization_name}} about your visit on {{appt_date}}.",
        "voicemailMessage": "Please call {{organization_name}} back.",
        "variables": [
            {"key": "primaryPhone", "label": "Patient phone", "fieldType": "phone", "required": true, "role": "phone"},
            {"key": "appt_date", "label": "Appointment date", "fieldType": "date"}
        ],
        "analysisFields": [
            {"key": "appt_confirmed", "label": "Confirmed", "fieldType": "boolean", "isMainKpi": true}
        ]
    })
}

/// An appointment-reminder campaign whose variables are ingestion's built-in set, so the
/// fixture sheets map without an explicit mapping.
pub fn reminder_campaign(name: &str) -> Value {
    let variables =
        serde_json::to_value(rivvi_ingestion::defaults::appointment_reminder()).expect("variables");
    json!({
        "name": name,
        "direction": "outbound",
        "agentId": "agent_0123456789ab",
        "basePrompt": "Hi {{first_name}}, this is {{organization_name}} confirming your appointment.",
        "variables": variables,
        "analysisFields": [
            {"key": "appt_confirmed", "label": "Confirmed", "fieldType": "boolean", "isMainKpi": true}
        ]
    })
}

/// A world with a reminder campaign (the built-in reminder variables) in alpha; returns (world,
/// campaign id).
pub async fn world_with_reminders(app: &TestApp) -> (World, String) {
    let world = world(app).await;
    let created =
        create_campaign_from(app, &world.super_admin, &world.alpha.id, reminder_campaign("Reminders")).await;
    let id = created.data()["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no campaign id in {}", created.body))
        .to_owned();
    (world, id)
}

/// A valid `patients.create` input for a patient named after `people`.
pub fn patient_input(people: &str) -> Value {
    json!({"firstName": "Ada", "lastName": format!("{people} Lovelace"), "birthDate": "1961-02-04", "phone": "(312) 555-0143"})
}

/// Makes the caller behind `token` exist (user, organization, membership) and returns their
/// organization's id.
pub async fn provision(app: &TestApp, token: &str) -> String {
    let response = app.query(Some(token), "organizations.getCurrent", Value::Null).await;
    id_of(&response)
}

/// The super admin creates a campaign named `name` in `org_id`; returns its id.
pub async fn create_campaign(app: &TestApp, super_admin: &str, org_id: &str, name: &str) -> String {
    let response = create_campaign_from(app, super_admin, org_id, valid_campaign(name)).await;
    id_of(&response)
}

/// The super admin's `campaigns.create` of `campaign` (the input's `campaign` object) in `org_id`.
pub async fn create_campaign_from(
    app: &TestApp,
    super_admin: &str,
    org_id: &str,
    campaign: Value,
) -> RpcResponse {
    app.mutation(Some(super_admin), "campaigns.create", json!({"orgId": org_id, "campaign": campaign})).await
}

/// `runs.create` as `token` of `upload` in `campaign_id`, named `name`, with `request` as its
/// client request id.
pub async fn create_run(
    app: &TestApp,
    token: &str,
    campaign_id: &str,
    upload: &str,
    name: &str,
    request: &str,
) -> RpcResponse {
    let input =
        json!({"campaignId": campaign_id, "uploadId": upload, "name": name, "clientRequestId": request});
    app.mutation(Some(token), "runs.create", input).await
}

fn id_of(response: &RpcResponse) -> String {
    response.data()["id"].as_str().unwrap_or_else(|| panic!("no id in {}", response.body)).to_owned()
}

async fn seed_org(
    app: &TestApp,
    super_admin: &str,
    clerk_org_id: &'static str,
    people: &str,
    campaign_name: &str,
) -> SeededOrg {
    let admin = token(&format!("user_{people}_admin"), clerk_org_id, "admin");
    let member = token(&format!("user_{people}_member"), clerk_org_id, "member");
    let id = provision(app, &admin).await;
    assert_eq!(provision(app, &member).await, id);
    let campaign_id = create_campaign(app, super_admin, &id, campaign_name).await;
    let patient = app.mutation(Some(&admin), "patients.create", patient_input(people)).await;
    let patient_id = patient.data()["patient"]["id"].as_str().expect("patient id").to_owned();
    let sheet =
        b"Patient phone,Appointment date\n(312) 555-0177,2026-12-01\n(617) 555-0188,2026-12-02\n".to_vec();
    let upload_id = app.upload(&member, "seed.csv", sheet).await;
    let run = create_run(app, &member, &campaign_id, &upload_id, "Seed run", "seed").await;
    let run_id = id_of(&run);
    SeededOrg { clerk_org_id, id, admin, member, campaign_id, patient_id, upload_id, run_id }
}

/// Sets up the whole world through the API.
pub async fn world(app: &TestApp) -> World {
    let super_admin = super_admin_token();
    let operator_org_id = provision(app, &super_admin).await;
    let alpha = seed_org(app, &super_admin, ALPHA, "alpha", "Alpha confirmations").await;
    let beta = seed_org(app, &super_admin, BETA, "beta", "Beta confirmations").await;
    World { alpha, beta, super_admin, operator_org_id }
}

/// Row counts of the tables a procedure could write, to prove a refused request wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowCounts {
    pub audit_log: i64,
    pub organizations: i64,
    pub campaigns: i64,
}

/// Counts rows straight from the database, beside the server.
pub async fn row_counts(app: &TestApp) -> RowCounts {
    let db = app.database.connect().await;
    let counts = RowCounts {
        audit_log: count(&db, "audit_log").await,
        organizations: count(&db, "organizations").await,
        campaigns: count(&db, "campaigns").await,
    };
    db.close().await.ok();
    counts
}

async fn count(db: &sea_orm::DatabaseConnection, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("count query")
        .expect("a count row");
    row.try_get::<i64>("", "n").expect("count is an integer")
}

/// The audit entries `token`'s organization shows its admins (newest first).
pub async fn audit_entries(app: &TestApp, admin: &str) -> Vec<Value> {
    let response = app.query(Some(admin), "audit.list", json!({"limit": 100})).await;
    response.data()["entries"].as_array().cloned().unwrap_or_default()
}

/// The ingestion crate's fixture sheets (copies of `../shared/fixtures/`).
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/ingestion/tests/fixtures");

/// Office hours open around the clock, every day.
pub fn open_all_week() -> Value {
    let day = json!({"open": "00:00", "close": "24:00"});
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day, "sunday": day})
}

/// Alpha's admin sets `org_settings` (`organizations.update` input), the super admin creates an
/// appointment-reminder campaign, and the admin uploads `fixture` and makes a run of it, not yet
/// started. Returns the run's id.
pub async fn reminder_run(app: &TestApp, world: &World, org_settings: Value, fixture: &str) -> Value {
    let admin = world.alpha.admin.as_str();
    configure(app, &world.super_admin, admin, &world.alpha.id, org_settings).await;
    let campaign =
        create_campaign_from(app, &world.super_admin, &world.alpha.id, reminder_campaign("Reminders")).await;
    let campaign_id = id_of(&campaign);
    let bytes = std::fs::read(format!("{FIXTURES}/{fixture}")).expect("fixture");
    let upload = app.upload(admin, fixture, bytes).await;
    let run = create_run(app, admin, &campaign_id, &upload, "Reminders", fixture).await;
    run.data()["id"].clone()
}

/// Sets an organization's settings as its admin does; a `callerNumber` among them is first
/// assigned to the organization by the super admin (numbers are assigned, not claimed).
pub async fn configure(app: &TestApp, super_admin: &str, admin: &str, org_id: &str, settings: Value) {
    if let Some(number) = settings.get("callerNumber").and_then(Value::as_str) {
        assign_number(app, super_admin, org_id, number).await;
    }
    app.mutation(Some(admin), "organizations.update", settings).await.data();
}

/// The super admin assigns `number` to the organization, for outbound and inbound calls.
pub async fn assign_number(app: &TestApp, super_admin: &str, org_id: &str, number: &str) {
    let assign = json!({"orgId": org_id, "number": number, "purpose": "both"});
    app.mutation(Some(super_admin), "admin.phoneNumbers.assign", assign).await.data();
}
