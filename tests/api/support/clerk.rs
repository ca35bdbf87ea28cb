//! Clerk webhook deliveries signed like Svix signs them, and row counts of the identity tables.

use rivvi_server::auth::svix::sign_svix;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use super::{TestApp, WEBHOOK_SECRET};

/// The tables a Clerk webhook or a just-in-time sign-in may write.
pub const IDENTITY_TABLES: [&str; 5] =
    ["organizations", "users", "memberships", "audit_log", "webhook_events"];

/// The server's answer to a webhook delivery.
#[derive(Debug)]
pub struct Delivery {
    pub status: u16,
    pub body: Value,
}

/// One Svix delivery: id, timestamp, signing secret and raw body, each changeable to build the
/// refusal cases.
pub struct SvixDelivery {
    pub id: String,
    pub timestamp: i64,
    pub secret: String,
    pub body: Vec<u8>,
    /// When set, the signature is computed over this body instead of `body` (a tampered delivery).
    pub signed_body: Option<Vec<u8>>,
    /// Headers left out of the request.
    pub omit: Vec<&'static str>,
}

impl SvixDelivery {
    /// A correctly signed delivery of `{"type": event_type, "data": data}` sent now.
    pub fn event(id: &str, event_type: &str, data: Value) -> Self {
        let body = serde_json::json!({"type": event_type, "object": "event", "data": data});
        Self::raw(id, body.to_string().into_bytes())
    }

    /// A correctly signed delivery of an arbitrary body sent now.
    pub fn raw(id: &str, body: Vec<u8>) -> Self {
        SvixDelivery {
            id: id.to_owned(),
            timestamp: chrono::Utc::now().timestamp(),
            secret: WEBHOOK_SECRET.to_owned(),
            body,
            signed_body: None,
            omit: Vec::new(),
        }
    }

    pub async fn send(&self, app: &TestApp) -> Delivery {
        let signed = self.signed_body.as_deref().unwrap_or(&self.body);
        let signature = sign_svix(&self.secret, &self.id, self.timestamp, signed).expect("sign");
        let headers = [
            ("svix-id", self.id.clone()),
            ("svix-timestamp", self.timestamp.to_string()),
            ("svix-signature", signature),
        ];
        let mut request = app
            .http
            .post(app.url("/webhooks/clerk"))
            .header("content-type", "application/json")
            .body(self.body.clone());
        for (name, value) in headers {
            if !self.omit.contains(&name) {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.expect("webhook sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        Delivery { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }
}

/// Sends a correctly signed event and asserts it was applied.
pub async fn apply(app: &TestApp, id: &str, event_type: &str, data: Value) {
    let delivery = SvixDelivery::event(id, event_type, data).send(app).await;
    assert_eq!(delivery.status, 200, "{event_type} refused: {}", delivery.body);
    assert_eq!(delivery.body["status"], "applied", "{event_type}: {}", delivery.body);
}

/// A Clerk `user.*` payload with one primary email address.
pub fn user_data(clerk_user_id: &str, email: &str, first_name: &str) -> Value {
    serde_json::json!({
        "id": clerk_user_id,
        "object": "user",
        "first_name": first_name,
        "last_name": "Tester",
        "image_url": "https://img.clerk.com/a.png",
        "primary_email_address_id": "idn_primary",
        "email_addresses": [
            {"id": "idn_secondary", "email_address": "old@example.com"},
            {"id": "idn_primary", "email_address": email}
        ]
    })
}

/// A Clerk `organization.*` payload.
pub fn org_data(clerk_org_id: &str, name: &str) -> Value {
    serde_json::json!({"id": clerk_org_id, "object": "organization", "name": name, "slug": "clinic"})
}

/// A Clerk `organizationMembership.*` payload.
pub fn membership_data(membership_id: &str, clerk_org_id: &str, clerk_user_id: &str, role: &str) -> Value {
    serde_json::json!({
        "id": membership_id,
        "object": "organization_membership",
        "role": role,
        "organization": {"id": clerk_org_id, "name": "Lakeside Clinic", "slug": "lakeside"},
        "public_user_data": {
            "user_id": clerk_user_id,
            "first_name": "Mia",
            "last_name": "Lopez",
            "identifier": "mia@example.com",
            "image_url": "https://img.clerk.com/m.png"
        }
    })
}

/// Rows in `table` matching `condition` (SQL, or `"TRUE"`-like `1 = 1`).
pub async fn count_where(app: &TestApp, table: &str, condition: &str) -> i64 {
    let db = app.database.connect().await;
    let count = super::scalar(&db, &format!("SELECT COUNT(*) FROM {table} WHERE {condition}")).await;
    db.close().await.ok();
    count
}

pub async fn count(app: &TestApp, table: &str) -> i64 {
    count_where(app, table, "1 = 1").await
}

/// Row counts of every identity table, in [`IDENTITY_TABLES`] order.
pub async fn identity_counts(app: &TestApp) -> [i64; 5] {
    let mut counts = [0; 5];
    for (slot, table) in counts.iter_mut().zip(IDENTITY_TABLES) {
        *slot = count(app, table).await;
    }
    counts
}

/// One text column of every row `sql` selects, as `v`.
pub async fn strings(app: &TestApp, sql: &str) -> Vec<Option<String>> {
    let db = app.database.connect().await;
    let rows = db
        .query_all(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .expect("select");
    db.close().await.ok();
    rows.iter().map(|row| row.try_get::<Option<String>>("", "v").expect("column v")).collect()
}
