//! Rivvi's domain: the types and rules of healthcare outreach, with no I/O, no async and no ORM.
//!
//! Values are parsed once at the edge into these types and trusted afterwards.
//!
//! # Layout
//! - [`ids`]: typed identifiers (`OrgId`, `CampaignId`, ...).
//! - [`role`]: what a caller may do inside an organization.

pub mod ids;
pub mod role;

pub use role::Role;
