//! Why a run's rows that have not been dialled yet are waiting, and until when (`runs.getStats`).
//!
//! A running run never waits silently: every pending row is in exactly one group, named by the
//! first thing that keeps it from being dialled, in the order the dispatcher checks them.

use chrono::{DateTime, Utc};
use serde::Serialize;

string_enum! {
    /// What keeps pending rows from being dialled now.
    pub enum WaitReason("wait reason") {
        /// The organization has no caller number: nothing can be dialled until an operator
        /// assigns one.
        NoCallerNumber = "no_caller_number",
        /// The organization's office hours are closed; `until` is when they open.
        OutsideOfficeHours = "outside_office_hours",
        /// As many calls as the concurrent call limit allows are in progress.
        ConcurrencyFull = "concurrency_full",
        /// As many calls as the calls-per-minute limit allows started in the last minute; `until`
        /// is when the oldest of them leaves the minute.
        CallsPerMinute = "calls_per_minute",
        /// The patient's local calling window (08:00–21:00 in their zone) is closed; `until` is
        /// when the earliest of these rows' windows opens.
        OutsidePatientWindow = "outside_patient_window",
        /// A retry is scheduled after an earlier attempt; `until` is the earliest retry.
        RetryScheduled = "retry_scheduled",
        /// The number is on the organization's do-not-call list: the row is skipped, not dialled,
        /// when its turn comes.
        DoNotCall = "do_not_call",
        /// Nothing keeps these rows back: the dispatcher takes them at its next step.
        Due = "due",
    }
}

/// One group of waiting rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Waiting {
    /// Why they wait.
    pub reason: WaitReason,
    /// How many rows.
    pub rows: u32,
    /// When the reason clears, when it is known (`null`: it needs someone to act, or it is
    /// now).
    pub until: Option<DateTime<Utc>>,
}
