//! Rivvi's domain: the types and rules of healthcare outreach, with no I/O, no async and no ORM.
//!
//! Values are parsed once at the edge into these types and trusted afterwards. API inputs come
//! in two shapes: a raw `...Input`/`...Update` struct that deserializes anything well-typed, and
//! its `validate()` that returns the trusted type or a [`ValidationErrors`] naming every bad field
//! by its camelCase path. Trusted types deserialize through the same validation; a repository
//! reading back what it wrote uses [`stored::Stored`] instead, which decodes without checking again.
//!
//! # Layout
//! - [`ids`]: typed identifiers (`OrgId`, `CampaignId`, ...).
//! - [`role`]: what a caller may do inside an organization.
//! - [`validation`]: `FieldError` / `ValidationErrors` and small text checks.
//! - [`patch`]: `Patch`, keep / clear / set for a nullable field of an update.
//! - [`phone`]: `PhoneNumber` (E.164) and the NANP area code -> time zone table.
//! - [`time_zone`]: `IanaZone`, an IANA region zone.
//! - [`office_hours`]: weekly hours and holidays, `is_open` / `next_opening` across DST.
//! - [`organization`]: organization settings and the `organizations.update` PATCH.
//! - [`campaign`]: campaign definition, variables, analysis fields, built-in prompt variables.
//! - [`retry`]: the retry policy.
//! - [`stored`]: `Stored`, values read back from storage without validating them twice.
//! - [`prompt`]: placeholders, composing run instructions into a prompt, line diffs, checking a
//!   proposed variation.
//! - [`lifecycle`]: run, row and call state machines.
//! - [`waiting`]: why a running run's pending rows wait, and until when.
//! - [`patient_identity`]: the folded texts a patient is recognised by (names, name and birth
//!   date, MRN) before they become lookup keys.
//! - [`audit`]: audit actions and actor kinds.
//! - [`export`]: export files: CSV injection neutralised, local times, column names.
//! - [`analytics`]: one definition of each measure (reached, converted, rates) for every analytics
//!   procedure and export.
//! - [`string_enum`]: the macro behind every enum stored as a string.
//! - `specta_checks` (private, feature `specta`): the TypeScript-facing shapes checked (newtypes
//!   as primitives, PATCH fields optional, no 64-bit integer).

#![warn(missing_docs)]

#[macro_use]
pub mod string_enum;

pub mod analytics;
pub mod audit;
pub mod campaign;
pub mod export;
pub mod ids;
pub mod lifecycle;
pub mod office_hours;
pub mod organization;
pub mod patch;
pub mod patient_identity;
pub mod phone;
pub mod prompt;
pub mod retry;
pub mod role;
pub mod stored;
pub mod time_zone;
pub mod validation;
pub mod waiting;

pub use patch::Patch;
pub use phone::PhoneNumber;
pub use role::Role;
pub use time_zone::IanaZone;
pub use validation::{FieldError, ValidationErrors};

#[cfg(all(test, feature = "specta"))]
mod specta_checks;
