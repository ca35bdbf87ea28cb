//! The use cases: what the API does, one module per area, independent of the transport.
//!
//! Each function takes the [`AppState`](crate::state::AppState), the authorized
//! [`OrgCaller`](crate::auth::OrgCaller) (the transport has already checked the role) and a
//! parsed input; it opens the transaction, calls domain, ingestion, persistence and execution,
//! writes the audit entry in the same transaction, and answers domain values or stored records
//! (never wire types) or a [`ServiceError`]. rspc procedures (`api`), plain HTTP routes (`http`)
//! and webhooks call these same functions, and tests of behaviour reach them through those.
//! The webhooks' use cases ([`identity`], [`inbound`]) have no caller: the transport has verified
//! the sender's signature, which is their authority, and their audit entries name the webhook.
//!
//! This is a module of the server crate rather than a crate between execution and server: the
//! use cases need the host's state (object storage, keys, the engine handle, the clock), which
//! lives here, and a separate crate would add a compile unit on CI's two cores for no arrow it
//! could enforce better. The arrows inside the crate are one-way: `api`, `http` and `webhooks`
//! call `services`; `services` imports none of them (checked by a test below).
//!
//! # Layout
//! - [`error`]: [`ServiceError`], mapped to the wire once in `api::error`.
//! - [`audit_trail`]: the audit entry of a change, on the change's transaction.
//! - [`identity`]: users, organizations and memberships synced from Clerk's webhook, once per
//!   delivery.
//! - [`inbound`]: a patient calling in: who is calling, about what, the call recorded.
//! - [`organizations`]: the caller's organization and its members; operators' organization admin.
//! - [`campaigns`]: campaigns, their prompt versions, and the scope a read of them runs in.
//! - [`uploads`]: storing an uploaded sheet (deduplicated by hash) and reading it back.
//! - [`runs`]: preview and create a run from an upload, read it, change its lifecycle.
//! - [`patients`]: look up, add and correct patients.
//! - [`calls`]: the organization's calls, listed and opened.
//! - [`exports`]: a run's results and the organization's calls as CSV or xlsx files, audited.
//! - [`export_files`]: those files written page by page (a CSV stream, an xlsx temporary file).
//! - [`dnc`]: the do-not-call list.
//! - [`audit`]: reading the audit log.
//! - [`analytics`]: what the organization's campaigns achieved (totals, funnels, attempts, hours).
//! - [`campaign_requests`]: a clinic asks operators for a campaign; operators take, decline or
//!   fulfil it.
//! - [`prompt_variations`]: AI-proposed prompt drafts, applied by an operator or pinned to a run.
//! - [`phone_numbers`]: numbers assigned to organizations by operators; a clinic's caller id.
//! - [`oversight`]: an operator acting in a clinic by naming it, audited there.
//! - [`live`]: live feeds of a run, an organization and the engine, from the event bus.
//! - [`retention`]: the maintenance step deleting expired uploads and clearing expired call
//!   transcripts (per organization, audited as system actions), and its background worker.

pub mod analytics;
pub mod audit;
pub mod audit_trail;
pub mod calls;
pub mod campaign_requests;
pub mod campaigns;
pub mod dnc;
pub mod error;
pub mod export_files;
pub mod exports;
pub mod identity;
pub mod inbound;
pub mod live;
pub mod organizations;
pub mod oversight;
pub mod patients;
pub mod phone_numbers;
pub mod prompt_variations;
pub mod retention;
pub mod runs;
pub mod uploads;

pub use error::{ServiceError, ServiceResult};

#[cfg(test)]
mod tests {
    /// The transports depend on the use cases, never the other way round.
    #[test]
    fn use_cases_import_no_transport() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/services");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            // Spelled in pieces so this file does not match itself.
            let transports = ["api", "http", "webhooks"].map(|m| format!("crate::{m}"));
            let frameworks = ["rspc", "axum"].map(|f| format!("{f}::"));
            for transport in transports.iter().chain(&frameworks) {
                assert!(!source.contains(transport.as_str()), "{} uses {transport}", path.display());
            }
        }
    }
}
