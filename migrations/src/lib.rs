//! Rivvi's database schema as sea-orm migrations: one file per change, each with `up` and `down`,
//! running unchanged on PostgreSQL (production) and SQLite (the embedded default).
//! Never edit a migration that has been applied anywhere; add a new one.
//!
//! # Layout
//! - [`m20261124_000001_create_schema`]: every table of the first release, one file per area.
//! - [`m20261125_000001_dnc_numbers_and_call_indexes`]: sealed numbers on the do-not-call list,
//!   one call per row attempt, one upload per file and organization, call list indexes.
//! - [`m20261126_000001_bulk_import_keys`]: on PostgreSQL, one `(run_id, org_id)` foreign key
//!   for run rows and byte-compared HMAC lookup keys, for cheaper bulk imports.
//! - [`m20261205_000001_provider_agents`]: the Retell LLM and agent Rivvi manages per campaign,
//!   and the published agent version and frozen variables/analysis fields each run pins.
//! - [`m20261205_000002_prompt_variations`]: AI-suggested prompt variations, drafts until applied.
//! - [`m20261205_000003_phone_numbers`]: phone numbers assigned to one organization each; caller
//!   numbers become assignments, numbers several organizations claimed are left unassigned.
//! - [`m20261205_000004_campaign_requests`]: desired variables, sample upload and due date of a
//!   campaign request.
//! - [`m20261205_000005_inbound_agent_version`]: the agent version an inbound campaign answers with.
//! - [`m20261205_000006_live_events`]: per-run event sequence numbers and engine instances' health
//!   reports.
//! - [`m20261205_000007_analytics_exports`]: sealed header rows of runs for exports, call indexes
//!   by local day for analytics.
//! - [`m20261205_000008_phi_at_rest`]: per-organization lookup keys and sealed call data.
//! - [`m20261205_000009_retention`]: per-organization retention of uploads and transcripts.
//! - [`m20261205_000010_patient_contact_points`]: patients found by MRN and by name and birth date,
//!   and the further numbers they are known by.

pub use sea_orm_migration::prelude::*;

pub mod m20261124_000001_create_schema;
pub mod m20261125_000001_dnc_numbers_and_call_indexes;
pub mod m20261126_000001_bulk_import_keys;
pub mod m20261205_000001_provider_agents;
pub mod m20261205_000002_prompt_variations;
pub mod m20261205_000003_phone_numbers;
pub mod m20261205_000004_campaign_requests;
pub mod m20261205_000005_inbound_agent_version;
pub mod m20261205_000006_live_events;
pub mod m20261205_000007_analytics_exports;
pub mod m20261205_000008_phi_at_rest;
pub mod m20261205_000009_retention;
pub mod m20261205_000010_patient_contact_points;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_schema::Migration),
            Box::new(m20261125_000001_dnc_numbers_and_call_indexes::Migration),
            Box::new(m20261126_000001_bulk_import_keys::Migration),
            Box::new(m20261205_000001_provider_agents::Migration),
            Box::new(m20261205_000002_prompt_variations::Migration),
            Box::new(m20261205_000003_phone_numbers::Migration),
            Box::new(m20261205_000004_campaign_requests::Migration),
            Box::new(m20261205_000005_inbound_agent_version::Migration),
            Box::new(m20261205_000006_live_events::Migration),
            Box::new(m20261205_000007_analytics_exports::Migration),
            Box::new(m20261205_000008_phi_at_rest::Migration),
            Box::new(m20261205_000009_retention::Migration),
            Box::new(m20261205_000010_patient_contact_points::Migration),
        ]
    }
}
