//! A run row: one line of the sheet, one patient to call.

use super::TransitionError;

string_enum! {
    /// Where a row is (DESIGN.md §4).
    pub enum RowStatus("row status") {
        /// Waiting to be called, now or at `next_attempt_at`.
        Pending = "pending",
        /// Claimed by an engine instance, which is about to ask the provider for a call.
        Dialing = "dialing",
        /// The provider accepted the call; waiting for its events.
        InCall = "in_call",
        /// The attempt reached a final, successful outcome.
        Completed = "completed",
        /// Attempts exhausted, or a permanent failure.
        Failed = "failed",
        /// Never called: on the do-not-call list, or invalid.
        Skipped = "skipped",
        /// The run was cancelled before the row was called.
        Cancelled = "cancelled",
    }
}

string_enum! {
    /// Something that happens to a row.
    pub enum RowEvent("row event") {
        /// The dispatcher claimed it (pending -> dialing).
        Claim = "claim",
        /// The dispatcher gave it back without dialling, e.g. outside the patient's calling
        /// window (dialing -> pending; not an attempt).
        Release = "release",
        /// The provider accepted the call (dialing -> in_call). A call event that arrives for a
        /// row still dialing applies this first.
        CallPlaced = "call_placed",
        /// The retry policy wants another attempt (dialing or in_call -> pending).
        Retry = "retry",
        /// The call ended with a final outcome (in_call -> completed).
        Complete = "complete",
        /// A permanent failure or attempts exhausted (dialing or in_call -> failed).
        Fail = "fail",
        /// Not to be called: do-not-call or invalid (pending or dialing -> skipped).
        Skip = "skip",
        /// Its run was cancelled (pending or dialing -> cancelled). A live call is not cut off.
        Cancel = "cancel",
    }
}

impl RowStatus {
    fn next(self, event: RowEvent) -> Option<RowStatus> {
        use RowEvent as E;
        use RowStatus::*;
        match (self, event) {
            (Pending, E::Claim) => Some(Dialing),
            (Dialing, E::Release) => Some(Pending),
            (Dialing, E::CallPlaced) => Some(InCall),
            (Dialing | InCall, E::Retry) => Some(Pending),
            (InCall, E::Complete) => Some(Completed),
            (Dialing | InCall, E::Fail) => Some(Failed),
            (Pending | Dialing, E::Skip) => Some(Skipped),
            (Pending | Dialing, E::Cancel) => Some(Cancelled),
            _ => None,
        }
    }

    /// The status after `event`, or why it does not apply.
    pub fn transition(self, event: RowEvent) -> Result<RowStatus, TransitionError> {
        self.next(event).ok_or(TransitionError { machine: "row", from: self.as_str(), event: event.as_str() })
    }

    /// Whether some event leads from this status to `next`.
    pub fn can_transition_to(self, next: RowStatus) -> bool {
        RowEvent::ALL.iter().any(|&e| self.next(e) == Some(next))
    }

    /// Completed, failed, skipped or cancelled.
    pub fn is_final(self) -> bool {
        matches!(self, RowStatus::Completed | RowStatus::Failed | RowStatus::Skipped | RowStatus::Cancelled)
    }

    /// Pending, dialing or in a call: the run is not finished while any row is.
    pub fn is_open(self) -> bool {
        !self.is_final()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{assert_events, assert_pairs};
    use RowEvent as E;
    use RowStatus::*;

    const TRANSITIONS: &[(RowStatus, RowEvent, RowStatus)] = &[
        (Pending, E::Claim, Dialing),
        (Pending, E::Skip, Skipped),
        (Pending, E::Cancel, Cancelled),
        (Dialing, E::Release, Pending),
        (Dialing, E::CallPlaced, InCall),
        (Dialing, E::Retry, Pending),
        (Dialing, E::Fail, Failed),
        (Dialing, E::Skip, Skipped),
        (Dialing, E::Cancel, Cancelled),
        (InCall, E::Retry, Pending),
        (InCall, E::Complete, Completed),
        (InCall, E::Fail, Failed),
    ];

    #[test]
    fn every_event_from_every_status_matches_the_table() {
        assert_events(RowStatus::ALL, RowEvent::ALL, TRANSITIONS, RowStatus::transition);
    }

    #[test]
    fn every_status_pair_is_allowed_or_forbidden_as_the_table_says() {
        let allowed: Vec<_> = TRANSITIONS.iter().map(|(f, _, t)| (*f, *t)).collect();
        assert_pairs(RowStatus::ALL, &allowed, RowStatus::can_transition_to);
    }

    #[test]
    fn a_row_in_a_call_goes_back_to_pending_for_a_retry() {
        assert_eq!(InCall.transition(E::Retry), Ok(Pending));
    }

    #[test]
    fn a_live_call_cannot_be_cancelled() {
        assert_eq!(
            InCall.transition(E::Cancel).unwrap_err().to_string(),
            "cannot cancel a row that is in_call"
        );
    }

    #[test]
    fn final_statuses_go_nowhere() {
        for &status in RowStatus::ALL {
            let goes_somewhere = RowStatus::ALL.iter().any(|&to| status.can_transition_to(to));
            assert_eq!(status.is_final(), !goes_somewhere, "{status}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        for &status in RowStatus::ALL {
            assert_eq!(status.as_str().parse::<RowStatus>(), Ok(status));
        }
        assert_eq!(serde_json::to_value(InCall).unwrap(), "in_call");
    }
}
