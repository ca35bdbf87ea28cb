//! Repository tests: each runs on a fresh SQLite database and, when `RIVVI_TEST_DATABASE_URL` is
//! set, again on a fresh PostgreSQL database (see `rivvi_persistence::testing`).

// Tests may unwrap; `allow-unwrap-in-tests` covers `#[test]` functions but not their helpers.
#![allow(clippy::unwrap_used)]

mod audit;
mod campaigns;
mod connect;
mod exports;
mod identity;
mod organizations;
mod patients;
mod run_rows;
mod webhook_events;

use rivvi_persistence::identity::{upsert_org_by_clerk_id, upsert_user_by_clerk_id};
use rivvi_persistence::organizations::OrganizationRecord;
use rivvi_persistence::OrgScope;
use sea_orm::DatabaseConnection;

/// A just-in-time organization and its scope.
async fn org(db: &DatabaseConnection, clerk_org_id: &str) -> (OrganizationRecord, OrgScope) {
    let org = upsert_org_by_clerk_id(db, clerk_org_id, None, None, false).await.unwrap();
    let scope = OrgScope::for_verified_org(org.id);
    (org, scope)
}

async fn user(db: &DatabaseConnection, clerk_user_id: &str) -> rivvi_persistence::identity::UserRecord {
    upsert_user_by_clerk_id(db, clerk_user_id, None).await.unwrap()
}
