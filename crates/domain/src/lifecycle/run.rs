//! A run: one campaign over one uploaded sheet.

use super::TransitionError;

string_enum! {
    /// Where a run is in its life (DESIGN.md §4). "Waiting for office hours" is not a status:
    /// a running run outside office hours simply places no calls until they open.
    pub enum RunStatus("run status") {
        /// Created; its sheet is not yet turned into rows.
        Draft = "draft",
        /// Rows are in place; it can be started or scheduled.
        Ready = "ready",
        /// Will start by itself at `scheduled_at`.
        Scheduled = "scheduled",
        /// The engine is placing calls.
        Running = "running",
        /// Stopped by a user; calls in flight finish, no new ones start.
        Paused = "paused",
        /// Every row reached a final status.
        Completed = "completed",
        /// Stopped for good by a user; pending rows are cancelled.
        Cancelled = "cancelled",
        /// Stopped by an error (ingestion, or something the engine cannot recover from).
        Failed = "failed",
    }
}

string_enum! {
    /// Something that happens to a run.
    pub enum RunEvent("run event") {
        /// Its rows were ingested (draft -> ready).
        Prepare = "prepare",
        /// A user set or changed a start time (ready or scheduled -> scheduled).
        Schedule = "schedule",
        /// A user removed the start time (scheduled -> ready).
        Unschedule = "unschedule",
        /// A user started it, or its start time came (ready or scheduled -> running).
        Start = "start",
        /// A user paused it (running -> paused).
        Pause = "pause",
        /// A user resumed it (paused -> running).
        Resume = "resume",
        /// No row is pending, dialing or in a call any more (running or paused -> completed).
        Complete = "complete",
        /// A user cancelled it (any non-final status -> cancelled).
        Cancel = "cancel",
        /// An unrecoverable error (draft, scheduled, running or paused -> failed).
        Fail = "fail",
    }
}

impl RunStatus {
    fn next(self, event: RunEvent) -> Option<RunStatus> {
        use RunEvent as E;
        use RunStatus::*;
        match (self, event) {
            (Draft, E::Prepare) => Some(Ready),
            (Ready | Scheduled, E::Schedule) => Some(Scheduled),
            (Scheduled, E::Unschedule) => Some(Ready),
            (Ready | Scheduled, E::Start) => Some(Running),
            (Running, E::Pause) => Some(Paused),
            (Paused, E::Resume) => Some(Running),
            (Running | Paused, E::Complete) => Some(Completed),
            (Draft | Ready | Scheduled | Running | Paused, E::Cancel) => Some(Cancelled),
            (Draft | Scheduled | Running | Paused, E::Fail) => Some(Failed),
            _ => None,
        }
    }

    /// The status after `event`, or why it does not apply.
    pub fn transition(self, event: RunEvent) -> Result<RunStatus, TransitionError> {
        self.next(event).ok_or(TransitionError { machine: "run", from: self.as_str(), event: event.as_str() })
    }

    /// Whether some event leads from this status to `next` (`scheduled -> scheduled` is a
    /// reschedule).
    pub fn can_transition_to(self, next: RunStatus) -> bool {
        RunEvent::ALL.iter().any(|&e| self.next(e) == Some(next))
    }

    /// Completed, cancelled or failed: nothing moves it any more.
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Cancelled | RunStatus::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{assert_events, assert_pairs};
    use RunEvent as E;
    use RunStatus::*;

    /// Every allowed (from, event, to); everything else is refused.
    const TRANSITIONS: &[(RunStatus, RunEvent, RunStatus)] = &[
        (Draft, E::Prepare, Ready),
        (Draft, E::Cancel, Cancelled),
        (Draft, E::Fail, Failed),
        (Ready, E::Schedule, Scheduled),
        (Ready, E::Start, Running),
        (Ready, E::Cancel, Cancelled),
        (Scheduled, E::Schedule, Scheduled),
        (Scheduled, E::Unschedule, Ready),
        (Scheduled, E::Start, Running),
        (Scheduled, E::Cancel, Cancelled),
        (Scheduled, E::Fail, Failed),
        (Running, E::Pause, Paused),
        (Running, E::Complete, Completed),
        (Running, E::Cancel, Cancelled),
        (Running, E::Fail, Failed),
        (Paused, E::Resume, Running),
        (Paused, E::Complete, Completed),
        (Paused, E::Cancel, Cancelled),
        (Paused, E::Fail, Failed),
    ];

    #[test]
    fn every_event_from_every_status_matches_the_table() {
        assert_events(RunStatus::ALL, RunEvent::ALL, TRANSITIONS, RunStatus::transition);
    }

    #[test]
    fn every_status_pair_is_allowed_or_forbidden_as_the_table_says() {
        let allowed: Vec<_> = TRANSITIONS.iter().map(|(f, _, t)| (*f, *t)).collect();
        assert_pairs(RunStatus::ALL, &allowed, RunStatus::can_transition_to);
    }

    #[test]
    fn final_statuses_go_nowhere() {
        for &status in RunStatus::ALL {
            let goes_somewhere = RunStatus::ALL.iter().any(|&to| status.can_transition_to(to));
            assert_eq!(status.is_final(), !goes_somewhere, "{status}");
        }
    }

    #[test]
    fn refusals_say_what_was_attempted() {
        let err = Completed.transition(E::Resume).unwrap_err();
        assert_eq!(err.to_string(), "cannot resume a run that is completed");
    }

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        for &status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert!("processing".parse::<RunStatus>().is_err());
    }
}
