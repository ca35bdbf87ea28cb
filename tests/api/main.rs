//! Integration tests through HTTP against the real server (one binary, so linking stays cheap).
//! They run on SQLite by default and on PostgreSQL when `RIVVI_TEST_DATABASE_URL` is set.
// Tests may unwrap (STYLE.md §1): a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

mod access_log;
mod agent_versions;
mod analytics;
mod auth;
mod authorization;
mod bench;
mod bench_access_log;
mod bench_analytics;
mod bench_engine;
mod bench_exports;
mod bench_live;
mod calling;
mod calls;
mod campaign_requests;
mod clerk_webhook;
mod corpus;
mod dnc;
#[path = "../../crates/ingestion/tests/fixtures/expected.rs"]
mod expected;
mod exports;
mod health;
mod http_surface;
mod inbound;
mod layout;
mod limits;
mod live;
mod llm;
mod opt_out;
mod oversight;
mod patient_identity;
mod patients;
mod phi_at_rest;
mod phone_numbers;
mod prompt_history;
mod prompt_variations;
mod retell_simulator;
mod retention;
mod revocation;
mod run_engine;
mod runs;
mod sealed_objects;
mod tenancy;
mod uploads;
mod validation;
mod waiting;
