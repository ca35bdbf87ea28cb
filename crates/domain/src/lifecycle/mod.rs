//! The state machines of runs, rows and calls (DESIGN.md §4), and their stored names.
//!
//! Each machine is a status enum plus an event enum. `transition(event)` is the only way the
//! engine moves a status; `can_transition_to` answers "is there an event from here to there".
//! `as_str`/`FromStr` give the database spelling.

mod call;
mod campaign_request;
mod row;
mod run;

pub use call::{CallEvent, CallOutcome, CallStatus};
pub use campaign_request::{CampaignRequestEvent, CampaignRequestStatus};
pub use row::{RowEvent, RowStatus};
pub use run::{RunEvent, RunStatus};

/// An event that does not apply to the current status, such as resuming a completed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} a {machine} that is {from}")]
pub struct TransitionError {
    /// `run`, `row` or `call`.
    pub machine: &'static str,
    /// The current status.
    pub from: &'static str,
    /// The refused event.
    pub event: &'static str,
}

/// Shared table-test helper: asserts `transition` for every (status, event) against `table`
/// (an absent pair must be refused).
#[cfg(test)]
pub(crate) fn assert_events<S, E, Err>(
    statuses: &[S],
    events: &[E],
    table: &[(S, E, S)],
    transition: impl Fn(S, E) -> Result<S, Err>,
) where
    S: Copy + PartialEq + std::fmt::Debug + std::fmt::Display,
    E: Copy + PartialEq + std::fmt::Display,
{
    for &from in statuses {
        for &event in events {
            let expected = table.iter().find(|(f, e, _)| *f == from && *e == event).map(|(_, _, to)| *to);
            assert_eq!(transition(from, event).ok(), expected, "{from} + {event}");
        }
    }
}

/// Shared table-test helper: asserts `can` over every (from, to) pair against `allowed`.
#[cfg(test)]
pub(crate) fn assert_pairs<S: Copy + PartialEq + std::fmt::Debug>(
    all: &[S],
    allowed: &[(S, S)],
    can: impl Fn(S, S) -> bool,
) {
    for &from in all {
        for &to in all {
            let expected = allowed.contains(&(from, to));
            assert_eq!(
                can(from, to),
                expected,
                "{from:?} -> {to:?} should be {}",
                if expected { "allowed" } else { "forbidden" }
            );
        }
    }
}
