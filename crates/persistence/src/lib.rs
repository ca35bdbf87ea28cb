//! Rivvi's persistence: the SeaORM entities (one per table, in step with `migrations/`) and the
//! repositories the rest of the backend calls.
//!
//! Every repository function takes `&impl ConnectionTrait`, so the caller decides whether it runs
//! on the pool or inside a transaction (and an audit entry commits with the change it records).
//! Functions over organization data take an [`OrgScope`] and filter by it themselves, through
//! `in_org` on every query of an organization's table: a row of another organization is simply not
//! found. They return plain records defined here, never entities, and they never log a patient
//! field.
//!
//! # Layout
//! - [`db`]: [`connect`] (pool settings per database) and [`migrate`].
//! - [`scope`]: [`OrgScope`], the proof that the caller may act inside one organization.
//! - [`error`]: [`PersistenceError`]; unique violations become `Conflict` with the index name.
//! - [`page`]: [`Page`], limit/offset pagination with a hard cap.
//! - [`identity`]: users, organizations and memberships synced from Clerk (just-in-time upserts).
//! - [`inbound`]: inbound calls: the organization of a called number, the caller, their open outreach.
//! - [`organizations`]: an organization's settings (as domain values); operator listing and creation.
//! - [`campaigns`]: campaigns of one organization.
//! - [`managed_agents`]: the provider objects (LLM, agent) Rivvi created for a campaign, step by
//!   step.
//! - [`campaign_requests`]: a clinic's requests for a campaign, moved only from the status checked.
//! - [`prompt_variations`]: AI-suggested prompt drafts of a campaign, applied at most once.
//! - [`phone_numbers`]: numbers assigned to organizations (one organization each at most).
//! - [`prompt_versions`]: the append-only history of each campaign's composed prompt.
//! - [`runs`]: runs of one organization, idempotent by client request id.
//! - [`run_overview`]: runs across every organization with their progress, for operators.
//! - [`run_rows`]: a run's rows, every original cell and the variables sealed.
//! - [`patients`]: patients of one organization, sealed, found by HMAC lookup keys; who a sheet
//!   row is (MRN, identity, name and birth date), and the further numbers (contact points) a
//!   patient is known by.
//! - [`uploads`]: uploaded files of one organization, found again by their SHA-256.
//! - [`calls`]: phone calls, one per attempt; numbers, transcript, summary, recording and
//!   analysis sealed.
//! - [`exports`]: a run's rows and the organization's calls for export files, in keyset pages.
//! - [`analytics`]: the counts analytics are made of, grouped in the database.
//! - [`waiting`]: a run's pending rows by why they wait (do-not-call, due, retry, patient window).
//! - [`do_not_call`]: the organization's do-not-call list, by HMAC phone key.
//! - [`engine_queries`]: the execution engine's cross-organization reads (runs to drive, expired
//!   leases, stale calls, a call by provider id) and the per-organization dispatch lock.
//! - [`engine_health`]: engine instances' health reports, rows due now, active calls per
//!   organization (the operators' health feed).
//! - [`legacy_phi`]: rows written before per-organization lookup keys and sealed call data,
//!   re-keyed and sealed at start-up; patients written before their MRN and name/birth-date keys
//!   get them.
//! - [`retention`]: the uploads and call transcripts each organization's retention settings say
//!   have expired; deleting and clearing them, batched and safe with several instances.
//! - [`rotation`]: every sealed column, re-sealed with the active data key in batches (key
//!   rotation) and counted by key id.
//! - [`sealing`]: PHI sealed at rest (AES-256-GCM with key ids) and HMAC lookup keys.
//! - [`audit`]: the append-only audit log.
//! - [`webhook_events`]: replay protection for incoming webhooks.
//! - `org_owned` (private): `OrgOwned` entities (those with an `org_id`) and `in_org`, the scope as
//!   a query extension.
//! - `bulk` (private): PostgreSQL bulk inserts, one `INSERT ... SELECT FROM UNNEST` of arrays per
//!   chunk ([`run_rows`] and [`patients`] on imports).
//! - `keys_in` (private): lookups by many keys at once (one bound array on PostgreSQL).
//! - `json_text` (private): JSON columns read as text and decoded once into their type.
//! - `time` (private): the one clock reading for `created_at`/`updated_at`.
//! - `entities` (private): one SeaORM entity module per table.
//! - `testing` (feature `testing`): a fresh migrated database per test, SQLite or PostgreSQL.

pub mod analytics;
pub mod audit;
mod bulk;
pub mod calls;
pub mod campaign_requests;
pub mod campaigns;
pub mod db;
pub mod do_not_call;
pub mod engine_health;
pub mod engine_queries;
mod entities;
pub mod error;
pub mod exports;
pub mod identity;
pub mod inbound;
mod json_text;
mod keys_in;
pub mod legacy_phi;
pub mod managed_agents;
mod org_owned;
pub mod organizations;
pub mod page;
pub mod patients;
pub mod phone_numbers;
pub mod prompt_variations;
pub mod prompt_versions;
pub mod retention;
pub mod rotation;
pub mod run_overview;
pub mod run_rows;
pub mod runs;
pub mod scope;
pub mod sealing;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod time;
pub mod uploads;
pub mod waiting;
pub mod webhook_events;

pub use db::{connect, migrate};
pub use error::{constraints, PersistenceError};
pub use page::Page;
pub use scope::OrgScope;

/// Every repository function answers with this.
pub type Result<T, E = PersistenceError> = std::result::Result<T, E>;
